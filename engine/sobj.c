/* sobj.c - set values: an intset while every member is an integer, else a
 * hash with empty values (see sobj.h). */
#include "engine/sobj.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hobj.h"

/* The intset: n values in ascending order, each 2, 4 or 8 bytes (native
 * order) as the widest value needs (as Redis's intset: a wider value
 * rewrites the array at the new width, never back), then SOBJ_SCRATCH bytes
 * where sobj_random formats the member it hands out, in one allocation
 * resized to fit on every change. */
#define SOBJ_SCRATCH 24

struct sobj {
    union {
        hobj_t *h; /* !is_int */
        char *iv;  /* is_int: NULL while empty */
    } u;
    uint32_t n; /* is_int: members */
    uint8_t is_int;
    uint8_t width;                /* is_int: bytes per value, 2, 4 or 8 */
    const kv_hash_secret *secret; /* ro */
    size_t charged;               /* owner: shard accounting */
};

sobj_t *sobj_new(const kv_hash_secret *secret)
{
    sobj_t *s = kv_xcalloc(1, sizeof *s);
    s->secret = secret;
    s->is_int = 1;
    s->width = 2;
    return s;
}

void sobj_free(sobj_t *s)
{
    if (s == NULL) return;
    if (s->is_int)
        free(s->u.iv);
    else
        hobj_free(s->u.h);
    free(s);
}

size_t sobj_len(const sobj_t *s)
{
    return s->is_int ? s->n : hobj_len(s->u.h);
}

size_t sobj_mem(const sobj_t *s)
{
    size_t m = malloc_usable_size((void *)(uintptr_t)s);
    if (s->is_int) return m + (s->u.iv ? malloc_usable_size(s->u.iv) : 0);
    return m + hobj_mem(s->u.h);
}

int sobj_is_packed(const sobj_t *s)
{
    return !s->is_int && hobj_is_packed(s->u.h);
}

int sobj_is_intset(const sobj_t *s)
{
    return s->is_int;
}

size_t sobj_charged(const sobj_t *s)
{
    return s->charged;
}

void sobj_set_charged(sobj_t *s, size_t bytes)
{
    s->charged = bytes;
}

/* ---- the intset ---- */

/* Is m an integer as Redis's string2ll takes it (then an intset member)? */
static int as_int(const char *m, size_t n, int64_t *v)
{
    return n <= 20 && kv_parse_i64(m, n, v) == 0;
}

static int64_t iget(const sobj_t *s, uint32_t i)
{
    const char *p = s->u.iv + (size_t)i * s->width;
    if (s->width == 2) {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    if (s->width == 4) {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void iput(sobj_t *s, uint32_t i, int64_t v)
{
    char *p = s->u.iv + (size_t)i * s->width;
    if (s->width == 2) {
        int16_t w = (int16_t)v;
        memcpy(p, &w, 2);
    } else if (s->width == 4) {
        int32_t w = (int32_t)v;
        memcpy(p, &w, 4);
    } else {
        memcpy(p, &v, 8);
    }
}

static uint8_t width_of(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) return 2;
    return v >= INT32_MIN && v <= INT32_MAX ? 4 : 8;
}

/* The index of the first value >= v. */
static uint32_t int_lower(const sobj_t *s, int64_t v)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (iget(s, mid) < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void int_resize(sobj_t *s, uint32_t n)
{
    s->u.iv = kv_xrealloc(s->u.iv, (size_t)n * s->width + SOBJ_SCRATCH);
    s->n = n;
}

/* Rewrites the values at width w (> the current one). */
static void int_widen(sobj_t *s, uint8_t w)
{
    sobj_t wide = *s;
    wide.width = w;
    wide.u.iv = kv_xmalloc((size_t)s->n * w + SOBJ_SCRATCH);
    for (uint32_t i = 0; i < s->n; i++) iput(&wide, i, iget(s, i));
    free(s->u.iv);
    s->u.iv = wide.u.iv;
    s->width = w;
}

static size_t int_format(int64_t v, char *b)
{
    return (size_t)snprintf(b, SOBJ_SCRATCH, "%lld", (long long)v);
}

/* The intset to the hash form, for good. */
static void int_to_hash(sobj_t *s)
{
    hobj_t *h = hobj_new(s->secret);
    char b[SOBJ_SCRATCH];
    for (uint32_t i = 0; i < s->n; i++) hobj_set(h, b, int_format(iget(s, i), b), "", 0);
    free(s->u.iv);
    s->u.h = h;
    s->n = 0;
    s->is_int = 0;
}

/* ---- the API ---- */

int sobj_add(sobj_t *s, const char *m, size_t n)
{
    int64_t v;
    if (s->is_int) {
        if (!as_int(m, n, &v)) {
            int_to_hash(s);
        } else {
            uint32_t i = int_lower(s, v);
            if (i < s->n && iget(s, i) == v) return 0;
            if (s->n < SOBJ_INTSET_ENTRIES) {
                if (width_of(v) > s->width) int_widen(s, width_of(v));
                int_resize(s, s->n + 1);
                size_t w = s->width;
                memmove(s->u.iv + (i + 1) * w, s->u.iv + i * w, (s->n - 1 - i) * w);
                iput(s, i, v);
                return 1;
            }
            int_to_hash(s);
        }
    }
    kv_str old;
    if (hobj_get(s->u.h, m, n, &old)) return 0;
    hobj_set(s->u.h, m, n, "", 0);
    return 1;
}

int sobj_rem(sobj_t *s, const char *m, size_t n)
{
    if (!s->is_int) return hobj_del(s->u.h, m, n);
    int64_t v;
    if (!as_int(m, n, &v)) return 0;
    uint32_t i = int_lower(s, v);
    if (i >= s->n || iget(s, i) != v) return 0;
    size_t w = s->width;
    memmove(s->u.iv + i * w, s->u.iv + (i + 1) * w, (s->n - 1 - i) * w);
    if (s->n == 1) {
        free(s->u.iv);
        s->u.iv = NULL;
        s->n = 0;
    } else {
        int_resize(s, s->n - 1);
    }
    return 1;
}

int sobj_has(sobj_t *s, const char *m, size_t n)
{
    if (s->is_int) {
        int64_t v;
        if (!as_int(m, n, &v)) return 0;
        uint32_t i = int_lower(s, v);
        return i < s->n && iget(s, i) == v;
    }
    kv_str old;
    return hobj_get(s->u.h, m, n, &old);
}

typedef struct visit {
    sobj_visit_fn *fn;
    void *arg;
} visit;

static void visit_member(void *arg, const kv_str *f, const kv_str *v)
{
    visit *x = arg;
    (void)v;
    x->fn(x->arg, f);
}

/* Every intset member in order, formatted for the length of one call. */
static void int_foreach(sobj_t *s, sobj_visit_fn *fn, void *arg)
{
    char b[SOBJ_SCRATCH];
    for (uint32_t i = 0; i < s->n; i++) {
        kv_str m = {b, int_format(iget(s, i), b)};
        fn(arg, &m);
    }
}

void sobj_foreach(sobj_t *s, sobj_visit_fn *fn, void *arg)
{
    if (s->is_int) {
        int_foreach(s, fn, arg);
        return;
    }
    visit x = {fn, arg};
    hobj_foreach(s->u.h, visit_member, &x);
}

uint64_t sobj_scan(sobj_t *s, uint64_t cursor, int64_t count, sobj_visit_fn *fn, void *arg)
{
    if (s->is_int) { /* all at once, as Redis for an intset */
        int_foreach(s, fn, arg);
        return 0;
    }
    visit x = {fn, arg};
    return hobj_scan(s->u.h, cursor, count, visit_member, &x);
}

static uint64_t sobj_rand(uint64_t *r)
{
    uint64_t x = *r ? *r : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *r = x;
}

void sobj_random(sobj_t *s, uint64_t *rng, kv_str *member)
{
    if (s->is_int) {
        char *scratch = s->u.iv + (size_t)s->n * s->width;
        member->p = scratch;
        member->len = int_format(iget(s, (uint32_t)(sobj_rand(rng) % s->n)), scratch);
        return;
    }
    kv_str v;
    hobj_random(s->u.h, rng, member, &v);
}

static void encode_member(void *arg, const kv_str *m)
{
    kv_str empty = {"", 0};
    hobj_encode_pair(arg, m, &empty);
}

void sobj_encode(sobj_t *s, kvbuf *out)
{
    if (!s->is_int) {
        hobj_encode(s->u.h, out);
        return;
    }
    hobj_encode_varint(out, s->n);
    int_foreach(s, encode_member, out);
}

typedef struct fit {
    int bad;    /* a non-empty value */
    int ints;   /* every member an integer */
    sobj_t *to; /* the intset being built, or NULL */
} fit;

static void check_member(void *arg, const kv_str *f, const kv_str *v)
{
    fit *x = arg;
    int64_t i;
    if (v->len != 0) x->bad = 1;
    if (!as_int(f->p, f->len, &i)) x->ints = 0;
}

static void add_member(void *arg, const kv_str *f, const kv_str *v)
{
    fit *x = arg;
    (void)v;
    sobj_add(x->to, f->p, f->len);
}

sobj_t *sobj_decode(const kv_hash_secret *secret, const char *p, size_t n)
{
    hobj_t *h = hobj_decode(secret, p, n);
    if (h == NULL) return NULL;
    fit x = {0, 1, NULL};
    hobj_foreach(h, check_member, &x);
    if (x.bad) {
        hobj_free(h);
        return NULL;
    }
    sobj_t *s = sobj_new(secret);
    if (x.ints && hobj_len(h) <= SOBJ_INTSET_ENTRIES) { /* as Redis's load */
        x.to = s;
        hobj_foreach(h, add_member, &x);
        hobj_free(h);
        return s;
    }
    s->is_int = 0;
    s->u.h = h;
    return s;
}
