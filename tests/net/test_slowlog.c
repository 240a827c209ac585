/* Tests for net/slowlog.c and net/latency.c: entries keep Redis's
 * truncation of arguments, two threads' rings merge newest first by id,
 * slowlog-max-len trims and caps, RESET empties; the latency monitor keeps
 * one sample per second (the highest) and ignores what is under its
 * threshold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "net/latency.h"
#include "net/slowlog.h"

static kv_str S(const char *s)
{
    return (kv_str){s, strlen(s)};
}

static int has(const kvbuf *b, const char *needle)
{
    return memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

static void test_truncation(void **st)
{
    (void)st;
    slowlog_conf sc;
    slowlog_ring r;
    slowlog_conf_init(&sc, 0, 128);
    assert_int_equal(slowlog_ring_init(&r), 0);
    char big[201];
    memset(big, 'v', 200);
    big[200] = '\0';
    kv_str argv[40];
    argv[0] = S("EXISTS");
    for (int i = 1; i < 40; i++) argv[i] = S("k");
    argv[5] = S(big);
    slowlog_add(&sc, &r, 40, argv, 12345, 1700000000, "127.0.0.1:1", "nm");
    slowlog_ring *rings[] = {&r};
    kvbuf out;
    kvbuf_init(&out);
    slowlog_reply_get(&sc, rings, 1, -1, &out);
    assert_true(has(&out, "*1\r\n*6\r\n:0\r\n:1700000000\r\n:12345\r\n*32\r\n"));
    assert_true(has(&out, "$22\r\n... (9 more arguments)\r\n"));
    char want[200];
    snprintf(want, sizeof want, "$147\r\n%.128s... (72 more bytes)\r\n", big);
    assert_true(has(&out, want));
    assert_true(has(&out, "$11\r\n127.0.0.1:1\r\n$2\r\nnm\r\n"));
    kvbuf_destroy(&out);
    slowlog_ring_destroy(&r);
}

static void test_merge_trim_reset(void **st)
{
    (void)st;
    slowlog_conf sc;
    slowlog_ring a, b;
    slowlog_conf_init(&sc, 0, 3);
    assert_int_equal(slowlog_ring_init(&a), 0);
    assert_int_equal(slowlog_ring_init(&b), 0);
    kv_str argv[2] = {S("GET"), S("x")};
    char key[8];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "k%d", i);
        argv[1] = S(key);
        slowlog_add(&sc, i % 2 ? &b : &a, 2, argv, i, 0, "a", "");
    }
    slowlog_ring *rings[] = {&a, &b};
    assert_int_equal(slowlog_len(&sc, rings, 2), 3); /* 3 in a, 2 in b: capped */
    kvbuf out;
    kvbuf_init(&out);
    slowlog_reply_get(&sc, rings, 2, -1, &out);
    /* newest first across both rings: ids 4, 3, 2 */
    const char *p4 = memmem(out.data, out.len, "$2\r\nk4", 6);
    const char *p3 = memmem(out.data, out.len, "$2\r\nk3", 6);
    const char *p2 = memmem(out.data, out.len, "$2\r\nk2", 6);
    assert_non_null(p4);
    assert_non_null(p3);
    assert_non_null(p2);
    assert_true(p4 < p3 && p3 < p2);
    assert_false(has(&out, "$2\r\nk1"));
    assert_true(out.len > 4 && memcmp(out.data, "*3\r\n", 4) == 0);
    kvbuf_reset(&out);
    slowlog_reply_get(&sc, rings, 2, 1, &out);
    assert_true(memcmp(out.data, "*1\r\n", 4) == 0 && has(&out, "k4"));
    slowlog_reset(rings, 2);
    assert_int_equal(slowlog_len(&sc, rings, 2), 0);
    kvbuf_destroy(&out);
    slowlog_ring_destroy(&a);
    slowlog_ring_destroy(&b);
}

static void test_latency(void **st)
{
    (void)st;
    latency_mon m;
    assert_int_equal(latency_init(&m, 0), 0);
    latency_add(&m, "command", 500000); /* off: nothing */
    atomic_store(&m.threshold_ms, 10);
    latency_add(&m, "command", 9000); /* under 10 ms */
    assert_int_equal(m.nev, 0);
    latency_add(&m, "command", 20000);
    latency_add(&m, "command", 30000); /* same second: one sample, the highest */
    latency_add(&m, "command", 15000);
    assert_int_equal(m.nev, 1);
    kv_str hist[3] = {S("latency"), S("history"), S("command")};
    kvbuf out;
    kvbuf_init(&out);
    latency_command(&m, 3, hist, &out);
    assert_true(memcmp(out.data, "*1\r\n*2\r\n:", 9) == 0);
    assert_true(has(&out, ":30\r\n"));
    kvbuf_reset(&out);
    kv_str reset[2] = {S("latency"), S("reset")};
    latency_command(&m, 2, reset, &out);
    assert_true(out.len == 4 && memcmp(out.data, ":1\r\n", 4) == 0);
    latency_destroy(&m);
    kvbuf_destroy(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_merge_trim_reset),
        cmocka_unit_test(test_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
