/* series.h - the per-second series of a run: what happened in each second
 * of the measured phase (requests, rate, p50, p99, max, errors), and its
 * outputs: CSV and HdrHistogram's interval log (.hlog).
 *
 * The main thread builds the series while the workers run: once a second it
 * merges the workers' live histograms (hist.h allows reading a histogram
 * while its owner records) into a cumulative snapshot and takes the
 * difference with the previous one, so a second's figures are those of the
 * replies that arrived in that second. Latency values are known to the
 * histogram's precision (0.78 %); a second's max is the high end of its
 * highest bucket, capped at the run's exact max.
 *
 * series_* functions: one thread at a time (the main thread).
 */
#ifndef MEMKV_BENCH_SERIES_H
#define MEMKV_BENCH_SERIES_H

#include <stdint.h>
#include <stdio.h>

#include "engine/hist.h"

typedef struct series_point {
    double t_s;      /* start of the interval, seconds after the measured phase began */
    double len_s;    /* length of the interval (1 s except the last) */
    uint64_t count;  /* replies received in the interval */
    uint64_t errors; /* errors counted in the interval */
    uint64_t p50_ns, p99_ns, max_ns;
} series_point;

typedef struct series {
    series_point *pt; /* rw: n points */
    unsigned n, cap;
} series_t;

void series_init(series_t *s);
void series_destroy(series_t *s); /* accepts NULL and an initialised empty series */

/* dst = cur - prev, bucket by bucket (prev: an earlier snapshot of the same
 * cumulative histograms, or NULL for empty). dst->max is the high end of the
 * highest non-empty bucket, capped at cur->max; dst->min the low end of the
 * lowest. dst is caller-owned scratch. */
void series_hist_diff(hist_t *dst, const hist_t *cur, const hist_t *prev);

/* Appends one interval from its histogram. Returns 0, or -1 out of memory. */
int series_add(series_t *s, double t_s, double len_s, const hist_t *interval, uint64_t errors);

/* CSV: header line, one row per interval. Returns 0 or -1 on a write error. */
int series_csv(FILE *out, const series_t *s);
/* The JSON array of the points (no trailing newline). */
int series_json(FILE *out, const series_t *s);

/* HdrHistogram interval log, format version 1.3 (what HistogramLogWriter
 * writes and HistogramLogProcessor / HistogramLogAnalyzer read). Our
 * histogram has exactly HdrHistogram's bucket layout for lowest discernible
 * value 1, 2 significant digits, highest trackable 2^38-1, so the counts are
 * written as they are (values in ns, Interval_Max in ms as
 * HistogramLogWriter does). The compressed form uses zlib "stored" blocks
 * (a valid zlib stream that any inflater reads). */
int series_hlog_header(FILE *out, double start_unix_s);
int series_hlog_interval(FILE *out, double t_s, double len_s, const hist_t *interval);

#endif
