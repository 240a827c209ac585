/* group.c - group commit (persist.h): per batch, one write per touched
 * shard's segment and, with --fsync always, the fdatasyncs of the batch in
 * parallel on the sync threads; the retry of a failing log; the framing of
 * transactions over several shards in the batch's records.
 *
 * Threads: persist_batch_commit, persist_shard_failed/_ok/_durable,
 * persist__retry and persist__tx_note_commit on the shard's owner actor;
 * persist__sync_thread is the body of the PERSIST_SYNC_THREADS sync threads
 * (persist_start), which touch a sync_set only as its registered users
 * under sync_lock; persist__timed_sync on the one thread that syncs a
 * shard at that moment (its actor, a sync thread for it, or the worker);
 * persist_tx_* on the actor running a frozen run or a script, with every
 * involved shard's owner parked. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "engine/hist.h"
#include "persist/persist.h"
#include "persist/persist_internal.h"
#include "persist/wal.h"

/* A set of fdatasyncs one actor needs done before its replies leave: the
 * actor and the sync threads take items with an atomic counter, so the
 * syncs of one group commit run in parallel (with 16 shards per actor they
 * are otherwise 16 device flushes in a row). Lives on the actor's stack. */
typedef struct sync_set {
    pshard **items;
    unsigned n;
    _Atomic unsigned next;      /* next item to take */
    _Atomic unsigned remaining; /* items not finished */
    _Atomic unsigned failed;
    struct sync_set *link; /* guarded by sync_lock */
    int queued;            /* guarded by sync_lock: on the queue */
    unsigned users;        /* guarded by sync_lock: threads working on it */
} sync_set;

/* Syncs a shard's log and counts the time if an fdatasync happened. */
int persist__timed_sync(persist_t *p, pshard *ps)
{
    uint64_t before = wal_sync_count(ps->wal);
    uint64_t t0 = hist_clock_ns();
    int rc = wal_sync(ps->wal);
    uint64_t ns = hist_clock_ns() - t0, us = ns / 1000;
    if (wal_sync_count(ps->wal) != before) {
        hist_record(ps->fsync_ns, ns);
        persist__counter_add(&p->fsyncs, 1);
        persist__counter_add(&p->fsync_us_total, us);
        persist__counter_max(&p->fsync_us_max, us);
    }
    if (rc != 0) persist__counter_add(&p->failures, 1);
    return rc;
}

/* ---- per batch ---------------------------------------------------------- */

/* Takes and runs items of set until none is left to take. */
static void sync_set_work(persist_t *p, sync_set *set)
{
    unsigned i;
    while ((i = atomic_fetch_add(&set->next, 1)) < set->n) {
        if (persist__timed_sync(p, set->items[i]) != 0) {
            set->items[i]->sync_failed = 1; /* owner actor reads it after the wait */
            atomic_fetch_add(&set->failed, 1);
        }
        atomic_fetch_sub(&set->remaining, 1);
    }
}

/* Sync threads: help with the set at the head of the queue. A set is only
 * touched by a thread that registered as its user under sync_lock, and the
 * actor waits for its users to leave before its stack frame goes. */
void *persist__sync_thread(void *arg)
{
    persist_t *p = arg;
    pthread_mutex_lock(&p->sync_lock);
    while (!atomic_load(&p->stop)) {
        sync_set *set = p->sync_queue;
        if (set == NULL) {
            pthread_cond_wait(&p->sync_work, &p->sync_lock);
            continue;
        }
        if (atomic_load(&set->next) >= set->n) {
            p->sync_queue = set->link; /* nothing left to take: unlink it */
            set->queued = 0;
            continue;
        }
        set->users++;
        pthread_mutex_unlock(&p->sync_lock);
        sync_set_work(p, set);
        pthread_mutex_lock(&p->sync_lock);
        if (--set->users == 0) pthread_cond_broadcast(&p->sync_done);
    }
    pthread_mutex_unlock(&p->sync_lock);
    return NULL;
}

/* Runs the syncs of items[0..n) in parallel with the sync threads; returns
 * the number that failed. Owner actor. */
static unsigned sync_parallel(persist_t *p, pshard **items, unsigned n)
{
    sync_set set = {.items = items, .n = n, .queued = 1};
    atomic_init(&set.next, 0);
    atomic_init(&set.remaining, n);
    atomic_init(&set.failed, 0);
    pthread_mutex_lock(&p->sync_lock);
    set.link = p->sync_queue;
    p->sync_queue = &set;
    pthread_cond_broadcast(&p->sync_work);
    pthread_mutex_unlock(&p->sync_lock);

    sync_set_work(p, &set);

    pthread_mutex_lock(&p->sync_lock);
    if (set.queued) /* still queued: unlink it so no new user finds it */
        for (sync_set **q = &p->sync_queue; *q; q = &(*q)->link)
            if (*q == &set) {
                *q = set.link;
                break;
            }
    while (set.users > 0) pthread_cond_wait(&p->sync_done, &p->sync_lock);
    pthread_mutex_unlock(&p->sync_lock);
    /* every item was taken; the users that took the last ones are gone */
    return atomic_load(&set.failed);
}

/* Most bytes the log buffers of one actor's shards may hold (records
 * written and kept until synced, with fsync interval): past it the actor
 * syncs them itself, so a write burst waits for the disk instead of
 * growing the buffers without bound. */
#define PERSIST_BUF_MAX (8u << 20)

/* Owner actor: syncs the actor's shards whose written bytes are still kept
 * in memory once they hold more than PERSIST_BUF_MAX together, then frees
 * the copies. Returns the number of shards whose sync failed. */
static unsigned persist_bound_buffers(persist_t *p, unsigned first, unsigned stride)
{
    uint64_t held = 0;
    for (unsigned s = first; s < p->nshards; s += stride) {
        wal_stats st;
        wal_get_stats(p->sh[s].wal, &st);
        held += st.unsynced_bytes;
    }
    if (held <= PERSIST_BUF_MAX) return 0;
    unsigned failed = 0;
    for (unsigned s = first; s < p->nshards; s += stride) {
        pshard *ps = &p->sh[s];
        if (ps->failed) continue;
        int rc = persist__timed_sync(p, ps);
        if (rc == 0) rc = wal_commit(ps->wal); /* nothing pending: trims the copy */
        persist__note(p, ps, rc != 0);
        failed += rc != 0;
    }
    return failed;
}

/* Owner actor, after a good wal_commit: the transaction parts appended
 * so far are written (tx_parts_durable waits for this). */
void persist__tx_note_commit(pshard *ps)
{
    uint64_t a = atomic_load_explicit(&ps->tx_added, memory_order_relaxed);
    if (a != atomic_load_explicit(&ps->tx_committed, memory_order_relaxed))
        atomic_store_explicit(&ps->tx_committed, a, memory_order_release);
}

int persist_batch_commit(persist_t *p, unsigned first, unsigned stride)
{
    if (p == NULL) return 0;
    pshard *touched[64];
    unsigned ntouched = 0, failed = 0, writes = 0;
    for (unsigned s = first; s < p->nshards; s += stride) {
        pshard *ps = &p->sh[s];
        size_t pending = wal_pending(ps->wal);
        if (pending == 0 && !ps->failed && wal_status(ps->wal) == 0) continue;
        int rc = wal_commit(ps->wal);
        writes += pending > 0;
        persist__counter_add(&p->bytes, pending);
        if (rc == 0) persist__tx_note_commit(ps);
        persist__note(p, ps, rc != 0);
        if (rc != 0) {
            failed++;
            persist__counter_add(&p->failures, 1);
        } else if (p->o.fsync == WAL_FSYNC_ALWAYS && !wal_durable(ps->wal)) {
            if (ntouched < 64) {
                touched[ntouched++] = ps;
            } else {
                persist__note(p, ps, persist__timed_sync(p, ps) != 0);
                failed += ps->failed;
            }
        }
    }
    /* fsync always: every write of the batch is out; now one fdatasync per
     * touched shard, in parallel */
    if (ntouched == 1) {
        touched[0]->sync_failed = persist__timed_sync(p, touched[0]) != 0;
    } else if (ntouched > 1) {
        sync_parallel(p, touched, ntouched);
    }
    for (unsigned i = 0; i < ntouched; i++) {
        persist__note(p, touched[i], touched[i]->sync_failed);
        failed += touched[i]->sync_failed;
        touched[i]->sync_failed = 0;
    }
    if (p->o.fsync == WAL_FSYNC_INTERVAL) failed += persist_bound_buffers(p, first, stride);
    if (writes > 0) {
        persist__counter_add(&p->batches, 1);
        persist__counter_add(&p->writes, writes);
        persist__counter_max(&p->max_writes, writes);
    }
    return (int)failed;
}

/* Owner actor: one more attempt at a failing log, at most every 10 ms:
 * a commit (which moves to a fresh segment and rewrites what was not
 * durable) and, with fsync always, the sync. */
void persist__retry(persist_t *p, pshard *ps)
{
    int64_t now = kv_mono_us();
    if (now < ps->retry_at_us) return;
    ps->retry_at_us = now + 10000;
    int rc = wal_commit(ps->wal);
    if (rc == 0) persist__tx_note_commit(ps);
    if (rc == 0 && p->o.fsync == WAL_FSYNC_ALWAYS) rc = persist__timed_sync(p, ps);
    persist__note(p, ps, rc != 0 || wal_status(ps->wal) != 0);
}

int persist_shard_failed(persist_t *p, uint32_t shard)
{
    if (p == NULL) return 0;
    pshard *ps = &p->sh[shard];
    if (!ps->failed && wal_status(ps->wal) == 0) return 0;
    /* A write is waiting: try the log again now (at most every 10 ms)
     * rather than at the next tick, so writes resume as soon as the disk
     * takes them again, on every shard. */
    persist__retry(p, ps);
    return ps->failed || wal_status(ps->wal) != 0;
}

int persist_shard_ok(persist_t *p, uint32_t shard)
{
    return p == NULL || (!p->sh[shard].failed && wal_status(p->sh[shard].wal) == 0);
}

int persist_shard_durable(persist_t *p, uint32_t shard)
{
    if (p == NULL) return 1;
    pshard *ps = &p->sh[shard];
    if (!ps->failed && wal_durable(ps->wal)) return 1;
    persist__retry(p, ps);
    if (!ps->failed && !wal_durable(ps->wal) && p->o.fsync == WAL_FSYNC_ALWAYS)
        persist__note(p, ps, persist__timed_sync(p, ps) != 0);
    return !ps->failed && wal_durable(ps->wal);
}

/* ---- transactions over several shards ----------------------------------- */

/* Shard s is in the transaction: inv[s % stride], or without inv the
 * shards of one actor (s % stride == first). */
static int tx_involved(const uint8_t *inv, unsigned first, unsigned stride, uint32_t s)
{
    return inv ? inv[s % stride] != 0 : s % stride == first;
}

/* Opens a transaction on the involved shards; 0 (and nothing done) when
 * one of them is in one already: a script inside a MULTI is part of the
 * EXEC's transaction. */
static int tx_begin(persist_t *p, const uint8_t *inv, unsigned first, unsigned stride)
{
    if (p == NULL) return 0;
    for (uint32_t s = 0; s < p->nshards; s++)
        if (tx_involved(inv, first, stride, s) && p->sh[s].tx_open) return 0;
    for (uint32_t s = 0; s < p->nshards; s++) {
        if (!tx_involved(inv, first, stride, s)) continue;
        p->sh[s].tx_start = wal_pending(p->sh[s].wal);
        p->sh[s].tx_open = 1;
    }
    return 1;
}

static int tx_grew(persist_t *p, const uint8_t *inv, unsigned first, unsigned stride, uint32_t s)
{
    return tx_involved(inv, first, stride, s) && wal_pending(p->sh[s].wal) > p->sh[s].tx_start;
}

static void tx_end(persist_t *p, const uint8_t *inv, unsigned first, unsigned stride)
{
    if (p == NULL) return;
    uint32_t local[64], *list = local;
    uint32_t n = 0;
    for (uint32_t s = 0; s < p->nshards; s++) {
        n += tx_grew(p, inv, first, stride, s);
        if (tx_involved(inv, first, stride, s)) p->sh[s].tx_open = 0;
    }
    if (n < 2) return; /* one shard's records are all or none by themselves */
    if (n > 64) list = kv_xmalloc(n * sizeof *list);
    n = 0;
    for (uint32_t s = 0; s < p->nshards; s++)
        if (tx_grew(p, inv, first, stride, s)) list[n++] = s;
    uint64_t id = atomic_fetch_add_explicit(&p->txid_next, 1, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        pshard *ps = &p->sh[list[i]];
        (void)wal_insert_tx(ps->wal, ps->tx_start, id, list, n); /* a failure is sticky */
        atomic_store_explicit(&ps->tx_added, id, memory_order_relaxed);
    }
    if (list != local) free(list);
}

void persist_tx_begin(persist_t *p, const uint8_t *inv, unsigned stride)
{
    (void)tx_begin(p, inv, 0, stride);
}

void persist_tx_end(persist_t *p, const uint8_t *inv, unsigned stride)
{
    tx_end(p, inv, 0, stride);
}

int persist_tx_begin_actor(persist_t *p, unsigned first, unsigned stride)
{
    return tx_begin(p, NULL, first, stride);
}

void persist_tx_end_actor(persist_t *p, unsigned first, unsigned stride)
{
    tx_end(p, NULL, first, stride);
}
