/* txlog.h - recovery's all-or-none decision on transactions over several
 * shards (docs/persistence.md, "Transactions in the log").
 *
 * The pre-pass (recover_shard with scan_only) reports to a txlog every
 * complete part (a TX record and all of its bytes), every TXABORT and the
 * TXFLOOR of each shard's snapshot segment. txlog_decide then keeps a
 * transaction only if it was never aborted and every participant shard
 * either holds its part or has compacted past it (its floor is above the
 * txid: that compaction waited until every part was durable). The replay
 * asks txlog_keep for each part; the parts of dropped transactions get a
 * TXABORT at start-up (txlog_drop), so a later floor never makes them look
 * complete.
 *
 * Threads: txlog_part/abort/floor from the recovery threads (a mutex);
 * txlog_decide on the start-up thread after they finished; then
 * txlog_keep/next_id/drop from any thread (read only).
 */
#ifndef MEMKV_TXLOG_H
#define MEMKV_TXLOG_H

#include <stddef.h>
#include <stdint.h>

#include "persist/wal_record.h"

typedef struct txlog txlog;

/* NULL on out of memory. */
txlog *txlog_new(uint32_t nshards);
/* Accepts NULL. */
void txlog_free(txlog *t);

/* The pre-pass callbacks (recover_tx_ops.part/abort/floor, ctx = the
 * txlog). Return 0 or KV_ENOMEM. */
int txlog_part(void *t, uint32_t shard, const wal_rec *r);
int txlog_abort(void *t, uint32_t shard, uint64_t txid);
int txlog_floor(void *t, uint32_t shard, uint64_t floor);

/* Decides every transaction seen. Returns 0 or KV_ENOMEM; *dropped (may be
 * NULL) gets the number of transactions dropped. */
int txlog_decide(txlog *t, uint64_t *dropped);

/* After txlog_decide: 1 if the part TX record r starts is applied
 * (recover_tx_ops.keep, ctx = the txlog). */
int txlog_keep(void *t, uint32_t shard, const wal_rec *r);

/* After txlog_decide: the first transaction id the server may use (above
 * every id and floor in the logs, at least 1). */
uint64_t txlog_next_id(const txlog *t);

/* After txlog_decide: the i-th dropped part (0 <= i < txlog_ndrops), its
 * shard and txid, which gets a TXABORT in that shard's new segment. */
size_t txlog_ndrops(const txlog *t);
void txlog_drop(const txlog *t, size_t i, uint32_t *shard, uint64_t *txid);

#endif
