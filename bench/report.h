/* report.h - result output: the human table, JSON, HdrHistogram .hgrm
 * percentile distributions, and SVG latency-by-percentile plots.
 *
 * Latencies are recorded in nanoseconds; every output shows milliseconds
 * (the table and JSON also give microseconds where that reads better).
 * All writers take a FILE* the caller opened and return 0 or -1 on a write
 * error. Any thread; no global state.
 */
#ifndef MEMKV_BENCH_REPORT_H
#define MEMKV_BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "engine/hist.h"
#include "bench/series.h"

enum { REPORT_SET, REPORT_GET, REPORT_MGET, REPORT_HSET, REPORT_HMGET, REPORT_ALL, REPORT_NCMDS };

typedef struct report_cmd {
    const char *name;   /* "SET", "GET", "MGET", "HSET", "HMGET", "ALL" */
    uint64_t count;     /* replies received in the measured phase */
    uint64_t errors;    /* error replies, unexpected replies, lost requests */
    uint64_t hits;      /* GET: non-nil; MGET: per key; HMGET: per field */
    uint64_t misses;    /* GET: nil; MGET: per key */
    uint64_t keys;      /* MGET: keys asked for */
    const hist_t *hist; /* borrowed */
} report_cmd;

typedef struct report_run {
    /* what ran */
    const char *host;
    int port;
    const char *protocol; /* "resp" or "plain" */
    unsigned threads, clients, pipeline;
    int open_loop;
    double rate; /* open loop: requests/s asked for */
    uint64_t keys;
    const char *pattern;
    double zipf_s;
    size_t vmin, vmax;
    uint64_t ttl;
    unsigned ratio[5];
    unsigned mget_keys;
    unsigned fields;
    uint64_t seed;
    double warmup_s;
    double duration_s;            /* asked for; 0 when --requests */
    uint64_t requests_per_client; /* asked for; 0 when --duration */
    /* what happened */
    double elapsed_s; /* measured phase: start to last reply */
    uint64_t warmup_requests;
    uint64_t load_requests;
    double load_s;
    uint64_t conn_errors;  /* connections lost, refused, short reads */
    uint64_t proto_errors; /* replies that could not be parsed */
    uint64_t timeouts;     /* requests still unanswered at the drain deadline */
    uint64_t lost;         /* requests sent and never answered */
    int interrupted;
    char first_error[200];
    report_cmd cmds[REPORT_NCMDS];
    /* the record of the run (NULL/0 when unknown) */
    const char *version;      /* the tool's version */
    const char *command_line; /* argv joined, shell-quoted where needed */
    double started_unix;      /* wall clock at the start of the measured phase */
    double send_span_s;       /* open loop: the schedule's span, or longer if sends lagged */
    const series_t *series;   /* per-second series, borrowed */
    int series_incomplete;    /* out of memory while recording it */
    int hlog_failed;          /* a write to --hlog failed */
} report_run;

/* Open loop: the rate requests were sent at: measured requests over the
 * longer of the schedule's span and the time to the last send (elapsed_s
 * when unknown). A server that cannot keep up fills the pipeline windows,
 * the sends fall behind the schedule and this drops below --rate; the last
 * reply's latency does not count. */
double report_send_rate(const report_run *r);
/* Open loop: is that rate more than 5 % below --rate? */
int report_rate_short(const report_run *r);

/* Total errors of every kind (the exit status is non-zero when > 0). */
uint64_t report_errors(const report_run *r);
double report_throughput(const report_run *r);

int report_table(FILE *out, const report_run *r);
int report_json(FILE *out, const report_run *r);

/* The HdrHistogram percentile distribution (the format of
 * outputPercentileDistribution, values in ms): header, one row per
 * percentile level, the 100 % row, the #[Mean ...], #[Max ...] and
 * #[Buckets ...] footer. */
int report_hgrm(FILE *out, const hist_t *h);

#define REPORT_SERIES_MAX 1024
typedef struct report_series {
    char label[64];
    unsigned n;
    double pct[REPORT_SERIES_MAX]; /* 0..100, < 100 */
    double ms[REPORT_SERIES_MAX];
} report_series;

/* Fills s from a histogram's percentile distribution (rows below 100 %). */
void report_series_from_hist(report_series *s, const char *label, const hist_t *h);
/* Reads the "distribution" of command `cmd` ("ALL", "GET", ...) from a JSON
 * file that report_json wrote. Returns 0, or -1 with a message in err. */
int report_series_from_json(report_series *s, const char *label, const char *path, const char *cmd,
                            char *err, size_t errlen);
/* Latency (ms, linear) against percentile on the 1/(1-p) log axis. */
int report_svg(FILE *out, const report_series *s, unsigned n, const char *title);
/* The same, with a log latency axis when logy (whole decades around the
 * data), so curves of very different servers stay apart. */
int report_svg_axis(FILE *out, const report_series *s, unsigned n, const char *title, int logy);
/* Throughput (left axis, requests/s) and p99 (right axis, ms) of each
 * second of the series, against time. */
int report_svg_time(FILE *out, const series_t *s, const char *title);

#endif
