/* wal.h - one shard's write-ahead log: numbered segment files.
 *
 * Layout: <root>/shard-NNN/wal-<20-digit seq>.log, each starting with a
 * 40-byte header (magic, version, shard, seq, prev_end, CRC) followed by
 * records (wal_record.h). docs/persistence.md has the bytes.
 *
 * Threads: a wal_t belongs to the actor that owns the shard. Every function
 * is for that actor only, except wal_sync() and wal_status(), which any
 * thread may call (the interval flusher does); they serialize on a mutex
 * inside the wal_t, which the actor takes only to rotate.
 *
 * Group commit: the actor appends the records of a batch (wal_append_*:
 * memory only), then wal_commit() issues one write() for them, then - with
 * WAL_FSYNC_ALWAYS - wal_sync() before the replies leave.
 *
 * Failure: a failed write or fdatasync marks the current segment broken.
 * Nothing is retried on that file descriptor (after a failed fsync the
 * kernel may have dropped the dirty pages and marked them clean). The bytes
 * not known to be durable stay in memory; the next wal_commit() (call it
 * periodically while wal_status() != 0, even with nothing appended) creates
 * segment seq+1 whose header says how much of the broken one is valid
 * (prev_end), rewrites those bytes there, and syncs. Until that succeeds,
 * wal_commit/wal_sync return KV_EIO and the server must refuse writes.
 */
#ifndef MEMKV_WAL_H
#define MEMKV_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/kv.h"

typedef struct wal wal_t;

enum wal_fsync {
    WAL_FSYNC_NO = 0,       /* never fdatasync records; the OS decides */
    WAL_FSYNC_INTERVAL = 1, /* a flusher thread calls wal_sync every N ms */
    WAL_FSYNC_ALWAYS = 2,   /* the actor calls wal_sync after each commit */
};

/* I/O hooks, for fault-injection tests; NULL members mean the syscall. */
typedef struct wal_io {
    ssize_t (*write)(void *ctx, int fd, const void *p, size_t n);
    int (*fdatasync)(void *ctx, int fd);
    void *ctx;
} wal_io;

typedef struct wal_opts {
    uint64_t segment_max;       /* rotate once a segment reaches this; 0 = 64 MiB */
    enum wal_fsync fsync;       /* decides what stays in memory until synced */
    uint64_t initial_log_bytes; /* bytes already in live segments (recovery) */
    const wal_io *io;           /* NULL: real syscalls */
} wal_opts;

enum {
    WAL_SEG_HEADER = 40,
    WAL_FORMAT_VERSION = 1,
};
#define WAL_PREV_ANY            UINT64_MAX /* prev_end: predecessor is valid to its end */
#define WAL_DEFAULT_SEGMENT_MAX (64ull << 20)

typedef struct wal_seg_header {
    uint32_t version;
    uint32_t shard;
    uint64_t seq;
    uint64_t prev_end; /* valid length of segment seq-1, or WAL_PREV_ANY */
} wal_seg_header;

void wal_seg_header_encode(char out[WAL_SEG_HEADER], const wal_seg_header *h);
/* Returns 0, KV_EAGAIN (n < WAL_SEG_HEADER) or KV_EPROTO (*why set). */
int wal_seg_header_decode(const void *p, size_t n, wal_seg_header *h, const char **why);

/* Path helpers: write a NUL-terminated path into buf; return 0 or KV_ERANGE
 * if it does not fit. Shard directories are shard-%03u. */
int wal_shard_dir(char *buf, size_t cap, const char *root, uint32_t shard);
int wal_seg_path(char *buf, size_t cap, const char *shard_dir, uint64_t seq);
/* 0 and *seq if name is exactly wal-<20 digits>.log, else KV_EINVAL. */
int wal_seg_parse_name(const char *name, uint64_t *seq);
/* The segment seqs in shard_dir, ascending, in a malloc'd array the caller
 * frees (NULL when *n == 0). Returns 0, KV_EIO or KV_ENOMEM. */
int wal_list_segments(const char *shard_dir, uint64_t **seqs, size_t *n);
/* Unlinks the segments with seq < first_seq, then fsyncs the directory.
 * Compaction's last step. Returns 0 or KV_EIO. */
int wal_prune(const char *shard_dir, uint64_t first_seq);

/* Creates shard_dir if needed and a new segment seq there (replacing a file
 * of that name), whose header records prev_end (the valid length of segment
 * seq-1 as recovery left it, or WAL_PREV_ANY); fsyncs it and the directory.
 * Returns 0 and *out, KV_EIO, KV_ENOMEM or KV_EINVAL. */
int wal_open(wal_t **out, const char *shard_dir, uint32_t shard, uint64_t seq, uint64_t prev_end,
             const wal_opts *opts);
/* Closes the files and frees everything; unsynced bytes are not synced.
 * No other thread may be inside wal_sync(w). Accepts NULL. */
void wal_free(wal_t *w);

/* Append one record to the pending batch (memory only). A failure (KV_ENOMEM,
 * KV_ERANGE for a record over 1 GiB) is also made sticky: the log no longer
 * matches memory, so wal_status() reports it for good. Actor only. */
int wal_append_put(wal_t *w, uint8_t vtype, const char *key, size_t klen, const char *val,
                   size_t vlen, int64_t expire_ms);
int wal_append_del(wal_t *w, const char *key, size_t klen);
int wal_append_clear(wal_t *w);
int wal_append_db(wal_t *w, unsigned db); /* the next record is about database db */
int wal_append_hset(wal_t *w, const kv_str *key, const kv_str *field, const kv_str *val);
int wal_append_hdel(wal_t *w, const kv_str *key, const kv_str *field);
int wal_append_expire(wal_t *w, const kv_str *key, int64_t expire_ms);
/* Bytes appended and not yet written. Actor only. */
size_t wal_pending(const wal_t *w);
/* Transactions (docs/persistence.md): a TX record inserted at pending
 * offset at, in front of the records appended since (this shard's part of
 * transaction txid over shards[0..n), increasing, n >= 2); a TXFLOOR; a
 * TXABORT. The owner actor, or the actor running a frozen run while the
 * owner is parked. Same results as the other appends (sticky on failure). */
int wal_insert_tx(wal_t *w, size_t at, uint64_t txid, const uint32_t *shards, uint32_t n);
int wal_append_txfloor(wal_t *w, uint64_t floor);
int wal_append_txabort(wal_t *w, uint64_t txid);

/* Writes the pending batch to the current segment with one write() and
 * rotates if the segment reached segment_max (syncing the old one first).
 * If the segment is broken, first moves to a fresh one and rewrites what
 * was not durable. Returns 0 or KV_EIO (nothing written is acknowledged:
 * the bytes stay in memory for the next attempt) or the sticky append
 * error. Actor only. */
int wal_commit(wal_t *w);

/* fdatasync of the current segment if it has written, unsynced bytes.
 * Returns 0 (all bytes written before the call are durable) or KV_EIO (the
 * segment is now broken; the next wal_commit replaces it). Any thread. */
int wal_sync(wal_t *w);

/* Commits pending records, syncs the current segment, and starts segment
 * seq+1 (returned in *new_seq): compaction's first step. Returns 0 or
 * KV_EIO. Actor only. */
int wal_rotate(wal_t *w, uint64_t *new_seq);

/* Compaction done: segments below seq are no longer counted in
 * wal_stats.log_bytes. Actor only. */
void wal_compacted(wal_t *w, uint64_t seq);

/* 1 if every record appended so far is written and (fsync always or
 * interval) known durable: nothing pending, nothing unsynced, the segment
 * healthy. Actor only. */
int wal_durable(wal_t *w);

/* 0 when the log works, else the error writes must report (KV_EIO while a
 * segment is broken, or the sticky append error). Any thread. */
int wal_status(wal_t *w);

typedef struct wal_stats {
    uint64_t seq;            /* current segment */
    uint64_t seg_bytes;      /* bytes written to it, header included */
    uint64_t log_bytes;      /* bytes in live segments, for auto-compaction */
    uint64_t pending_bytes;  /* appended, not written */
    uint64_t unsynced_bytes; /* written, kept in memory until synced */
    uint64_t buffer_bytes;   /* heap held by those two buffers (capacity) */
    uint64_t writes, syncs, rotations, failures;
    int sys_errno; /* errno of the last failure, 0 if none */
} wal_stats;

/* Actor only (the counters the flusher updates are read atomically). */
void wal_get_stats(wal_t *w, wal_stats *st);

/* wal_stats.buffer_bytes as of the actor's last append, commit or
 * rotation. Any thread. */
uint64_t wal_buffer_bytes(const wal_t *w);

/* fdatasyncs done so far (a wal_sync with nothing to sync does none).
 * Any thread. */
uint64_t wal_sync_count(wal_t *w);

/* The newest segment whose file and directory entry are durable: the
 * current one, or the one before it while the current one is fresh (a
 * lazy rotation not yet synced; its predecessor was synced before it was
 * made). Every segment from the one wal_open made up to this one exists
 * until compaction prunes it. Any thread (takes the sync mutex, so it may
 * wait for an fdatasync in progress). */
uint64_t wal_durable_seq(wal_t *w);

#endif
