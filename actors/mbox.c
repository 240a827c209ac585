#include "actors/mbox.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/kv.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
/* ck_ring orders a message's contents with fences and volatile accesses,
 * which ThreadSanitizer does not model (tests/tsan.supp silences the ring's
 * own accesses). These tell it what the ring guarantees, so that races in
 * the messages themselves are still found: whatever the producer wrote
 * before the push happens before the pop that returns the same message. */
#define MBOX_RELEASE(msg) __tsan_release(msg)
#define MBOX_ACQUIRE(msg) __tsan_acquire(msg)
#else
#define MBOX_RELEASE(msg) ((void)(msg))
#define MBOX_ACQUIRE(msg) ((void)(msg))
#endif

int mbox_init(mbox_t *m, unsigned capacity)
{
    unsigned size = 2;
    while (size < capacity) size <<= 1;
    m->slots = calloc(size, sizeof *m->slots);
    if (m->slots == NULL) return KV_ENOMEM;
    ck_ring_init(&m->ring, size);
    atomic_init(&m->sleeping, 0);
    return 0;
}

void mbox_destroy(mbox_t *m)
{
    if (m == NULL) return;
    free(m->slots);
    m->slots = NULL;
}

bool mbox_push_mp(mbox_t *m, void *msg)
{
    MBOX_RELEASE(msg);
    return ck_ring_enqueue_mpsc(&m->ring, m->slots, msg);
}

void mbox_wake_mp(mbox_t *m)
{
    /* Pairs with the fence in mbox_wait_sc: either the consumer sees our
     * message after setting `sleeping`, or we see `sleeping` set here. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&m->sleeping, memory_order_relaxed) == 0) return;
    if (atomic_exchange(&m->sleeping, 0) == 1)
        syscall(SYS_futex, &m->sleeping, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void mbox_wake_force(mbox_t *m)
{
    atomic_store(&m->sleeping, 0);
    syscall(SYS_futex, &m->sleeping, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void *mbox_pop_sc(mbox_t *m)
{
    void *msg;
    if (!ck_ring_dequeue_mpsc(&m->ring, m->slots, &msg)) return NULL;
    MBOX_ACQUIRE(msg);
    return msg;
}

bool mbox_empty_sc(mbox_t *m)
{
    return ck_ring_size(&m->ring) == 0;
}

void mbox_wait_sc(mbox_t *m, int64_t timeout_us)
{
    atomic_store(&m->sleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (!mbox_empty_sc(m)) {
        atomic_store(&m->sleeping, 0);
        return;
    }
    struct timespec ts, *tsp = NULL;
    if (timeout_us >= 0) {
        ts.tv_sec = timeout_us / 1000000;
        ts.tv_nsec = (timeout_us % 1000000) * 1000;
        tsp = &ts;
    }
    /* Returns at once (EAGAIN) if a producer already cleared the flag. */
    syscall(SYS_futex, &m->sleeping, FUTEX_WAIT_PRIVATE, 1, tsp, NULL, 0);
    atomic_store(&m->sleeping, 0);
}
