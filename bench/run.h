/* run.h - the load generator proper: threads, one epoll loop each, and
 * their connections, each with its own pipeline window.
 *
 * run_bench() connects, optionally loads the key space, runs the warm-up and
 * the measured phase, and fills a run_result that the caller owns (and must
 * release with run_result_destroy). Per-thread statistics are private to
 * their thread until it has exited; they are merged afterwards, so nothing
 * on the hot path is shared except one relaxed progress counter per thread.
 */
#ifndef MEMKV_BENCH_RUN_H
#define MEMKV_BENCH_RUN_H

#include <signal.h>

#include "engine/hist.h"
#include "bench/opts.h"
#include "bench/report.h"
#include "bench/series.h"

typedef struct run_result {
    report_run rep; /* rep.cmds[i].hist point into hist[] */
    hist_t *hist;   /* REPORT_NCMDS histograms */
    series_t ser;   /* the measured phase, second by second; rep.series points here */
} run_result;

/* The only process-wide state: set by a SIGINT handler, read by the loops,
 * which then stop sending and drain what is in flight. */
extern volatile sig_atomic_t run_interrupted;

/* Returns 0 when the run could start (the result then says how it went),
 * -1 with a message in err when it could not (bad address, no memory, no
 * connection at all succeeded: "no server answers"). Main thread. While it
 * runs, a progress line goes to stderr (o->progress) and, with
 * o->hlog_out, one .hlog interval per second. */
int run_bench(const bench_opts *o, run_result *res, char *err, size_t errlen);
void run_result_destroy(run_result *res);

#endif
