/* zobj.c - sorted-set values: a sorted array plus a member hash (zobj.h). */
#include "zobj.h"

#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hobj.h"

typedef struct zel {
    double score;
    char *m; /* varint-free: length in front, 4 bytes, then the bytes */
} zel;

struct zobj {
    zel *v;
    size_t n, cap;
    hobj_t *dict; /* member -> 8 bytes of score */
    size_t member_bytes;
    size_t charged;
};

static uint32_t mlen(const char *m)
{
    uint32_t l;
    memcpy(&l, m, 4);
    return l;
}

zobj_t *zobj_new(const kv_hash_secret *secret)
{
    zobj_t *z = kv_xcalloc(1, sizeof *z);
    z->dict = hobj_new(secret);
    return z;
}

void zobj_free(zobj_t *z)
{
    if (z == NULL) return;
    for (size_t i = 0; i < z->n; i++) free(z->v[i].m);
    free(z->v);
    hobj_free(z->dict);
    free(z);
}

size_t zobj_len(const zobj_t *z)
{
    return z->n;
}

size_t zobj_mem(const zobj_t *z)
{
    return malloc_usable_size((void *)(uintptr_t)z) + (z->v ? malloc_usable_size(z->v) : 0) +
           z->member_bytes + hobj_mem(z->dict);
}

size_t zobj_charged(const zobj_t *z)
{
    return z->charged;
}

void zobj_set_charged(zobj_t *z, size_t bytes)
{
    z->charged = bytes;
}

int zobj_score(zobj_t *z, const char *m, size_t n, double *score)
{
    kv_str v;
    if (!hobj_get(z->dict, m, n, &v)) return 0;
    memcpy(score, v.p, sizeof *score);
    return 1;
}

/* Order of (score, member): <0, 0, >0. */
static int zcmp(double s, const char *m, size_t n, const zel *e)
{
    if (s < e->score) return -1;
    if (s > e->score) return 1;
    size_t l = mlen(e->m), k = n < l ? n : l;
    int c = memcmp(m, e->m + 4, k);
    if (c) return c;
    return (n > l) - (n < l);
}

/* The first index whose element is >= (s, m). */
static size_t lower(const zobj_t *z, double s, const char *m, size_t n)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (zcmp(s, m, n, &z->v[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void remove_at(zobj_t *z, size_t i)
{
    z->member_bytes -= malloc_usable_size(z->v[i].m);
    free(z->v[i].m);
    memmove(z->v + i, z->v + i + 1, (z->n - i - 1) * sizeof *z->v);
    z->n--;
    if (z->cap > 16 && z->n < z->cap / 4) {
        z->cap /= 2;
        z->v = kv_xrealloc(z->v, z->cap * sizeof *z->v);
    }
}

int zobj_set(zobj_t *z, const char *m, size_t n, double score)
{
    double old;
    int had = zobj_score(z, m, n, &old);
    if (had) {
        if (old == score) return 0;
        remove_at(z, lower(z, old, m, n));
    }
    if (z->n == z->cap) {
        z->cap = z->cap ? z->cap * 2 : 4;
        z->v = kv_xrealloc(z->v, z->cap * sizeof *z->v);
    }
    size_t i = lower(z, score, m, n);
    memmove(z->v + i + 1, z->v + i, (z->n - i) * sizeof *z->v);
    char *copy = kv_xmalloc(4 + (n ? n : 1));
    uint32_t l = (uint32_t)n;
    memcpy(copy, &l, 4);
    if (n) memcpy(copy + 4, m, n);
    z->v[i] = (zel){score, copy};
    z->n++;
    z->member_bytes += malloc_usable_size(copy);
    hobj_set(z->dict, m, n, (const char *)&score, sizeof score);
    return !had;
}

int zobj_rem(zobj_t *z, const char *m, size_t n)
{
    double old;
    if (!zobj_score(z, m, n, &old)) return 0;
    remove_at(z, lower(z, old, m, n));
    hobj_del(z->dict, m, n);
    return 1;
}

int64_t zobj_rank(zobj_t *z, const char *m, size_t n)
{
    double s;
    if (!zobj_score(z, m, n, &s)) return -1;
    return (int64_t)lower(z, s, m, n);
}

void zobj_at(const zobj_t *z, size_t i, kv_str *member, double *score)
{
    member->p = z->v[i].m + 4;
    member->len = mlen(z->v[i].m);
    *score = z->v[i].score;
}

size_t zobj_first_ge(const zobj_t *z, double min, int excl)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        double s = z->v[mid].score;
        if (excl ? s <= min : s < min)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void zobj_encode(zobj_t *z, kvbuf *out)
{
    hobj_encode_varint(out, z->n);
    for (size_t i = 0; i < z->n; i++) {
        unsigned char b[8];
        uint64_t bits;
        memcpy(&bits, &z->v[i].score, 8);
        for (int k = 0; k < 8; k++) b[k] = (unsigned char)(bits >> (8 * k));
        kvbuf_append(out, b, 8);
        hobj_encode_varint(out, mlen(z->v[i].m));
        kvbuf_append(out, z->v[i].m + 4, mlen(z->v[i].m));
    }
}

static int zvarint(const char *p, size_t n, size_t *off, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*off >= n) return -1;
        unsigned char b = (unsigned char)p[(*off)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

zobj_t *zobj_decode(const kv_hash_secret *secret, const char *p, size_t n)
{
    size_t off = 0;
    uint64_t count = 0, len = 0;
    if (zvarint(p, n, &off, &count) != 0 || count > n) return NULL;
    zobj_t *z = zobj_new(secret);
    for (uint64_t i = 0; i < count; i++) {
        double s;
        if (n - off < 8) goto bad;
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++) bits |= (uint64_t)(unsigned char)p[off + (size_t)k] << (8 * k);
        memcpy(&s, &bits, 8);
        off += 8;
        if (isnan(s) || zvarint(p, n, &off, &len) != 0 || len > n - off) goto bad;
        if (!zobj_set(z, p + off, (size_t)len, s)) goto bad; /* a duplicate */
        off += (size_t)len;
    }
    if (off != n) goto bad;
    return z;
bad:
    zobj_free(z);
    return NULL;
}
