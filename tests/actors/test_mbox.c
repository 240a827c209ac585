/* Tests for actors/mbox.c: many producers, one consumer, nothing lost or
 * duplicated, per-producer order kept, and a sleeping consumer is woken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ck_pr.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/kv.h"
#include "actors/mbox.h"

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
    /* no timeout: only the producer's wake-up can end the wait */
    while (mbox_pop_sc(a->m) == NULL) mbox_wait_sc(a->m, -1);
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
    /* until it has said it is going to sleep (not a fixed 50 ms, which a
     * loaded machine may not give it) */
    while (atomic_load(&m.sleeping) == 0) sched_yield();
    int64_t sent = kv_mono_us();
    assert_true(mbox_push_mp(&m, (void *)1));
    mbox_wake_mp(&m);
    /* returns only if the push woke it: it waits without a timeout (a
     * lost wake-up hangs here, and ctest's timeout reports it) */
    pthread_join(th, NULL);
    assert_true(a.woke_at >= sent);
    mbox_destroy(&m);
}

/* Litmus test of the wake-up protocol (store buffering): the consumer
 * stores `sleeping = 1`, fences, checks the ring; the producer pushes,
 * fences, reads `sleeping` (mbox_wake_mp). The outcome "consumer saw an
 * empty ring and the producer saw sleeping == 0" is a lost wake-up and must
 * never happen. The consumer's steps are mbox_wait_sc's first three
 * (before its futex wait); the producer's are the real mbox_push_mp and
 * mbox_wake_mp. A control run without the fences and with relaxed accesses
 * counts the same outcome: CPUs with store buffers (x86 included, and qemu's
 * emulation of arm64 on it) show it, so a zero in the fenced run means
 * something. Counts only: nothing here depends on timing. */
#define LITMUS_ROUNDS 20000

/* A delay that varies from round to round, so that the two threads' steps
 * meet at many offsets (a thread sees `go` about a cache-line transfer
 * after the other wrote it). */
static void litmus_skew(unsigned round, unsigned mul)
{
    for (volatile unsigned k = (round * mul) % 256; k > 0; k--) {
    }
}

typedef struct {
    mbox_t m;
    int fenced;
    _Atomic unsigned go, done;
} litmus;

static void *litmus_producer(void *p)
{
    litmus *l = p;
    for (unsigned i = 1; i <= LITMUS_ROUNDS; i++) {
        while (atomic_load_explicit(&l->go, memory_order_acquire) != i) ck_pr_stall();
        litmus_skew(i, 7);
        assert_true(mbox_push_mp(&l->m, (void *)1));
        if (l->fenced) {
            mbox_wake_mp(&l->m); /* clears `sleeping` if it saw it */
        } else if (atomic_load_explicit(&l->m.sleeping, memory_order_relaxed)) {
            atomic_store_explicit(&l->m.sleeping, 0, memory_order_relaxed);
        }
        atomic_store_explicit(&l->done, i, memory_order_release);
    }
    return NULL;
}

static unsigned litmus_run(int fenced)
{
    litmus l = {.fenced = fenced};
    assert_int_equal(mbox_init(&l.m, 8), 0);
    atomic_init(&l.go, 0);
    atomic_init(&l.done, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, litmus_producer, &l), 0);
    unsigned lost = 0;
    for (unsigned i = 1; i <= LITMUS_ROUNDS; i++) {
        atomic_store_explicit(&l.m.sleeping, 0, memory_order_relaxed);
        atomic_store_explicit(&l.go, i, memory_order_release);
        litmus_skew(i, 13);
        bool empty;
        if (fenced) { /* as mbox_wait_sc */
            atomic_store(&l.m.sleeping, 1);
            atomic_thread_fence(memory_order_seq_cst);
            empty = mbox_empty_sc(&l.m);
        } else {
            atomic_store_explicit(&l.m.sleeping, 1, memory_order_relaxed);
            empty = mbox_empty_sc(&l.m);
        }
        while (atomic_load_explicit(&l.done, memory_order_acquire) != i) ck_pr_stall();
        /* the producer has finished: a set flag now means it missed it */
        if (empty && atomic_load(&l.m.sleeping) == 1) lost++;
        assert_ptr_equal(mbox_pop_sc(&l.m), (void *)1);
    }
    pthread_join(th, NULL);
    mbox_destroy(&l.m);
    return lost;
}

static void *force_sleeper(void *p)
{
    sleeper_arg *a = p;
    mbox_wait_sc(a->m, -1); /* nothing is pushed: only a forced wake-up ends it */
    a->woke_at = kv_mono_us();
    return NULL;
}

/* mbox_wake_force wakes a consumer with nothing queued (shutdown) and
 * leaves the flag clear. */
static void test_wake_force(void **state)
{
    mbox_t m;
    assert_int_equal(mbox_init(&m, 8), 0);
    sleeper_arg a = {&m, 0};
    pthread_t th;
    pthread_create(&th, NULL, force_sleeper, &a);
    while (atomic_load(&m.sleeping) == 0) sched_yield();
    int64_t sent = kv_mono_us();
    mbox_wake_force(&m);
    pthread_join(th, NULL); /* a lost wake-up hangs: ctest's timeout reports it */
    assert_true(a.woke_at >= sent);
    assert_int_equal(atomic_load(&m.sleeping), 0);
    mbox_wake_force(&m); /* no sleeper: harmless */
    mbox_destroy(&m);
}

static void test_wake_protocol_litmus(void **state)
{
    unsigned control = litmus_run(0);
    unsigned fenced = litmus_run(1);
    print_message("litmus (store buffering), %u rounds: lost wake-ups %u without fences "
                  "(control), %u with mbox's fences\n",
                  LITMUS_ROUNDS, control, fenced);
    assert_int_equal(fenced, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_producers_busy_consumer),
        cmocka_unit_test(test_many_producers_sleeping_consumer),
        cmocka_unit_test(test_full_ring_refuses),
        cmocka_unit_test(test_wait_times_out),
        cmocka_unit_test(test_wake_sleeping_consumer),
        cmocka_unit_test(test_wake_force),
        cmocka_unit_test(test_wake_protocol_litmus),
    };
    return cmocka_run_group_tests_name("actors/mbox", tests, NULL, NULL);
}
