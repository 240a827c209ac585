/* table.c - chained hash table with incremental rehashing.
 *
 * Two bucket arrays exist only during a resize: b[0] is the old one, b[1]
 * the new one, and rehash_at the next bucket of b[0] whose chain still has
 * to move. Every find/insert/remove moves one bucket, so a resize of a
 * million keys is spread over a million operations instead of stalling one.
 * New keys go to b[1] during a resize; b[0] only drains.
 */
#include "engine/table.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kv.h"

#define HT_MIN_BUCKETS 4
/* How many empty buckets one step may skip per bucket it should move: a
 * null pointer test is cheap, and sparse arrays left by a shrink drain fast. */
#define HT_EMPTY_VISITS 100

static int ht_rehashing(const ht_t *t)
{
    return t->rehash_at >= 0;
}

static size_t ht_size(const ht_t *t, int i)
{
    return t->b[i] ? (size_t)t->mask[i] + 1 : 0;
}

void ht_init(ht_t *t)
{
    memset(t, 0, sizeof *t);
    t->rehash_at = -1;
}

static void ht_free_array(kv_entry **b, size_t n)
{
    if (b == NULL) return;
    for (size_t i = 0; i < n; i++) {
        kv_entry *e = b[i];
        while (e != NULL) {
            kv_entry *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    free(b);
}

void ht_destroy(ht_t *t)
{
    if (t == NULL) return;
    ht_free_array(t->b[0], ht_size(t, 0));
    ht_free_array(t->b[1], ht_size(t, 1));
    ht_init(t);
}

size_t ht_count(const ht_t *t)
{
    return t->used[0] + t->used[1];
}

size_t ht_mem(const ht_t *t)
{
    return (ht_size(t, 0) + ht_size(t, 1)) * sizeof(kv_entry *);
}

static size_t pow2_at_least(size_t n)
{
    size_t s = HT_MIN_BUCKETS;
    while (s < n) s <<= 1;
    return s;
}

/* Starts a resize to n buckets (a power of two); the entries move later,
 * a bucket at a time. */
static void ht_start_resize(ht_t *t, size_t n)
{
    kv_entry **b = kv_xcalloc(n, sizeof *b);
    if (t->b[0] == NULL) {
        t->b[0] = b;
        t->mask[0] = n - 1;
        return;
    }
    t->b[1] = b;
    t->mask[1] = n - 1;
    t->used[1] = 0;
    t->rehash_at = 0;
}

/* Grows at a load factor of 1, shrinks under 10% fill; never while a
 * resize or a scan is under way. */
static void ht_maybe_resize(ht_t *t)
{
    if (t->paused || ht_rehashing(t) || t->b[0] == NULL) return;
    size_t size = ht_size(t, 0), used = t->used[0];
    if (used >= size)
        ht_start_resize(t, size * 2);
    else if (size > HT_MIN_BUCKETS && used * 10 < size)
        ht_start_resize(t, pow2_at_least(used));
}

int ht_rehash_step(ht_t *t, int n)
{
    if (!ht_rehashing(t)) return 0;
    if (t->paused) return 1;
    long long empty = (long long)n * HT_EMPTY_VISITS;
    size_t size0 = ht_size(t, 0);
    (void)size0; /* only read by assert() */
    while (n-- > 0 && t->used[0] != 0) {
        while (t->b[0][t->rehash_at] == NULL) {
            t->rehash_at++;
            assert((size_t)t->rehash_at < size0);
            if (--empty == 0) return 1;
        }
        kv_entry *e = t->b[0][t->rehash_at];
        while (e != NULL) {
            kv_entry *next = e->next;
            uint64_t idx = e->hash & t->mask[1];
            e->next = t->b[1][idx];
            t->b[1][idx] = e;
            t->used[0]--;
            t->used[1]++;
            e = next;
        }
        t->b[0][t->rehash_at++] = NULL;
    }
    if (t->used[0] != 0) return 1;
    free(t->b[0]);
    t->b[0] = t->b[1];
    t->mask[0] = t->mask[1];
    t->used[0] = t->used[1];
    t->b[1] = NULL;
    t->mask[1] = 0;
    t->used[1] = 0;
    t->rehash_at = -1;
    /* a table that kept shrinking (or growing) meanwhile resizes again */
    ht_maybe_resize(t);
    return ht_rehashing(t);
}

/* One step per operation; when inserts outrun a shrink in progress, a few
 * more so the chains of the new array stay short. */
static void ht_step(ht_t *t)
{
    if (!ht_rehashing(t)) return;
    int n = ht_count(t) > 2 * ht_size(t, 1) ? 4 : 1;
    ht_rehash_step(t, n);
}

/* Returns the address of the link that points to key's entry, or NULL. */
static kv_entry **ht_link(ht_t *t, uint32_t hash, unsigned db, const char *key, size_t klen,
                          int *table)
{
    for (int i = 0; i < 2; i++) {
        if (t->b[i] == NULL) break;
        kv_entry **pp = &t->b[i][hash & t->mask[i]];
        for (; *pp != NULL; pp = &(*pp)->next) {
            kv_entry *e = *pp;
            if (e->hash == hash && e->klen == klen && entry_db(e) == db &&
                memcmp(entry_key(e), key, klen) == 0) {
                if (table) *table = i;
                return pp;
            }
        }
        if (!ht_rehashing(t)) break;
    }
    return NULL;
}

kv_entry *ht_find(ht_t *t, uint32_t hash, const char *key, size_t klen)
{
    return ht_find_db(t, hash, 0, key, klen);
}

kv_entry *ht_find_db(ht_t *t, uint32_t hash, unsigned db, const char *key, size_t klen)
{
    if (ht_count(t) == 0) return NULL;
    ht_step(t);
    kv_entry **pp = ht_link(t, hash, db, key, klen, NULL);
    return pp ? *pp : NULL;
}

void ht_prefetch(const ht_t *t, uint32_t hash, int deep)
{
    for (int i = 0; i < 2 && t->b[i] != NULL; i++) {
        kv_entry *const *slot = &t->b[i][hash & t->mask[i]];
        if (!deep)
            __builtin_prefetch(slot);
        else if (*slot != NULL)
            __builtin_prefetch(*slot);
        if (!ht_rehashing(t)) break;
    }
}

void ht_insert(ht_t *t, kv_entry *e)
{
    assert(e != NULL);
    if (t->b[0] == NULL) ht_start_resize(t, HT_MIN_BUCKETS);
    ht_step(t);
    ht_maybe_resize(t);
    int i = ht_rehashing(t) ? 1 : 0;
    uint64_t idx = e->hash & t->mask[i];
    e->next = t->b[i][idx];
    t->b[i][idx] = e;
    t->used[i]++;
}

kv_entry *ht_remove(ht_t *t, uint32_t hash, const char *key, size_t klen)
{
    return ht_remove_db(t, hash, 0, key, klen);
}

kv_entry *ht_remove_db(ht_t *t, uint32_t hash, unsigned db, const char *key, size_t klen)
{
    if (ht_count(t) == 0) return NULL;
    ht_step(t);
    int i = 0;
    kv_entry **pp = ht_link(t, hash, db, key, klen, &i);
    if (pp == NULL) return NULL;
    kv_entry *e = *pp;
    *pp = e->next;
    e->next = NULL;
    t->used[i]--;
    ht_maybe_resize(t);
    return e;
}

void ht_relink(ht_t *t, const kv_entry *old, kv_entry *neu)
{
    if ((uintptr_t)old == (uintptr_t)neu) return;
    for (int i = 0; i < 2; i++) {
        if (t->b[i] == NULL) continue;
        /* only addresses are compared: old may be freed already */
        for (kv_entry **pp = &t->b[i][neu->hash & t->mask[i]]; *pp != NULL; pp = &(*pp)->next) {
            if ((uintptr_t)*pp == (uintptr_t)old) {
                *pp = neu;
                return;
            }
        }
    }
    assert(!"ht_relink: entry not in table");
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    v = ((v >> 8) & 0x00ff00ff00ff00ffull) | ((v & 0x00ff00ff00ff00ffull) << 8);
    v = ((v >> 16) & 0x0000ffff0000ffffull) | ((v & 0x0000ffff0000ffffull) << 16);
    return (v >> 32) | (v << 32);
}

static void ht_visit(kv_entry *e, ht_scan_fn *fn, void *arg)
{
    while (e != NULL) {
        kv_entry *next = e->next; /* fn may free e */
        fn(arg, e);
        e = next;
    }
}

/* The cursor counts with its bits reversed, so the high bits of a bucket
 * index advance first. Growing the table only appends low-order bits that
 * the reversed counter has not reached, and shrinking drops bits whose
 * combinations were all covered; either way no visited bucket is missed.
 * During a resize the bucket of the small array is visited along with all
 * the buckets of the large array that it expands to. */
uint64_t ht_scan(ht_t *t, uint64_t v, ht_scan_fn *fn, void *arg)
{
    uint64_t m0;
    if (ht_count(t) == 0) return 0;
    t->paused++;
    if (!ht_rehashing(t)) {
        m0 = t->mask[0];
        ht_visit(t->b[0][v & m0], fn, arg);
    } else {
        int small = ht_size(t, 0) <= ht_size(t, 1) ? 0 : 1;
        int large = 1 - small;
        m0 = t->mask[small];
        uint64_t m1 = t->mask[large];
        ht_visit(t->b[small][v & m0], fn, arg);
        do {
            ht_visit(t->b[large][v & m1], fn, arg);
            v = (((v | m0) + 1) & ~m0) | (v & m0);
        } while (v & (m0 ^ m1));
    }
    v |= ~m0;
    v = rev64(v);
    v++;
    v = rev64(v);
    t->paused--;
    ht_maybe_resize(t);
    return v;
}

void ht_foreach(ht_t *t, ht_scan_fn *fn, void *arg)
{
    t->paused++;
    for (int i = 0; i < 2; i++) {
        size_t n = ht_size(t, i);
        for (size_t j = 0; j < n; j++) ht_visit(t->b[i][j], fn, arg);
    }
    t->paused--;
    ht_maybe_resize(t);
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

kv_entry *ht_random(ht_t *t, uint64_t *rng)
{
    kv_entry *e;
    if (ht_count(t) == 0) return NULL;
    ht_step(t);
    if (ht_rehashing(t)) {
        size_t s0 = ht_size(t, 0), s1 = ht_size(t, 1), from = (size_t)t->rehash_at;
        do {
            size_t h = from + xorshift64(rng) % (s0 + s1 - from);
            e = h < s0 ? t->b[0][h] : t->b[1][h - s0];
        } while (e == NULL);
    } else {
        do e = t->b[0][xorshift64(rng) & t->mask[0]];
        while (e == NULL);
    }
    /* a uniform pick inside the chain; the next xorshift output's low bits
     * follow from the ones that chose the bucket (bit 0 is bits 0 ^ 7 of
     * the last), so mix it first or some entries are never picked */
    size_t len = 0;
    for (kv_entry *x = e; x != NULL; x = x->next) len++;
    for (size_t k = ((xorshift64(rng) * 0x9e3779b97f4a7c15ull) >> 32) % len; k > 0; k--)
        e = e->next;
    return e;
}
