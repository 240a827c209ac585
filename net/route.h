/* route.h - turning a parsed command into reply slots and shard requests.
 *
 * route_dispatch looks the command up, checks its arity, and either answers
 * it on the network thread or splits it into per-shard requests queued on
 * the thread's outgoing batches (scatter); slot_finish joins the parts when
 * the last one completes (gather). Network thread only.
 */
#ifndef MEMKV_ROUTE_H
#define MEMKV_ROUTE_H

#include "net/multi.h"
#include "net/net_internal.h"

/* Appends a slot for the command in c->ps (argc/argv valid) to c's FIFO
 * and routes it. */
void route_dispatch(netthr *t, conn *c);

/* Appends a slot with a ready error reply ("ERR ..." without '-'). */
kv_slot *route_error_slot(conn *c, const char *msg);

/* Queues request r for shard r->shard on the thread's batch for its actor. */
void route_queue(netthr *t, kv_req *r);

/* Frees a slot and everything it owns. */
void slot_free(kv_slot *sl);

/* A slot holding its own copy of the arguments, in database c->db, not in
 * c's FIFO (a command queued by MULTI); slot_new also links it at the tail
 * of c's FIFO. */
kv_slot *slot_make(conn *c, const cmd_def *def, int argc, const kv_str *argv);
kv_slot *slot_new(conn *c, const cmd_def *def, int argc, const kv_str *argv);

/* Makes and queues the parts of sl's keyed command (ROUTE_KEY, KEYS,
 * PAIRS, ALL, and RENAME within one shard), in database sl->db: 0; or -1
 * if it needs stages (SCAN, RENAME across shards, MSETNX) and nothing was
 * queued. With t->capturing set, the parts are made but not queued. */
int route_parts(netthr *t, kv_slot *sl);
/* A part of sl (database sl->db) with room for argc arguments. */
kv_req *route_part_new(kv_slot *sl, cmd_fn *fn, uint32_t shard, int argc, kv_str **argv);
/* Sets sl's parts (subs, owned by sl) and its pending count. */
void slot_set_parts(kv_slot *sl, kv_req **subs, unsigned n);
/* Builds sl->reply from its completed parts (def->join). */
void slot_join(netthr *t, kv_slot *sl);
/* Frees the thread's cache of freed slots (netthr_destroy). */
void slot_cache_free(netthr *t);

#endif
