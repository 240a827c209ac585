/* entry.c - allocation and rebuilding of key/value entries. */
#include "engine/entry.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hobj.h"
#include "engine/lobj.h"
#include "engine/sobj.h"
#include "engine/zobj.h"
#include "engine/kv.h"

/* Bytes of an entry with these flags: the expiry and the database byte
 * before the key, the value (or, shared, its pointer), and with a TTL the
 * index trailer after the value. */
static size_t entry_size(unsigned flags, size_t klen, size_t vlen)
{
    size_t trailer = (flags & KV_ENTRY_TTL) ? sizeof(uint32_t) : 0;
    size_t room = (flags & KV_ENTRY_SHARED) ? sizeof(char *) : vlen;
    return sizeof(kv_entry) + entry_key_off(flags) + klen + room + trailer;
}

/* ---- shared entries: a reference count before the header -------------- */

/* The prefix of a KV_ENTRY_SHARED entry; 8 bytes keep the header aligned. */
typedef struct {
    _Atomic uint32_t refs;
    uint32_t pad;
} entry_refs;

static entry_refs *entry_refs_of(const kv_entry *e)
{
    return (entry_refs *)(uintptr_t)e - 1;
}

/* The start of e's allocation. */
static void *entry_base(const kv_entry *e)
{
    if (e->flags & KV_ENTRY_SHARED) return entry_refs_of(e);
    return (void *)(uintptr_t)e;
}

/* Whether a value of vlen bytes of this type gets a reference count. */
static unsigned entry_share_flag(unsigned type, size_t vlen)
{
    return type == KV_TYPE_STRING && vlen >= ENTRY_SHARE_MIN ? KV_ENTRY_SHARED : 0;
}

/* Allocates an entry of `size` bytes (header included) with these flags:
 * the reference count first, at 1 (the table's), for a shared one. */
static kv_entry *entry_alloc_flags(unsigned flags, size_t size)
{
    if (!(flags & KV_ENTRY_SHARED)) return kv_xmalloc(size);
    entry_refs *r = kv_xmalloc(sizeof *r + size);
    atomic_init(&r->refs, 1);
    r->pad = 0;
    return (kv_entry *)(r + 1);
}

/* A value buffer taken from the caller (entry_new_own), cut to the size
 * kv_xmalloc_pages would have given if it is bigger (the parser's buffer
 * of a bulk over PARSE_BIG_AHEAD grew by realloc; jemalloc shrinks a large
 * allocation in place: no copy). */
static char *entry_fit(char *p, size_t vlen)
{
#ifdef MEMKV_JEMALLOC
    size_t page = 4096, want = (vlen + page - 1) / page * page;
    if (want != 0 && malloc_usable_size(p) > want) p = kv_xrealloc(p, vlen);
#else
    (void)vlen;
#endif
    return p;
}

/* Gives a shared entry (flags set, klen set) a value buffer of vlen bytes:
 * *own's if own is not NULL and *own not NULL (taken: *own becomes NULL),
 * else a fresh one of cap >= vlen bytes. Returns it; *copied says whether
 * its bytes are still to be written. */
static char *entry_new_ext(kv_entry *e, size_t vlen, size_t cap, char **own, int *copied)
{
    char *v;
    if (own != NULL && *own != NULL) {
        v = entry_fit(*own, vlen);
        *own = NULL;
        *copied = 1;
    } else {
        v = kv_xmalloc_pages(cap);
        *copied = 0;
    }
    memcpy(entry_key(e) + e->klen, &v, sizeof v);
    return v;
}

/* Reallocates a shared entry's value buffer to cap bytes. */
static void entry_realloc_ext(kv_entry *e, size_t cap)
{
    char *v = kv_xrealloc(entry_val(e), cap);
    memcpy(entry_key(e) + e->klen, &v, sizeof v);
}

int entry_pinned(const kv_entry *e)
{
    return (e->flags & KV_ENTRY_SHARED) &&
           atomic_load_explicit(&entry_refs_of(e)->refs, memory_order_acquire) > 1;
}

/* Reallocates e to size bytes (header included), keeping its prefix. Only
 * for an entry nobody else holds. */
static kv_entry *entry_realloc(kv_entry *e, size_t size)
{
    if (!(e->flags & KV_ENTRY_SHARED)) return kv_xrealloc(e, size);
    entry_refs *r = kv_xrealloc(entry_refs_of(e), sizeof *r + size);
    return (kv_entry *)(r + 1);
}

void entry_pin(kv_entry *e)
{
    atomic_fetch_add_explicit(&entry_refs_of(e)->refs, 1, memory_order_relaxed);
}

void entry_unpin(kv_entry *e)
{
    /* acq_rel: the last one frees what the others have finished reading */
    if (atomic_fetch_sub_explicit(&entry_refs_of(e)->refs, 1, memory_order_acq_rel) == 1) {
        free(entry_val(e));
        free(entry_refs_of(e));
    }
}

static int entry_has_ttl(const kv_entry *e)
{
    return (e->flags & KV_ENTRY_TTL) != 0;
}

/* Writes the database byte of e, whose flags are set. */
static void entry_set_db(kv_entry *e, unsigned db)
{
    if (e->flags & KV_ENTRY_DB) e->data[(e->flags & KV_ENTRY_TTL) ? sizeof(int64_t) : 0] = (char)db;
}

static void entry_set_expire(kv_entry *e, int64_t expire_ms)
{
    if (expire_ms >= 0) memcpy(e->data, &expire_ms, sizeof expire_ms);
}

kv_entry *entry_new(uint64_t hash, const char *key, size_t klen, const char *val, size_t vlen,
                    int64_t expire_ms)
{
    return entry_new_db(hash, 0, key, klen, val, vlen, expire_ms);
}

kv_entry *entry_new_db(uint64_t hash, unsigned db, const char *key, size_t klen, const char *val,
                       size_t vlen, int64_t expire_ms)
{
    return entry_new_own(hash, db, key, klen, val, vlen, expire_ms, NULL);
}

kv_entry *entry_new_own(uint64_t hash, unsigned db, const char *key, size_t klen, const char *val,
                        size_t vlen, int64_t expire_ms, char **own)
{
    unsigned flags = (expire_ms >= 0 ? KV_ENTRY_TTL : 0) | (db != 0 ? KV_ENTRY_DB : 0) |
                     entry_share_flag(KV_TYPE_STRING, vlen);
    kv_entry *e = entry_alloc_flags(flags, entry_size(flags, klen, vlen));
    e->next = NULL;
    e->hash = (uint32_t)hash;
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    e->type = KV_TYPE_STRING;
    e->flags = (uint8_t)flags;
    e->lru = 0;
    entry_set_expire(e, expire_ms);
    entry_set_db(e, db);
    if (klen) memcpy(entry_key(e), key, klen);
    int have = 0;
    char *v = (flags & KV_ENTRY_SHARED) ? entry_new_ext(e, vlen, vlen, own, &have) : entry_val(e);
    if (vlen && !have) memcpy(v, val, vlen);
    if (flags & KV_ENTRY_TTL) entry_set_ttl_slot(e, 0);
    return e;
}

kv_entry *entry_new_hash(uint64_t hash, const char *key, size_t klen, struct hobj *h)
{
    kv_entry *e = entry_new(hash, key, klen, (const char *)&h, sizeof h, -1);
    e->type = KV_TYPE_HASH;
    return e;
}

kv_entry *entry_new_obj(uint64_t hash, const char *key, size_t klen, unsigned type, void *obj)
{
    kv_entry *e = entry_new(hash, key, klen, (const char *)&obj, sizeof obj, -1);
    e->type = (uint8_t)type;
    return e;
}

void entry_free(kv_entry *e)
{
    if (e != NULL && e->type == KV_TYPE_HASH) hobj_free(entry_hobj(e));
    if (e != NULL && e->type == KV_TYPE_LIST) lobj_free(entry_lobj(e));
    if (e != NULL && e->type == KV_TYPE_SET) sobj_free(entry_sobj(e));
    if (e != NULL && e->type == KV_TYPE_ZSET) zobj_free(entry_zobj(e));
    if (e != NULL && (e->flags & KV_ENTRY_SHARED))
        entry_unpin(e); /* the table's reference */
    else
        free(e);
}

size_t entry_obj_charged(kv_entry *e)
{
    switch (e->type) {
    case KV_TYPE_HASH:
        return hobj_charged(entry_hobj(e));
    case KV_TYPE_LIST:
        return lobj_charged(entry_lobj(e));
    case KV_TYPE_SET:
        return sobj_charged(entry_sobj(e));
    case KV_TYPE_ZSET:
        return zobj_charged(entry_zobj(e));
    }
    return 0;
}

void entry_obj_set_charged(kv_entry *e, size_t bytes)
{
    switch (e->type) {
    case KV_TYPE_HASH:
        hobj_set_charged(entry_hobj(e), bytes);
        break;
    case KV_TYPE_LIST:
        lobj_set_charged(entry_lobj(e), bytes);
        break;
    case KV_TYPE_SET:
        sobj_set_charged(entry_sobj(e), bytes);
        break;
    case KV_TYPE_ZSET:
        zobj_set_charged(entry_zobj(e), bytes);
        break;
    }
}

void entry_free_shell(kv_entry *e)
{
    if (e->flags & KV_ENTRY_SHARED)
        entry_unpin(e);
    else
        free(e);
}

size_t entry_mem(const kv_entry *e)
{
    size_t m = malloc_usable_size(entry_base(e));
    kv_entry *m_e = (kv_entry *)(uintptr_t)e;
    if (e->flags & KV_ENTRY_SHARED) m += malloc_usable_size(entry_val(m_e));
    if (e->type == KV_TYPE_HASH) m += hobj_mem(entry_hobj(m_e));
    if (e->type == KV_TYPE_LIST) m += lobj_mem(entry_lobj(m_e));
    if (e->type == KV_TYPE_SET) m += sobj_mem(entry_sobj(m_e));
    if (e->type == KV_TYPE_ZSET) m += zobj_mem(entry_zobj(m_e));
    return m;
}

/* Bytes of e's own allocation after its prefix (not its hobj). */
static size_t entry_alloc(const kv_entry *e)
{
    size_t pre = (e->flags & KV_ENTRY_SHARED) ? sizeof(entry_refs) : 0;
    return malloc_usable_size(entry_base(e)) - pre;
}

/* True if p points inside the allocation of e or of its value. */
static int entry_holds(const kv_entry *e, const char *p)
{
    uintptr_t a = (uintptr_t)e, x = (uintptr_t)p;
    if (x >= a && x < a + entry_alloc(e)) return 1;
    if (!(e->flags & KV_ENTRY_SHARED)) return 0;
    const char *v = entry_val((kv_entry *)(uintptr_t)e);
    a = (uintptr_t)v;
    return x >= a && x < a + malloc_usable_size((void *)(uintptr_t)v);
}

/* A fresh entry like e with these flags and a value of vlen bytes whose
 * first keep bytes are copied from val (which may lie in e); e is left
 * as it is. A shared value gets room for cap >= vlen bytes. The caller
 * sets the expiry and the trailer. */
static kv_entry *entry_copy(kv_entry *e, unsigned flags, const char *val, size_t keep, size_t vlen,
                            size_t cap, char **own)
{
    kv_entry *n = entry_alloc_flags(flags, entry_size(flags, e->klen, vlen));
    *n = *e;
    n->next = e->next;
    n->vlen = (uint32_t)vlen;
    n->flags = (uint8_t)flags;
    entry_set_db(n, entry_db(e));
    memcpy(entry_key(n), entry_key(e), e->klen);
    int have = 0;
    char *v = (flags & KV_ENTRY_SHARED) ? entry_new_ext(n, vlen, cap, own, &have) : entry_val(n);
    if (keep && !have) memcpy(v, val, keep);
    return n;
}

kv_entry *entry_rebuild(kv_entry *e, const char *val, size_t vlen, int64_t expire_ms)
{
    return entry_rebuild_own(e, val, vlen, expire_ms, NULL);
}

kv_entry *entry_rebuild_own(kv_entry *e, const char *val, size_t vlen, int64_t expire_ms,
                            char **own)
{
    int ttl = expire_ms >= 0;
    int had_ttl = entry_has_ttl(e);
    unsigned flags = (e->flags & ~(KV_ENTRY_TTL | KV_ENTRY_SHARED)) | (ttl ? KV_ENTRY_TTL : 0) |
                     entry_share_flag(e->type, vlen);
    size_t need = entry_size(flags, e->klen, vlen);
    /* the trailer sits after the value: saved before the value moves */
    uint32_t slot = had_ttl ? entry_ttl_slot(e) : 0;
    /* in place only when the layout stays and nobody else reads the bytes */
    int same = ttl == had_ttl && flags == e->flags && !entry_pinned(e);
    int shared = (flags & KV_ENTRY_SHARED) != 0;

    if (same && val == entry_val(e) && vlen <= e->vlen) {
        /* a prefix of the current value (or only the expiry changes) */
        e->vlen = (uint32_t)vlen;
        entry_set_expire(e, expire_ms);
        if (ttl) entry_set_ttl_slot(e, slot);
        return e;
    }
    if (same && shared && own != NULL && *own != NULL) {
        /* the caller's buffer becomes the value: the old one goes */
        free(entry_val(e));
        char *v = entry_fit(*own, vlen);
        *own = NULL;
        memcpy(entry_key(e) + e->klen, &v, sizeof v);
        e->vlen = (uint32_t)vlen;
        entry_set_expire(e, expire_ms);
        if (ttl) entry_set_ttl_slot(e, slot);
        return e;
    }
    if (same && !(vlen && entry_holds(e, val))) {
        /* same layout, value from elsewhere: grow or shrink in place */
        if (shared) {
            size_t cap = malloc_usable_size(entry_val(e));
            if (vlen > cap || vlen < cap / 2) entry_realloc_ext(e, vlen);
        } else if (need > entry_alloc(e) || need < entry_alloc(e) / 2) {
            e = entry_realloc(e, need);
        }
        e->vlen = (uint32_t)vlen;
        entry_set_expire(e, expire_ms);
        if (vlen) memcpy(entry_val(e), val, vlen);
        if (ttl) entry_set_ttl_slot(e, slot);
        return e;
    }
    /* the layout changes, the value lives in e or e is pinned: a fresh copy */
    kv_entry *n = entry_copy(e, flags, val, vlen, vlen, vlen, own);
    entry_set_expire(n, expire_ms);
    if (ttl) entry_set_ttl_slot(n, slot);
    entry_free_shell(e); /* a hash's hobj now belongs to n */
    return n;
}

/* entry_resize_val and entry_append_val: append says the caller writes only
 * past the old length. */
static kv_entry *resize_val(kv_entry *e, size_t vlen, int append)
{
    size_t old = e->vlen;
    int ttl = entry_has_ttl(e);
    uint32_t slot = ttl ? entry_ttl_slot(e) : 0; /* before the growth covers it */
    unsigned flags = (e->flags & ~KV_ENTRY_SHARED) | entry_share_flag(e->type, vlen);
    size_t need = entry_size(flags, e->klen, vlen);
    /* growth by appends: keep slack so repeated appends stay amortized
     * O(1), as Redis's sds does (double, at most 1 MB extra) */
    size_t slack = old == 0 ? 0 : vlen < (1u << 20) ? vlen : (1u << 20);
    int shared = (flags & KV_ENTRY_SHARED) != 0;
    size_t cap = shared && flags == e->flags ? malloc_usable_size(entry_val(e)) : 0;

    if (shared && flags == e->flags && vlen > old && vlen <= cap && (append || !entry_pinned(e))) {
        /* growth into the room after a value stored apart: in place, and
         * for an append even while it is pinned (a reply being sent, a
         * kept argument reads only the first `old` bytes, which an append
         * does not change; SETRANGE may write inside them: a copy) */
    } else if (flags != e->flags || entry_pinned(e)) {
        /* the value moves in or out of the entry, or its bytes are being
         * sent: a copy of the kept part (with room for more appends when
         * it grows) */
        size_t room = vlen > old ? vlen + slack : vlen;
        kv_entry *n = entry_copy(e, flags, entry_val(e), vlen < old ? vlen : old, vlen, room, NULL);
        entry_set_expire(n, entry_expire(e));
        entry_free_shell(e);
        e = n;
    } else if (shared) {
        if (vlen > cap)
            entry_realloc_ext(e, vlen + slack);
        else if (vlen < cap / 2)
            entry_realloc_ext(e, vlen);
    } else if (need > entry_alloc(e)) {
        e = entry_realloc(e, need + slack);
    } else if (need < entry_alloc(e) / 2) {
        e = entry_realloc(e, need);
    }
    if (vlen > old) memset(entry_val(e) + old, 0, vlen - old);
    e->vlen = (uint32_t)vlen;
    if (ttl) entry_set_ttl_slot(e, slot);
    return e;
}

kv_entry *entry_resize_val(kv_entry *e, size_t vlen)
{
    return resize_val(e, vlen, 0);
}

kv_entry *entry_append_val(kv_entry *e, size_t vlen)
{
    return resize_val(e, vlen, 1);
}

void entry_obj_encode(kv_entry *e, struct kvbuf *out)
{
    if (e->type == KV_TYPE_HASH) hobj_encode(entry_hobj(e), out);
    if (e->type == KV_TYPE_LIST) lobj_encode(entry_lobj(e), out);
    if (e->type == KV_TYPE_SET) sobj_encode(entry_sobj(e), out);
    if (e->type == KV_TYPE_ZSET) zobj_encode(entry_zobj(e), out);
}

void entry_obj_free(unsigned type, void *obj)
{
    if (type == KV_TYPE_LIST) lobj_free(obj);
    if (type == KV_TYPE_SET) sobj_free(obj);
    if (type == KV_TYPE_ZSET) zobj_free(obj);
}

void *entry_obj_decode(const void *secret, unsigned type, const char *p, size_t n)
{
    if (type == KV_TYPE_LIST) {
        lobj_t *l = lobj_decode(p, n);
        if (l != NULL && lobj_len(l) == 0) {
            lobj_free(l);
            l = NULL;
        }
        return l;
    }
    if (type == KV_TYPE_ZSET) {
        zobj_t *z = zobj_decode(secret, p, n);
        if (z != NULL && zobj_len(z) == 0) {
            zobj_free(z);
            z = NULL;
        }
        return z;
    }
    if (type == KV_TYPE_SET) {
        sobj_t *o = sobj_decode(secret, p, n);
        if (o != NULL && sobj_len(o) == 0) {
            sobj_free(o);
            o = NULL;
        }
        return o;
    }
    return NULL;
}
