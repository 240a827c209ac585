/* evict.c - the per-shard memory share, access bookkeeping (LRU clock and
 * LFU counter in the entry's 16-bit lru field) and eviction by sampling
 * with a pool of the best candidates, as Redis's evict.c describes it. */
#include "engine/evict.h"

#include <stdlib.h>
#include <string.h>

#include "engine/kv.h"
#include "engine/shard.h"

const char *const evict_policy_names[] = {"noeviction",      "allkeys-lru",  "volatile-lru",
                                          "allkeys-lfu",     "volatile-lfu", "allkeys-random",
                                          "volatile-random", "volatile-ttl", NULL};

/* A candidate: the key is copied, since its entry may change or go before
 * the pool is read again. */
typedef struct evict_cand {
    uint64_t score;
    uint32_t hash;
    uint32_t klen;
    uint8_t db; /* entry_db */
    char *key;  /* owned, cap bytes */
    size_t cap; /* 0: no buffer yet */
} evict_cand;

/* The other shards' published figures, as one shard sees them. */
typedef struct evict_others {
    int64_t mem;   /* their memory, all together */
    int evictable; /* one of them must make room and has a key to evict */
} evict_others;

struct evict_pool {
    int n;                         /* valid candidates, ascending score */
    evict_cand c[EVICT_POOL_SIZE]; /* c[n..] keep their buffers */
    size_t bytes;                  /* heap bytes of the pool */
    /* the others' figures summed at most once a millisecond (and share):
     * the sum reads a cache line per shard that other actors write */
    evict_others others;
    int64_t others_ms, others_share;
    int others_valid;
};

void evict_limits_init(evict_limits *l, uint32_t nshards, int64_t maxmemory, int policy,
                       int samples)
{
    atomic_init(&l->maxmemory, maxmemory);
    atomic_init(&l->policy, policy);
    atomic_init(&l->samples, samples);
    atomic_init(&l->overhead, 0);
    l->nshards = nshards ? nshards : 1;
    l->usage = kv_xcalloc(l->nshards, sizeof *l->usage);
}

void evict_limits_destroy(evict_limits *l)
{
    if (l == NULL) return;
    free(l->usage);
    l->usage = NULL;
}

void evict_set_overhead(evict_limits *l, int64_t bytes)
{
    atomic_store_explicit(&l->overhead, bytes > 0 ? bytes : 0, memory_order_relaxed);
}

/* Bytes all shards may hold, or -1 without a limit. */
static int64_t limits_budget(const evict_limits *l)
{
    int64_t max = atomic_load_explicit(&l->maxmemory, memory_order_relaxed);
    if (max <= 0) return -1;
    int64_t budget = max - atomic_load_explicit(&l->overhead, memory_order_relaxed);
    return budget > 0 ? budget : 0;
}

size_t evict_budget(const evict_limits *l)
{
    int64_t b = limits_budget(l);
    return b < 0 ? SIZE_MAX : (size_t)b;
}

size_t evict_share(const evict_limits *l)
{
    int64_t b = limits_budget(l);
    return b < 0 ? SIZE_MAX : (size_t)(b / (int64_t)l->nshards);
}

/* ---- access bookkeeping ------------------------------------------------ */

uint16_t evict_lru_clock(int64_t now_ms)
{
    return (uint16_t)((uint64_t)now_ms / EVICT_LRU_RES_MS);
}

uint32_t evict_lru_idle(uint16_t clock, uint16_t lru)
{
    return (uint16_t)(clock - lru);
}

static uint8_t lfu_minutes(int64_t now_ms)
{
    return (uint8_t)((uint64_t)now_ms / 60000u);
}

uint8_t evict_lfu_decayed(uint16_t lru, int64_t now_ms)
{
    uint8_t counter = (uint8_t)(lru & 0xff);
    uint8_t elapsed = (uint8_t)(lfu_minutes(now_ms) - (uint8_t)(lru >> 8));
    /* one step per minute idle (Redis's lfu-decay-time 1) */
    return counter > elapsed ? (uint8_t)(counter - elapsed) : 0;
}

uint16_t evict_lfu_access(uint16_t lru, int64_t now_ms, double rnd)
{
    unsigned counter = evict_lfu_decayed(lru, now_ms);
    if (counter < 255) {
        /* Redis's LFULogIncr with lfu-log-factor 10: the more hits a key
         * has, the less likely the next one counts */
        double base = counter > EVICT_LFU_INIT ? (double)(counter - EVICT_LFU_INIT) : 0.0;
        if (rnd < 1.0 / (base * 10.0 + 1.0)) counter++;
    }
    return (uint16_t)((unsigned)lfu_minutes(now_ms) << 8 | counter);
}

static int policy_lfu(int policy)
{
    return policy == EVICT_ALLKEYS_LFU || policy == EVICT_VOLATILE_LFU;
}

static int policy_volatile(int policy)
{
    return policy == EVICT_VOLATILE_LRU || policy == EVICT_VOLATILE_LFU ||
           policy == EVICT_VOLATILE_RANDOM || policy == EVICT_VOLATILE_TTL;
}

static int shard_policy(const shard_t *s)
{
    return s->limits ? atomic_load_explicit(&s->limits->policy, memory_order_relaxed)
                     : EVICT_NOEVICTION;
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

void evict_touch_new(const shard_t *s, kv_entry *e)
{
    if (policy_lfu(shard_policy(s)))
        e->lru = (uint16_t)((unsigned)lfu_minutes(s->now_ms) << 8 | EVICT_LFU_INIT);
    else
        e->lru = evict_lru_clock(s->now_ms);
}

void evict_touch(shard_t *s, kv_entry *e)
{
    if (policy_lfu(shard_policy(s))) {
        double rnd = (double)(rng_next(&s->rng) >> 11) * (1.0 / 9007199254740992.0);
        e->lru = evict_lfu_access(e->lru, s->now_ms, rnd);
    } else {
        e->lru = evict_lru_clock(s->now_ms);
    }
}

uint64_t evict_score(const kv_entry *e, int policy, int64_t now_ms)
{
    switch (policy) {
    case EVICT_ALLKEYS_LFU:
    case EVICT_VOLATILE_LFU:
        return 255u - evict_lfu_decayed(e->lru, now_ms);
    case EVICT_VOLATILE_TTL: {
        int64_t t = entry_expire(e);
        return t < 0 ? 0 : UINT64_MAX - (uint64_t)t; /* soonest expiry first */
    }
    default:
        return evict_lru_idle(evict_lru_clock(now_ms), e->lru);
    }
}

/* ---- the pool ------------------------------------------------------------ */

size_t evict_pool_mem(const shard_t *s)
{
    return s->pool ? s->pool->bytes : 0;
}

void evict_pool_free(shard_t *s)
{
    if (s->pool == NULL) return;
    for (int i = 0; i < EVICT_POOL_SIZE; i++) free(s->pool->c[i].key);
    free(s->pool);
    s->pool = NULL;
}

static struct evict_pool *pool_get(shard_t *s)
{
    if (s->pool == NULL) {
        s->pool = kv_xcalloc(1, sizeof *s->pool);
        s->pool->bytes = sizeof *s->pool;
    }
    return s->pool;
}

/* Copies e's key into candidate slot c. */
static void cand_fill(struct evict_pool *p, evict_cand *c, kv_entry *e, uint64_t score)
{
    if (c->cap < e->klen || c->cap == 0) {
        size_t cap = e->klen < 32 ? 32 : e->klen;
        p->bytes = p->bytes - c->cap + cap;
        free(c->key);
        c->key = kv_xmalloc(cap);
        c->cap = cap;
    } else if (c->cap > 4096 && e->klen < 256) {
        /* do not keep a huge key's buffer for ever */
        p->bytes -= c->cap - 256;
        c->key = kv_xrealloc(c->key, 256);
        c->cap = 256;
    }
    memcpy(c->key, entry_key(e), e->klen);
    c->klen = e->klen;
    c->db = (uint8_t)entry_db(e);
    c->hash = e->hash;
    c->score = score;
}

static int cand_is(const evict_cand *c, kv_entry *e)
{
    return c->hash == e->hash && c->klen == e->klen && c->db == entry_db(e) &&
           memcmp(c->key, entry_key(e), e->klen) == 0;
}

/* Offers e to the pool (ascending by score, the best at the end). */
static void pool_offer(struct evict_pool *p, kv_entry *e, uint64_t score)
{
    for (int i = 0; i < p->n; i++)
        if (cand_is(&p->c[i], e)) return; /* already a candidate */
    if (p->n == EVICT_POOL_SIZE && score <= p->c[0].score) return;
    int k = 0;
    while (k < p->n && p->c[k].score < score) k++;
    evict_cand spare;
    if (p->n < EVICT_POOL_SIZE) {
        /* make room at k by shifting the better ones right */
        spare = p->c[p->n];
        memmove(&p->c[k + 1], &p->c[k], (size_t)(p->n - k) * sizeof p->c[0]);
        p->n++;
    } else {
        /* drop the worst (c[0]) and shift the worse ones left */
        spare = p->c[0];
        k--;
        memmove(&p->c[0], &p->c[1], (size_t)k * sizeof p->c[0]);
    }
    p->c[k] = spare;
    cand_fill(p, &p->c[k], e, score);
}

/* A random key the policy may evict, or NULL: volatile policies draw from
 * the expiry index (only keys with a TTL, as Redis draws from `expires`). */
static kv_entry *pick_random(shard_t *s, int policy)
{
    if (policy_volatile(policy)) return expire_idx_random(&s->expires, &s->rng);
    return ht_random(&s->table, &s->rng);
}

/* Samples up to `samples` keys the policy may evict into the pool. */
static void pool_populate(shard_t *s, struct evict_pool *p, int policy, int samples)
{
    for (int got = 0; got < samples; got++) {
        kv_entry *e = pick_random(s, policy);
        if (e == NULL) return;
        pool_offer(p, e, evict_score(e, policy, s->now_ms));
    }
}

/* Takes the best candidate that still exists (and qualifies) out of the
 * pool; NULL when the pool runs dry. */
static kv_entry *pool_pop(shard_t *s, struct evict_pool *p, int policy)
{
    while (p->n > 0) {
        evict_cand *c = &p->c[--p->n];
        kv_entry *e = ht_find_db(&s->table, c->hash, c->db, c->key, c->klen);
        if (e != NULL && (!policy_volatile(policy) || (e->flags & KV_ENTRY_TTL))) return e;
    }
    return NULL;
}

static int shard_has_candidates(const shard_t *s, int policy)
{
    return policy_volatile(policy) ? s->volatile_keys > 0 : ht_count(&s->table) > 0;
}

/* Evicts one key; returns 0 if no key may be evicted. */
static int evict_one(shard_t *s, int policy)
{
    if (!shard_has_candidates(s, policy)) return 0;
    kv_entry *e;
    if (policy == EVICT_ALLKEYS_RANDOM || policy == EVICT_VOLATILE_RANDOM) {
        e = pick_random(s, policy);
    } else {
        int samples = atomic_load_explicit(&s->limits->samples, memory_order_relaxed);
        if (samples < 1) samples = 1;
        if (samples > EVICT_MAX_SAMPLES) samples = EVICT_MAX_SAMPLES;
        struct evict_pool *p = pool_get(s);
        pool_populate(s, p, policy, samples);
        e = pool_pop(s, p, policy);
    }
    if (e != NULL) shard_drop_evicted(s, e);
    return 1;
}

void evict_publish(const shard_t *s)
{
    if (s->limits == NULL || s->id >= s->limits->nshards) return;
    evict_usage *u = &s->limits->usage[s->id];
    atomic_store_explicit(&u->mem, (int64_t)shard_mem(s), memory_order_relaxed);
    atomic_store_explicit(&u->keys, (int64_t)ht_count(&s->table), memory_order_relaxed);
    atomic_store_explicit(&u->vkeys, (int64_t)s->volatile_keys, memory_order_relaxed);
}

/* Sums the figures the shards other than s published: their memory, and
 * whether one over its share holds a key the policy may evict. */
static void others_sum(const shard_t *s, int64_t share, int policy, evict_others *o)
{
    const evict_limits *l = s->limits;
    o->mem = 0;
    o->evictable = 0;
    for (uint32_t i = 0; i < l->nshards; i++) {
        if (i == s->id) continue;
        const evict_usage *u = &l->usage[i];
        int64_t mem = atomic_load_explicit(&u->mem, memory_order_relaxed);
        o->mem += mem;
        if (mem > share && policy != EVICT_NOEVICTION && !o->evictable)
            o->evictable = atomic_load_explicit(policy_volatile(policy) ? &u->vkeys : &u->keys,
                                                memory_order_relaxed) > 0;
    }
}

/* others_sum, summed again only when the millisecond or the share moved. */
static const evict_others *others_get(shard_t *s, int64_t share, int policy)
{
    struct evict_pool *p = pool_get(s);
    if (!p->others_valid || p->others_ms != s->now_ms || p->others_share != share) {
        others_sum(s, share, policy, &p->others);
        p->others_ms = s->now_ms;
        p->others_share = share;
        p->others_valid = 1;
    }
    return &p->others;
}

/* Whether s must make room: over its share with the total over budget. */
static int must_make_room(const shard_t *s, int64_t share, int64_t budget, int64_t others)
{
    int64_t mem = (int64_t)shard_mem(s);
    return mem > share && mem + others > budget;
}

enum evict_result evict_make_room(shard_t *s, int64_t budget_us)
{
    int64_t budget = s->limits ? limits_budget(s->limits) : -1;
    if (budget < 0) return EVICT_OK;
    int64_t share = budget / (int64_t)s->limits->nshards;
    if ((int64_t)shard_mem(s) <= share) return EVICT_OK; /* the common case: no sum */
    int policy = shard_policy(s);
    const evict_others *o = others_get(s, share, policy);
    if (!must_make_room(s, share, budget, o->mem)) return EVICT_OK; /* borrowing */
    if (policy == EVICT_NOEVICTION) return EVICT_FAIL;
    int64_t deadline = kv_mono_us() + budget_us;
    while (must_make_room(s, share, budget, o->mem)) {
        /* nothing here to evict: refused only if no other shard can give */
        if (!evict_one(s, policy)) return o->evictable ? EVICT_OK : EVICT_FAIL;
        if (kv_mono_us() >= deadline) return EVICT_RUNNING;
    }
    return EVICT_OK;
}

int evict_full(const shard_t *s)
{
    int64_t budget = s->limits ? limits_budget(s->limits) : -1;
    if (budget < 0) return 0;
    int64_t share = budget / (int64_t)s->limits->nshards;
    if ((int64_t)shard_mem(s) <= share) return 0;
    int policy = shard_policy(s);
    if (policy != EVICT_NOEVICTION && shard_has_candidates(s, policy)) return 0;
    evict_others o;
    others_sum(s, share, policy, &o);
    return must_make_room(s, share, budget, o.mem) && !o.evictable;
}
