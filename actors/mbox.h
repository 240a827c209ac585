/* mbox.h - a bounded MPSC mailbox of pointers (ck_ring) with an optional
 * sleeping consumer.
 *
 * Producers (any thread) call mbox_push_mp; the single consumer calls
 * mbox_pop_sc and, when idle, mbox_wait_sc. A producer wakes the consumer
 * with a futex only if the consumer has said it is going to sleep, so a busy
 * consumer costs producers no system call. mbox_wake_mp after a push is
 * what makes the wake-up happen; a consumer that never waits (a libev loop
 * woken by ev_async) simply never sets the flag.
 */
#ifndef MEMKV_MBOX_H
#define MEMKV_MBOX_H

#include <ck_ring.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct mbox {
    ck_ring_t ring;            /* private */
    ck_ring_buffer_t *slots;   /* private */
    _Atomic uint32_t sleeping; /* private: futex word, 1 while the consumer sleeps */
} mbox_t;

/* capacity is rounded up to a power of two; the ring holds capacity-1
 * pointers. Returns 0 or KV_ENOMEM. Start-up thread. */
int mbox_init(mbox_t *m, unsigned capacity);
void mbox_destroy(mbox_t *m);

/* Any producer thread. Returns false when the ring is full. */
bool mbox_push_mp(mbox_t *m, void *msg);
/* Any producer thread, after one or more pushes: wakes a sleeping consumer. */
void mbox_wake_mp(mbox_t *m);
/* Any thread: a futex wake-up whether or not the consumer has said it is
 * going to sleep (a system call each time; for shutdown, after setting a
 * flag the consumer checks). A consumer that sets `sleeping` only after
 * this call still sleeps, until its timeout: it must wait with one. */
void mbox_wake_force(mbox_t *m);
/* Consumer thread only. Returns the oldest message or NULL. */
void *mbox_pop_sc(mbox_t *m);
/* Consumer thread only: true if nothing is queued. */
bool mbox_empty_sc(mbox_t *m);
/* Consumer thread only: sleeps until a producer wakes it, or timeout_us
 * passes (<0: no timeout). Returns at once if a message is queued. */
void mbox_wait_sc(mbox_t *m, int64_t timeout_us);

#endif
