/* hist.c - log-linear histogram; see hist.h. */
#include "engine/hist.h"

#include <assert.h>
#include <math.h>
#include <string.h>

void hist_init(hist_t *h)
{
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) hist_st(&h->counts[i], 0);
    hist_st(&h->total, 0);
    hist_st(&h->overflow, 0);
    hist_st(&h->max, 0);
    hist_st(&h->min, UINT64_MAX);
    atomic_store_explicit(&h->sum, 0.0, memory_order_relaxed);
}

uint64_t hist_bucket_low(unsigned i)
{
    assert(i < HIST_NBUCKETS);
    if (i < 2 * HIST_SUB_HALF) return i;
    unsigned shift = i / HIST_SUB_HALF - 1;
    uint64_t m = i - HIST_SUB_HALF * shift; /* in [128, 256) */
    return m << shift;
}

uint64_t hist_bucket_high(unsigned i)
{
    assert(i < HIST_NBUCKETS);
    if (i < 2 * HIST_SUB_HALF) return i;
    unsigned shift = i / HIST_SUB_HALF - 1;
    uint64_t m = i - HIST_SUB_HALF * shift;
    return ((m + 1) << shift) - 1;
}

void hist_merge(hist_t *dst, const hist_t *src)
{
    if (hist_ld(&src->total) == 0) return;
    uint64_t copied = 0;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
        uint64_t c = hist_ld(&src->counts[i]);
        if (c == 0) continue;
        hist_add(&dst->counts[i], c);
        copied += c;
    }
    hist_add(&dst->total, copied);
    hist_add(&dst->overflow, hist_ld(&src->overflow));
    double sum = atomic_load_explicit(&dst->sum, memory_order_relaxed) +
                 atomic_load_explicit(&src->sum, memory_order_relaxed);
    atomic_store_explicit(&dst->sum, sum, memory_order_relaxed);
    uint64_t mn = hist_ld(&src->min), mx = hist_ld(&src->max);
    if (mn < hist_ld(&dst->min)) hist_st(&dst->min, mn);
    if (mx > hist_ld(&dst->max)) hist_st(&dst->max, mx);
}

uint64_t hist_count_le(const hist_t *h, uint64_t v)
{
    uint64_t cum = 0;
    /* buckets are contiguous and increasing */
    for (unsigned i = 0; i < HIST_NBUCKETS && hist_bucket_high(i) <= v; i++)
        cum += hist_ld(&h->counts[i]);
    return cum;
}

static uint64_t cap_value(const hist_t *h, unsigned i)
{
    uint64_t v = hist_bucket_high(i);
    return v > h->max ? h->max : v;
}

uint64_t hist_value_at(const hist_t *h, double p)
{
    if (h->total == 0) return 0;
    if (p < 0) p = 0;
    if (p > 100) p = 100;
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (want == 0) want = 1;
    if (want > h->total) want = h->total;
    uint64_t cum = 0;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
        cum += h->counts[i];
        if (cum >= want) {
            uint64_t v = cap_value(h, i);
            return v < h->min ? h->min : v;
        }
    }
    return h->max; /* not reached: counts sum to total */
}

double hist_mean(const hist_t *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}

double hist_stddev(const hist_t *h)
{
    if (h->total == 0) return 0.0;
    double mean = hist_mean(h), acc = 0;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
        if (!h->counts[i]) continue;
        double mid = ((double)hist_bucket_low(i) + (double)hist_bucket_high(i)) / 2.0;
        acc += (mid - mean) * (mid - mean) * (double)h->counts[i];
    }
    return sqrt(acc / (double)h->total);
}

/* The next percentile level after pct: the step is 100 / (2 * ticks *
 * 2^floor(log2(100 / (100 - pct)))), so each halving of the distance to 100
 * gets `ticks` rows. */
static double next_level(double pct, unsigned ticks)
{
    double rest = 100.0 - pct;
    if (rest <= 0) return 100.0;
    double halvings = floor(log2(100.0 / rest));
    return pct + 100.0 / ((double)ticks * pow(2.0, halvings + 1.0));
}

unsigned hist_foreach_percentile(const hist_t *h, unsigned ticks_per_half, hist_row_fn *fn,
                                 void *arg)
{
    if (h->total == 0) return 0;
    if (ticks_per_half == 0) ticks_per_half = 5;
    unsigned rows = 0;
    double level = 0.0;
    uint64_t cum = 0;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
        if (!h->counts[i]) continue;
        cum += h->counts[i];
        uint64_t v = cap_value(h, i);
        if (cum >= h->total) { /* last bucket: one row at the current level, then 100 % */
            fn(arg, v, level, cum, 0);
            fn(arg, v, 100.0, cum, 1);
            return rows + 2;
        }
        double here = 100.0 * (double)cum / (double)h->total;
        while (level <= here) {
            fn(arg, v, level, cum, 0);
            rows++;
            level = next_level(level, ticks_per_half);
        }
    }
    return rows;
}
