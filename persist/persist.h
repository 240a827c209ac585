/* persist.h - persistence (write-ahead log, snapshots, recovery).
 *
 * Not built yet: the durability issue adds the WAL. The seam is in place:
 * engine/shard.h's shard_log_ops receive every change, and actors call
 * persist_batch_commit() once per batch, before completions are posted,
 * which is where group commit will write (and, with --fsync always, sync)
 * the records of the batch. Owner: the actor thread that calls it.
 */
#ifndef MEMKV_PERSIST_H
#define MEMKV_PERSIST_H

typedef struct persist persist_t;

/* Makes the changes of the batch just run durable per the fsync policy.
 * Returns 0; with no persistence configured (p == NULL) does nothing. */
int persist_batch_commit(persist_t *p, unsigned actor_id);

#endif
