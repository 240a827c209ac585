/* blocking.h - blocked clients on the network thread (BLPOP, BRPOP, BLMOVE,
 * BRPOPLPUSH; docs/architecture.md, "Blocking commands").
 *
 * A blocking command gets a token (engine/block.h) and one part per shard
 * of its keys; each part pops for it (claiming the token) or registers it
 * on the shard's keys. While it waits, its slot is the connection's
 * blocker: later commands are read and buffered, not run. It ends with a
 * pop made by an actor (delivered through the thread's delivery stack and
 * its wake-up), its timeout (an ev_timer), or the connection's close,
 * whichever claims the token first. All functions: the network thread
 * that owns the connection, unless said otherwise.
 */
#ifndef MEMKV_NET_BLOCK_H
#define MEMKV_NET_BLOCK_H

#include "net/net_internal.h"

/* Dispatches sl (a ROUTE_BLOCK command of c): an error slot, or its parts
 * queued and c blocked behind it. */
void block_route(netthr *t, conn *c, kv_slot *sl);
/* The one shard of sl's keys, or -1 if they span several (MULTI runs the
 * non-blocking handler there). */
int64_t block_one_shard(netthr *t, const kv_slot *sl);
/* Every part of blocked slot sl (sl->blk) completed. */
void block_parts_done(netthr *t, kv_slot *sl);
/* Takes the tokens actors delivered (from the thread's wake-up). */
void block_collect(netthr *t);
/* c is closing: its blocked command, if any, gives up. */
void block_conn_closed(netthr *t, conn *c);
/* CLIENT UNBLOCK: c's blocked command, if any, ends as on a timeout, or
 * with the UNBLOCKED error if error. */
void block_unblock(netthr *t, conn *c, int error);
/* 1 if c waits in a blocking command: its input is still read (a
 * disconnect must be seen) though not parsed. */
static inline int block_waiting(const conn *c)
{
    return c->blocker != NULL && c->blocker->blk != NULL && !c->closing;
}

#endif
