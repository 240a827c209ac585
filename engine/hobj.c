/* hobj.c - hash values: a packed tuple buffer for small hashes, an
 * incrementally rehashed table of field entries past the limits. */
#include "engine/hobj.h"

#include <assert.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/entry.h"
#include "engine/table.h"
#include "engine/varint.h"

/* Packed tuple: flen (1 byte), vlen (1 byte), field, value. */
#define HOBJ_TUPLE_HDR 2

struct hobj {
    const kv_hash_secret *secret; /* ro */
    size_t count;                 /* fields */
    int packed;                   /* 1: buf holds the tuples; 0: t holds entries */
    char *buf;                    /* packed: tuples in buf[0..used) */
    size_t used;
    ht_t *t;            /* table form only */
    size_t field_bytes; /* table form: entry_mem of every field entry */
    size_t charged;     /* owner: shard accounting (hobj_charged) */
};

hobj_t *hobj_new(const kv_hash_secret *secret)
{
    hobj_t *h = kv_xcalloc(1, sizeof *h);
    h->secret = secret;
    h->packed = 1;
    return h;
}

void hobj_free(hobj_t *h)
{
    if (h == NULL) return;
    free(h->buf);
    ht_destroy(h->t);
    free(h->t);
    free(h);
}

size_t hobj_len(const hobj_t *h)
{
    return h->count;
}

size_t hobj_mem(const hobj_t *h)
{
    size_t m = malloc_usable_size((void *)(uintptr_t)h);
    if (h->packed) return m + (h->buf ? malloc_usable_size(h->buf) : 0);
    return m + malloc_usable_size(h->t) + ht_mem(h->t) + h->field_bytes;
}

size_t hobj_charged(const hobj_t *h)
{
    return h->charged;
}

void hobj_set_charged(hobj_t *h, size_t bytes)
{
    h->charged = bytes;
}

int hobj_is_packed(const hobj_t *h)
{
    return h->packed;
}

static int fits_packed(size_t flen, size_t vlen)
{
    return flen <= HOBJ_PACKED_BYTES && vlen <= HOBJ_PACKED_BYTES;
}

/* ---- packed form ---------------------------------------------------------- */

typedef struct tuple {
    size_t off; /* of the tuple header in buf */
    kv_str f, v;
} tuple;

/* Decodes the tuple at off; returns the offset of the next one. */
static size_t tuple_at(const hobj_t *h, size_t off, tuple *t)
{
    const unsigned char *p = (const unsigned char *)h->buf + off;
    t->off = off;
    t->f.len = p[0];
    t->v.len = p[1];
    t->f.p = (const char *)p + HOBJ_TUPLE_HDR;
    t->v.p = t->f.p + t->f.len;
    return off + HOBJ_TUPLE_HDR + t->f.len + t->v.len;
}

static int packed_find(const hobj_t *h, const char *f, size_t flen, tuple *t)
{
    for (size_t off = 0; off < h->used;) {
        off = tuple_at(h, off, t);
        if (t->f.len == flen && memcmp(t->f.p, f, flen) == 0) return 1;
    }
    return 0;
}

/* Makes room for extra bytes at the end of buf. */
static void packed_reserve(hobj_t *h, size_t extra)
{
    size_t have = h->buf ? malloc_usable_size(h->buf) : 0;
    if (h->used + extra <= have) return;
    size_t want = h->used + extra;
    want += want / 8; /* a little slack: appends are common, the buffer is small */
    h->buf = kv_xrealloc(h->buf, want);
}

/* Gives back memory after deletes leave the buffer under half used. */
static void packed_trim(hobj_t *h)
{
    if (h->used == 0) {
        free(h->buf);
        h->buf = NULL;
    } else if (h->used < malloc_usable_size(h->buf) / 2) {
        h->buf = kv_xrealloc(h->buf, h->used);
    }
}

static void packed_append(hobj_t *h, const char *f, size_t flen, const char *v, size_t vlen)
{
    packed_reserve(h, HOBJ_TUPLE_HDR + flen + vlen);
    unsigned char *p = (unsigned char *)h->buf + h->used;
    p[0] = (unsigned char)flen;
    p[1] = (unsigned char)vlen;
    if (flen) memcpy(p + HOBJ_TUPLE_HDR, f, flen);
    if (vlen) memcpy(p + HOBJ_TUPLE_HDR + flen, v, vlen);
    h->used += HOBJ_TUPLE_HDR + flen + vlen;
}

/* Removes the tuple t (from packed_find). */
static void packed_cut(hobj_t *h, const tuple *t)
{
    size_t len = HOBJ_TUPLE_HDR + t->f.len + t->v.len;
    memmove(h->buf + t->off, h->buf + t->off + len, h->used - t->off - len);
    h->used -= len;
}

/* Replaces the value of tuple t (same field) in place. */
static void packed_replace(hobj_t *h, tuple *t, const char *v, size_t vlen)
{
    size_t old = t->v.len;
    size_t tail_at = (size_t)(t->v.p - h->buf) + old;
    if (vlen > old) {
        /* v may point into buf: copy it first */
        char tmp[HOBJ_PACKED_BYTES];
        memcpy(tmp, v, vlen);
        packed_reserve(h, vlen - old);
        tail_at = t->off + HOBJ_TUPLE_HDR + t->f.len + old;
        memmove(h->buf + tail_at + (vlen - old), h->buf + tail_at, h->used - tail_at);
        memcpy(h->buf + t->off + HOBJ_TUPLE_HDR + t->f.len, tmp, vlen);
        h->used += vlen - old;
    } else {
        memmove(h->buf + t->off + HOBJ_TUPLE_HDR + t->f.len, v, vlen);
        memmove(h->buf + tail_at - (old - vlen), h->buf + tail_at, h->used - tail_at);
        h->used -= old - vlen;
    }
    ((unsigned char *)h->buf)[t->off + 1] = (unsigned char)vlen;
}

/* ---- table form ------------------------------------------------------------ */

static uint32_t field_hash(const hobj_t *h, const char *f, size_t flen)
{
    return (uint32_t)kv_hash(h->secret, f, flen);
}

/* Adds a field entry; own as entry_new_own (NULL: a copy). */
static kv_entry *table_add(hobj_t *h, const char *f, size_t flen, const char *v, size_t vlen,
                           char **own)
{
    kv_entry *e = entry_new_own(field_hash(h, f, flen), 0, f, flen, v, vlen, -1, own);
    ht_insert(h->t, e);
    h->field_bytes += entry_mem(e);
    return e;
}

/* Packed -> table: every tuple becomes an entry. */
static void convert_to_table(hobj_t *h)
{
    tuple t;
    h->t = kv_xmalloc(sizeof *h->t);
    ht_init(h->t);
    for (size_t off = 0; off < h->used;) {
        off = tuple_at(h, off, &t);
        table_add(h, t.f.p, t.f.len, t.v.p, t.v.len, NULL);
    }
    free(h->buf);
    h->buf = NULL;
    h->used = 0;
    h->packed = 0;
}

typedef struct fit_ctx {
    int ok;
    hobj_t *h;
} fit_ctx;

static void check_fit(void *arg, kv_entry *e)
{
    fit_ctx *c = arg;
    if (!fits_packed(e->klen, e->vlen)) c->ok = 0;
}

static void move_to_packed(void *arg, kv_entry *e)
{
    fit_ctx *c = arg;
    packed_append(c->h, entry_key(e), e->klen, entry_val(e), e->vlen);
}

/* Table -> packed, after a delete left few fields, if they all fit. */
static void maybe_convert_to_packed(hobj_t *h)
{
    fit_ctx c = {1, h};
    if (h->packed || h->count > HOBJ_UNPACK_LOW) return;
    ht_foreach(h->t, check_fit, &c);
    if (!c.ok) return;
    ht_foreach(h->t, move_to_packed, &c);
    ht_destroy(h->t);
    free(h->t);
    h->t = NULL;
    h->field_bytes = 0;
    h->packed = 1;
}

/* ---- operations --------------------------------------------------------------- */

int hobj_get(hobj_t *h, const char *f, size_t flen, kv_str *val)
{
    if (h->packed) {
        tuple t;
        if (!packed_find(h, f, flen, &t)) return 0;
        *val = t.v;
        return 1;
    }
    kv_entry *e = ht_find(h->t, field_hash(h, f, flen), f, flen);
    if (e == NULL) return 0;
    val->p = entry_val(e);
    val->len = e->vlen;
    return 1;
}

static int table_set(hobj_t *h, const char *f, size_t flen, const char *v, size_t vlen, char **own,
                     kv_entry **field)
{
    uint32_t hash = field_hash(h, f, flen);
    kv_entry *e = ht_find(h->t, hash, f, flen);
    if (e == NULL) {
        *field = table_add(h, f, flen, v, vlen, own);
        h->count++;
        return 1;
    }
    h->field_bytes -= entry_mem(e);
    kv_entry *n = entry_rebuild_own(e, v, vlen, -1, own);
    ht_relink(h->t, e, n);
    h->field_bytes += entry_mem(n);
    *field = n;
    return 0;
}

int hobj_set(hobj_t *h, const char *f, size_t flen, const char *v, size_t vlen)
{
    kv_entry *field;
    return hobj_set_own(h, f, flen, v, vlen, NULL, &field);
}

int hobj_set_own(hobj_t *h, const char *f, size_t flen, const char *v, size_t vlen, char **own,
                 kv_entry **field)
{
    *field = NULL;
    if (h->packed) {
        tuple t;
        int found = packed_find(h, f, flen, &t);
        if (fits_packed(flen, vlen) && (found || h->count < HOBJ_PACKED_ENTRIES)) {
            if (found) {
                packed_replace(h, &t, v, vlen);
                return 0;
            }
            packed_append(h, f, flen, v, vlen);
            h->count++;
            return 1;
        }
        /* v may point into buf (HINCRBY results never do, but be safe) */
        if (found && v >= h->buf && v < h->buf + h->used) {
            char tmp[HOBJ_PACKED_BYTES];
            memcpy(tmp, v, vlen);
            convert_to_table(h);
            return table_set(h, f, flen, tmp, vlen, NULL, field);
        }
        convert_to_table(h);
    }
    return table_set(h, f, flen, v, vlen, own, field);
}

int hobj_del(hobj_t *h, const char *f, size_t flen)
{
    if (h->packed) {
        tuple t;
        if (!packed_find(h, f, flen, &t)) return 0;
        packed_cut(h, &t);
        packed_trim(h);
        h->count--;
        return 1;
    }
    kv_entry *e = ht_remove(h->t, field_hash(h, f, flen), f, flen);
    if (e == NULL) return 0;
    h->field_bytes -= entry_mem(e);
    entry_free(e);
    h->count--;
    maybe_convert_to_packed(h);
    return 1;
}

/* ---- iteration ------------------------------------------------------------------ */

typedef struct visit_ctx {
    hobj_visit_fn *fn;
    void *arg;
    int64_t n;
} visit_ctx;

static void visit_entry(void *arg, kv_entry *e)
{
    visit_ctx *c = arg;
    kv_str f = {entry_key(e), e->klen}, v = {entry_val(e), e->vlen};
    c->fn(c->arg, &f, &v);
    c->n++;
}

static void packed_foreach(hobj_t *h, hobj_visit_fn *fn, void *arg)
{
    tuple t;
    for (size_t off = 0; off < h->used;) {
        off = tuple_at(h, off, &t);
        fn(arg, &t.f, &t.v);
    }
}

void hobj_foreach(hobj_t *h, hobj_visit_fn *fn, void *arg)
{
    if (h->packed) {
        packed_foreach(h, fn, arg);
        return;
    }
    visit_ctx c = {fn, arg, 0};
    ht_foreach(h->t, visit_entry, &c);
}

uint64_t hobj_scan(hobj_t *h, uint64_t cursor, int64_t count, hobj_visit_fn *fn, void *arg)
{
    if (h->packed) {
        packed_foreach(h, fn, arg);
        return 0;
    }
    visit_ctx c = {fn, arg, 0};
    int64_t budget = count > INT64_MAX / 10 ? INT64_MAX : count * 10;
    do {
        cursor = ht_scan(h->t, cursor, visit_entry, &c);
    } while (cursor != 0 && budget-- > 0 && c.n < count);
    return cursor;
}

static uint64_t hobj_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

void hobj_random(hobj_t *h, uint64_t *rng, kv_str *field, kv_str *val)
{
    assert(h->count > 0);
    if (h->packed) {
        tuple t;
        size_t k = (size_t)(hobj_rand(rng) % h->count), off = 0;
        do off = tuple_at(h, off, &t);
        while (k-- > 0);
        *field = t.f;
        *val = t.v;
        return;
    }
    kv_entry *e = ht_random(h->t, rng);
    field->p = entry_key(e);
    field->len = e->klen;
    val->p = entry_val(e);
    val->len = e->vlen;
}

/* ---- serialization ----------------------------------------------------------------- */

static void varint_append(kvbuf *out, uint64_t v)
{
    char tmp[VARINT_MAX];
    kvbuf_append(out, tmp, (size_t)(varint_put(tmp, v) - tmp));
}

void hobj_encode_varint(kvbuf *out, uint64_t v)
{
    varint_append(out, v);
}

void hobj_encode_pair(kvbuf *out, const kv_str *f, const kv_str *v)
{
    varint_append(out, f->len);
    kvbuf_append(out, f->p, f->len);
    varint_append(out, v->len);
    kvbuf_append(out, v->p, v->len);
}

static void encode_field(void *arg, const kv_str *f, const kv_str *v)
{
    hobj_encode_pair(arg, f, v);
}

void hobj_encode(hobj_t *h, kvbuf *out)
{
    varint_append(out, h->count);
    hobj_foreach(h, encode_field, out);
}

static int take(const char *p, size_t n, size_t *off, kv_str *s)
{
    uint64_t len;
    if (varint_get(p, n, off, &len) != 0 || len > n - *off) return -1;
    s->p = p + *off;
    s->len = (size_t)len;
    *off += (size_t)len;
    return 0;
}

hobj_t *hobj_decode(const kv_hash_secret *secret, const char *p, size_t n)
{
    size_t off = 0;
    uint64_t count;
    if (varint_get(p, n, &off, &count) != 0 || count > n) return NULL;
    hobj_t *h = hobj_new(secret);
    for (uint64_t i = 0; i < count; i++) {
        kv_str f, v;
        if (take(p, n, &off, &f) != 0 || take(p, n, &off, &v) != 0 ||
            !hobj_set(h, f.p, f.len, v.p, v.len))
            goto bad;
    }
    if (off == n) return h;
bad:
    hobj_free(h);
    return NULL;
}
