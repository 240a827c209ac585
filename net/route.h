/* route.h - turning a parsed command into reply slots and shard requests.
 *
 * route_dispatch looks the command up, checks its arity, and either answers
 * it on the network thread or splits it into per-shard requests queued on
 * the thread's outgoing batches (scatter); slot_finish joins the parts when
 * the last one completes (gather). Network thread only.
 */
#ifndef MEMKV_ROUTE_H
#define MEMKV_ROUTE_H

#include "net_internal.h"

/* Appends a slot for the command in c->ps (argc/argv valid) to c's FIFO
 * and routes it. */
void route_dispatch(netthr *t, conn *c);

/* Appends a slot with a ready error reply ("ERR ..." without '-'). */
kv_slot *route_error_slot(conn *c, const char *msg);

/* Queues request r for shard r->shard on the thread's batch for its actor. */
void route_queue(netthr *t, kv_req *r);

/* Frees a slot and everything it owns. */
void slot_free(kv_slot *sl);
/* Frees the thread's cache of freed slots (netthr_destroy). */
void slot_cache_free(netthr *t);

#endif
