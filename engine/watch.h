/* watch.h - the keys clients WATCH in one shard (MULTI/EXEC's optimistic
 * check-and-set), with Redis 7.0's rules.
 *
 * A watched key (database, key bytes) has the list of the clients (by
 * CLIENT ID) that watch it. Every change to the key (a write, a delete, an
 * expiry or eviction, a FLUSHDB/FLUSHALL that removed it) marks them dirty:
 * shard.c calls watch_touch from the same places that log changes, only
 * when s->watch is set, so a shard nobody watches pays one NULL test per
 * change. A key that had already expired (but was still in the table) when
 * it was watched is not dirtied by its own removal, and a watched key whose
 * TTL passes before EXEC counts as changed, as in Redis 7.0.
 *
 * Owner actor of the shard only (or a thread running with it frozen).
 */
#ifndef MEMKV_WATCH_H
#define MEMKV_WATCH_H

#include <stdint.h>

#include "engine/kv.h"
#include "engine/shard.h"

/* Client watches key in database s->db (again: no effect). */
void watch_add(shard_t *s, uint64_t client, const kv_str *key);
/* Client stops watching key in database s->db (absent: no effect). */
void watch_remove(shard_t *s, uint64_t client, const kv_str *key);
/* 1 if key (database s->db) is unchanged since client watched it, 0 if it
 * changed, or if client does not watch it. */
int watch_clean(shard_t *s, uint64_t client, const kv_str *key);

/* The key (db, key) changed: its watchers become dirty. */
void watch_touch(shard_t *s, unsigned db, const char *key, size_t klen);
/* Database db (-1: every database) is about to be emptied: the watchers of
 * each key that exists there become dirty. */
void watch_touch_all(shard_t *s, int db);

/* Frees the shard's watch state (shard_destroy). */
void watch_free(shard_t *s);

#endif
