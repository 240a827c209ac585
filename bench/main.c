/* main.c - mem-kv-bench: the command line, the run, the outputs. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/compare.h"
#include "bench/opts.h"
#include "bench/report.h"
#include "bench/run.h"

static void on_sigint(int sig)
{
    (void)sig;
    run_interrupted = 1;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "mem-kv-bench: %s\n", msg);
    fprintf(stderr, "try 'mem-kv-bench --help'\n");
    return 2;
}

static int write_file(const char *path, int (*fn)(FILE *, const void *), const void *arg)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "mem-kv-bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rv = fn(f, arg);
    if (fclose(f) != 0) rv = -1;
    if (rv) fprintf(stderr, "mem-kv-bench: error writing %s\n", path);
    return rv;
}

static int wr_json(FILE *f, const void *a)
{
    return report_json(f, a);
}
static int wr_hgrm(FILE *f, const void *a)
{
    return report_hgrm(f, a);
}

static int wr_csv(FILE *f, const void *a)
{
    return series_csv(f, a);
}

struct svg_arg {
    const report_series *s;
    unsigned n;
    const char *title;
    int logy;
};
static int wr_svg(FILE *f, const void *a)
{
    const struct svg_arg *x = a;
    return report_svg_axis(f, x->s, x->n, x->title, x->logy);
}

struct time_arg {
    const series_t *s;
    const char *title;
};
static int wr_svg_time(FILE *f, const void *a)
{
    const struct time_arg *x = a;
    return report_svg_time(f, x->s, x->title);
}

/* Can `path` be written? Checked before the run, so a typo costs no run:
 * opened for appending (nothing of an existing file is lost), and removed
 * again if it did not exist. */
static int check_writable(const char *opt, const char *path)
{
    struct stat st;
    int existed = stat(path, &st) == 0;
    if (existed && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "mem-kv-bench: %s %s: is a directory\n", opt, path);
        return -1;
    }
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "mem-kv-bench: %s %s: cannot write: %s\n", opt, path, strerror(errno));
        return -1;
    }
    fclose(f);
    if (!existed) unlink(path);
    return 0;
}

/* argv joined with spaces, arguments with unusual bytes in single quotes. */
static char *join_argv(int argc, char **argv)
{
    size_t cap = 1;
    for (int i = 0; i < argc; i++) cap += 4 * strlen(argv[i]) + 3;
    char *s = malloc(cap), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != 0;
        for (const char *c = a; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%",
                        *c))
                plain = 0;
        if (i) *p++ = ' ';
        if (plain) {
            p += sprintf(p, "%s", a);
            continue;
        }
        *p++ = '\'';
        for (const char *c = a; *c; c++) {
            if (*c == '\'') {
                memcpy(p, "'\\''", 4);
                p += 4;
            } else {
                *p++ = *c;
            }
        }
        *p++ = '\'';
    }
    *p = 0;
    return s;
}

/* mem-kv-bench compare A.json B.json */
static int cmd_compare(int argc, char **argv)
{
    char err[512];
    if (argc == 1 && !strcmp(argv[0], "--help")) {
        printf("usage: mem-kv-bench compare A.json B.json\n"
               "Prints two runs saved with --json side by side with the ratio B/A of each\n"
               "figure: throughput, requests, errors, and per command type the count and\n"
               "the latency percentiles (B/A < 1: B was faster for latencies).\n");
        return 0;
    }
    if (argc != 2 || argv[0][0] == '-' || argv[1][0] == '-') {
        fprintf(stderr, "mem-kv-bench compare: usage: mem-kv-bench compare A.json B.json\n");
        return 2;
    }
    if (compare_files(stdout, argv[0], argv[1], err, sizeof(err))) {
        fprintf(stderr, "mem-kv-bench compare: %s\n", err);
        return 1;
    }
    return 0;
}

/* mem-kv-bench plot --svg out.svg [--title T] [--command CMD] [--label A] a.json ... */
static int cmd_plot(int argc, char **argv)
{
    const char *svg = NULL, *title = "latency by percentile", *cmd = "ALL", *label = NULL;
    int logy = 0;
    report_series *series = calloc(16, sizeof(report_series));
    unsigned n = 0;
    int rv = 2;
    char err[256];
    if (!series) return 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--svg") && has_val)
            svg = argv[++i];
        else if (!strcmp(a, "--title") && has_val)
            title = argv[++i];
        else if (!strcmp(a, "--command") && has_val)
            cmd = argv[++i];
        else if (!strcmp(a, "--label") && has_val)
            label = argv[++i];
        else if (!strcmp(a, "--log"))
            logy = 1;
        else if (!strcmp(a, "--help")) {
            printf(
                "usage: mem-kv-bench plot --svg OUT.svg [--log] [--title T] [--command "
                "ALL|SET|GET|MGET|HSET|HMGET]\n"
                "                         [--label NAME] RESULT.json [[--label NAME] RESULT.json "
                "...]\n"
                "Overlays the latency-by-percentile curves of runs saved with --json.\n"
                "--log: log latency axis (curves of very different runs stay apart).\n");
            free(series);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "mem-kv-bench plot: unknown option or missing value: %s\n", a);
            goto out;
        } else {
            if (n == 16) {
                fprintf(stderr, "mem-kv-bench plot: at most 16 runs\n");
                goto out;
            }
            if (report_series_from_json(&series[n], label ? label : a, a, cmd, err, sizeof(err))) {
                fprintf(stderr, "mem-kv-bench plot: %s\n", err);
                rv = 1;
                goto out;
            }
            n++;
            label = NULL;
        }
    }
    if (!svg || n == 0) {
        fprintf(stderr, "mem-kv-bench plot: need --svg FILE and at least one JSON result file\n");
        goto out;
    }
    struct svg_arg sa = {series, n, title, logy};
    rv = write_file(svg, wr_svg, &sa) ? 1 : 0;
out:
    free(series);
    return rv;
}

static int write_outputs(const bench_opts *o, const run_result *res)
{
    int bad = 0;
    const report_run *r = &res->rep;
    if (o->json && write_file(o->json, wr_json, r)) bad = 1;
    if (o->hgrm) {
        static const char *const suffix[REPORT_NCMDS] = {"set",  "get",   "mget",
                                                         "hset", "hmget", "all"};
        for (int c = 0; c < REPORT_NCMDS; c++) {
            if (c != REPORT_ALL && r->cmds[c].count == 0) continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s.%s.hgrm", o->hgrm, suffix[c]);
            if (write_file(path, wr_hgrm, r->cmds[c].hist)) bad = 1;
        }
    }
    if (o->csv && write_file(o->csv, wr_csv, &res->ser)) bad = 1;
    if (o->svg || o->svg_log) {
        static report_series series[REPORT_NCMDS];
        unsigned n = 0;
        for (int c = REPORT_NCMDS - 1; c >= 0; c--) {
            if (c != REPORT_ALL &&
                (r->cmds[c].count == 0 || r->cmds[c].count == r->cmds[REPORT_ALL].count))
                continue;
            report_series_from_hist(&series[n++], r->cmds[c].name, r->cmds[c].hist);
        }
        char title[256];
        snprintf(title, sizeof(title), "%s:%d %s, %s loop, %u x %u conns, pipeline %u", r->host,
                 r->port, r->protocol, r->open_loop ? "open" : "closed", r->threads, r->clients,
                 r->pipeline);
        struct svg_arg sa = {series, n, title, 0};
        if (o->svg && write_file(o->svg, wr_svg, &sa)) bad = 1;
        sa.logy = 1;
        if (o->svg_log && write_file(o->svg_log, wr_svg, &sa)) bad = 1;
    }
    if (o->svg_time) {
        char title[256];
        snprintf(title, sizeof(title), "%s:%d, %s loop%s: throughput and p99 per second", r->host,
                 r->port, r->open_loop ? "open" : "closed",
                 r->open_loop ? " (latency from intended send times)" : "");
        struct time_arg ta = {&res->ser, title};
        if (write_file(o->svg_time, wr_svg_time, &ta)) bad = 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "plot")) return cmd_plot(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "compare")) return cmd_compare(argc - 2, argv + 2);
    bench_opts o;
    char err[256];
    opts_defaults(&o);
    int p = opts_parse(&o, argc - 1, argv + 1, stdout, err, sizeof(err));
    if (p == 1) return 0;
    if (p < 0) return usage_error(err);

    /* every output path is checked before the run */
    const char *outs[][2] = {{"--json", o.json},
                             {"--svg", o.svg},
                             {"--svg-log", o.svg_log},
                             {"--svg-time", o.svg_time},
                             {"--csv", o.csv}};
    for (unsigned i = 0; i < sizeof(outs) / sizeof(outs[0]); i++)
        if (outs[i][1] && check_writable(outs[i][0], outs[i][1])) return 2;
    if (o.hgrm) {
        char path[4096];
        snprintf(path, sizeof(path), "%s.all.hgrm", o.hgrm);
        if (check_writable("--hgrm", path)) return 2;
    }
    if (o.hlog && !(o.hlog_out = fopen(o.hlog, "w"))) {
        fprintf(stderr, "mem-kv-bench: --hlog %s: cannot write: %s\n", o.hlog, strerror(errno));
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    run_result res;
    if (run_bench(&o, &res, err, sizeof(err))) {
        fprintf(stderr, "mem-kv-bench: %s\n", err);
        if (o.hlog_out) { /* no run: no log of one */
            fclose(o.hlog_out);
            unlink(o.hlog);
        }
        return 1;
    }
    char *cmdline = join_argv(argc, argv);
    res.rep.version = MEMKV_BENCH_VERSION;
    res.rep.command_line = cmdline;
    report_table(stdout, &res.rep);
    fflush(stdout);
    int bad = write_outputs(&o, &res);
    if (o.hlog_out && (fclose(o.hlog_out) != 0 || res.rep.hlog_failed)) {
        fprintf(stderr, "mem-kv-bench: error writing %s\n", o.hlog);
        bad = 1;
    }
    uint64_t errors = report_errors(&res.rep);
    if (errors)
        fprintf(stderr, "mem-kv-bench: %llu errors%s%s\n", (unsigned long long)errors,
                res.rep.first_error[0] ? "; first: " : "", res.rep.first_error);
    int short_rate = report_rate_short(&res.rep);
    if (short_rate)
        fprintf(stderr,
                "mem-kv-bench: warning: achieved %.0f req/s, %.1f %% below --rate %.0f: the "
                "server (or this tool) could not keep up, so requests queued and the run "
                "took longer%s\n",
                report_send_rate(&res.rep),
                100.0 * (1.0 - report_send_rate(&res.rep) / res.rep.rate), res.rep.rate,
                o.strict_rate ? " (--strict-rate: exit status 3)" : "");
    int interrupted = res.rep.interrupted;
    run_result_destroy(&res);
    free(cmdline);
    if (errors || bad || interrupted) return 1;
    return short_rate && o.strict_rate ? 3 : 0;
}
