/* main.c - mem-kv-bench: the command line, the run, the outputs. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "report.h"
#include "run.h"

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

struct svg_arg {
    const report_series *s;
    unsigned n;
    const char *title;
};
static int wr_svg(FILE *f, const void *a)
{
    const struct svg_arg *x = a;
    return report_svg(f, x->s, x->n, x->title);
}

/* mem-kv-bench plot --svg out.svg [--title T] [--command CMD] [--label A] a.json ... */
static int cmd_plot(int argc, char **argv)
{
    const char *svg = NULL, *title = "latency by percentile", *cmd = "ALL", *label = NULL;
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
        else if (!strcmp(a, "--help")) {
            printf(
                "usage: mem-kv-bench plot --svg OUT.svg [--title T] [--command "
                "ALL|SET|GET|MGET|HSET|HMGET]\n"
                "                         [--label NAME] RESULT.json [[--label NAME] RESULT.json "
                "...]\n"
                "Overlays the latency-by-percentile curves of runs saved with --json.\n");
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
    struct svg_arg sa = {series, n, title};
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
    if (o->svg) {
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
        struct svg_arg sa = {series, n, title};
        if (write_file(o->svg, wr_svg, &sa)) bad = 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "plot")) return cmd_plot(argc - 2, argv + 2);
    bench_opts o;
    char err[256];
    opts_defaults(&o);
    int p = opts_parse(&o, argc - 1, argv + 1, stdout, err, sizeof(err));
    if (p == 1) return 0;
    if (p < 0) return usage_error(err);

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
        return 1;
    }
    report_table(stdout, &res.rep);
    fflush(stdout);
    int bad = write_outputs(&o, &res);
    uint64_t errors = report_errors(&res.rep);
    if (errors)
        fprintf(stderr, "mem-kv-bench: %llu errors%s%s\n", (unsigned long long)errors,
                res.rep.first_error[0] ? "; first: " : "", res.rep.first_error);
    run_result_destroy(&res);
    return errors || bad || res.rep.interrupted ? 1 : 0;
}
