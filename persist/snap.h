/* snap.h - snapshot files of one shard: <shard_dir>/snap-<20-digit seq>.snap.
 *
 * A snapshot holds PUT records (wal_record.h) for every entry of the shard
 * (a hash: one PUT with its fields, or with its first 64 MiB of fields and
 * HSET records for the rest), then a SNAP_END record with the PUT count.
 * seq is the first WAL segment to replay after it: the caller rotates the
 * WAL (wal_rotate), begins the snapshot with the new seq, and feeds entries
 * in time-boxed slices between batches. The table changes meanwhile, so the
 * snapshot is fuzzy; replaying segments >= seq, which holds every change
 * made since the rotation, makes it exact (records are idempotent redo).
 * The table scan must visit every key present for the whole scan (ht_scan
 * does).
 *
 * Threads: a writer has a feeding thread (snap_begin, snap_add_entry,
 * snap_entries) and a writing thread (snap_write_queued, snap_finish,
 * snap_abort), which may be the same. The feeder only fills memory: full
 * 1 MiB buffers queue up for the writer, so an actor feeding a snapshot
 * never waits for the disk. snap_finish and snap_abort come after the
 * feeder's last call (handed over with a release/acquire pair, e.g. an
 * atomic state). snap_queued and snap_bytes: any thread. The reader is
 * reentrant: shards load in parallel.
 */
#ifndef MEMKV_SNAP_H
#define MEMKV_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "engine/kv.h"
#include "persist/wal_record.h"

typedef struct snap_writer snap_writer_t;

enum { SNAP_HEADER = 40, SNAP_FORMAT_VERSION = 1 };

/* Writes the path of snapshot seq (tmp: its temporary name) into buf.
 * Returns 0 or KV_ERANGE. */
int snap_path(char *buf, size_t cap, const char *shard_dir, uint64_t seq, int tmp);

/* Creates <shard_dir>/snap-<seq>.snap.tmp (replacing a leftover) and writes
 * the header. Returns 0 and *out, KV_EIO, KV_ENOMEM or KV_EINVAL (seq 0). */
int snap_begin(snap_writer_t **out, const char *shard_dir, uint32_t shard, uint64_t seq);

/* Feeder: adds one entry (expire_ms < 0: none) to memory; every 1 MiB the
 * buffer is queued for the writer. Returns 0 or KV_ENOMEM / KV_ERANGE, or
 * the writer's KV_EIO; an error is sticky and makes snap_finish fail. */
int snap_add_entry(snap_writer_t *s, uint8_t vtype, const char *key, size_t klen, const char *val,
                   size_t vlen, int64_t expire_ms);

/* Writer: writes the queued buffers to the file. Returns 0 or the sticky
 * error (a failed write is one). */
int snap_write_queued(snap_writer_t *s);

/* Bytes queued for the writer; a feeder stops feeding while this is large. */
uint64_t snap_queued(const snap_writer_t *s);

/* Feeder: adds an HSET record, one more field of the hash whose PUT came
 * just before (hashes too big for one PUT record). Not counted as an entry. */
int snap_add_hset(snap_writer_t *s, const kv_str *key, const kv_str *field, const kv_str *val);
/* The next PUT or HSET is about database db (not 0): a DB record. */
int snap_add_db(snap_writer_t *s, unsigned db);

/* Entries (feeder) and bytes so far. */
uint64_t snap_entries(const snap_writer_t *s);
uint64_t snap_bytes(const snap_writer_t *s);

/* Writer: writes what is queued, the trailer, fsyncs the file, renames tmp -> final and fsyncs the
 * directory. After 0 the snapshot is durable under its final name; the
 * caller then syncs the WAL and switches the manifest. On error the tmp
 * file is removed. Frees s in every case. */
int snap_finish(snap_writer_t *s);

/* Abandons the snapshot: removes the tmp file and frees s. Accepts NULL. */
void snap_abort(snap_writer_t *s);

/* Called for each record: r->op == WAL_OP_PUT (an entry) or WAL_OP_HSET (a
 * further field of the hash PUT before it); r's pointers are valid only
 * during the call. A nonzero return stops the load and is returned. */
typedef int (*snap_entry_fn)(void *ctx, const wal_rec *r);

/* Reads snapshot seq of shard: checks header (magic, version, shard, seq),
 * every record's CRC, that only PUT records precede one SNAP_END whose count
 * matches, and that nothing follows it. Returns 0 (*entries set, if not
 * NULL), KV_EIO (missing or unreadable), KV_EPROTO (corrupt; err names the
 * file and byte offset) or the callback's value. */
int snap_load(const char *shard_dir, uint32_t shard, uint64_t seq, snap_entry_fn fn, void *ctx,
              uint64_t *entries, char *err, size_t errcap);

/* Removes snapshots other than keep_seq (0: remove all) and any leftover
 * snap tmp files, then fsyncs the directory. Returns 0 or KV_EIO. */
int snap_prune(const char *shard_dir, uint64_t keep_seq);
/* As snap_prune, but renames them to *.discarded (which nothing deletes):
 * start-up after a keep-prefix recovery that lost records, when a leftover
 * snapshot may hold the only copy of what the log lost. Returns 0 or KV_EIO. */
int snap_discard(const char *shard_dir, uint64_t keep_seq);

#endif
