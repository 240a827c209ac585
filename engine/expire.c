/* expire.c - the expiry index of a shard, and active expiry: Redis's
 * adaptive slow cycle over that index, so keys without a TTL cost nothing
 * and a cycle where nothing is due costs one sample of 20 keys.
 *
 * A cycle (shard_expire_begin) samples EXPIRE_KEYS_PER_LOOP indexed keys
 * per loop, removing those past their TTL, and loops again while more than
 * EXPIRE_STALE_PCT % of a loop's keys had expired, within a time budget.
 * It runs in slices (shard_expire_run) so that the actor never stops
 * serving requests for longer than a slice.
 */
#include "engine/expire.h"

#include <assert.h>
#include <stdlib.h>

#include "engine/hist.h"
#include "engine/kv.h"
#include "engine/shard.h"

/* Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP and _ACCEPTABLE_STALE. */
#define EXPIRE_KEYS_PER_LOOP 20
#define EXPIRE_STALE_PCT     10
/* Loops between two looks at the clock: a loop is 20 cache misses (and a
 * few deletions), ~1-3 us, so the overshoot of a slice stays ~10 us. */
#define EXPIRE_CLOCK_EVERY 4
/* Smallest array: below it the index never shrinks. */
#define EXPIRE_IDX_MIN 16
/* Weight of the last cycle in the running stale average (Redis: 0.05). */
#define EXPIRE_STALE_WEIGHT 0.05

/* ---- the index ------------------------------------------------------------- */

void expire_idx_init(expire_idx *x)
{
    x->v = NULL;
    x->n = x->cap = x->cursor = 0;
}

void expire_idx_destroy(expire_idx *x)
{
    if (x == NULL) return;
    free(x->v);
    expire_idx_init(x);
}

void expire_idx_reset(expire_idx *x)
{
    expire_idx_destroy(x);
}

/* Reallocates the array to cap slots (>= n). With glibc, arrays past the
 * mmap threshold move by mremap, so growth does not copy them. */
static void expire_idx_resize(expire_idx *x, uint32_t cap)
{
    assert(cap >= x->n);
    x->v = kv_xrealloc(x->v, (size_t)cap * sizeof *x->v);
    x->cap = cap;
}

void expire_idx_add(expire_idx *x, kv_entry *e)
{
    assert(e->flags & KV_ENTRY_TTL);
    assert(x->n < UINT32_MAX);
    if (x->n == x->cap) expire_idx_resize(x, x->cap ? x->cap * 2 : EXPIRE_IDX_MIN);
    entry_set_ttl_slot(e, x->n);
    x->v[x->n++] = e;
}

void expire_idx_del(expire_idx *x, uint32_t pos)
{
    assert(pos < x->n);
    kv_entry *last = x->v[--x->n];
    if (pos != x->n) {
        x->v[pos] = last;
        entry_set_ttl_slot(last, pos);
    }
    /* shrink by halves at a quarter full: no back-and-forth at one size */
    if (x->cap > EXPIRE_IDX_MIN && x->n < x->cap / 4) expire_idx_resize(x, x->cap / 2);
}

void expire_idx_set(expire_idx *x, uint32_t pos, kv_entry *e)
{
    assert(pos < x->n && (e->flags & KV_ENTRY_TTL));
    x->v[pos] = e;
    entry_set_ttl_slot(e, pos);
}

kv_entry *expire_idx_next(expire_idx *x)
{
    if (x->n == 0) return NULL;
    if (x->cursor == 0 || x->cursor > x->n) x->cursor = x->n; /* a new pass */
    return x->v[--x->cursor];
}

kv_entry *expire_idx_random(const expire_idx *x, uint64_t *rng)
{
    if (x->n == 0) return NULL;
    uint64_t r = *rng ? *rng : 0x9e3779b97f4a7c15ull;
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    *rng = r;
    return x->v[((r * 0x9e3779b97f4a7c15ull) >> 32) % x->n];
}

size_t expire_idx_mem(const expire_idx *x)
{
    return (size_t)x->cap * sizeof *x->v;
}

/* ---- the active cycle ------------------------------------------------------ */

/* Ends the current cycle: its stale share joins the running average;
 * capped says its time budget ended it. */
static void expire_end(shard_t *s, int capped)
{
    expire_cycle *c = &s->expire;
    if (c->sampled > 0) {
        double cur = (double)c->expired / (double)c->sampled;
        s->expire_stats.stale =
            cur * EXPIRE_STALE_WEIGHT + s->expire_stats.stale * (1.0 - EXPIRE_STALE_WEIGHT);
    }
    if (capped) s->expire_stats.cap_reached++;
    c->running = 0;
}

/* One loop: samples up to EXPIRE_KEYS_PER_LOOP indexed keys and removes
 * the expired ones. Returns 1 if the cycle should loop again (more than
 * EXPIRE_STALE_PCT % of them had expired). */
static int expire_loop(shard_t *s)
{
    expire_cycle *c = &s->expire;
    uint32_t num = s->expires.n < EXPIRE_KEYS_PER_LOOP ? s->expires.n : EXPIRE_KEYS_PER_LOOP;
    uint32_t sampled = 0, expired = 0;
    while (sampled < num) {
        kv_entry *e = expire_idx_next(&s->expires);
        if (e == NULL) break;
        sampled++;
        if (shard_expired(s, e)) {
            shard_drop_expired(s, e);
            expired++;
        }
    }
    c->sampled += sampled;
    c->expired += expired;
    return sampled > 0 && expired * 100 > sampled * EXPIRE_STALE_PCT;
}

void shard_expire_begin(shard_t *s, int64_t now_us, int64_t budget_us)
{
    expire_cycle *c = &s->expire;
    if (c->running) expire_end(s, 1); /* the last one never got its time */
    c->started_us = now_us;
    c->left_us = budget_us;
    c->sampled = c->expired = 0;
    c->running = budget_us > 0;
}

int shard_expire_run(shard_t *s, int64_t slice_us)
{
    expire_cycle *c = &s->expire;
    if (!c->running || slice_us <= 0) return c->running;
    int64_t budget = slice_us < c->left_us ? slice_us : c->left_us;
    uint64_t t0 = hist_clock_ns(), now = t0;
    int more = 1;
    for (unsigned loops = 1; more; loops++) {
        more = expire_loop(s);
        if (more && loops % EXPIRE_CLOCK_EVERY == 0) {
            now = hist_clock_ns();
            if ((int64_t)(now - t0) >= budget * 1000) break;
        }
    }
    now = hist_clock_ns();
    int64_t took_ns = (int64_t)(now - t0);
    s->expire_stats.cycle_ns += (uint64_t)took_ns;
    c->left_us -= (took_ns + 999) / 1000;
    if (!more)
        expire_end(s, 0);
    else if (c->left_us <= 0)
        expire_end(s, 1);
    return c->running;
}

size_t shard_expire_cycle(shard_t *s, int64_t budget_us)
{
    uint64_t before = s->stats.expired;
    shard_expire_begin(s, kv_mono_us(), budget_us);
    shard_expire_run(s, budget_us);
    return (size_t)(s->stats.expired - before);
}

uint64_t shard_expire_stale_bp(const shard_t *s)
{
    return (uint64_t)(s->expire_stats.stale * 10000.0 + 0.5);
}

void shard_expire_reset_stats(shard_t *s)
{
    s->expire_stats.cap_reached = 0;
    s->expire_stats.cycle_ns = 0;
    s->expire_stats.stale = 0;
}
