/* persist.h - persistence (write-ahead log, snapshots, recovery).
 *
 * The building blocks are in their own headers: codec.h (byte encoding),
 * crc32c.h, fileio.h (file operations), wal_record.h (records),
 * wal_reader.h (reading them from a file), wal.h (one shard's log: append,
 * group commit, sync, rotation), snap.h (snapshots), manifest.h (the data
 * directory's MANIFEST), txlog.h and recover.h (one shard's recovery).
 * docs/persistence.md has the file formats, the compaction order, the
 * fsync-failure design and which file does what.
 *
 * This header is the orchestration the server uses:
 *   start-up thread: persist_open (reads or creates the MANIFEST and its hash
 *     secret), persist_recover (all shards, in parallel threads), then
 *     persist_attach (a WAL per shard, shard->log set) and persist_start
 *     (the background flusher/compaction worker);
 *   owner actor, per batch: persist_batch_commit (group commit: one write
 *     per touched shard, and fdatasync with --fsync always) and between
 *     batches persist_tick (compaction slices, retrying a broken log);
 *   any thread: persist_compact_all (COMPACT), persist_get_stats;
 *   shutdown: persist_close (commit, sync, stop the worker, free).
 */
#ifndef MEMKV_PERSIST_H
#define MEMKV_PERSIST_H

#include <stdint.h>

#include "engine/hash.h"
#include "engine/shard.h"
#include "persist/wal.h"

typedef struct persist persist_t;

typedef struct persist_opts {
    const char *dir;            /* data directory (created if missing) */
    enum wal_fsync fsync;       /* always | interval | no */
    int fsync_interval_ms;      /* WAL_FSYNC_INTERVAL: flusher period */
    uint64_t segment_max;       /* WAL segment rotation size */
    uint64_t compact_log_bytes; /* auto-compaction: total log at least this... */
    int keep_prefix;            /* recovery: keep the consistent prefix */
} persist_opts;

/* Opens dir: reads its MANIFEST, or creates one with a fresh random hash
 * secret. *secret receives the directory's secret. NULL with err set on
 * failure (unreadable, corrupt, or a different shard count). */
persist_t *persist_open(const persist_opts *o, uint32_t nshards, kv_hash_secret *secret, char *err,
                        size_t errlen);

typedef struct persist_recovery {
    uint64_t keys; /* keys live after recovery, all shards */
    uint64_t snap_entries;
    uint64_t records;
    uint64_t cut_bytes; /* torn tails removed */
    int64_t elapsed_us;
} persist_recovery;

/* Rebuilds shards[0..nshards) (empty, no log attached) from the snapshots
 * and logs, nthreads shards at a time. Expired entries are dropped. Returns
 * 0, or a negative code with err naming the file and byte offset. Messages
 * about torn tails go to the log function. Start-up thread. */
int persist_recover(persist_t *p, shard_t *shards, unsigned nthreads, persist_recovery *out,
                    char *err, size_t errlen);

/* Opens a new WAL segment per shard and routes each shard's changes to it.
 * Returns 0 or a negative code with err set. Start-up thread. */
int persist_attach(persist_t *p, shard_t *shards, char *err, size_t errlen);

/* Starts the background worker (interval fsyncs, finishing compactions). */
int persist_start(persist_t *p);

/* Owner actor of shards first, first+stride, ...: writes each touched
 * shard's records of the batch with one write(), then (fsync always) syncs
 * them. Returns the number of shards whose log failed (their writes must
 * not be acknowledged: see persist_shard_failed). p NULL: returns 0. */
int persist_batch_commit(persist_t *p, unsigned first, unsigned stride);

/* Owner actor: 1 if writes to shard must be refused with MISCONF (the last
 * commit failed or the log is broken). A failed log is retried first, at
 * most every 10 ms. */
int persist_shard_failed(persist_t *p, uint32_t shard);

/* Owner actor: 1 if shard's log works (the last commit succeeded), without
 * retrying it. p NULL: 1. */
int persist_shard_ok(persist_t *p, uint32_t shard);

/* Owner actor: 1 if every record of shard appended so far is durable as
 * the policy promises (with fsync always: written and synced; otherwise:
 * written). A failing log is retried first, at most every 10 ms. What
 * holds back the replies of writes whose commit failed with fsync always
 * (actor.c). p NULL: 1. */
int persist_shard_durable(persist_t *p, uint32_t shard);

/* Owner actor: "MISCONF ..." text for a failed shard, into buf. */
void persist_misconf(persist_t *p, uint32_t shard, char *buf, size_t cap);

/* A compaction slice runs at least this long before it yields. */
#define PERSIST_SLICE_MIN_US 50

typedef struct persist_tick_opts {
    int64_t budget_us;       /* longest slice; 0: no scanning this time */
    int may_begin;           /* a compaction of this shard may start */
    int (*yield)(void *ctx); /* non-zero: requests wait, cut the slice short */
    void *yield_ctx;
} persist_tick_opts;

/* Owner actor, between batches, for its shard s: retries a broken log,
 * starts (only if t->may_begin) and advances compaction (a slice of at most
 * t->budget_us, cut to PERSIST_SLICE_MIN_US when t->yield reports waiting
 * requests), finishes it. Returns 1 if a compaction of s is scanning (call
 * again soon), 0 otherwise. An actor lets one shard at a time scan: each
 * scanning shard costs a slice per round, so 16 at once stalled GETs for
 * ~175 ms (when each start also ran three fsyncs on the actor). */
int persist_tick(persist_t *p, shard_t *s, const persist_tick_opts *t);

/* The bound on each shard's log. A shard's threshold T is its share of
 * --compact-log-size or twice its snapshot, whichever is larger. Past
 * PERSIST_LOG_SOFT x T it compacts whatever the other shards' logs hold,
 * at full speed (pacing off); past PERSIST_LOG_HARD x T its actor takes no
 * new requests until the compaction has pruned the log (back-pressure),
 * so the log stays under PERSIST_LOG_HARD x T plus one drain round's
 * writes, however fast clients write. */
#define PERSIST_LOG_SOFT 2
#define PERSIST_LOG_HARD 4

/* Owner actor of shards first, first+stride, ...: the shard whose
 * compaction is most overdue (COMPACT first, then the log furthest past
 * its threshold) among those that may begin one, or -1. The actor lets
 * that one begin, so no shard starves the others. */
int persist_compact_pick(persist_t *p, unsigned first, unsigned stride);

/* Owner actor: 0, 1 when shard's log is past PERSIST_LOG_SOFT x its
 * threshold (compact it unpaced), 2 when past PERSIST_LOG_HARD x and a
 * compaction can make progress (take no requests until it has). */
int persist_log_pressure(persist_t *p, uint32_t shard);

/* Transactions over several shards (docs/persistence.md, "Transactions in
 * the log"). The actor running a frozen run, with every involved shard's
 * owner parked - the involved shards are those s with inv[s % stride] set
 * (stride: the number of actors) - calls persist_tx_begin before the run
 * and persist_tx_end after it. When the run wrote to two or more shards,
 * each of them gets a TX record (a new transaction id, the participants)
 * in front of its records, so recovery applies all of them or none; one
 * shard's records need nothing. p NULL: nothing. */
void persist_tx_begin(persist_t *p, const uint8_t *inv, unsigned stride);
void persist_tx_end(persist_t *p, const uint8_t *inv, unsigned stride);
/* The same for a run on one actor's shards first, first + stride, ...
 * (a script): the owner actor. Returns 0 when they are in a transaction
 * already (a script inside a MULTI: its writes are part of the EXEC's):
 * then do not call persist_tx_end_actor. */
int persist_tx_begin_actor(persist_t *p, unsigned first, unsigned stride);
void persist_tx_end_actor(persist_t *p, unsigned first, unsigned stride);

/* Any thread: schedules a compaction of every shard. */
void persist_compact_all(persist_t *p);

typedef struct persist_stats {
    uint64_t batches;    /* batches with at least one record */
    uint64_t writes;     /* segment writes (one per touched shard per batch) */
    uint64_t max_writes; /* most writes in one batch */
    uint64_t bytes;      /* record bytes written */
    uint64_t fsyncs;
    uint64_t fsync_us_total;
    uint64_t fsync_us_max;
    uint64_t fsync_us_p99;
    uint64_t failures;       /* failed writes/fsyncs */
    uint64_t compactions;    /* completed */
    uint64_t compacting;     /* shards compacting now */
    uint64_t log_bytes;      /* live log, all shards */
    uint64_t snapshot_bytes; /* live snapshots, all shards */
    int broken_shards;       /* shards whose log segment is broken now */
    int failing_shards;      /* shards refusing writes now (MISCONF) */
    int last_errno;          /* errno of the newest log failure, 0: none yet */
    int64_t failing_ms;      /* how long writes have been refused, 0: they are not */
} persist_stats;

/* "ENOSPC No space left on device" for errno e, "" for 0: what INFO and
 * STATS show of the newest log failure. A static string. */
const char *persist_errno_text(int e);

/* Any thread; counters read without locks (relaxed). */
void persist_get_stats(persist_t *p, persist_stats *st);

/* Heap bytes held by shard's log buffers (records not yet written, written
 * ones kept until synced), as of its actor's last log operation; 0 with p
 * NULL or no log. Any thread, once persist_open returned: eviction leaves
 * them out, as Redis leaves out its AOF buffer. */
size_t persist_shard_buffer_bytes(persist_t *p, uint32_t shard);

/* Shutdown, after the actors stopped: commits and syncs every shard, stops
 * the worker, frees everything. Accepts NULL. */
void persist_close(persist_t *p);

/* shard_log_ops that append to a wal_t: set shard->log = &persist_wal_log_ops
 * and shard->log_ctx = the shard's wal_t. Records go to the wal's pending
 * batch (memory); an append failure is sticky in the wal (wal_status).
 * Called by the owner actor, like every shard_log_ops. */
extern const shard_log_ops persist_wal_log_ops;

#endif
