/* block.c - the waiter registry of one shard (block.h). */
#include "engine/block.h"

#include <stdlib.h>
#include <string.h>

/* ---- tokens (any thread) ----------------------------------------------- */

void blk_token_init(blk_token *t, blk_deliver_fn *deliver)
{
    atomic_init(&t->state, BLK_WAITING);
    atomic_init(&t->refs, 1);
    kvbuf_init(&t->reply);
    t->deliver = deliver;
    t->next_served = NULL;
    atomic_init(&t->next_done, NULL);
}

void blk_token_ref(blk_token *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void blk_token_unref(blk_token *t)
{
    if (t == NULL) return;
    /* acq_rel: the last holder sees every write the others made (reply) */
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) return;
    kvbuf_destroy(&t->reply);
    free(t);
}

int blk_token_claim(blk_token *t, int to)
{
    int expect = BLK_WAITING;
    return atomic_compare_exchange_strong_explicit(&t->state, &expect, to, memory_order_acq_rel,
                                                   memory_order_acquire);
}

/* ---- the registry (owner actor) ----------------------------------------- */

blk_reg *blk_reg_new(void)
{
    blk_reg *r = kv_xcalloc(1, sizeof *r);
    r->nbuckets = 16;
    r->buckets = kv_xcalloc(r->nbuckets, sizeof *r->buckets);
    return r;
}

static void wait_free(blk_wait *w, int keep_ref)
{
    if (!keep_ref) blk_token_unref(w->tok);
    free((void *)(uintptr_t)w->dst.p);
    free(w);
}

void blk_reg_free(blk_reg *r)
{
    if (r == NULL) return;
    for (size_t i = 0; i < r->nbuckets; i++) {
        blk_key *k = r->buckets[i], *kn;
        for (; k; k = kn) {
            kn = k->next;
            blk_wait *w = k->head, *wn;
            for (; w; w = wn) {
                wn = w->next;
                wait_free(w, 0);
            }
            free(k);
        }
    }
    blk_token *t = r->served, *tn;
    for (; t; t = tn) { /* never delivered: nobody will get them */
        tn = t->next_served;
        blk_token_unref(t);
    }
    free(r->buckets);
    free(r);
}

static blk_key **key_slot(blk_reg *r, uint32_t hash, uint8_t db, const char *key, size_t klen)
{
    blk_key **p = &r->buckets[hash & (r->nbuckets - 1)];
    for (; *p; p = &(*p)->next) {
        blk_key *k = *p;
        if (k->hash == hash && k->db == db && k->klen == klen && memcmp(k->key, key, klen) == 0)
            return p;
    }
    return p;
}

static void reg_grow(blk_reg *r)
{
    size_t nb = r->nbuckets * 2;
    blk_key **b = kv_xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < r->nbuckets; i++) {
        blk_key *k = r->buckets[i], *kn;
        for (; k; k = kn) {
            kn = k->next;
            k->next = b[k->hash & (nb - 1)];
            b[k->hash & (nb - 1)] = k;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = nb;
}

/* Drops k's registrations whose token is no longer waiting. */
static void key_prune(blk_reg *r, blk_key *k)
{
    blk_wait **p = &k->head, *last = NULL;
    while (*p) {
        blk_wait *w = *p;
        if (blk_token_state(w->tok) != BLK_WAITING) {
            *p = w->next;
            wait_free(w, 0);
            k->n--;
            r->nwaits--;
        } else {
            last = w;
            p = &w->next;
        }
    }
    k->tail = last;
}

blk_wait *blk_reg_add(blk_reg *r, uint32_t hash, uint8_t db, const char *key, size_t klen,
                      blk_token *tok, int from, int to, int move, const kv_str *dst)
{
    blk_key **p = key_slot(r, hash, db, key, klen);
    blk_key *k = *p;
    if (k == NULL) {
        if (r->nkeys >= r->nbuckets) {
            reg_grow(r);
            p = key_slot(r, hash, db, key, klen);
        }
        k = kv_xcalloc(1, sizeof *k + klen);
        k->hash = hash;
        k->db = db;
        k->klen = klen;
        memcpy(k->key, key, klen);
        *p = k;
        r->nkeys++;
    } else {
        key_prune(r, k);
    }
    blk_wait *w = kv_xcalloc(1, sizeof *w);
    blk_token_ref(tok);
    w->tok = tok;
    w->from = (uint8_t)from;
    w->to = (uint8_t)to;
    w->move = (uint8_t)move;
    if (dst != NULL) {
        char *d = kv_xmalloc(dst->len ? dst->len : 1);
        memcpy(d, dst->p, dst->len);
        w->dst = (kv_str){d, dst->len};
    }
    if (k->tail)
        k->tail->next = w;
    else
        k->head = w;
    k->tail = w;
    k->n++;
    r->nwaits++;
    return w;
}

void blk_reg_signal(blk_reg *r, uint32_t hash, uint8_t db, const char *key, size_t klen)
{
    if (r == NULL || r->nwaits == 0) return;
    blk_key *k = *key_slot(r, hash, db, key, klen);
    if (k == NULL || k->ready) return;
    k->ready = 1;
    k->next_ready = r->ready;
    r->ready = k;
}

blk_key *blk_reg_next_ready(blk_reg *r)
{
    blk_key *k = r->ready;
    if (k == NULL) return NULL;
    r->ready = k->next_ready;
    k->next_ready = NULL;
    k->ready = 0;
    return k;
}

/* Unlinks and frees k (no registration left). */
static void key_free(blk_reg *r, blk_key *k)
{
    blk_key **p = key_slot(r, k->hash, k->db, k->key, k->klen);
    if (*p != k) return; /* cannot happen: k is in the registry */
    *p = k->next;
    if (k->ready) { /* off the ready list too */
        blk_key **q = &r->ready;
        while (*q && *q != k) q = &(*q)->next_ready;
        if (*q) *q = k->next_ready;
    }
    r->nkeys--;
    free(k);
}

blk_wait *blk_key_front(blk_reg *r, blk_key *k)
{
    while (k->head && blk_token_state(k->head->tok) != BLK_WAITING) {
        blk_wait *w = k->head;
        k->head = w->next;
        if (k->head == NULL) k->tail = NULL;
        wait_free(w, 0);
        k->n--;
        r->nwaits--;
    }
    return k->head;
}

blk_wait *blk_key_front_kind(blk_reg *r, blk_key *k, int zset)
{
    blk_wait *h = blk_key_front(r, k);
    if (h == NULL || h->zset == zset) return h;
    blk_wait *prev = h;
    for (blk_wait *w = h->next; w != NULL; prev = w, w = w->next) {
        if (w->zset != zset || blk_token_state(w->tok) != BLK_WAITING) continue;
        prev->next = w->next; /* to the front: the others keep their order */
        if (k->tail == w) k->tail = prev;
        w->next = k->head;
        k->head = w;
        return w;
    }
    return NULL;
}

int blk_key_pop(blk_reg *r, blk_key *k, int keep_ref)
{
    blk_wait *w = k->head;
    if (w != NULL) {
        k->head = w->next;
        if (k->head == NULL) k->tail = NULL;
        wait_free(w, keep_ref);
        k->n--;
        r->nwaits--;
    }
    if (k->head != NULL) return 0;
    key_free(r, k);
    return 1;
}

void blk_reg_served(blk_reg *r, blk_token *tok)
{
    /* appended: clients of one key are answered in the order served */
    tok->next_served = NULL;
    if (r->served)
        r->served_last->next_served = tok;
    else
        r->served = tok;
    r->served_last = tok;
}

unsigned blk_reg_deliver(blk_reg *r)
{
    unsigned n = 0;
    blk_token *t = r->served, *tn;
    r->served = r->served_last = NULL;
    for (; t; t = tn) {
        tn = t->next_served;
        t->next_served = NULL;
        t->deliver(t);
        n++;
    }
    return n;
}
