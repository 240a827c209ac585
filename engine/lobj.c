/* lobj.c - list values: a chain of packed nodes (see lobj.h). */
#include "engine/lobj.h"

#include <assert.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/varint.h"

struct lnode {
    struct lnode *prev, *next;
    uint32_t count; /* elements */
    uint32_t used;  /* bytes of buf in use */
    uint32_t cap;   /* bytes of buf */
    char *buf;      /* elements: varint length, bytes */
};

struct lobj {
    lnode_t *head, *tail;
    size_t len;     /* elements */
    size_t nodes;   /* nodes in the chain */
    size_t mem;     /* allocator bytes of the nodes and their buffers */
    size_t charged; /* owner: shard accounting */
    uint64_t version;
};

/* ---- varints and elements ------------------------------------------------ */

/* The element at buf + off of a node (well formed by construction); sets
 * *out and returns its total size in bytes. */
static size_t elem_at(const lnode_t *nd, size_t off, kv_str *out)
{
    uint64_t len = 0;
    size_t o = off;
    int rc = varint_get(nd->buf, nd->used, &o, &len);
    assert(rc == 0);
    (void)rc;
    out->p = nd->buf + o;
    out->len = (size_t)len;
    return o - off + (size_t)len;
}

/* ---- nodes ------------------------------------------------------------------ */

static size_t node_mem(const lnode_t *nd)
{
    return malloc_usable_size((void *)(uintptr_t)nd) + (nd->buf ? malloc_usable_size(nd->buf) : 0);
}

static lnode_t *node_new(lobj_t *l)
{
    lnode_t *nd = kv_xcalloc(1, sizeof *nd);
    l->nodes++;
    l->mem += node_mem(nd);
    return nd;
}

static void node_unlink_free(lobj_t *l, lnode_t *nd)
{
    if (nd->prev)
        nd->prev->next = nd->next;
    else
        l->head = nd->next;
    if (nd->next)
        nd->next->prev = nd->prev;
    else
        l->tail = nd->prev;
    l->mem -= node_mem(nd);
    l->nodes--;
    free(nd->buf);
    free(nd);
}

/* Links nd after at (NULL: as the new head). */
static void node_link_after(lobj_t *l, lnode_t *at, lnode_t *nd)
{
    nd->prev = at;
    nd->next = at ? at->next : l->head;
    if (nd->next)
        nd->next->prev = nd;
    else
        l->tail = nd;
    if (at)
        at->next = nd;
    else
        l->head = nd;
}

/* Makes room for need more bytes in nd's buffer. */
static void node_reserve(lobj_t *l, lnode_t *nd, size_t need)
{
    size_t want = (size_t)nd->used + need;
    if (want <= nd->cap) return;
    size_t cap = nd->cap ? nd->cap : 64;
    while (cap < want) cap *= 2;
    if (cap > LOBJ_NODE_BYTES && want <= LOBJ_NODE_BYTES) cap = LOBJ_NODE_BYTES;
    if (cap > want && want > LOBJ_NODE_BYTES) cap = want;
    l->mem -= node_mem(nd);
    nd->buf = kv_xrealloc(nd->buf, cap);
    nd->cap = (uint32_t)cap;
    l->mem += node_mem(nd);
}

/* Gives back most of the slack of a node that shrank a lot. */
static void node_shrink(lobj_t *l, lnode_t *nd)
{
    if (nd->cap <= 64 || nd->used > nd->cap / 4) return;
    size_t cap = nd->used < 64 ? 64 : nd->used;
    l->mem -= node_mem(nd);
    nd->buf = kv_xrealloc(nd->buf, cap);
    nd->cap = (uint32_t)cap;
    l->mem += node_mem(nd);
}

/* Writes element p[0..n) at byte offset off of nd, moving what follows. */
static void node_put(lobj_t *l, lnode_t *nd, size_t off, const char *p, size_t n)
{
    size_t sz = varint_len(n) + n;
    node_reserve(l, nd, sz);
    memmove(nd->buf + off + sz, nd->buf + off, nd->used - off);
    char *at = varint_put(nd->buf + off, n);
    if (n) memcpy(at, p, n);
    nd->used += (uint32_t)sz;
    nd->count++;
}

/* Removes sz bytes holding k elements at byte offset off of nd. */
static void node_cut(lobj_t *l, lnode_t *nd, size_t off, size_t sz, size_t k)
{
    memmove(nd->buf + off, nd->buf + off + sz, nd->used - off - sz);
    nd->used -= (uint32_t)sz;
    nd->count -= (uint32_t)k;
    node_shrink(l, nd);
}

/* Byte offset of the i-th element of nd (i <= count). */
static size_t node_offset(const lnode_t *nd, size_t i)
{
    size_t off = 0;
    kv_str e;
    while (i-- > 0) off += elem_at(nd, off, &e);
    return off;
}

/* Splits nd in two halves (by element count) when it outgrew the limit. */
static void node_split_if_big(lobj_t *l, lnode_t *nd)
{
    if (nd->used <= LOBJ_NODE_BYTES || nd->count < 2) return;
    size_t half = nd->count / 2;
    size_t off = node_offset(nd, half);
    lnode_t *nn = node_new(l);
    size_t rest = nd->used - off;
    node_reserve(l, nn, rest);
    memcpy(nn->buf, nd->buf + off, rest);
    nn->used = (uint32_t)rest;
    nn->count = nd->count - (uint32_t)half;
    nd->used = (uint32_t)off;
    nd->count = (uint32_t)half;
    node_shrink(l, nd);
    node_link_after(l, nd, nn);
}

/* The node holding element idx (< len) and idx's position in it. */
static lnode_t *locate(const lobj_t *l, size_t idx, size_t *in)
{
    assert(idx < l->len);
    if (idx < l->len / 2) {
        lnode_t *nd = l->head;
        while (idx >= nd->count) {
            idx -= nd->count;
            nd = nd->next;
        }
        *in = idx;
        return nd;
    }
    size_t back = l->len - 1 - idx; /* elements after idx */
    lnode_t *nd = l->tail;
    while (back >= nd->count) {
        back -= nd->count;
        nd = nd->prev;
    }
    *in = nd->count - 1 - back;
    return nd;
}

/* ---- the list ----------------------------------------------------------------- */

lobj_t *lobj_new(void)
{
    lobj_t *l = kv_xcalloc(1, sizeof *l);
    return l;
}

void lobj_free(lobj_t *l)
{
    if (l == NULL) return;
    while (l->head) node_unlink_free(l, l->head);
    free(l);
}

size_t lobj_len(const lobj_t *l)
{
    return l->len;
}

size_t lobj_mem(const lobj_t *l)
{
    return malloc_usable_size((void *)(uintptr_t)l) + l->mem;
}

int lobj_is_packed(const lobj_t *l)
{
    return l->nodes <= 1;
}

size_t lobj_charged(const lobj_t *l)
{
    return l->charged;
}

void lobj_set_charged(lobj_t *l, size_t bytes)
{
    l->charged = bytes;
}

uint64_t lobj_version(const lobj_t *l)
{
    return l->version;
}

void lobj_set_version(lobj_t *l, uint64_t v)
{
    l->version = v;
}

void lobj_push(lobj_t *l, int where, const char *p, size_t n)
{
    size_t sz = varint_len(n) + n;
    lnode_t *nd = where == LOBJ_HEAD ? l->head : l->tail;
    if (nd == NULL || (nd->count > 0 && nd->used + sz > LOBJ_NODE_BYTES)) {
        lnode_t *nn = node_new(l);
        node_link_after(l, where == LOBJ_HEAD ? NULL : l->tail, nn);
        nd = nn;
    }
    node_put(l, nd, where == LOBJ_HEAD ? 0 : nd->used, p, n);
    l->len++;
}

void lobj_insert(lobj_t *l, size_t idx, const char *p, size_t n)
{
    assert(idx <= l->len);
    if (idx == 0 || idx == l->len) {
        lobj_push(l, idx == 0 ? LOBJ_HEAD : LOBJ_TAIL, p, n);
        return;
    }
    size_t in;
    lnode_t *nd = locate(l, idx, &in);
    node_put(l, nd, node_offset(nd, in), p, n);
    l->len++;
    node_split_if_big(l, nd);
}

void lobj_get(lobj_t *l, size_t idx, kv_str *out)
{
    size_t in;
    lnode_t *nd = locate(l, idx, &in);
    elem_at(nd, node_offset(nd, in), out);
}

void lobj_set(lobj_t *l, size_t idx, const char *p, size_t n)
{
    size_t in;
    lnode_t *nd = locate(l, idx, &in);
    size_t off = node_offset(nd, in);
    kv_str old;
    size_t sz = elem_at(nd, off, &old);
    node_cut(l, nd, off, sz, 1);
    node_put(l, nd, off, p, n);
    node_split_if_big(l, nd);
}

void lobj_delete(lobj_t *l, size_t start, size_t count)
{
    assert(start + count <= l->len);
    while (count > 0) {
        size_t in;
        lnode_t *nd = locate(l, start, &in);
        size_t k = nd->count - in < count ? nd->count - in : count;
        if (k == nd->count) {
            node_unlink_free(l, nd);
        } else {
            size_t off = node_offset(nd, in), end = off;
            kv_str e;
            for (size_t i = 0; i < k; i++) end += elem_at(nd, end, &e);
            node_cut(l, nd, off, end - off, k);
        }
        l->len -= k;
        count -= k;
    }
}

/* ---- iteration ------------------------------------------------------------------ */

/* Backward: loads the element offsets of it->node. */
static void iter_load_back(lobj_iter *it)
{
    lnode_t *nd = it->node;
    if (it->capoffs < nd->count) {
        it->capoffs = nd->count;
        it->offs = kv_xrealloc(it->offs, it->capoffs * sizeof *it->offs);
    }
    size_t off = 0;
    kv_str e;
    for (size_t i = 0; i < nd->count; i++) {
        it->offs[i] = off;
        off += elem_at(nd, off, &e);
    }
    it->noffs = nd->count;
    it->pos = nd->count;
}

void lobj_iter_init(lobj_t *l, lobj_iter *it, size_t start, int backward)
{
    memset(it, 0, sizeof *it);
    it->back = backward;
    if (start >= l->len) return; /* left = 0: empty */
    size_t in;
    it->node = locate(l, start, &in);
    if (backward) {
        it->left = start + 1;
        iter_load_back(it);
        it->pos = in + 1;
    } else {
        it->left = l->len - start;
        it->off = node_offset(it->node, in);
    }
}

int lobj_iter_next(lobj_iter *it, kv_str *out)
{
    if (it->left == 0) return 0;
    if (it->back) {
        while (it->pos == 0) {
            it->node = it->node->prev;
            iter_load_back(it);
        }
        elem_at(it->node, it->offs[--it->pos], out);
    } else {
        while (it->off >= it->node->used) {
            it->node = it->node->next;
            it->off = 0;
        }
        it->off += elem_at(it->node, it->off, out);
    }
    it->left--;
    return 1;
}

void lobj_iter_done(lobj_iter *it)
{
    free(it->offs);
    it->offs = NULL;
}

/* ---- serialization ---------------------------------------------------------------- */

void lobj_encode(lobj_t *l, kvbuf *out)
{
    char tmp[2 * VARINT_MAX];
    char *end = varint_put(varint_put(tmp, l->version), l->len);
    kvbuf_append(out, tmp, (size_t)(end - tmp));
    for (lnode_t *nd = l->head; nd; nd = nd->next) kvbuf_append(out, nd->buf, nd->used);
}

lobj_t *lobj_decode(const char *p, size_t n)
{
    size_t off = 0;
    uint64_t version = 0, count = 0, len = 0;
    if (varint_get(p, n, &off, &version) != 0) return NULL;
    if (varint_get(p, n, &off, &count) != 0 || count > n) return NULL;
    lobj_t *l = lobj_new();
    l->version = version;
    for (uint64_t i = 0; i < count; i++) {
        if (varint_get(p, n, &off, &len) != 0 || len > n - off) {
            lobj_free(l);
            return NULL;
        }
        lobj_push(l, LOBJ_TAIL, p + off, (size_t)len);
        off += (size_t)len;
    }
    if (off != n) {
        lobj_free(l);
        return NULL;
    }
    return l;
}
