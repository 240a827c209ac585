/* persist_internal.h - the state the files of persist.h's orchestration
 * share (persist.c, replay.c, group.c, compact.c, worker.c, logops.c) and
 * their cross-file functions (persist__ prefix). Not API: only these files
 * include it (and recover.c for the old helper names at the end).
 *
 * Who may touch what is written at each field: "ro" (after persist_open),
 * "owner: actor" (the shard's owner actor), "start-up", "worker", or the
 * lock that guards it; _Atomic fields may be read by any thread.
 */
#ifndef MEMKV_PERSIST_INTERNAL_H
#define MEMKV_PERSIST_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/entry.h"
#include "engine/hist.h"
#include "persist/manifest.h"
#include "persist/persist.h"
#include "persist/snap.h"
#include "persist/txlog.h"
#include "persist/wal.h"

/* Compaction of one shard. The actor moves IDLE -> SCANNING -> FINISHING or
 * ABORTING, and DONE/FAILED -> IDLE; the worker FINISHING -> DONE/FAILED and
 * ABORTING -> FAILED. The snapshot writer belongs to the worker from
 * FINISHING or ABORTING on; while SCANNING the actor feeds it and the worker
 * writes what it queued. */
enum compact_state { C_IDLE, C_SCANNING, C_FINISHING, C_ABORTING, C_DONE, C_FAILED };

typedef struct pshard {
    uint32_t id;              /* ro */
    char dir[PATH_MAX];       /* ro */
    wal_t *wal;               /* owner: actor (wal_sync: any thread) */
    int failed;               /* owner: actor: the last commit failed (persist__note) */
    int sync_failed;          /* a sync thread's result for the owner actor (sync_set) */
    _Atomic int want_compact; /* set by any thread (COMPACT) */
    _Atomic int state;        /* enum compact_state; see above for who moves it */
    snap_writer_t *snap;      /* owner: see enum compact_state */
    uint64_t snap_seq;        /* the snapshot being built */
    uint64_t cursor;          /* SCANNING: ht_scan position */
    int scan_started;
    _Atomic uint64_t snap_bytes; /* size of the live snapshot */
    _Atomic uint64_t log_bytes;  /* published by the actor for stats */
    uint64_t next_seq, prev_end; /* start-up: where recovery says the log goes on */
    int lossy;                   /* start-up: keep-prefix recovery gave up records or segments */
    int64_t retry_at_us;         /* owner: actor: next retry of a failed log */
    int64_t compact_fail_us;     /* owner: actor: when a compaction last failed */
    hist_t *fsync_ns;            /* fdatasync durations: written by the one thread
                                    that syncs this shard (actor or worker) */
    /* transactions over several shards (persist_tx_begin/end) */
    size_t tx_start;               /* the running tx's part starts here in pending;
                                      written by the actor running a frozen run */
    _Atomic uint64_t tx_added;     /* newest txid with a part appended (same writer) */
    _Atomic uint64_t tx_committed; /* tx_added as of the owner's last good commit */
    int tx_open;                   /* in a transaction (same writer as tx_start) */
} pshard;

#define PERSIST_SYNC_THREADS 4

struct sync_set; /* group.c: one group commit's fdatasyncs */

struct persist {
    persist_opts o; /* ro; o.dir points at dir */
    char dir[PATH_MAX];
    int lock_fd; /* <dir>/LOCK, flock'ed for the life of p; -1 before */
    uint32_t nshards;
    manifest man; /* guarded by man_lock */
    pthread_mutex_t man_lock;
    pshard *sh;
    pthread_t worker;
    int worker_started;
    int64_t next_seg_note_us; /* worker: when to record the newest segments next */
    /* --fsync always: threads that help actors run a group's syncs */
    pthread_t sync_th[PERSIST_SYNC_THREADS];
    int nsync_th;
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_work, sync_done;
    struct sync_set *sync_queue; /* sets with items left to take */
    _Atomic int stop;
    /* counters: written by actors and the worker with relaxed atomics */
    _Atomic uint64_t batches, writes, max_writes, bytes, fsyncs, fsync_us_total, fsync_us_max,
        failures, compactions;
    /* the log's outage state, kept by the shards' actors (persist__note) */
    _Atomic int nfailing;           /* shards whose log fails now */
    _Atomic int64_t outage_ms;      /* wall-clock start of the current outage, 0: none */
    _Atomic int64_t fail_log_us;    /* when the last failure line was logged */
    _Atomic int outage_logged;      /* the current outage's failure line was logged */
    _Atomic uint64_t fail_unlogged; /* failures not logged since the last line */
    _Atomic int last_errno;         /* errno of the newest failure */
    _Atomic uint64_t txid_next;     /* next transaction id (persist_tx_end) */
    txlog *tx;                      /* start-up: recovery's decision, until persist_attach */
    uint64_t tx_dropped;            /* transactions recovery dropped */
};

/* Counters read by persist_get_stats; any thread, relaxed. */
static inline void persist__counter_max(_Atomic uint64_t *c, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(c, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

static inline void persist__counter_add(_Atomic uint64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* persist.c. Owner actor of ps, after each commit, sync or retry of its
 * log: keeps ps->failed and the outage state, and logs (rate-limited) the
 * first failure of an outage with the errno's name, and its end. */
void persist__note(persist_t *p, pshard *ps, int failed);

/* persist.c. Records in the MANIFEST, per shard, the newest WAL segment
 * that is durable (see the comment at its definition). One thread at a
 * time: start-up, then the worker, then shutdown. Returns 0 or -1. */
int persist__note_segments(persist_t *p, int at_start, char *err, size_t errlen);

/* group.c. Syncs a shard's log and counts the time if an fdatasync
 * happened; returns wal_sync's result. The one thread syncing ps. */
int persist__timed_sync(persist_t *p, pshard *ps);

/* group.c. Owner actor: one more attempt at a failing log, at most every
 * 10 ms. */
void persist__retry(persist_t *p, pshard *ps);

/* group.c. Owner actor, after a good wal_commit: the transaction parts
 * appended so far are written (compaction waits for this). */
void persist__tx_note_commit(pshard *ps);

/* group.c. The body of a sync thread (arg: the persist_t). */
void *persist__sync_thread(void *arg);

/* compact.c. Worker: finishes the compaction of ps (state C_FINISHING),
 * whose snapshot has been fed; leaves it C_DONE or C_FAILED. */
void persist__compact_finish(persist_t *p, pshard *ps);

/* logops.c. Sinks for persist__write_hash: the PUT record of the hash (val:
 * the hobj_encode bytes of some of its fields) and one HSET per other
 * field. */
typedef int persist_put_fn(void *ctx, const kv_entry *e, const kv_str *val);
typedef int persist_hset_fn(void *ctx, const kv_str *key, const kv_str *f, const kv_str *v);

/* logops.c. Writes hash e whole: PUT (with the expiry) then HSETs. Returns
 * 0 or the first sink error. The thread that owns e. */
int persist__write_hash(const kv_entry *e, persist_put_fn *put, persist_hset_fn *hset, void *ctx);

#endif
