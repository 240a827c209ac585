/* txlog.c - the all-or-none decision on transactions at recovery (txlog.h). */
#include "persist/txlog.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kv.h"

typedef struct tx_part {
    uint64_t txid;
    uint32_t shard;
    uint32_t nparts;
    uint32_t *shards; /* the participants, increasing */
} tx_part;

typedef struct tx_drop {
    uint32_t shard;
    uint64_t txid;
} tx_drop;

struct txlog {
    pthread_mutex_t lock; /* guards everything below until txlog_decide */
    uint32_t nshards;
    uint64_t *floor; /* per shard, 0: none */
    tx_part *parts;
    size_t nparts, capparts;
    uint64_t *aborts;
    size_t naborts, capaborts;
    uint64_t max_id;
    uint64_t *keep; /* decided: kept txids, increasing */
    size_t nkeep;
    tx_drop *drops;
    size_t ndrops;
};

txlog *txlog_new(uint32_t nshards)
{
    txlog *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->floor = calloc(nshards ? nshards : 1, sizeof *t->floor);
    if (t->floor == NULL) {
        free(t);
        return NULL;
    }
    t->nshards = nshards;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void txlog_free(txlog *t)
{
    if (t == NULL) return;
    for (size_t i = 0; i < t->nparts; i++) free(t->parts[i].shards);
    free(t->parts);
    free(t->aborts);
    free(t->keep);
    free(t->drops);
    free(t->floor);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* Grows *arr (elements of size sz) to hold one more. 0 or KV_ENOMEM. */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap) return 0;
    size_t c = *cap ? 2 * *cap : 64;
    void *g = realloc(*arr, c * sz);
    if (g == NULL) return KV_ENOMEM;
    *arr = g;
    *cap = c;
    return 0;
}

static void note_id(txlog *t, uint64_t id)
{
    if (id > t->max_id) t->max_id = id;
}

int txlog_part(void *ctx, uint32_t shard, const wal_rec *r)
{
    txlog *t = ctx;
    uint32_t *sh = malloc(r->nparts * sizeof *sh);
    if (sh == NULL) return KV_ENOMEM;
    wal_record_tx_shards(r, sh);
    pthread_mutex_lock(&t->lock);
    int rc = grow((void **)&t->parts, t->nparts, &t->capparts, sizeof *t->parts);
    if (rc == 0) {
        t->parts[t->nparts++] = (tx_part){r->txid, shard, r->nparts, sh};
        note_id(t, r->txid);
    }
    pthread_mutex_unlock(&t->lock);
    if (rc) free(sh);
    return rc;
}

int txlog_abort(void *ctx, uint32_t shard, uint64_t txid)
{
    txlog *t = ctx;
    (void)shard;
    pthread_mutex_lock(&t->lock);
    int rc = grow((void **)&t->aborts, t->naborts, &t->capaborts, sizeof *t->aborts);
    if (rc == 0) {
        t->aborts[t->naborts++] = txid;
        note_id(t, txid);
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int txlog_floor(void *ctx, uint32_t shard, uint64_t floor)
{
    txlog *t = ctx;
    pthread_mutex_lock(&t->lock);
    if (shard < t->nshards && floor > t->floor[shard]) t->floor[shard] = floor;
    note_id(t, floor);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_part(const void *a, const void *b)
{
    const tx_part *x = a, *y = b;
    if (x->txid != y->txid) return x->txid < y->txid ? -1 : 1;
    return x->shard < y->shard ? -1 : x->shard > y->shard;
}

/* parts[lo, hi): every part of one transaction, by shard. 1 if all of it
 * may be applied. */
static int tx_complete(const txlog *t, size_t lo, size_t hi)
{
    uint64_t id = t->parts[lo].txid;
    if (t->naborts && bsearch(&id, t->aborts, t->naborts, sizeof *t->aborts, cmp_u64)) return 0;
    const tx_part *first = &t->parts[lo];
    for (size_t i = lo; i < hi; i++) /* every part must name the same participants */
        if (t->parts[i].nparts != first->nparts ||
            memcmp(t->parts[i].shards, first->shards, first->nparts * sizeof *first->shards))
            return 0;
    size_t k = lo;
    for (uint32_t j = 0; j < first->nparts; j++) {
        uint32_t s = first->shards[j];
        while (k < hi && t->parts[k].shard < s) k++;
        if (k < hi && t->parts[k].shard == s) continue;   /* its part is in its log */
        if (s < t->nshards && t->floor[s] > id) continue; /* compacted past it */
        return 0;
    }
    return 1;
}

int txlog_decide(txlog *t, uint64_t *dropped)
{
    uint64_t nd = 0;
    if (t->nparts) qsort(t->parts, t->nparts, sizeof *t->parts, cmp_part);
    if (t->naborts) qsort(t->aborts, t->naborts, sizeof *t->aborts, cmp_u64);
    free(t->keep);
    free(t->drops);
    t->nkeep = t->ndrops = 0;
    t->keep = malloc((t->nparts ? t->nparts : 1) * sizeof *t->keep);
    t->drops = malloc((t->nparts ? t->nparts : 1) * sizeof *t->drops);
    if (t->keep == NULL || t->drops == NULL) return KV_ENOMEM;
    for (size_t lo = 0, hi; lo < t->nparts; lo = hi) {
        for (hi = lo + 1; hi < t->nparts && t->parts[hi].txid == t->parts[lo].txid; hi++) {
        }
        if (tx_complete(t, lo, hi)) {
            t->keep[t->nkeep++] = t->parts[lo].txid;
            continue;
        }
        nd++;
        for (size_t i = lo; i < hi; i++)
            t->drops[t->ndrops++] = (tx_drop){t->parts[i].shard, t->parts[i].txid};
    }
    if (dropped) *dropped = nd;
    return 0;
}

int txlog_keep(void *ctx, uint32_t shard, const wal_rec *r)
{
    const txlog *t = ctx;
    (void)shard;
    return t->nkeep && bsearch(&r->txid, t->keep, t->nkeep, sizeof *t->keep, cmp_u64) != NULL;
}

uint64_t txlog_next_id(const txlog *t)
{
    return t->max_id + 1;
}

size_t txlog_ndrops(const txlog *t)
{
    return t->ndrops;
}

void txlog_drop(const txlog *t, size_t i, uint32_t *shard, uint64_t *txid)
{
    *shard = t->drops[i].shard;
    *txid = t->drops[i].txid;
}
