/* test_report.c - bench/report.c and bench/req.c: the .hgrm format, JSON
 * round trip into a plot series, the SVG, and request formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/hist.h"
#include "bench/report.h"
#include "bench/req.h"

static char *slurp(FILE *f)
{
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

static hist_t *sample_hist(void)
{
    hist_t *h = malloc(sizeof(hist_t));
    hist_init(h);
    for (uint64_t i = 1; i <= 10000; i++) hist_record(h, 20000 + i * 100); /* 20.1 us .. 1.02 ms */
    return h;
}

static void test_hgrm_format(void **state)
{
    (void)state;
    hist_t *h = sample_hist();
    FILE *f = tmpfile();
    assert_int_equal(report_hgrm(f, h), 0);
    char *s = slurp(f);
    fclose(f);
    /* header exactly as HdrHistogram prints it */
    assert_memory_equal(s, "       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 57);
    char *line = strtok(s + 57, "\n");
    int rows = 0, footer = 0;
    double last_v = -1, last_p = -1;
    long last_c = -1;
    int saw_final = 0;
    while (line) {
        if (line[0] == '#') {
            footer++;
            if (footer == 1) assert_non_null(strstr(line, "#[Mean    = "));
            if (footer == 1) assert_non_null(strstr(line, "StdDeviation   = "));
            if (footer == 2) {
                assert_non_null(strstr(line, "#[Max     = "));
                assert_non_null(strstr(line, "1.0200")); /* max in ms */
                assert_non_null(strstr(line, "Total count    =        10000]"));
            }
            if (footer == 3) assert_non_null(strstr(line, "#[Buckets = "));
        } else {
            double v, p, inv;
            long c;
            int k = sscanf(line, "%lf %lf %ld %lf", &v, &p, &c, &inv);
            assert_true(k == 4 || k == 3);
            assert_true(v >= last_v && p >= last_p && c >= last_c);
            if (k == 4) assert_true(inv >= 1.0 && inv < 1e7);
            if (k == 3) {
                assert_true(p == 1.0);
                assert_int_equal(c, 10000);
                saw_final = 1;
            }
            last_v = v, last_p = p, last_c = c;
            rows++;
        }
        line = strtok(NULL, "\n");
    }
    assert_int_equal(footer, 3);
    assert_true(saw_final);
    assert_in_range(rows, 40, 200);
    free(s);
    free(h);
}

static void test_json_roundtrip_and_svg(void **state)
{
    (void)state;
    hist_t *h = sample_hist(), *empty = malloc(sizeof(hist_t));
    hist_init(empty);
    report_run r;
    memset(&r, 0, sizeof(r));
    r.host = "127.0.0.1";
    r.port = 6379;
    r.protocol = "resp";
    r.pattern = "uniform";
    r.threads = r.clients = r.pipeline = 1;
    r.elapsed_s = 2.0;
    r.ratio[1] = 1;
    snprintf(r.first_error, sizeof(r.first_error), "quote \" and \\ backslash");
    const char *names[] = {"SET", "GET", "MGET", "HSET", "HMGET", "ALL"};
    for (int c = 0; c < REPORT_NCMDS; c++) {
        r.cmds[c].name = names[c];
        r.cmds[c].hist = (c == REPORT_GET || c == REPORT_ALL) ? h : empty;
        r.cmds[c].count = r.cmds[c].hist->total;
    }
    char path[] = "/tmp/test_report_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_int_equal(report_json(f, &r), 0);
    fclose(f);
    report_series *s = malloc(sizeof(*s));
    char err[256];
    assert_int_equal(report_series_from_json(s, "run A", path, "ALL", err, sizeof(err)), 0);
    report_series *t = malloc(sizeof(*t));
    report_series_from_hist(t, "run A", h);
    assert_int_equal(s->n, t->n);
    for (unsigned i = 0; i < s->n; i++) {
        assert_true(s->pct[i] - t->pct[i] < 1e-9 && t->pct[i] - s->pct[i] < 1e-9);
        assert_true(s->ms[i] - t->ms[i] < 1e-5 && t->ms[i] - s->ms[i] < 1e-5);
    }
    assert_int_equal(report_series_from_json(s, "x", "/nonexistent.json", "ALL", err, sizeof(err)),
                     -1);
    assert_int_equal(report_throughput(&r) == 5000.0, 1);

    FILE *g = tmpfile();
    report_series both[2];
    both[0] = *s;
    both[1] = *t;
    assert_int_equal(report_svg(g, both, 2, "a <title> & more"), 0);
    char *svg = slurp(g);
    fclose(g);
    assert_non_null(strstr(svg, "<svg "));
    assert_non_null(strstr(svg, "</svg>"));
    assert_non_null(strstr(svg, ">99.9%<"));
    assert_non_null(strstr(svg, ">99.99%<"));
    assert_non_null(strstr(svg, "&lt;title&gt;") ? strstr(svg, "&lt;title")
                                                 : strstr(svg, "&lt;title"));
    assert_int_equal((int)(strstr(svg, "<polyline") != NULL), 1);
    free(svg);
    remove(path);
    free(s), free(t), free(h), free(empty);
}

static void test_req_format(void **state)
{
    (void)state;
    req_fmt f;
    char buf[512];
    assert_int_equal(req_fmt_init(&f, 0, "key:", 1000, 8, 0), 0);
    size_t n = req_set(&f, buf, 7, 5);
    assert_int_equal(n, strlen("*3\r\n$3\r\nSET\r\n$7\r\nkey:007\r\n$5\r\nabcde\r\n"));
    assert_memory_equal(buf, "*3\r\n$3\r\nSET\r\n$7\r\nkey:007\r\n$5\r\n", 30);
    n = req_get(&f, buf, 999);
    assert_int_equal(n, 26);
    assert_memory_equal(buf, "*2\r\n$3\r\nGET\r\n$7\r\nkey:999\r\n", 26);
    uint64_t ks[2] = {1, 2};
    n = req_mget(&f, buf, ks, 2);
    assert_memory_equal(buf, "*3\r\n$4\r\nMGET\r\n$7\r\nkey:001\r\n$7\r\nkey:002\r\n", n);
    assert_true(n <= req_max_len(&f, 2, 1));
    n = req_hmget(&f, buf, 5, 2);
    assert_int_equal(n, strlen("*4\r\n$5\r\nHMGET\r\n$7\r\nkey:005\r\n$2\r\nf0\r\n$2\r\nf1\r\n"));
    assert_memory_equal(buf, "*4\r\n$5\r\nHMGET\r\n$7\r\nkey:005\r\n$2\r\nf0\r\n$2\r\nf1\r\n", n);
    n = req_hset(&f, buf, 5, 12, 3);
    buf[n] = 0;
    assert_true(strncmp(buf, "*26\r\n$4\r\nHSET\r\n$7\r\nkey:005\r\n$2\r\nf0\r\n$3\r\n", 38) == 0);
    assert_non_null(strstr(buf, "\r\n$3\r\nf11\r\n$3\r\n"));
    assert_true(n <= req_max_len(&f, 2, 12));
    req_fmt_destroy(&f);

    assert_int_equal(req_fmt_init(&f, 0, "k", 10, 4, 30), 0);
    n = req_set(&f, buf, 3, 4);
    buf[n] = 0;
    assert_true(strncmp(buf, "*5\r\n$3\r\nSET\r\n$2\r\nk3\r\n$4\r\n", 25) == 0);
    assert_non_null(strstr(buf, "\r\n$2\r\nEX\r\n$2\r\n30\r\n"));
    req_fmt_destroy(&f);

    assert_int_equal(req_fmt_init(&f, 1, "key:", 100, 3, 0), 0);
    n = req_set(&f, buf, 5, 3);
    assert_memory_equal(buf, "SET key:05 ", 11);
    assert_int_equal(buf[n - 1], '\n');
    n = req_mget(&f, buf, ks, 2);
    assert_memory_equal(buf, "MGET key:01 key:02\n", n);
    n = req_auth(&f, buf, sizeof(buf), "pw");
    assert_memory_equal(buf, "AUTH pw\n", n);
    req_fmt_destroy(&f);
    req_fmt_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hgrm_format),
        cmocka_unit_test(test_json_roundtrip_and_svg),
        cmocka_unit_test(test_req_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
