/* zobj.c - sorted-set values: a packed buffer while small, else a B+tree
 * with subtree counts plus a member hash (zobj.h). */
#include "engine/zobj.h"

#include <assert.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/entry.h"
#include "engine/hobj.h"
#include "engine/table.h"
#include "engine/varint.h"

/* ---- the big form: a B+tree ordered by (score, member) ----
 *
 * Leaves hold (score, member entry) pairs and are linked both ways; inner
 * nodes hold, per child, its pointer, the number of elements under it (for
 * ranks) and its smallest key (for the descent). A member is one entry
 * (entry.h: the member as its key, the 8 bytes of score as its value) of
 * the member table (table.h), which never moves while the member is in the
 * set: the tree and the separator keys point at it, so the member's bytes
 * are stored once, and ZSCORE is one table lookup. Node sizes
 * are chosen to fill a 512-byte allocator class, one slot kept spare so an
 * insert can land before the split. */

typedef struct zel {
    double score;
    kv_entry *m; /* in the member table */
} zel;

#define LEAF_SLOTS 30 /* 24 + 30 * 16 = 504 bytes */
#define LEAF_CAP   (LEAF_SLOTS - 1)
#define LEAF_MIN   (LEAF_CAP / 2)

typedef struct zleaf {
    uint32_t n;
    struct zleaf *prev, *next;
    zel e[LEAF_SLOTS];
} zleaf;

typedef struct zchild {
    void *p;
    uint64_t cnt; /* elements under p */
    zel key;      /* the smallest element under p */
} zchild;

#define INNER_SLOTS 15 /* 8 + 15 * 32 = 488 bytes */
#define INNER_CAP   (INNER_SLOTS - 1)
#define INNER_MIN   (INNER_CAP / 2)
#define MAX_HEIGHT  48

typedef struct zinner {
    uint32_t n;
    zchild c[INNER_SLOTS];
} zinner;

/* The packed form: n entries sorted by (score, member), in one allocation.
 * An entry is one byte of header (the member's length in the low 7 bits;
 * the high bit set when the score is an integer in int16 range, not -0),
 * the member, then the score: 2 bytes (that integer) or 8 (the IEEE 754
 * double), little endian. Integer scores (counts, ranks, timestamps in
 * small units) are the common case: 6 bytes saved per member. */
#define PK_HDR   1
#define PK_INT16 0x80

/* The big form's state, apart so that a packed set's header stays small. */
typedef struct zbig {
    void *root;
    ht_t dict; /* member -> 8 bytes of score, in entries */
    size_t member_bytes, node_bytes;
    const zleaf *fleaf; /* finger for zobj_at: fleaf's first rank is fbase */
    size_t fbase;
} zbig;

struct zobj {
    uint8_t packed;
    uint32_t height; /* big: inner levels above the leaves (0: root is a leaf) */
    size_t n;
    size_t charged;
    const kv_hash_secret *secret;
    union {
        struct {
            char *buf;
            uint32_t used;
            uint16_t fi, foff; /* finger: entry fi starts at foff (fi <= n) */
        } p;
        zbig *b;
    } u;
};

static uint32_t member_hash(const zobj_t *z, const char *m, size_t n)
{
    return (uint32_t)kv_hash(z->secret, m, n);
}

/* Order of (s, m[0..n)) against e: <0, 0, >0. */
static int zcmp(double s, const char *m, size_t n, const zel *e)
{
    if (s < e->score) return -1;
    if (s > e->score) return 1;
    size_t l = e->m->klen, k = n < l ? n : l;
    int c = k ? memcmp(m, entry_key(e->m), k) : 0;
    if (c) return c;
    return (n > l) - (n < l);
}

zobj_t *zobj_new(const kv_hash_secret *secret)
{
    zobj_t *z = kv_xcalloc(1, sizeof *z);
    z->packed = 1;
    z->secret = secret;
    return z;
}

static void node_free(void *node, uint32_t height)
{
    if (height == 0) { /* the members go with the table */
        free(node);
        return;
    }
    zinner *in = node;
    for (uint32_t i = 0; i < in->n; i++) node_free(in->c[i].p, height - 1);
    free(in);
}

void zobj_free(zobj_t *z)
{
    if (z == NULL) return;
    if (z->packed) {
        free(z->u.p.buf);
    } else {
        if (z->u.b->root) node_free(z->u.b->root, z->height);
        ht_destroy(&z->u.b->dict);
        free(z->u.b);
    }
    free(z);
}

size_t zobj_len(const zobj_t *z)
{
    return z->n;
}

int zobj_is_packed(const zobj_t *z)
{
    return z->packed;
}

size_t zobj_mem(const zobj_t *z)
{
    size_t m = malloc_usable_size((void *)(uintptr_t)z);
    if (z->packed) return m + (z->u.p.buf ? malloc_usable_size(z->u.p.buf) : 0);
    return m + malloc_usable_size(z->u.b) + z->u.b->node_bytes + z->u.b->member_bytes +
           ht_mem(&z->u.b->dict);
}

size_t zobj_charged(const zobj_t *z)
{
    return z->charged;
}

void zobj_set_charged(zobj_t *z, size_t bytes)
{
    z->charged = bytes;
}

/* ---- packed form ---- */

static size_t pk_len(const char *e)
{
    return (unsigned char)e[0] & ~PK_INT16 & 0xff;
}

static double pk_score(const char *e)
{
    const unsigned char *p = (const unsigned char *)e + PK_HDR + pk_len(e);
    if ((unsigned char)e[0] & PK_INT16) return (double)(int16_t)(uint16_t)(p[0] | p[1] << 8);
    uint64_t bits = 0;
    for (int k = 0; k < 8; k++) bits |= (uint64_t)p[k] << (8 * k);
    double s;
    memcpy(&s, &bits, 8);
    return s;
}

static int pk_small_int(double s)
{
    return s >= -32768 && s <= 32767 && s == (double)(int16_t)s && !(s == 0 && signbit(s));
}

static size_t pk_size(const char *e)
{
    return PK_HDR + pk_len(e) + ((unsigned char)e[0] & PK_INT16 ? 2 : 8);
}

/* Order of (s, m[0..n)) against the packed entry at e. */
static int pk_cmp(double s, const char *m, size_t n, const char *e)
{
    double es = pk_score(e);
    if (s < es) return -1;
    if (s > es) return 1;
    size_t l = pk_len(e), k = n < l ? n : l;
    int c = k ? memcmp(m, e + PK_HDR, k) : 0;
    if (c) return c;
    return (n > l) - (n < l);
}

/* The offset of member m and its index (*idx), or -1 if absent. */
static long pk_find(const zobj_t *z, const char *m, size_t n, size_t *idx)
{
    size_t off = 0;
    for (size_t i = 0; i < z->n; i++) {
        const char *e = z->u.p.buf + off;
        if (pk_len(e) == n && (n == 0 || memcmp(e + PK_HDR, m, n) == 0)) {
            *idx = i;
            return (long)off;
        }
        off += pk_size(e);
    }
    return -1;
}

static void pk_remove(zobj_t *z, size_t off)
{
    size_t sz = pk_size(z->u.p.buf + off);
    memmove(z->u.p.buf + off, z->u.p.buf + off + sz, z->u.p.used - off - sz);
    z->u.p.used -= (uint32_t)sz;
    z->n--;
    z->u.p.fi = 0;
    z->u.p.foff = 0;
}

static void pk_insert(zobj_t *z, const char *m, size_t n, double score)
{
    size_t off = 0;
    for (size_t i = 0; i < z->n; i++) {
        const char *e = z->u.p.buf + off;
        if (pk_cmp(score, m, n, e) < 0) break;
        off += pk_size(e);
    }
    int small = pk_small_int(score);
    size_t sz = PK_HDR + n + (small ? 2 : 8);
    z->u.p.buf = kv_xrealloc(z->u.p.buf, z->u.p.used + sz);
    char *e = z->u.p.buf + off;
    memmove(e + sz, e, z->u.p.used - off);
    e[0] = (char)(unsigned char)(n | (small ? PK_INT16 : 0));
    if (n) memcpy(e + PK_HDR, m, n);
    unsigned char *p = (unsigned char *)e + PK_HDR + n;
    if (small) {
        uint16_t v = (uint16_t)(int16_t)score;
        p[0] = (unsigned char)v;
        p[1] = (unsigned char)(v >> 8);
    } else {
        uint64_t bits;
        memcpy(&bits, &score, 8);
        for (int k = 0; k < 8; k++) p[k] = (unsigned char)(bits >> (8 * k));
    }
    z->u.p.used += (uint32_t)sz;
    z->n++;
    z->u.p.fi = 0;
    z->u.p.foff = 0;
}

/* The offset of entry i (< n), walking from the finger when it is ahead. */
static size_t pk_seek(const zobj_t *zc, size_t i)
{
    zobj_t *z = (zobj_t *)(uintptr_t)zc; /* the finger is a cache */
    size_t fi = 0, off = 0;
    if (z->u.p.fi <= i) {
        fi = z->u.p.fi;
        off = z->u.p.foff;
    }
    for (; fi < i; fi++) off += pk_size(z->u.p.buf + off);
    z->u.p.fi = (uint16_t)i;
    z->u.p.foff = (uint16_t)off;
    return off;
}

/* ---- big form ---- */

static zel node_first(void *node, uint32_t height)
{
    if (height == 0) return ((zleaf *)node)->e[0];
    return ((zinner *)node)->c[0].key;
}

static uint64_t node_count(void *node, uint32_t height)
{
    if (height == 0) return ((zleaf *)node)->n;
    zinner *in = node;
    uint64_t s = 0;
    for (uint32_t i = 0; i < in->n; i++) s += in->c[i].cnt;
    return s;
}

static void *node_alloc(zobj_t *z, size_t size)
{
    void *p = kv_xcalloc(1, size);
    z->u.b->node_bytes += malloc_usable_size(p);
    return p;
}

static void node_release(zobj_t *z, void *p)
{
    z->u.b->node_bytes -= malloc_usable_size(p);
    free(p);
}

/* The child of in to descend into for key k: the last whose smallest key
 * is <= k (0 if none). */
static uint32_t inner_pick(const zinner *in, double s, const char *m, size_t n)
{
    uint32_t lo = 1, hi = in->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (zcmp(s, m, n, &in->c[mid].key) >= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

/* The first index of leaf l whose element is >= k. */
static uint32_t leaf_lower(const zleaf *l, double s, const char *m, size_t n)
{
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (zcmp(s, m, n, &l->e[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct zpath {
    zinner *node[MAX_HEIGHT];
    uint32_t idx[MAX_HEIGHT];
} zpath;

/* Descends to the leaf where k belongs, recording the path (level 0 is the
 * root); *rank gets the number of elements in leaves before it. */
static zleaf *descend(const zobj_t *z, double s, const char *m, size_t n, zpath *pa, uint64_t *rank)
{
    void *node = z->u.b->root;
    uint64_t r = 0;
    for (uint32_t lv = 0; lv < z->height; lv++) {
        zinner *in = node;
        uint32_t i = inner_pick(in, s, m, n);
        for (uint32_t j = 0; j < i; j++) r += in->c[j].cnt;
        if (pa) {
            pa->node[lv] = in;
            pa->idx[lv] = i;
        }
        node = in->c[i].p;
    }
    if (rank) *rank = r;
    return node;
}

/* Splits the overfull node at child idx of parent (NULL: the root). */
static void split(zobj_t *z, zinner *parent, uint32_t idx, void *node, uint32_t height, int append)
{
    void *right;
    if (height == 0) {
        zleaf *l = node, *r = node_alloc(z, sizeof *r);
        uint32_t keep = append ? l->n - 1 : l->n / 2;
        r->n = l->n - keep;
        memcpy(r->e, l->e + keep, r->n * sizeof *r->e);
        l->n = keep;
        r->next = l->next;
        r->prev = l;
        if (l->next) l->next->prev = r;
        l->next = r;
        right = r;
    } else {
        zinner *l = node, *r = node_alloc(z, sizeof *r);
        uint32_t keep = append ? l->n - 2 : l->n / 2; /* an inner node keeps >= 2 children */
        r->n = l->n - keep;
        memcpy(r->c, l->c + keep, r->n * sizeof *r->c);
        l->n = keep;
        right = r;
    }
    if (parent == NULL) {
        zinner *root = node_alloc(z, sizeof *root);
        root->n = 2;
        root->c[0] = (zchild){node, node_count(node, height), node_first(node, height)};
        root->c[1] = (zchild){right, node_count(right, height), node_first(right, height)};
        z->u.b->root = root;
        z->height++;
        return;
    }
    memmove(parent->c + idx + 2, parent->c + idx + 1, (parent->n - idx - 1) * sizeof *parent->c);
    parent->n++;
    parent->c[idx].cnt = node_count(node, height);
    parent->c[idx + 1] = (zchild){right, node_count(right, height), node_first(right, height)};
}

static void big_insert(zobj_t *z, kv_entry *mem, double score)
{
    zpath pa;
    const char *m = entry_key(mem);
    size_t n = mem->klen;
    zleaf *l = descend(z, score, m, n, &pa, NULL);
    uint32_t pos = leaf_lower(l, score, m, n);
    memmove(l->e + pos + 1, l->e + pos, (l->n - pos) * sizeof *l->e);
    l->e[pos] = (zel){score, mem};
    l->n++;
    z->n++;
    int append = pos == l->n - 1 && l->next == NULL;
    for (uint32_t lv = z->height; lv-- > 0;) {
        pa.node[lv]->c[pa.idx[lv]].cnt++;
        void *child = pa.node[lv]->c[pa.idx[lv]].p;
        pa.node[lv]->c[pa.idx[lv]].key = node_first(child, z->height - 1 - lv);
    }
    /* split bottom-up while a node is overfull; an append (to the last
     * leaf, so along the rightmost path) leaves the left nodes full, so
     * members added in order (a load, time-ordered scores) pack tightly */
    void *node = l;
    for (uint32_t h = 0;; h++) {
        uint32_t cnt = h == 0 ? ((zleaf *)node)->n : ((zinner *)node)->n;
        uint32_t cap = h == 0 ? LEAF_CAP : INNER_CAP;
        if (cnt <= cap) break;
        if (h == z->height) {
            split(z, NULL, 0, node, h, append);
            break;
        }
        uint32_t lv = z->height - 1 - h;
        split(z, pa.node[lv], pa.idx[lv], node, h, append);
        node = pa.node[lv];
    }
}

/* Evens out or merges the underfull child i of p with a neighbour. */
static void rebalance(zobj_t *z, zinner *p, uint32_t i, uint32_t height)
{
    uint32_t li = i > 0 ? i - 1 : 0;
    void *L = p->c[li].p, *R = p->c[li + 1].p;
    if (height == 0) {
        zleaf *a = L, *b = R;
        if (a->n + b->n <= LEAF_CAP) {
            memcpy(a->e + a->n, b->e, b->n * sizeof *b->e);
            a->n += b->n;
            a->next = b->next;
            if (b->next) b->next->prev = a;
            node_release(z, b);
            goto merged;
        }
        uint32_t tot = a->n + b->n, want = tot / 2;
        if (a->n < want) { /* move b's head to a's tail */
            uint32_t k = want - a->n;
            memcpy(a->e + a->n, b->e, k * sizeof *b->e);
            memmove(b->e, b->e + k, (b->n - k) * sizeof *b->e);
            a->n += k;
            b->n -= k;
        } else { /* move a's tail to b's head */
            uint32_t k = a->n - want;
            memmove(b->e + k, b->e, b->n * sizeof *b->e);
            memcpy(b->e, a->e + want, k * sizeof *b->e);
            a->n -= k;
            b->n += k;
        }
    } else {
        zinner *a = L, *b = R;
        if (a->n + b->n <= INNER_CAP) {
            memcpy(a->c + a->n, b->c, b->n * sizeof *b->c);
            a->n += b->n;
            node_release(z, b);
            goto merged;
        }
        uint32_t tot = a->n + b->n, want = tot / 2;
        if (a->n < want) {
            uint32_t k = want - a->n;
            memcpy(a->c + a->n, b->c, k * sizeof *b->c);
            memmove(b->c, b->c + k, (b->n - k) * sizeof *b->c);
            a->n += k;
            b->n -= k;
        } else {
            uint32_t k = a->n - want;
            memmove(b->c + k, b->c, b->n * sizeof *b->c);
            memcpy(b->c, a->c + want, k * sizeof *b->c);
            a->n -= k;
            b->n += k;
        }
    }
    p->c[li].cnt = node_count(L, height);
    p->c[li].key = node_first(L, height);
    p->c[li + 1].cnt = node_count(R, height);
    p->c[li + 1].key = node_first(R, height);
    return;
merged:
    p->c[li].cnt = node_count(L, height);
    p->c[li].key = node_first(L, height);
    memmove(p->c + li + 1, p->c + li + 2, (p->n - li - 2) * sizeof *p->c);
    p->n--;
}

/* Removes the element (score, m) that must be in the tree; returns its
 * member entry (still in the member table). */
static kv_entry *big_remove(zobj_t *z, double score, const char *m, size_t n)
{
    zpath pa;
    zleaf *l = descend(z, score, m, n, &pa, NULL);
    uint32_t pos = leaf_lower(l, score, m, n);
    assert(pos < l->n);
    if (pos >= l->n) return NULL; /* can't happen: the table and the tree agree */
    kv_entry *mem = l->e[pos].m;
    memmove(l->e + pos, l->e + pos + 1, (l->n - pos - 1) * sizeof *l->e);
    l->n--;
    z->n--;
    for (uint32_t lv = z->height; lv-- > 0;) {
        uint32_t h = z->height - 1 - lv; /* height of the child */
        zinner *p = pa.node[lv];
        uint32_t i = pa.idx[lv];
        p->c[i].cnt--;
        void *child = p->c[i].p;
        uint32_t cnt = h == 0 ? ((zleaf *)child)->n : ((zinner *)child)->n;
        if (cnt < (h == 0 ? LEAF_MIN : INNER_MIN))
            rebalance(z, p, i, h);
        else
            p->c[i].key = node_first(child, h);
    }
    while (z->height > 0 && ((zinner *)z->u.b->root)->n == 1) {
        zinner *old = z->u.b->root;
        z->u.b->root = old->c[0].p;
        node_release(z, old);
        z->height--;
    }
    return mem;
}

static void big_init(zobj_t *z)
{
    z->packed = 0;
    z->height = 0;
    z->u.b = kv_xcalloc(1, sizeof *z->u.b);
    ht_init(&z->u.b->dict);
    z->u.b->root = node_alloc(z, sizeof(zleaf));
}

static void big_add(zobj_t *z, const char *m, size_t n, double score)
{
    kv_entry *e = entry_new(member_hash(z, m, n), m, n, (const char *)&score, sizeof score, -1);
    ht_insert(&z->u.b->dict, e);
    z->u.b->member_bytes += entry_mem(e);
    big_insert(z, e, score);
}

/* The packed form to the big one, for good (as Redis: never back). */
static void convert(zobj_t *z)
{
    char *buf = z->u.p.buf;
    size_t cnt = z->n, off = 0;
    z->n = 0;
    big_init(z);
    for (size_t i = 0; i < cnt; i++) {
        const char *e = buf + off;
        big_add(z, e + PK_HDR, pk_len(e), pk_score(e));
        off += pk_size(e);
    }
    free(buf);
}

/* ---- the API ---- */

int zobj_score(zobj_t *z, const char *m, size_t n, double *score)
{
    if (z->packed) {
        size_t i;
        long off = pk_find(z, m, n, &i);
        if (off < 0) return 0;
        *score = pk_score(z->u.p.buf + off);
        return 1;
    }
    kv_entry *e = ht_find(&z->u.b->dict, member_hash(z, m, n), m, n);
    if (e == NULL) return 0;
    memcpy(score, entry_val(e), sizeof *score);
    return 1;
}

int zobj_set(zobj_t *z, const char *m, size_t n, double score)
{
    if (z->packed) {
        size_t i;
        long off = pk_find(z, m, n, &i);
        if (off >= 0) {
            if (pk_score(z->u.p.buf + off) == score) return 0;
            pk_remove(z, (size_t)off);
            pk_insert(z, m, n, score);
            return 0;
        }
        if (n <= ZOBJ_PACKED_BYTES && z->n < ZOBJ_PACKED_ENTRIES) {
            pk_insert(z, m, n, score);
            return 1;
        }
        convert(z);
    }
    double old;
    int had = zobj_score(z, m, n, &old);
    z->u.b->fleaf = NULL;
    if (had) {
        if (old == score) return 0;
        kv_entry *e = big_remove(z, old, m, n);
        if (e == NULL) return 0;
        memcpy(entry_val(e), &score, sizeof score); /* in place: 8 bytes stay 8 */
        big_insert(z, e, score);
        return 0;
    }
    big_add(z, m, n, score);
    return 1;
}

int zobj_rem(zobj_t *z, const char *m, size_t n)
{
    if (z->packed) {
        size_t i;
        long off = pk_find(z, m, n, &i);
        if (off < 0) return 0;
        pk_remove(z, (size_t)off);
        return 1;
    }
    kv_entry *e = ht_remove(&z->u.b->dict, member_hash(z, m, n), m, n);
    if (e == NULL) return 0;
    double old;
    memcpy(&old, entry_val(e), sizeof old);
    z->u.b->fleaf = NULL;
    big_remove(z, old, entry_key(e), e->klen); /* e's bytes: m may be anywhere */
    z->u.b->member_bytes -= entry_mem(e);
    entry_free(e);
    return 1;
}

int64_t zobj_rank(zobj_t *z, const char *m, size_t n)
{
    if (z->packed) {
        size_t i;
        return pk_find(z, m, n, &i) < 0 ? -1 : (int64_t)i;
    }
    double s;
    if (!zobj_score(z, m, n, &s)) return -1;
    uint64_t r;
    zleaf *l = descend(z, s, m, n, NULL, &r);
    return (int64_t)(r + leaf_lower(l, s, m, n));
}

void zobj_at(const zobj_t *z, size_t i, kv_str *member, double *score)
{
    assert(i < z->n);
    if (z->packed) {
        const char *e = z->u.p.buf + pk_seek(z, i);
        member->p = e + PK_HDR;
        member->len = pk_len(e);
        *score = pk_score(e);
        return;
    }
    zobj_t *zm = (zobj_t *)(uintptr_t)z; /* the finger is a cache */
    const zleaf *l = z->u.b->fleaf;
    size_t base = z->u.b->fbase;
    if (l && i >= base && i < base + l->n) {
        /* in the finger's leaf */
    } else if (l && i == base + l->n && l->next) {
        base += l->n;
        l = l->next;
    } else if (l && i + 1 == base && l->prev) {
        l = l->prev;
        base -= l->n;
    } else {
        const void *node = z->u.b->root;
        base = 0;
        for (uint32_t lv = 0; lv < z->height; lv++) {
            const zinner *in = node;
            uint32_t j = 0;
            while (j + 1 < in->n && i - base >= in->c[j].cnt) base += in->c[j++].cnt;
            node = in->c[j].p;
        }
        l = node;
    }
    zm->u.b->fleaf = l;
    zm->u.b->fbase = base;
    const zel *e = &l->e[i - base];
    member->p = entry_key(e->m);
    member->len = e->m->klen;
    *score = e->score;
}

size_t zobj_first_ge(const zobj_t *z, double min, int excl)
{
    if (z->packed) {
        size_t off = 0, i = 0;
        for (; i < z->n; i++) {
            double s = pk_score(z->u.p.buf + off);
            if (excl ? s > min : s >= min) break;
            off += pk_size(z->u.p.buf + off);
        }
        return i;
    }
    const void *node = z->u.b->root;
    size_t r = 0;
    for (uint32_t lv = 0; lv < z->height; lv++) {
        const zinner *in = node;
        /* the last child whose smallest score is still before the bound */
        uint32_t j = 0;
        while (j + 1 < in->n) {
            double s = in->c[j + 1].key.score;
            if (excl ? s > min : s >= min) break;
            r += in->c[j++].cnt;
        }
        node = in->c[j].p;
    }
    const zleaf *l = node;
    uint32_t k = 0;
    while (k < l->n && (excl ? l->e[k].score <= min : l->e[k].score < min)) k++;
    return r + k;
}

void zobj_encode(zobj_t *z, kvbuf *out)
{
    hobj_encode_varint(out, z->n);
    for (size_t i = 0; i < z->n; i++) {
        kv_str m;
        double s;
        zobj_at(z, i, &m, &s);
        unsigned char b[8];
        uint64_t bits;
        memcpy(&bits, &s, 8);
        for (int k = 0; k < 8; k++) b[k] = (unsigned char)(bits >> (8 * k));
        kvbuf_append(out, b, 8);
        hobj_encode_varint(out, m.len);
        kvbuf_append(out, m.p, m.len);
    }
}

zobj_t *zobj_decode(const kv_hash_secret *secret, const char *p, size_t n)
{
    size_t off = 0;
    uint64_t count = 0, len = 0;
    if (varint_get(p, n, &off, &count) != 0 || count > n) return NULL;
    zobj_t *z = zobj_new(secret);
    for (uint64_t i = 0; i < count; i++) {
        double s;
        if (n - off < 8) goto bad;
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++) bits |= (uint64_t)(unsigned char)p[off + (size_t)k] << (8 * k);
        memcpy(&s, &bits, 8);
        off += 8;
        if (isnan(s) || varint_get(p, n, &off, &len) != 0 || len > n - off) goto bad;
        if (!zobj_set(z, p + off, (size_t)len, s)) goto bad; /* a duplicate */
        off += (size_t)len;
    }
    if (off != n) goto bad;
    return z;
bad:
    zobj_free(z);
    return NULL;
}
