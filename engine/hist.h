/* hist.h - a log-linear latency histogram (HdrHistogram-style buckets),
 * shared by the server (engine/, net/, actors/) and mem-kv-bench.
 *
 * Values are unsigned 64-bit integers (both record nanoseconds). Values
 * below 256 are counted exactly; above, each power-of-two range is split into
 * 128 equal sub-buckets, so any recorded value is known to within 1/128
 * (0.78 %) of itself. The top trackable value is HIST_MAX_VALUE (2^38 - 1,
 * about 4.6 minutes in ns); larger values are clamped to it and counted in
 * `overflow`, while `max` keeps the exact largest value seen.
 *
 * A hist_t is a plain caller-owned struct of fixed size (about 33 KB), no
 * allocation. Single writer: only its owner thread records into it or
 * resets it. Every field is a relaxed atomic written with a plain load and
 * store (no locked instruction: on x86-64 the same code as a plain
 * increment), so other threads may read or merge a live histogram at any
 * time; such a snapshot is exact per bucket but may miss the values being
 * recorded at that moment.
 */
#ifndef MEMKV_HIST_H
#define MEMKV_HIST_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define HIST_SUB_BITS  7                     /* 128 sub-buckets per half */
#define HIST_SUB_HALF  (1u << HIST_SUB_BITS) /* 128 */
#define HIST_MAX_BITS  38                    /* values < 2^38 tracked */
#define HIST_MAX_VALUE ((UINT64_C(1) << HIST_MAX_BITS) - 1)
#define HIST_NBUCKETS  (HIST_SUB_HALF * (HIST_MAX_BITS - HIST_SUB_BITS + 1))

typedef _Atomic uint64_t hist_u64;

typedef struct hist {
    hist_u64 total;                 /* ro: values recorded */
    hist_u64 min;                   /* ro: exact smallest value (UINT64_MAX when empty) */
    hist_u64 max;                   /* ro: exact largest value (0 when empty) */
    hist_u64 overflow;              /* ro: values above HIST_MAX_VALUE (clamped) */
    _Atomic double sum;             /* ro: exact sum, for the mean */
    hist_u64 counts[HIST_NBUCKETS]; /* private */
} hist_t;

/* Relaxed load, and the single writer's add (load + store, no RMW). */
static inline uint64_t hist_ld(const hist_u64 *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}
static inline void hist_st(hist_u64 *p, uint64_t v)
{
    atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline void hist_add(hist_u64 *p, uint64_t n)
{
    hist_st(p, hist_ld(p) + n);
}

/* The monotonic clock the server records latencies with, in ns (vDSO: no
 * system call). Any thread. */
static inline uint64_t hist_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Empties h. Owner thread only. */
void hist_init(hist_t *h);
static inline void hist_reset(hist_t *h)
{
    hist_init(h);
}

/* Index of the bucket that counts v (v clamped to HIST_MAX_VALUE). */
static inline unsigned hist_index(uint64_t v)
{
    if (v > HIST_MAX_VALUE) v = HIST_MAX_VALUE;
    if (v < 2 * HIST_SUB_HALF) return (unsigned)v;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
    return HIST_SUB_HALF * shift + (unsigned)(v >> shift);
}

/* Smallest and largest value that share bucket i (i < HIST_NBUCKETS). */
uint64_t hist_bucket_low(unsigned i);
uint64_t hist_bucket_high(unsigned i);

/* Records n occurrences of v. Owner thread only. */
static inline void hist_record_n(hist_t *h, uint64_t v, uint64_t n)
{
    if (n == 0) return;
    if (v > HIST_MAX_VALUE) hist_add(&h->overflow, n);
    hist_add(&h->counts[hist_index(v)], n);
    hist_add(&h->total, n);
    double sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
    atomic_store_explicit(&h->sum, sum + (double)v * (double)n, memory_order_relaxed);
    if (v < hist_ld(&h->min)) hist_st(&h->min, v);
    if (v > hist_ld(&h->max)) hist_st(&h->max, v);
}
static inline void hist_record(hist_t *h, uint64_t v)
{
    hist_record_n(h, v, 1);
}

/* Adds every count of src into dst. dst: its owner (or a private copy);
 * src: any thread, even while its owner records (then dst->total is the
 * sum of the buckets copied, so percentiles stay consistent). */
void hist_merge(hist_t *dst, const hist_t *src);

/* Values recorded that are <= v, to bucket precision (every bucket whose
 * highest value is <= v), for Prometheus `le` buckets. Any thread. */
uint64_t hist_count_le(const hist_t *h, uint64_t v);

/* The value at percentile p (0..100): the highest value equivalent to the
 * bucket holding the ceil(p/100 * total)-th smallest value, but never above
 * the exact max. 0 for an empty histogram. */
uint64_t hist_value_at(const hist_t *h, double p);

double hist_mean(const hist_t *h);
/* Standard deviation from bucket midpoints. */
double hist_stddev(const hist_t *h);

/* Visits the percentile-distribution rows HdrHistogram prints: 0, 10, ...,
 * 50, 55, ..., halving the step every time the distance to 100 halves
 * (ticks_per_half steps per halving), one row in the last bucket, and the
 * final 100 % row. fn gets the value (bucket high, capped at max), the
 * percentile level iterated to (0..100), and the count up to that value;
 * is_last is 1 for the 100 % row. Returns the number of rows. */
typedef void hist_row_fn(void *arg, uint64_t value, double pct, uint64_t cum, int is_last);
unsigned hist_foreach_percentile(const hist_t *h, unsigned ticks_per_half, hist_row_fn *fn,
                                 void *arg);

#endif
