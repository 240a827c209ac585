/* replay.c - persist_recover (persist.h): every shard rebuilt from its
 * snapshot and log by recover.c, several shards at a time, after a
 * pre-pass that decides which transactions over several shards to apply
 * (txlog.h). The recover_ops here apply each record to a shard_t.
 *
 * Threads: persist_recover runs on the start-up thread and starts helper
 * threads that each take whole shards (an atomic counter), so a shard and
 * its pshard's start-up fields are written by one thread only; the totals
 * and the first error are guarded by recover_job.lock. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/cmd.h"
#include "engine/entry.h"
#include "engine/hobj.h"
#include "persist/persist.h"
#include "persist/persist_internal.h"
#include "persist/recover.h"
#include "engine/table.h"
#include "persist/txlog.h"

typedef struct recover_job {
    persist_t *p;
    shard_t *shards;
    _Atomic uint32_t next; /* next shard to take */
    _Atomic int failed;
    pthread_mutex_t lock; /* guards the totals and err below */
    persist_recovery total;
    char err[700];
    int rc;
    int scan; /* the transactions' pre-pass: nothing applied */
} recover_job;

/* The entry of key without lazy expiry: replay must see keys whose TTL
 * passed while the server was down, because later field records still
 * apply to them (the sweep after replay removes what is expired). */
static kv_entry *rec_find(shard_t *s, const kv_str *key)
{
    return ht_find_db(&s->table, shard_hash(s, key->p, key->len), s->db, key->p, key->len);
}

static int rec_put_hash(shard_t *s, const wal_rec *r)
{
    hobj_t *h = hobj_decode(s->secret, r->val.p, r->val.len);
    if (h == NULL || hobj_len(h) == 0) {
        hobj_free(h);
        return KV_EPROTO;
    }
    kv_entry *old = rec_find(s, &r->key);
    if (old != NULL) shard_remove(s, old);
    shard_hash_put(s, r->key.p, r->key.len, h, r->expire_ms);
    return 0;
}

/* A list or set PUT: the whole value (lobj_encode / sobj_encode bytes). */
static int rec_put_obj(shard_t *s, const wal_rec *r)
{
    void *obj = entry_obj_decode(s->secret, r->vtype, r->val.p, r->val.len);
    if (obj == NULL) return KV_EPROTO;
    kv_entry *old = rec_find(s, &r->key);
    if (old != NULL) shard_remove(s, old);
    if (r->expire_ms >= 0 && r->expire_ms <= s->now_ms) {
        entry_obj_free(r->vtype, obj); /* expired while we were down */
        return 0;
    }
    shard_obj_put(s, r->key.p, r->key.len, r->vtype, obj, r->expire_ms);
    return 0;
}

static int rec_put(void *ctx, const wal_rec *r)
{
    shard_t *s = ctx;
    if (r->vtype == KV_TYPE_HASH) return rec_put_hash(s, r);
    if (r->vtype == KV_TYPE_LIST || r->vtype == KV_TYPE_SET || r->vtype == KV_TYPE_ZSET)
        return rec_put_obj(s, r);
    if (r->vtype == KV_TYPE_LIST_DELTA)
        return cmd_list_replay(s, &r->key, r->val.p, r->val.len) ? KV_EPROTO : 0;
    if (r->vtype == KV_TYPE_SET_DELTA)
        return cmd_set_replay(s, &r->key, r->val.p, r->val.len) ? KV_EPROTO : 0;
    if (r->vtype != KV_TYPE_STRING) return KV_EPROTO;
    if (r->expire_ms >= 0 && r->expire_ms <= s->now_ms) {
        shard_del(s, r->key.p, r->key.len); /* expired while we were down */
        return 0;
    }
    shard_put(s, r->key.p, r->key.len, r->val.p, r->val.len, r->expire_ms);
    return 0;
}

static int rec_hset(void *ctx, const wal_rec *r)
{
    shard_t *s = ctx;
    kv_entry *e = rec_find(s, &r->key);
    if (e != NULL && e->type != KV_TYPE_HASH) {
        shard_remove(s, e);
        e = NULL;
    }
    if (e == NULL) e = shard_hash_add(s, r->key.p, r->key.len);
    shard_hash_set(s, e, &r->field, &r->val);
    return 0;
}

static int rec_hdel(void *ctx, const wal_rec *r)
{
    shard_t *s = ctx;
    int gone;
    kv_entry *e = rec_find(s, &r->key);
    if (e != NULL && e->type == KV_TYPE_HASH) shard_hash_del(s, e, &r->field, &gone);
    return 0;
}

static int rec_expire(void *ctx, const wal_rec *r)
{
    shard_t *s = ctx;
    kv_entry *e = rec_find(s, &r->key);
    if (e != NULL) shard_update(s, e, entry_val(e), e->vlen, r->expire_ms);
    return 0;
}

static void rec_sweep_visit(void *arg, kv_entry *e)
{
    shard_t *s = arg;
    if (shard_expired(s, e)) shard_drop_expired(s, e);
}

/* Removes the keys whose TTL passed while the server was down. */
static void rec_sweep(shard_t *s)
{
    if (s->volatile_keys > 0) ht_foreach(&s->table, rec_sweep_visit, s);
}

static int rec_del(void *ctx, const char *key, size_t klen)
{
    shard_del(ctx, key, klen);
    return 0;
}

static int rec_clear(void *ctx)
{
    shard_clear(ctx);
    return 0;
}

static int rec_db(void *ctx, unsigned db)
{
    shard_t *s = ctx;
    s->db = (uint8_t)db;
    return 0;
}

static int rec_clear_db(void *ctx, unsigned db)
{
    shard_clear_db(ctx, db);
    return 0;
}

static void *recover_thread(void *arg)
{
    recover_job *j = arg;
    persist_t *p = j->p;
    static const recover_ops ops = {rec_put,  rec_del,    rec_clear, rec_hset,
                                    rec_hdel, rec_expire, rec_db,    rec_clear_db};
    uint32_t s;
    while (!atomic_load(&j->failed) && (s = atomic_fetch_add(&j->next, 1)) < p->nshards) {
        shard_t *sh = &j->shards[s];
        sh->now_ms = kv_time_ms();
        recover_tx_ops txo = {txlog_part, txlog_abort, txlog_floor, txlog_keep, p->tx};
        recover_opts ro = {.shard_dir = p->sh[s].dir,
                           .shard = s,
                           .snap_seq = p->man.shards[s].snap_seq,
                           .first_seq = p->man.shards[s].first_seq,
                           .last_seq = p->man.shards[s].last_seq,
                           .keep_prefix = p->o.keep_prefix,
                           .scan_only = j->scan,
                           .tx = &txo};
        recover_result *res = kv_xcalloc(1, sizeof *res);
        int rc = recover_shard(&ro, &ops, sh, res);
        if (rc == 0 && !j->scan) rec_sweep(sh);
        pthread_mutex_lock(&j->lock);
        if (rc == 0 && j->scan) {
            pthread_mutex_unlock(&j->lock);
            free(res);
            continue;
        }
        if (rc != 0) {
            if (!atomic_exchange(&j->failed, 1)) {
                j->rc = rc;
                snprintf(j->err, sizeof j->err, "recovery of shard %u failed: %s", s,
                         res->msg[0] ? res->msg : kv_strerror(rc));
            }
        } else {
            j->total.snap_entries += res->snap_entries;
            j->total.records += res->records;
            j->total.cut_bytes += res->cut_bytes;
            j->total.keys += ht_count(&sh->table);
            if (res->missing_to)
                kv_log_warn("shard %u: WAL segments %llu..%llu are MISSING (the MANIFEST records "
                            "them as written): keeping what is there, their records are lost",
                            s, (unsigned long long)res->missing_from,
                            (unsigned long long)res->missing_to);
            if (res->cut_bytes || res->stopped) kv_log_warn("shard %u: %s", s, res->msg);
            if (res->tx_skipped)
                kv_log_warn("shard %u: dropped %llu part(s) (%llu records) of transactions "
                            "whose other parts are not all in the log",
                            s, (unsigned long long)res->tx_skipped,
                            (unsigned long long)res->tx_skipped_records);
            p->sh[s].lossy = res->stopped || res->missing_to;
            /* where the new segment starts, for persist_attach */
            atomic_store(&p->sh[s].log_bytes, res->log_bytes);
            p->sh[s].next_seq = res->next_seq;
            p->sh[s].prev_end = res->prev_end;
        }
        pthread_mutex_unlock(&j->lock);
        free(res);
    }
    return NULL;
}

/* Runs job j (every shard, nthreads at a time). */
static void recover_run(recover_job *j, unsigned nthreads)
{
    pthread_t *th = kv_xcalloc(nthreads, sizeof *th);
    unsigned started = 0;
    for (unsigned i = 1; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, recover_thread, j) == 0) started++;
    recover_thread(j); /* this thread works too */
    for (unsigned i = 1; i <= started; i++) pthread_join(th[i], NULL);
    free(th);
}

int persist_recover(persist_t *p, shard_t *shards, unsigned nthreads, persist_recovery *out,
                    char *err, size_t errlen)
{
    if (nthreads < 1) nthreads = 1;
    if (nthreads > p->nshards) nthreads = p->nshards;
    /* Pre-pass: which transactions over several shards have every part in
     * the logs (or compacted); the replay applies only those. */
    int64_t t0 = kv_mono_us();
    txlog_free(p->tx);
    p->tx = txlog_new(p->nshards);
    if (p->tx == NULL) {
        snprintf(err, errlen, "recovery: out of memory");
        return KV_ENOMEM;
    }
    recover_job pre = {.p = p, .shards = shards, .scan = 1};
    atomic_init(&pre.next, 0);
    atomic_init(&pre.failed, 0);
    pthread_mutex_init(&pre.lock, NULL);
    recover_run(&pre, nthreads);
    pthread_mutex_destroy(&pre.lock);
    if (atomic_load(&pre.failed)) {
        snprintf(err, errlen, "%s", pre.err);
        return pre.rc ? pre.rc : KV_EIO;
    }
    if (txlog_decide(p->tx, &p->tx_dropped) != 0) {
        snprintf(err, errlen, "recovery: out of memory");
        return KV_ENOMEM;
    }
    atomic_store(&p->txid_next, txlog_next_id(p->tx));
    if (p->tx_dropped)
        kv_log_warn("recovery: dropped %llu transaction(s) over several shards whose parts were "
                    "not all written before the crash (none of their changes is applied)",
                    (unsigned long long)p->tx_dropped);
    recover_job j = {.p = p, .shards = shards};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.lock, NULL);
    recover_run(&j, nthreads);
    pthread_mutex_destroy(&j.lock);
    j.total.elapsed_us = kv_mono_us() - t0;
    *out = j.total;
    if (atomic_load(&j.failed)) {
        snprintf(err, errlen, "%s", j.err);
        return j.rc ? j.rc : KV_EIO;
    }
    return 0;
}
