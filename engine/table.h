/* table.h - the hash table of one shard: chained buckets in power-of-two
 * arrays, resized incrementally (two arrays during a resize; every operation
 * moves a few buckets), so no single command pays for a whole rehash.
 *
 * Single-threaded: only the owning actor calls these.
 */
#ifndef MEMKV_TABLE_H
#define MEMKV_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/entry.h"

typedef struct ht {
    kv_entry **b[2];   /* private: bucket arrays; b[1] only during a resize */
    uint64_t mask[2];  /* private */
    size_t used[2];    /* private */
    int64_t rehash_at; /* private: next bucket of b[0] to move, -1 if none */
    int paused;        /* private: >0 while a scan runs */
} ht_t;

void ht_init(ht_t *t);
/* Frees every entry with entry_free and the bucket arrays. */
void ht_destroy(ht_t *t);

size_t ht_count(const ht_t *t);
/* Bytes held by the bucket arrays (not the entries). */
size_t ht_mem(const ht_t *t);

/* Finds key; returns the entry or NULL. The pointer stays valid until the
 * next call that modifies the table. Does a rehash step. */
kv_entry *ht_find(ht_t *t, uint32_t hash, const char *key, size_t klen);
/* The same for a key of database db (entry_db): ht_find is db 0. */
kv_entry *ht_find_db(ht_t *t, uint32_t hash, unsigned db, const char *key, size_t klen);

/* Cache hints for a lookup of hash that will come soon; they change
 * nothing. deep 0 prefetches the bucket slot(s), deep 1 the first entry of
 * each chain (call it after the slot had time to arrive). A batch of
 * pipelined requests issues them a few requests ahead, so the cache misses
 * of the lookups overlap instead of coming one after another. */
void ht_prefetch(const ht_t *t, uint32_t hash, int deep);

/* Inserts e, whose key must not be in the table. May grow the table. */
void ht_insert(ht_t *t, kv_entry *e);

/* Unlinks key and returns its entry (the caller frees it), or NULL. */
kv_entry *ht_remove(ht_t *t, uint32_t hash, const char *key, size_t klen);
kv_entry *ht_remove_db(ht_t *t, uint32_t hash, unsigned db, const char *key, size_t klen);

/* Replaces old (in the table) by neu (same key, from entry_rebuild or
 * entry_resize_val). old may already be freed: only its address is compared. */
void ht_relink(ht_t *t, const kv_entry *old, kv_entry *neu);

/* Visits the entries of one or a few buckets and returns the next cursor (0
 * when the scan is complete), with Redis's reverse-binary cursor: every key
 * present from the start to the end of a full scan is visited at least once,
 * even if the table grows or shrinks in between. fn may remove (and free)
 * the entry it is given, and no other. */
typedef void ht_scan_fn(void *arg, kv_entry *e);
uint64_t ht_scan(ht_t *t, uint64_t cursor, ht_scan_fn *fn, void *arg);

/* Visits every entry exactly once, in no particular order. fn may remove
 * (and free) the entry it is given, and no other; the table neither resizes
 * nor rehashes during the walk. For KEYS-like full passes in one call. */
void ht_foreach(ht_t *t, ht_scan_fn *fn, void *arg);

/* A random entry, or NULL when empty. rng is a caller-owned xorshift state. */
kv_entry *ht_random(ht_t *t, uint64_t *rng);

/* Moves up to n buckets of an ongoing resize; returns 1 if more remain. */
int ht_rehash_step(ht_t *t, int n);

#endif
