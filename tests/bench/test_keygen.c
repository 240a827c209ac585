/* test_keygen.c - bench/keygen.c: zipf frequencies against theory,
 * sequential streams, uniform coverage, seed repeatability. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <cmocka.h>

#include "bench/keygen.h"

static void zipf_check(uint64_t n, double s, unsigned samples)
{
    keygen_zipf z;
    assert_int_equal(keygen_zipf_init(&z, n, s), 0);
    keygen_t kg;
    keygen_init(&kg, KEYGEN_ZIPF, n, &z, 12345, 0, 1);
    uint64_t *hits = calloc(n, sizeof(uint64_t));
    for (unsigned i = 0; i < samples; i++) {
        uint64_t k = keygen_next(&kg);
        assert_true(k < n);
        hits[k]++;
    }
    /* the most frequent ranks, each within 4 standard deviations (and 3 %) */
    for (uint64_t k = 1; k <= 10 && k <= n; k++) {
        double p = keygen_zipf_prob(n, s, k);
        double expect = p * samples, sd = sqrt(samples * p * (1 - p));
        double got = (double)hits[k - 1];
        assert_true(fabs(got - expect) <= 4 * sd + 0.03 * expect);
    }
    /* chi-square over the first 50 ranks plus the rest as one cell */
    double chi = 0, rest_p = 1, rest_got = samples;
    unsigned cells = n < 50 ? (unsigned)n : 50;
    for (unsigned k = 1; k <= cells; k++) {
        double e = keygen_zipf_prob(n, s, k) * samples;
        chi += (hits[k - 1] - e) * (hits[k - 1] - e) / e;
        rest_p -= keygen_zipf_prob(n, s, k);
        rest_got -= hits[k - 1];
    }
    if (cells < n && rest_p * samples > 5) {
        double e = rest_p * samples;
        chi += (rest_got - e) * (rest_got - e) / e;
        cells++;
    }
    /* df ~ 50: the 99.9 % quantile is about 86 */
    assert_true(chi < 100.0);
    free(hits);
}

static void test_zipf_099(void **state)
{
    (void)state;
    zipf_check(1000, 0.99, 1000000);
}

static void test_zipf_other_exponents(void **state)
{
    (void)state;
    zipf_check(100, 0.5, 500000);
    zipf_check(10000, 1.0, 500000); /* s == 1: the continuous limit */
    zipf_check(100000, 1.2, 500000);
    zipf_check(1, 0.99, 1000);
}

static void test_zipf_init_rejects(void **state)
{
    (void)state;
    keygen_zipf z;
    assert_int_equal(keygen_zipf_init(&z, 0, 0.99), -1);
    assert_int_equal(keygen_zipf_init(&z, 10, 0), -1);
}

static void test_sequential(void **state)
{
    (void)state;
    keygen_t kg;
    keygen_init(&kg, KEYGEN_SEQUENTIAL, 10, NULL, 1, 0, 1);
    for (uint64_t i = 0; i < 25; i++) assert_int_equal(keygen_next(&kg), i % 10);
    /* three interleaved streams cover 0..11 exactly once */
    int seen[12] = {0};
    for (unsigned s = 0; s < 3; s++) {
        keygen_init(&kg, KEYGEN_SEQUENTIAL, 12, NULL, 1, s, 3);
        for (int i = 0; i < 4; i++) seen[keygen_next(&kg)]++;
    }
    for (int i = 0; i < 12; i++) assert_int_equal(seen[i], 1);
}

static void test_uniform_coverage(void **state)
{
    (void)state;
    keygen_t kg;
    keygen_init(&kg, KEYGEN_UNIFORM, 100, NULL, 9, 0, 1);
    unsigned hits[100] = {0};
    for (int i = 0; i < 100000; i++) hits[keygen_next(&kg)]++;
    for (int i = 0; i < 100; i++) assert_in_range(hits[i], 850, 1150);
}

static void test_seed_repeatability(void **state)
{
    (void)state;
    keygen_zipf z;
    keygen_zipf_init(&z, 5000, 0.99);
    for (int p = 0; p < 3; p++) {
        keygen_t a, b, c, d;
        keygen_init(&a, (keygen_pattern)p, 5000, &z, 77, 3, 8);
        keygen_init(&b, (keygen_pattern)p, 5000, &z, 77, 3, 8);
        keygen_init(&c, (keygen_pattern)p, 5000, &z, 78, 3, 8); /* other seed */
        keygen_init(&d, (keygen_pattern)p, 5000, &z, 77, 4, 8); /* other stream */
        int diff_seed = 0, diff_stream = 0;
        for (int i = 0; i < 1000; i++) {
            uint64_t x = keygen_next(&a);
            assert_int_equal(x, keygen_next(&b));
            diff_seed += x != keygen_next(&c);
            diff_stream += x != keygen_next(&d);
        }
        if (p != KEYGEN_SEQUENTIAL) assert_true(diff_seed > 100);
        assert_true(diff_stream > 100);
    }
}

static void test_pattern_names(void **state)
{
    (void)state;
    keygen_pattern p;
    assert_int_equal(keygen_pattern_parse("zipf", &p), 0);
    assert_int_equal(p, KEYGEN_ZIPF);
    assert_int_equal(keygen_pattern_parse("sequential", &p), 0);
    assert_string_equal(keygen_pattern_name(p), "sequential");
    assert_int_equal(keygen_pattern_parse("gauss", &p), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zipf_099),          cmocka_unit_test(test_zipf_other_exponents),
        cmocka_unit_test(test_zipf_init_rejects), cmocka_unit_test(test_sequential),
        cmocka_unit_test(test_uniform_coverage),  cmocka_unit_test(test_seed_repeatability),
        cmocka_unit_test(test_pattern_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
