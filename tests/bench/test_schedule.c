/* test_schedule.c - bench/schedule.c: intended send times of the open loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/schedule.h"

static void test_intended_times(void **state)
{
    (void)state;
    sched_t s;
    /* 1000 req/s over 4 connections: each sends every 4 ms, staggered by 1 ms */
    sched_init(&s, 1000000000ull, 1000.0, 4, 2);
    assert_int_equal(sched_time_of(&s, 0), 1000000000ull + 2000000ull);
    assert_int_equal(sched_time_of(&s, 1), 1000000000ull + 6000000ull);
    assert_int_equal(sched_time_of(&s, 1000), 1000000000ull + 2000000ull + 4000000000ull);
}

static void test_take_only_when_due(void **state)
{
    (void)state;
    sched_t s;
    uint64_t t;
    sched_init(&s, 1000, 1e6, 1, 0); /* every 1000 ns */
    assert_int_equal(sched_take(&s, 999, &t), 0);
    assert_int_equal(sched_take(&s, 1000, &t), 1);
    assert_int_equal(t, 1000);
    assert_int_equal(sched_take(&s, 1999, &t), 0);
    /* a stall: the sender wakes late; every overdue request keeps its own
     * intended time, so the stall is charged to each of them */
    uint64_t got[10];
    int n = 0;
    while (sched_take(&s, 10500, &t)) got[n++] = t;
    assert_int_equal(n, 9);
    for (int i = 0; i < n; i++) assert_int_equal(got[i], 2000 + 1000 * (uint64_t)i);
    assert_int_equal(s.issued, 10);
    assert_int_equal(sched_peek(&s), 11000);
}

static void test_rate_over_connections(void **state)
{
    (void)state;
    /* all connections together: R requests in each second, evenly spaced */
    enum { C = 8 };
    sched_t s[C];
    for (unsigned i = 0; i < C; i++) sched_init(&s[i], 0, 80000.0, C, i);
    unsigned in_first_second = 0;
    for (unsigned i = 0; i < C; i++)
        while (sched_peek(&s[i]) < 1000000000ull) {
            uint64_t t;
            sched_take(&s[i], UINT64_MAX, &t);
            in_first_second++;
        }
    assert_int_equal(in_first_second, 80000);
    /* connection i's first request is i/C of an interval in */
    assert_int_equal(sched_time_of(&s[3], 0), 3 * 100000 / C * 1000 / 1000);
}

static void test_restart(void **state)
{
    (void)state;
    sched_t s;
    uint64_t t;
    sched_init(&s, 0, 1000.0, 1, 0);
    for (int i = 0; i < 5; i++) sched_take(&s, UINT64_MAX, &t);
    sched_restart(&s, 50000000000ull);
    assert_int_equal(sched_peek(&s), 50000000000ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intended_times),
        cmocka_unit_test(test_take_only_when_due),
        cmocka_unit_test(test_rate_over_connections),
        cmocka_unit_test(test_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
