/* recover.h - rebuilds one shard from its snapshot and WAL segments.
 *
 * Order: the manifest's snapshot (if any), then the segments from the
 * manifest's first_seq up, each record handed to a callback. Rules:
 * - a segment's successor header may bound it (prev_end): bytes past the
 *   bound are what a failed segment left behind and are ignored;
 * - a torn record at the tail of the last segment (it ends inside a record,
 *   or the rest of the file is zeros) is cut off: the file is truncated and
 *   fsynced, res->cut_bytes says how much; a last segment shorter than its
 *   header (crash while creating it) is moved aside (*.discarded), unless
 *   the manifest's last_seq says it was complete once;
 * - every segment up to the manifest's last_seq must be there: a missing
 *   last segment (or several) is refused like corruption; with keep_prefix
 *   recovery goes on with what is there and reports the gap in
 *   res->missing_from..missing_to;
 * - anything else that does not decode (bad CRC, length, type, a missing
 *   segment, a segment shorter than its successor's prev_end) is corruption:
 *   KV_EPROTO with res->msg naming the file and byte offset - unless
 *   keep_prefix, where replay stops at the first bad record, later segments
 *   are renamed to *.discarded, and recovery succeeds with res->stopped = 1.
 *   Recovery never deletes a segment: what it gives up on is renamed.
 *
 * Threads: no shared state; shards may recover in parallel threads, each
 * with its own callbacks' context.
 */
#ifndef MEMKV_RECOVER_H
#define MEMKV_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/kv.h"
#include "persist/wal_record.h"

/* Callbacks; pointers in the arguments are valid only during the call. A
 * nonzero return aborts recovery with that value. */
typedef struct recover_ops {
    /* A snapshot entry or a PUT record: r->vtype, key, val, expire_ms
     * (absolute ms, -1 none; may be in the past - the callee decides). */
    int (*put)(void *ctx, const wal_rec *r);
    int (*del)(void *ctx, const char *key, size_t klen);
    int (*clear)(void *ctx);
    /* HSET (r->key, field, val), HDEL (r->key, field), EXPIRE (r->key,
     * expire_ms) records, with the semantics of wal_record.h. */
    int (*hset)(void *ctx, const wal_rec *r);
    int (*hdel)(void *ctx, const wal_rec *r);
    int (*expire)(void *ctx, const wal_rec *r);
    /* The records applied from now on are about database db (0 again after
     * the record a DB record prefixes; recover.c makes both calls), and a
     * DB record before a CLEAR empties that database only (clear_db). */
    int (*db)(void *ctx, unsigned db);
    int (*clear_db)(void *ctx, unsigned db);
} recover_ops;

/* Transactions over several shards (docs/persistence.md, "Transactions in
 * the log"). A TX record starts a shard's part of transaction txid: the
 * part_bytes bytes after it. The caller runs every shard once with
 * scan_only (nothing applied, nothing cut or renamed), collecting parts,
 * aborts and floors, decides, then replays with keep. */
typedef struct recover_tx_ops {
    /* scan_only: TX record r and every byte of its part are in the log */
    int (*part)(void *ctx, uint32_t shard, const wal_rec *r);
    /* scan_only: a TXABORT record */
    int (*abort)(void *ctx, uint32_t shard, uint64_t txid);
    /* scan_only: a TXFLOOR record in the segment the snapshot starts (snap_seq) */
    int (*floor)(void *ctx, uint32_t shard, uint64_t floor);
    /* replay: 1 to apply the part TX record r starts, 0 to skip it */
    int (*keep)(void *ctx, uint32_t shard, const wal_rec *r);
    void *ctx;
} recover_tx_ops;

typedef struct recover_opts {
    const char *shard_dir;
    uint32_t shard;
    uint64_t snap_seq;        /* manifest: live snapshot, 0 = none */
    uint64_t first_seq;       /* manifest: first live segment (>= 1) */
    uint64_t last_seq;        /* manifest: newest segment created durably; 0 = unknown */
    int keep_prefix;          /* stop at the first bad record instead of failing */
    int scan_only;            /* pre-pass: no snapshot, no ops, nothing cut or renamed */
    const recover_tx_ops *tx; /* NULL: every part is applied */
} recover_opts;

typedef struct recover_result {
    uint64_t snap_entries;       /* entries loaded from the snapshot */
    uint64_t records;            /* WAL records replayed */
    uint64_t segments;           /* segments replayed */
    uint64_t next_seq;           /* pass to wal_open as seq */
    uint64_t prev_end;           /* pass to wal_open as prev_end */
    uint64_t log_bytes;          /* bytes of live segments: wal_opts.initial_log_bytes */
    uint64_t cut_bytes;          /* torn tail removed */
    int stopped;                 /* keep_prefix: replay stopped at a bad record */
    uint64_t discarded;          /* keep_prefix: later segments renamed aside */
    uint64_t bad_seq;            /* corruption (or keep_prefix stop): segment... */
    uint64_t bad_offset;         /* ...and byte offset of the bad record */
    uint64_t missing_from;       /* keep_prefix: segments missing_from..missing_to, */
    uint64_t missing_to;         /* which last_seq says existed, are gone (0: none) */
    uint64_t tx_skipped;         /* transaction parts not applied (tx->keep said 0) */
    uint64_t tx_skipped_records; /* records in them */
    char msg[600];               /* the error, the cut or the stop, for the log */
} recover_result;

/* Recovers one shard. Returns 0, KV_EPROTO (corrupt; res->msg names file and
 * offset), KV_EIO (a file could not be read, truncated or renamed), KV_ENOMEM,
 * or a callback's nonzero value. */
int recover_shard(const recover_opts *o, const recover_ops *ops, void *ctx, recover_result *res);

#endif
