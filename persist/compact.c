/* compact.c - compaction of one shard (persist.h, docs/persistence.md):
 * rotate the WAL, write a fuzzy snapshot of the shard's table in
 * time-boxed slices between batches, then sync, rename, switch the
 * MANIFEST and delete what it replaced; and the choice of which shard
 * compacts next and the back-pressure of a log past its bound.
 *
 * Threads: the state machine of pshard.state (persist_internal.h) says who
 * moves a compaction: persist_tick, persist_compact_pick and
 * persist_log_pressure run on the shard's owner actor (start, slices,
 * taking DONE/FAILED back to IDLE); persist__compact_finish on the worker
 * (FINISHING to DONE or FAILED); persist_compact_all on any thread (it
 * only sets want_compact). */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "engine/entry.h"
#include "persist/failpoint.h"
#include "persist/manifest.h"
#include "persist/persist.h"
#include "persist/persist_internal.h"
#include "persist/snap.h"
#include "engine/table.h"
#include "persist/wal.h"

/* A scanning shard pauses while this much snapshot data waits for the
 * worker's write()s. */
#define PERSIST_SNAP_MAX_QUEUED (8u << 20)

/* How long a compaction waits for another shard to write its transaction
 * parts before it gives up (and is retried later). */
#define PERSIST_TX_WAIT_US 2000000

/* Worker, compaction step 5: the snapshot may hold the changes of a
 * transaction whose other parts are in other shards' logs; once the
 * MANIFEST names the snapshot, this shard's part is gone from its log and
 * its TXFLOOR says "compacted past it", so those other parts must be
 * durable first. Waits until every shard has written the parts appended
 * so far (each owner commits at the end of its round) and syncs them.
 * Returns 0, or KV_EIO (a log fails, or too long a wait). */
static int tx_parts_durable(persist_t *p, pshard *self)
{
    for (uint32_t s = 0; s < p->nshards; s++) {
        pshard *ps = &p->sh[s];
        uint64_t want = atomic_load_explicit(&ps->tx_added, memory_order_acquire);
        if (ps == self || want == 0) continue;
        int64_t deadline = kv_mono_us() + PERSIST_TX_WAIT_US;
        while (atomic_load_explicit(&ps->tx_committed, memory_order_acquire) < want) {
            if (wal_status(ps->wal) != 0 || atomic_load(&p->stop) || kv_mono_us() > deadline)
                return KV_EIO;
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (wal_sync(ps->wal) != 0) return KV_EIO;
    }
    return 0;
}

/* Worker: finishes one compaction whose snapshot has been fed. */
void persist__compact_finish(persist_t *p, pshard *ps)
{
    uint64_t bytes = snap_bytes(ps->snap);
    int rc = snap_finish(ps->snap); /* trailer, fsync, rename, fsync dir */
    ps->snap = NULL;
    if (rc == 0) rc = tx_parts_durable(p, ps); /* the other parts of its transactions */
    if (rc == 0) rc = wal_sync(ps->wal);       /* the redo from snap_seq is durable */
    if (rc == 0) failpoint_hit("compact-wal-synced");
    if (rc == 0) {
        pthread_mutex_lock(&p->man_lock);
        manifest_shard old = p->man.shards[ps->id];
        p->man.shards[ps->id].snap_seq = ps->snap_seq;
        p->man.shards[ps->id].first_seq = ps->snap_seq;
        /* segment snap_seq is durable (the wal_sync above, or an earlier
         * one before a later rotation): last_seq never falls below it */
        if (p->man.shards[ps->id].last_seq < ps->snap_seq)
            p->man.shards[ps->id].last_seq = ps->snap_seq;
        rc = manifest_write(p->dir, &p->man);
        if (rc != 0) p->man.shards[ps->id] = old; /* not switched: delete nothing */
        if (rc == 0) failpoint_hit("compact-manifest-switched");
        pthread_mutex_unlock(&p->man_lock);
    }
    if (rc == 0) {
        wal_prune(ps->dir, ps->snap_seq);
        snap_prune(ps->dir, ps->snap_seq);
        failpoint_hit("compact-pruned");
        atomic_store(&ps->snap_bytes, bytes);
        persist__counter_add(&p->compactions, 1);
        kv_log("shard %u: compaction done, snapshot %llu (%llu bytes)", ps->id,
               (unsigned long long)ps->snap_seq, (unsigned long long)bytes);
        atomic_store(&ps->state, C_DONE);
    } else {
        kv_log_warn("shard %u: compaction failed: %s", ps->id, kv_strerror(rc));
        atomic_store(&ps->state, C_FAILED);
    }
}

/* ---- compaction, on the owner actor ------------------------------------- */

typedef struct slice_ctx {
    shard_t *s;
    snap_writer_t *snap;
    int rc;
    unsigned db; /* the database of the entry being written */
} slice_ctx;

static int slice_put(void *ctx, const kv_entry *e, const kv_str *val)
{
    slice_ctx *c = ctx;
    kv_entry *m = (kv_entry *)(uintptr_t)e;
    int rc = entry_db(e) ? snap_add_db(c->snap, entry_db(e)) : 0;
    if (rc) return rc;
    return snap_add_entry(c->snap, e->type, entry_key(m), e->klen, val->p, val->len,
                          entry_expire(e));
}

static int slice_hset(void *ctx, const kv_str *key, const kv_str *f, const kv_str *v)
{
    slice_ctx *c = ctx;
    int rc = c->db ? snap_add_db(c->snap, c->db) : 0;
    if (rc) return rc;
    return snap_add_hset(c->snap, key, f, v);
}

static void slice_add(void *arg, kv_entry *e)
{
    slice_ctx *c = arg;
    if (c->rc != 0 || shard_expired(c->s, e)) return;
    c->db = entry_db(e);
    if (e->type == KV_TYPE_HASH) {
        c->rc = persist__write_hash(e, slice_put, slice_hset, c);
        return;
    }
    if (c->db) c->rc = snap_add_db(c->snap, c->db);
    if (c->rc == 0 && kv_type_is_obj(e->type)) { /* a list or set: its whole encoding */
        kvbuf enc;
        kvbuf_init(&enc);
        entry_obj_encode(e, &enc);
        c->rc = snap_add_entry(c->snap, e->type, entry_key(e), e->klen, enc.data, enc.len,
                               entry_expire(e));
        kvbuf_destroy(&enc);
    } else if (c->rc == 0) {
        c->rc = snap_add_entry(c->snap, e->type, entry_key(e), e->klen, entry_val(e), e->vlen,
                               entry_expire(e));
    }
}

static void compact_begin(persist_t *p, pshard *ps)
{
    uint64_t seq;
    if (wal_rotate(ps->wal, &seq) != 0) {
        if (ps->compact_fail_us == 0) /* once per outage: retried every second */
            kv_log_warn("shard %u: compaction not started: cannot rotate the WAL", ps->id);
        ps->compact_fail_us = kv_mono_us();
        return;
    }
    /* TXFLOOR: every transaction with a part here and an id below it ran
     * before the rotation; written now, so that the step-5 sync covers it */
    if (wal_append_txfloor(ps->wal, atomic_load(&p->txid_next)) != 0 || wal_commit(ps->wal) != 0) {
        if (ps->compact_fail_us == 0)
            kv_log_warn("shard %u: compaction not started: cannot write the WAL", ps->id);
        ps->compact_fail_us = kv_mono_us();
        return;
    }
    persist__tx_note_commit(ps);
    if (snap_begin(&ps->snap, ps->dir, ps->id, seq) != 0) {
        if (ps->compact_fail_us == 0)
            kv_log_warn("shard %u: compaction not started: cannot create the snapshot: %s", ps->id,
                        strerror(errno));
        ps->compact_fail_us = kv_mono_us();
        return;
    }
    ps->snap_seq = seq;
    ps->cursor = 0;
    ps->scan_started = 0;
    atomic_store(&ps->state, C_SCANNING);
}

/* One time-boxed slice of the fuzzy snapshot: at most t->budget_us, and
 * only PERSIST_SLICE_MIN_US once t->yield says requests are waiting. */
static void compact_slice(pshard *ps, shard_t *s, const persist_tick_opts *t)
{
    if (t->budget_us <= 0) return;                                /* paced: no credit */
    if (snap_queued(ps->snap) >= PERSIST_SNAP_MAX_QUEUED) return; /* the disk is behind */
    slice_ctx c = {s, ps->snap, 0, 0};
    int64_t now = kv_mono_us();
    int64_t end = now + t->budget_us, min_end = now + PERSIST_SLICE_MIN_US;
    do {
        ps->cursor = ht_scan(&s->table, ps->cursor, slice_add, &c);
        ps->scan_started = 1;
        now = kv_mono_us();
    } while (ps->cursor != 0 && c.rc == 0 && now < end &&
             (now < min_end || t->yield == NULL || !t->yield(t->yield_ctx)));
    if (c.rc != 0) {
        kv_log_warn("shard %u: compaction abandoned: %s", ps->id, kv_strerror(c.rc));
        atomic_store(&ps->state, C_ABORTING); /* the worker frees the writer */
        return;
    }
    if (ps->cursor == 0) atomic_store(&ps->state, C_FINISHING); /* the worker takes over */
}

/* A compaction that failed (or could not begin: the disk is full) is not
 * tried again for this long. */
#define PERSIST_COMPACT_BACKOFF_US 1000000

/* Microseconds left of the back-off after a failed compaction; 0: none. */
static int64_t compact_backoff(const pshard *ps)
{
    if (ps->compact_fail_us == 0) return 0;
    int64_t left = ps->compact_fail_us + PERSIST_COMPACT_BACKOFF_US - kv_mono_us();
    return left > 0 ? left : 0;
}

/* The log size at which shard ps is due for compaction (its share of
 * --compact-log-size, or twice its snapshot if that is larger); 0 when
 * only COMPACT compacts. */
static uint64_t compact_threshold(const persist_t *p, const pshard *ps)
{
    if (p->o.compact_log_bytes == 0) return 0;
    uint64_t share = p->o.compact_log_bytes / p->nshards, snap2 = 2 * atomic_load(&ps->snap_bytes);
    return share > snap2 ? share : snap2;
}

static int compact_due(persist_t *p, pshard *ps, const wal_stats *st)
{
    if (atomic_exchange(&ps->want_compact, 0)) return 1;
    uint64_t thr = compact_threshold(p, ps);
    if (thr == 0 || compact_backoff(ps) > 0) return 0;
    uint64_t total = 0;
    for (uint32_t s = 0; s < p->nshards; s++) total += atomic_load(&p->sh[s].log_bytes);
    /* past the soft bound a shard goes whatever the others hold */
    return (total >= p->o.compact_log_bytes || st->log_bytes >= PERSIST_LOG_SOFT * thr) &&
           st->log_bytes > thr;
}

/* How far past its threshold shard ps's log is, in 1/1000 (1000: at the
 * threshold); COMPACT asked for comes first. */
static uint64_t compact_urgency(const persist_t *p, const pshard *ps)
{
    uint64_t log = atomic_load_explicit(&ps->log_bytes, memory_order_relaxed);
    if (atomic_load(&ps->want_compact)) return UINT64_MAX / 2 + log / 1024;
    uint64_t thr = compact_threshold(p, ps);
    return thr ? log * 1000 / thr : 0;
}

int persist_compact_pick(persist_t *p, unsigned first, unsigned stride)
{
    if (p == NULL) return -1;
    int best = -1;
    uint64_t best_u = 1000; /* at least at the threshold */
    for (unsigned s = first; s < p->nshards; s += stride) {
        pshard *ps = &p->sh[s];
        if (atomic_load(&ps->state) != C_IDLE || ps->failed || compact_backoff(ps) > 0) continue;
        uint64_t u = compact_urgency(p, ps);
        if (u > best_u || (u == best_u && best < 0)) {
            best = (int)s;
            best_u = u;
        }
    }
    return best;
}

int persist_log_pressure(persist_t *p, uint32_t shard)
{
    if (p == NULL) return 0;
    pshard *ps = &p->sh[shard];
    uint64_t thr = compact_threshold(p, ps);
    if (thr == 0 || ps->failed) return 0;
    uint64_t log = atomic_load_explicit(&ps->log_bytes, memory_order_relaxed);
    if (log < PERSIST_LOG_SOFT * thr) return 0;
    /* writers wait only for a compaction that can make progress */
    int state = atomic_load(&ps->state);
    int progress = state == C_SCANNING || state == C_FINISHING || state == C_DONE ||
                   (state == C_IDLE && compact_backoff(ps) == 0);
    return log >= PERSIST_LOG_HARD * thr && progress ? 2 : 1;
}

int persist_tick(persist_t *p, shard_t *s, const persist_tick_opts *t)
{
    if (p == NULL) return 0;
    pshard *ps = &p->sh[s->id];
    if (ps->failed || wal_status(ps->wal) != 0) persist__retry(p, ps);
    wal_stats st;
    wal_get_stats(ps->wal, &st);
    /* An idle shard still frees the copies the flusher has made durable
     * (wal_commit trims them even with nothing pending). */
    if (st.unsynced_bytes > 0 && st.pending_bytes == 0 && !ps->failed)
        persist__note(p, ps, wal_commit(ps->wal) != 0); /* writes nothing: pending is empty */
    atomic_store_explicit(&ps->log_bytes, st.log_bytes, memory_order_relaxed);
    switch (atomic_load(&ps->state)) {
    case C_IDLE:
        if (t->may_begin && !ps->failed && compact_due(p, ps, &st)) compact_begin(p, ps);
        return atomic_load(&ps->state) == C_SCANNING;
    case C_SCANNING:
        compact_slice(ps, s, t);
        return atomic_load(&ps->state) == C_SCANNING;
    case C_DONE:
        ps->compact_fail_us = 0;
        wal_compacted(ps->wal, ps->snap_seq);
        atomic_store(&ps->state, C_IDLE);
        return 0;
    case C_FAILED:
        ps->compact_fail_us = kv_mono_us();
        atomic_store(&ps->state, C_IDLE);
        return 0;
    default: /* C_FINISHING, C_ABORTING: the worker has it */
        return 0;
    }
}

void persist_compact_all(persist_t *p)
{
    if (p == NULL) return;
    for (uint32_t s = 0; s < p->nshards; s++) atomic_store(&p->sh[s].want_compact, 1);
}
