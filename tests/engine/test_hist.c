/* test_hist.c - engine/hist.c: percentiles against a sorted-array reference,
 * merge, bounds and overflow, and the percentile iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "engine/hist.h"

/* splitmix64: a small deterministic generator for the test data */
typedef struct {
    uint64_t s;
} test_rng;
static void rng_seed(test_rng *r, uint64_t seed)
{
    r->s = seed * 0x9e3779b97f4a7c15ull + 1;
}
static uint64_t rng_next(test_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_double(test_rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}
static uint64_t rng_below(test_rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The value of rank ceil(p/100 * n) in a sorted array (the definition hist_value_at uses). */
static uint64_t ref_percentile(const uint64_t *sorted, size_t n, double p)
{
    double want = p / 100.0 * (double)n;
    size_t k = (size_t)want;
    if ((double)k < want) k++;
    if (k == 0) k = 1;
    return sorted[k - 1];
}

static void test_index_roundtrip(void **state)
{
    (void)state;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        assert_true(lo <= hi);
        assert_int_equal(hist_index(lo), i);
        assert_int_equal(hist_index(hi), i);
        if (i + 1 < HIST_NBUCKETS) assert_int_equal(hist_bucket_low(i + 1), hi + 1);
        /* precision: a bucket is at most 1/128 of its low value wide */
        if (lo >= 256) assert_true((double)(hi - lo + 1) <= (double)lo / 128.0 + 1e-9);
    }
    assert_int_equal(hist_bucket_high(HIST_NBUCKETS - 1), HIST_MAX_VALUE);
}

static void check_against_reference(uint64_t *vals, size_t n)
{
    hist_t *h = malloc(sizeof(*h));
    assert_non_null(h);
    hist_init(h);
    for (size_t i = 0; i < n; i++) hist_record(h, vals[i]);
    qsort(vals, n, sizeof(*vals), cmp_u64);
    static const double ps[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        uint64_t ref = ref_percentile(vals, n, ps[i]);
        uint64_t got = hist_value_at(h, ps[i]);
        /* same bucket: never below the reference, at most 1/128 above */
        assert_true(got >= ref);
        assert_true((double)(got - ref) <= (double)ref / 128.0 + 1.0);
    }
    assert_int_equal(h->total, n);
    assert_int_equal(h->min, vals[0]);
    assert_int_equal(h->max, vals[n - 1]);
    assert_int_equal(hist_value_at(h, 100), vals[n - 1]);
    free(h);
}

static void test_percentiles_random(void **state)
{
    (void)state;
    enum { N = 200000 };
    uint64_t *vals = malloc(N * sizeof(uint64_t));
    test_rng r;
    rng_seed(&r, 42);
    /* log-uniform from 1 ns to ~60 s: every bucket range gets exercised */
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < N; i++) {
            double e = rng_double(&r) * 35.8;
            vals[i] = (uint64_t)__builtin_exp2(e);
        }
        check_against_reference(vals, N);
    }
    /* a latency-like shape: mostly ~50 us with a long tail */
    for (size_t i = 0; i < N; i++) {
        uint64_t v = 40000 + rng_below(&r, 20000);
        if (rng_below(&r, 1000) == 0) v += rng_below(&r, 50000000);
        vals[i] = v;
    }
    check_against_reference(vals, N);
    free(vals);
}

static void test_merge(void **state)
{
    (void)state;
    hist_t *a = malloc(sizeof(hist_t)), *b = malloc(sizeof(hist_t)), *all = malloc(sizeof(hist_t));
    hist_init(a), hist_init(b), hist_init(all);
    test_rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < 50000; i++) {
        uint64_t v = rng_below(&r, 10000000);
        hist_record(i % 3 ? a : b, v);
        hist_record(all, v);
    }
    hist_merge(a, b);
    assert_int_equal(a->total, all->total);
    assert_int_equal(a->min, all->min);
    assert_int_equal(a->max, all->max);
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) assert_int_equal(a->counts[i], all->counts[i]);
    assert_true(hist_value_at(a, 99) == hist_value_at(all, 99));
    hist_t *empty = malloc(sizeof(hist_t));
    hist_init(empty);
    hist_merge(a, empty); /* no-op */
    assert_int_equal(a->total, all->total);
    hist_merge(empty, all);
    assert_int_equal(empty->min, all->min);
    free(a), free(b), free(all), free(empty);
}

static void test_bounds_overflow(void **state)
{
    (void)state;
    hist_t *h = malloc(sizeof(hist_t));
    hist_init(h);
    assert_int_equal(hist_value_at(h, 50), 0);
    assert_true(hist_mean(h) == 0.0);
    hist_record(h, 0);
    assert_int_equal(hist_value_at(h, 50), 0);
    hist_record(h, HIST_MAX_VALUE);
    assert_int_equal(h->overflow, 0);
    hist_record(h, UINT64_C(1) << 50); /* way beyond 60 s: clamped, counted */
    hist_record(h, UINT64_MAX);
    assert_int_equal(h->overflow, 2);
    assert_int_equal(h->total, 4);
    assert_int_equal(h->max, UINT64_MAX);
    assert_int_equal(hist_index(UINT64_MAX), HIST_NBUCKETS - 1);
    /* 60 s is inside the tracked range with 1 % precision */
    uint64_t sixty = UINT64_C(60000000000);
    assert_true(sixty <= HIST_MAX_VALUE);
    unsigned i = hist_index(sixty);
    assert_true((double)(hist_bucket_high(i) - hist_bucket_low(i)) / (double)sixty < 0.01);
    hist_record_n(h, 5, 0); /* zero count: nothing */
    assert_int_equal(h->total, 4);
    free(h);
}

static void test_count_le(void **state)
{
    (void)state;
    hist_t *h = malloc(sizeof(hist_t));
    hist_init(h);
    for (uint64_t v = 1; v <= 100000; v++) hist_record(h, v * 100); /* 100 ns .. 10 ms */
    static const uint64_t le[] = {1000, 50000, 1000000, 9999999, 10000000, 20000000};
    for (size_t i = 0; i < sizeof le / sizeof le[0]; i++) {
        uint64_t exact = le[i] / 100 > 100000 ? 100000 : le[i] / 100;
        uint64_t got = hist_count_le(h, le[i]);
        /* never more than the exact count, at most one bucket (1/128) fewer */
        assert_true(got <= exact);
        assert_true((double)(exact - got) <= (double)exact / 128.0 + 2.0);
    }
    assert_int_equal(hist_count_le(h, UINT64_MAX), 100000);
    assert_int_equal(hist_count_le(h, 0), 0);
    free(h);
}

struct rows {
    unsigned n;
    double last_pct;
    uint64_t last_value, last_cum;
    int saw_last;
    int monotonic;
};

static void on_row(void *arg, uint64_t value, double pct, uint64_t cum, int is_last)
{
    struct rows *r = arg;
    if (r->n && (pct < r->last_pct || value < r->last_value || cum < r->last_cum)) r->monotonic = 0;
    r->n++;
    r->last_pct = pct, r->last_value = value, r->last_cum = cum;
    if (is_last) r->saw_last = 1;
}

static void test_percentile_iteration(void **state)
{
    (void)state;
    hist_t *h = malloc(sizeof(hist_t));
    hist_init(h);
    for (uint64_t v = 1; v <= 100000; v++) hist_record(h, v * 1000);
    struct rows r = {0, 0, 0, 0, 0, 1};
    unsigned n = hist_foreach_percentile(h, 5, on_row, &r);
    assert_int_equal(n, r.n);
    assert_true(r.monotonic);
    assert_true(r.saw_last);
    assert_true(r.last_pct == 100.0);
    assert_int_equal(r.last_cum, 100000);
    assert_int_equal(r.last_value, h->max);
    /* 5 rows per halving until the last bucket (which holds the top 0.4 %) */
    assert_in_range(n, 30, 120);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_roundtrip),
        cmocka_unit_test(test_percentiles_random),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_bounds_overflow),
        cmocka_unit_test(test_percentile_iteration),
        cmocka_unit_test(test_count_le),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
