/* evict.h - the memory limit and eviction of one shard.
 *
 * The shards together may hold the budget, maxmemory - overhead, where the
 * overhead is what the allocator holds outside the shards and counts for
 * eviction (connection buffers, start-up memory, allocator headers; not the
 * log's buffers nor the arguments in flight), measured four times a second
 * by the server (evict_set_overhead). Each shard has a fair share,
 * budget / shards; a shard may hold more (borrow) while the total of all
 * shards is under the budget, so a value bigger than a share is kept. A
 * shard must make room when it is over its share and the total is over the
 * budget: the shards over their share give back, the others never evict
 * for them. Each actor publishes its shards' figures (evict_publish) for
 * the others' totals.
 *
 * Writes that may grow memory (Redis's "denyoom" commands) call
 * evict_make_room first: noeviction refuses them while the shard must make
 * room; the other policies evict keys chosen by sampling, as Redis does
 * (approximate LRU or LFU in the entry's 16-bit lru field, random, or
 * soonest expiry), for a bounded time, and the actor's tick carries on if
 * a write could not finish the job. They refuse a write only when no shard
 * that must make room has a key they may evict.
 *
 * The settings (evict_limits) are shared by all threads: CONFIG SET writes
 * them from a network thread, the actors read them; every field is atomic.
 * Everything else runs on the actor that owns the shard.
 */
#ifndef MEMKV_EVICT_H
#define MEMKV_EVICT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/entry.h"

struct shard;

/* The order of the --maxmemory-policy words (evict_policy_names). */
enum evict_policy {
    EVICT_NOEVICTION,
    EVICT_ALLKEYS_LRU,
    EVICT_VOLATILE_LRU,
    EVICT_ALLKEYS_LFU,
    EVICT_VOLATILE_LFU,
    EVICT_ALLKEYS_RANDOM,
    EVICT_VOLATILE_RANDOM,
    EVICT_VOLATILE_TTL,
};
/* NULL-terminated, indexed by enum evict_policy. */
extern const char *const evict_policy_names[];

/* Most keys sampled per eviction whatever --maxmemory-samples says. */
#define EVICT_MAX_SAMPLES 64
/* Candidates kept between evictions (Redis's eviction pool). */
#define EVICT_POOL_SIZE 16
/* The LRU clock ticks once a second and wraps after 2^16 s (18.2 h); the
 * LFU decay clock ticks once a minute and wraps after 2^8 min (4.3 h). */
#define EVICT_LRU_RES_MS 1000
#define EVICT_LFU_INIT   5

/* One shard's figures as its actor last published them (evict_publish),
 * on a cache line of its own: written by that actor, read by the others. */
typedef struct evict_usage {
    _Atomic int64_t mem;   /* shard_mem */
    _Atomic int64_t keys;  /* keys */
    _Atomic int64_t vkeys; /* keys with a TTL */
    char pad[64 - 3 * sizeof(int64_t)];
} evict_usage;

typedef struct evict_limits {
    _Atomic int64_t maxmemory; /* bytes, 0 = no limit; any thread */
    _Atomic int policy;        /* enum evict_policy; any thread */
    _Atomic int samples;       /* --maxmemory-samples; any thread */
    _Atomic int64_t overhead;  /* bytes held outside the shards; the server */
    uint32_t nshards;          /* ro */
    evict_usage *usage;        /* ro pointer; [shard] written by its actor */
} evict_limits;

/* evict_limits_destroy frees what init allocates (the published figures). */
void evict_limits_init(evict_limits *l, uint32_t nshards, int64_t maxmemory, int policy,
                       int samples);
void evict_limits_destroy(evict_limits *l);
/* The server's periodic measure: allocated bytes minus the shards' sum. */
void evict_set_overhead(evict_limits *l, int64_t bytes);
/* Bytes one shard may hold whatever the others hold (its fair share);
 * SIZE_MAX when there is no limit. */
size_t evict_share(const evict_limits *l);
/* Bytes all shards together may hold; SIZE_MAX when there is no limit. */
size_t evict_budget(const evict_limits *l);
/* Publishes s's memory and key counts for the other shards' totals. Owner
 * actor; after its rounds (a few microseconds to 10 ms apart). */
void evict_publish(const struct shard *s);

/* Outcome of evict_make_room. */
enum evict_result {
    EVICT_OK,      /* under the share (or no limit) */
    EVICT_RUNNING, /* keys were evicted but the time box ended: go on */
    EVICT_FAIL,    /* over the share and nothing (more) may be evicted */
};

/* Evicts keys of s (logging each as a DEL) until it is under its share,
 * or the total under the budget, or budget_us microseconds have passed.
 * EVICT_FAIL only when no key of s may be evicted and no other shard that
 * must make room has one either (always under noeviction). Owner actor. */
enum evict_result evict_make_room(struct shard *s, int64_t budget_us);
/* True if a write to s would get EVICT_FAIL: what a write of a
 * multi-shard command (MSET) is refused on. Owner actor. */
int evict_full(const struct shard *s);
/* Bytes held by s's eviction pool. */
size_t evict_pool_mem(const struct shard *s);
/* Frees s's eviction pool (shard_destroy). */
void evict_pool_free(struct shard *s);

/* Access bookkeeping in e->lru, by the policy in force: the LRU clock, or
 * the LFU counter (logarithmic, decayed by a minute clock) and its time.
 * evict_touch_new for a new entry, evict_touch on every access. */
void evict_touch_new(const struct shard *s, kv_entry *e);
void evict_touch(struct shard *s, kv_entry *e);

/* Pure helpers, exposed for the unit tests. */
uint16_t evict_lru_clock(int64_t now_ms);
/* Seconds since the LRU clock lru, modulo the wrap. */
uint32_t evict_lru_idle(uint16_t clock, uint16_t lru);
/* The LFU counter of lru after the decay of the minutes since its time. */
uint8_t evict_lfu_decayed(uint16_t lru, int64_t now_ms);
/* One access: decay, then a logarithmic increment drawn with rnd in [0,1). */
uint16_t evict_lfu_access(uint16_t lru, int64_t now_ms, double rnd);
/* The eviction score of e under policy (higher = evicted first). */
uint64_t evict_score(const kv_entry *e, int policy, int64_t now_ms);

#endif
