/* Tests for actors/mbox.c: many producers, one consumer, nothing lost or
 * duplicated, per-producer order kept, and a sleeping consumer is woken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv.h"
#include "mbox.h"

/* Producers + consumer stay within 2 cores' worth of spinning: ck's MP
 * enqueue commits tickets in order, so a producer preempted between taking
 * a ticket and committing makes the others spin (see docs/architecture.md). */
#define PRODUCERS    2
#define PER_PRODUCER 50000

typedef struct {
    mbox_t *m;
    unsigned id;
    uint64_t full_retries;
} producer_arg;

/* Messages are encoded integers, never dereferenced: producer id in the
 * high bits, sequence number + 1 in the low bits (so never NULL). */
static void *producer(void *p)
{
    producer_arg *a = p;
    for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
        void *msg = (void *)(((uintptr_t)a->id << 32) | (i + 1));
        while (!mbox_push_mp(a->m, msg)) {
            a->full_retries++;
            sched_yield();
        }
        mbox_wake_mp(a->m);
    }
    return NULL;
}

static void run_many_producers(int sleeping_consumer)
{
    mbox_t m;
    assert_int_equal(mbox_init(&m, 1024), 0);
    pthread_t th[PRODUCERS];
    producer_arg args[PRODUCERS];
    for (unsigned i = 0; i < PRODUCERS; i++) {
        args[i] = (producer_arg){&m, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, producer, &args[i]), 0);
    }
    uint64_t next[PRODUCERS] = {0};
    uint64_t got = 0;
    while (got < (uint64_t)PRODUCERS * PER_PRODUCER) {
        void *msg = mbox_pop_sc(&m);
        if (msg == NULL) {
            if (sleeping_consumer)
                mbox_wait_sc(&m, 1000000); /* a lost wake-up stalls 1 s */
            else
                sched_yield();
            continue;
        }
        uintptr_t v = (uintptr_t)msg;
        unsigned id = (unsigned)(v >> 32);
        uint64_t seq = v & 0xffffffffu;
        assert_true(id < PRODUCERS);
        /* per-producer FIFO: exactly the next one, so no loss, no duplicate */
        assert_int_equal(seq, next[id] + 1);
        next[id] = seq;
        got++;
    }
    for (unsigned i = 0; i < PRODUCERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(next[i], PER_PRODUCER);
    }
    assert_null(mbox_pop_sc(&m));
    assert_true(mbox_empty_sc(&m));
    mbox_destroy(&m);
}

static void test_many_producers_busy_consumer(void **state)
{
    run_many_producers(0);
}

static void test_many_producers_sleeping_consumer(void **state)
{
    run_many_producers(1);
}

static void test_full_ring_refuses(void **state)
{
    mbox_t m;
    assert_int_equal(mbox_init(&m, 8), 0);
    int pushed = 0;
    while (mbox_push_mp(&m, (void *)(uintptr_t)(pushed + 1))) pushed++;
    assert_int_equal(pushed, 7); /* capacity - 1 */
    assert_ptr_equal(mbox_pop_sc(&m), (void *)1);
    assert_true(mbox_push_mp(&m, (void *)100));
    for (int i = 2; i <= 7; i++) assert_ptr_equal(mbox_pop_sc(&m), (void *)(uintptr_t)i);
    assert_ptr_equal(mbox_pop_sc(&m), (void *)100);
    assert_null(mbox_pop_sc(&m));
    mbox_destroy(&m);
}

static void test_wait_times_out(void **state)
{
    mbox_t m;
    assert_int_equal(mbox_init(&m, 8), 0);
    int64_t t0 = kv_mono_us();
    mbox_wait_sc(&m, 20000);
    int64_t took = kv_mono_us() - t0;
    assert_true(took >= 15000);
    mbox_destroy(&m);
}

typedef struct {
    mbox_t *m;
    int64_t woke_at;
} sleeper_arg;

static void *sleeper(void *p)
{
    sleeper_arg *a = p;
    while (mbox_pop_sc(a->m) == NULL) mbox_wait_sc(a->m, 5000000);
    a->woke_at = kv_mono_us();
    return NULL;
}

static void test_wake_sleeping_consumer(void **state)
{
    mbox_t m;
    assert_int_equal(mbox_init(&m, 8), 0);
    sleeper_arg a = {&m, 0};
    pthread_t th;
    pthread_create(&th, NULL, sleeper, &a);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL); /* let it fall asleep */
    int64_t sent = kv_mono_us();
    assert_true(mbox_push_mp(&m, (void *)1));
    mbox_wake_mp(&m);
    pthread_join(th, NULL);
    /* woken by the push, not by the 5 s timeout */
    assert_true(a.woke_at - sent < 2000000);
    mbox_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_producers_busy_consumer),
        cmocka_unit_test(test_many_producers_sleeping_consumer),
        cmocka_unit_test(test_full_ring_refuses),
        cmocka_unit_test(test_wait_times_out),
        cmocka_unit_test(test_wake_sleeping_consumer),
    };
    return cmocka_run_group_tests_name("actors/mbox", tests, NULL, NULL);
}
