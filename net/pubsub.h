/* pubsub.h - Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBE,
 * PUBLISH, SPUBLISH and PUBSUB, with Redis 7.0's RESP2 replies.
 *
 * Not durable, and no shard or actor is involved: everything lives in net/.
 * One registry per server maps each channel (pattern, shard channel) to its
 * subscribing connections, under a read-write lock: PUBLISH takes it for
 * reading on the publisher's network thread, (un)subscribing takes it for
 * writing on the subscriber's. A message is appended, under the subscriber
 * thread's ps_lock, to the subscriber's pending bytes; the subscriber's
 * thread is woken (ev_async) and moves them into the connection's output
 * once no reply precedes them (docs/architecture.md, "Pub/Sub").
 *
 * Slow subscribers: client-output-buffer-limit pubsub HARD SOFT SECS
 * (Redis's default 32mb 8mb 60), checked on the queued and pending bytes.
 */
#ifndef MEMKV_PUBSUB_H
#define MEMKV_PUBSUB_H

#include <stdint.h>

#include "net/cmdtab.h"
#include "engine/hash.h"

struct netthr;
struct conn;

typedef struct pubsub_hub pubsub_hub;

/* The registry; secret hashes the channel names (ro, outlives the hub);
 * hard/soft/secs: the pubsub output limit. NULL on no memory. Start-up. */
pubsub_hub *pubsub_hub_new(const kv_hash_secret *secret, int64_t hard, int64_t soft, int secs);
/* After every connection is gone. Accepts NULL. */
void pubsub_hub_free(pubsub_hub *h);

/* client-output-buffer-limit pubsub: CONFIG SET (any thread) and its
 * current values (any thread). */
void pubsub_limits_set(pubsub_hub *h, int64_t hard, int64_t soft, int secs);
void pubsub_limits_get(pubsub_hub *h, int64_t *hard, int64_t *soft, int *secs);

/* Active channels (with a subscriber), patterns and shard channels, for
 * INFO. Any thread. */
void pubsub_counts(pubsub_hub *h, uint64_t *chans, uint64_t *pats, uint64_t *shards);

/* Network thread hooks (netloop.c). */
/* Sets up / tears down t's inbox (netthr_init / netthr_destroy). */
int pubsub_thr_init(struct netthr *t);
void pubsub_thr_destroy(struct netthr *t);
/* Wake-up on t: marks t's connections with new messages dirty. Network
 * thread t. */
void pubsub_poll(struct netthr *t);
/* Moves c's pending messages into c's output (no reply precedes them) and
 * flags c for closing (obl_over) past the pubsub output limit. c's network
 * thread. */
void pubsub_take(struct conn *c);
/* c closes: every subscription of c is dropped. c's network thread; no-op
 * for a connection that never subscribed; may be called again. */
void pubsub_conn_close(struct conn *c);
/* Before dispatching the command parsed on c: if c is subscribed (RESP2)
 * and the command is not allowed there, queues Redis's error slot and
 * returns 1. c's network thread. */
int pubsub_refuse(struct netthr *t, struct conn *c);

/* Subscriptions of c (channels + patterns; shard channels), for CLIENT
 * LIST from any thread (relaxed reads). */
unsigned pubsub_conn_nsub(const struct conn *c);
unsigned pubsub_conn_npsub(const struct conn *c);
unsigned pubsub_conn_nssub(const struct conn *c);

/* The commands (ROUTE_LOCAL rows of cmdtab.c); PING answers ["pong", arg]
 * while subscribed, as Redis in RESP2. Network thread only. */
cmd_local_fn pubsub_subscribe, pubsub_unsubscribe, pubsub_psubscribe, pubsub_punsubscribe,
    pubsub_ssubscribe, pubsub_sunsubscribe, pubsub_publish, pubsub_spublish, pubsub_pubsub,
    pubsub_ping;

#endif
