/* persist.h - persistence (write-ahead log, snapshots, recovery).
 *
 * The building blocks are in their own headers: crc32c.h, wal_record.h,
 * wal.h (one shard's log: append, group commit, sync, rotation),
 * snap.h (snapshots), manifest.h (the data directory's MANIFEST) and
 * recover.h (one shard's recovery). docs/persistence.md has the file
 * formats, the compaction order and the fsync-failure design.
 *
 * The seam: engine/shard.h's shard_log_ops receive every change, and
 * actors call persist_batch_commit() once per batch, before completions are
 * posted; group commit writes (and, with --fsync always, syncs) the records
 * of the batch there. Owner: the actor thread that calls it.
 */
#ifndef MEMKV_PERSIST_H
#define MEMKV_PERSIST_H

#include "shard.h"

typedef struct persist persist_t;

/* Makes the changes of the batch just run durable per the fsync policy.
 * Returns 0; with no persistence configured (p == NULL) does nothing. */
int persist_batch_commit(persist_t *p, unsigned actor_id);

/* shard_log_ops that append to a wal_t: set shard->log = &persist_wal_log_ops
 * and shard->log_ctx = the shard's wal_t. Records go to the wal's pending
 * batch (memory); an append failure is sticky in the wal (wal_status).
 * Called by the owner actor, like every shard_log_ops. */
extern const shard_log_ops persist_wal_log_ops;

#endif
