/* expire.h - the expiry index of a shard: every entry that has a TTL, in a
 * dense array, so that active expiry looks only at keys that may expire
 * (Redis keeps them in its `expires` dict for the same reason).
 *
 * Each indexed entry holds its position in the array in its TTL trailer
 * (entry_ttl_slot), so adding, removing and moving an entry are O(1): a
 * removal moves the last entry into the hole. Memory: 8 bytes per slot of
 * the array (which grows and shrinks by halves: 8-16 bytes per key with a
 * TTL) plus the 4-byte trailer in the entry.
 *
 * The shard keeps the index exact (shard.c); only its actor calls these.
 */
#ifndef MEMKV_EXPIRE_H
#define MEMKV_EXPIRE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/entry.h"

typedef struct expire_idx {
    kv_entry **v;    /* private: the entries with a TTL, in no order */
    uint32_t n;      /* ro: how many */
    uint32_t cap;    /* private: slots allocated */
    uint32_t cursor; /* private: the walk of expire_idx_next, downwards:
                      * slots at and above it were visited in this pass */
} expire_idx;

void expire_idx_init(expire_idx *x);
/* Frees the array (not the entries). Accepts NULL. */
void expire_idx_destroy(expire_idx *x);
/* Empties the index and frees its array (the entries are gone: a clear). */
void expire_idx_reset(expire_idx *x);

/* Adds e, which has KV_ENTRY_TTL and is not indexed; sets its trailer.
 * Aborts on OOM. */
void expire_idx_add(expire_idx *x, kv_entry *e);
/* Removes the entry at pos (its entry_ttl_slot, read before it was freed
 * or rebuilt); the last entry takes its place and its trailer is updated. */
void expire_idx_del(expire_idx *x, uint32_t pos);
/* e (with KV_ENTRY_TTL) replaces the entry at pos: a rebuilt or renamed
 * copy of it; sets e's trailer. */
void expire_idx_set(expire_idx *x, uint32_t pos, kv_entry *e);

/* The next entry of a walk that visits every indexed entry once per pass
 * (wrapping around), or NULL when empty. An entry present for a whole pass
 * is visited in it even when others are added or removed meanwhile
 * (removals only move the last entry, which the downward walk has seen).
 * The pointer is valid until the next change to the shard. */
kv_entry *expire_idx_next(expire_idx *x);
/* A uniformly random indexed entry, or NULL. rng: a caller-owned
 * xorshift state. */
kv_entry *expire_idx_random(const expire_idx *x, uint64_t *rng);

/* Bytes held by the array. */
size_t expire_idx_mem(const expire_idx *x);

/* Active expiry figures of one shard (INFO stats, Redis's names). */
typedef struct expire_stats {
    uint64_t cap_reached; /* cycles cut short by their time budget
                           * (expired_time_cap_reached_count) */
    uint64_t cycle_ns;    /* time spent in active expiry (expire_cycle_cpu_milliseconds) */
    double stale;         /* running average (weight 5 % per cycle, as Redis) of the
                           * share of sampled keys found expired (expired_stale_perc) */
} expire_stats;

/* The state of the active cycle of one shard: Redis's slow cycle, run in
 * slices (shard_expire_begin / shard_expire_run in shard.h). */
typedef struct expire_cycle {
    int64_t started_us; /* ro: when the current cycle began, in the caller's clock */
    int64_t left_us;    /* private: budget left to the current cycle */
    uint64_t sampled;   /* ro: keys looked at in the current (or last) cycle */
    uint64_t expired;   /* private: of which expired */
    int running;        /* private: the current cycle has work left */
} expire_cycle;

#endif
