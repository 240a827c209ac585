/* sobj.c - set values, as hashes with empty values (see sobj.h). */
#include "sobj.h"

#include "hobj.h"

static hobj_t *H(sobj_t *s)
{
    return (hobj_t *)(void *)s;
}

static const hobj_t *HC(const sobj_t *s)
{
    return (const hobj_t *)(const void *)s;
}

sobj_t *sobj_new(const kv_hash_secret *secret)
{
    return (sobj_t *)(void *)hobj_new(secret);
}

void sobj_free(sobj_t *s)
{
    hobj_free(H(s));
}

size_t sobj_len(const sobj_t *s)
{
    return hobj_len(HC(s));
}

size_t sobj_mem(const sobj_t *s)
{
    return hobj_mem(HC(s));
}

int sobj_is_packed(const sobj_t *s)
{
    return hobj_is_packed(HC(s));
}

size_t sobj_charged(const sobj_t *s)
{
    return hobj_charged(HC(s));
}

void sobj_set_charged(sobj_t *s, size_t bytes)
{
    hobj_set_charged(H(s), bytes);
}

int sobj_add(sobj_t *s, const char *m, size_t n)
{
    kv_str v;
    if (hobj_get(H(s), m, n, &v)) return 0;
    hobj_set(H(s), m, n, "", 0);
    return 1;
}

int sobj_rem(sobj_t *s, const char *m, size_t n)
{
    return hobj_del(H(s), m, n);
}

int sobj_has(sobj_t *s, const char *m, size_t n)
{
    kv_str v;
    return hobj_get(H(s), m, n, &v);
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

void sobj_foreach(sobj_t *s, sobj_visit_fn *fn, void *arg)
{
    visit x = {fn, arg};
    hobj_foreach(H(s), visit_member, &x);
}

uint64_t sobj_scan(sobj_t *s, uint64_t cursor, int64_t count, sobj_visit_fn *fn, void *arg)
{
    visit x = {fn, arg};
    return hobj_scan(H(s), cursor, count, visit_member, &x);
}

void sobj_random(sobj_t *s, uint64_t *rng, kv_str *member)
{
    kv_str v;
    hobj_random(H(s), rng, member, &v);
}

void sobj_encode(sobj_t *s, kvbuf *out)
{
    hobj_encode(H(s), out);
}

static void any_value(void *arg, const kv_str *f, const kv_str *v)
{
    (void)f;
    if (v->len != 0) *(int *)arg = 1;
}

sobj_t *sobj_decode(const kv_hash_secret *secret, const char *p, size_t n)
{
    hobj_t *h = hobj_decode(secret, p, n);
    if (h == NULL) return NULL;
    int bad = 0;
    hobj_foreach(h, any_value, &bad);
    if (bad) {
        hobj_free(h);
        return NULL;
    }
    return (sobj_t *)(void *)h;
}
