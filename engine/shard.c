/* shard.c - one shard's keyspace: lookups with lazy expiry, writes that keep
 * the counters exact, and the persistence hooks. */
#include "engine/shard.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "engine/cmd.h"
#include "engine/block.h"
#include "engine/kv.h"
#include "engine/lobj.h"
#include "engine/sobj.h"
#include "engine/zobj.h"
#include "engine/watch.h"

void shard_init(shard_t *s, uint32_t id, const kv_hash_secret *secret)
{
    memset(s, 0, sizeof *s);
    ht_init(&s->table);
    expire_idx_init(&s->expires);
    s->id = id;
    s->secret = secret;
    s->now_ms = kv_time_ms();
    s->rng =
        0x9e3779b97f4a7c15ull ^ ((uint64_t)id * 0xbf58476d1ce4e5b9ull) ^ (uint64_t)kv_mono_us();
    if (s->rng == 0) s->rng = 1;
    s->max_string = 512ll << 20; /* Redis's default proto-max-bulk-len */
    s->ndbs = 16;                /* Redis's default databases */
}

void shard_destroy(shard_t *s)
{
    if (s == NULL) return;
    ht_destroy(&s->table);
    expire_idx_destroy(&s->expires);
    evict_pool_free(s);
    watch_free(s);
    blk_reg_free(s->blk);
    s->blk = NULL;
    free(s->dbs);
    s->dbs = NULL;
    s->volatile_keys = 0;
    s->entry_bytes = 0;
}

size_t shard_mem(const shard_t *s)
{
    return s->entry_bytes + ht_mem(&s->table) + expire_idx_mem(&s->expires) + evict_pool_mem(s);
}

void shard_call(shard_t *s, void (*fn)(shard_t *, const struct cmd_call *),
                const struct cmd_call *c)
{
    s->stats.commands++;
    const struct cmd_call *outer = s->call; /* a script's command on its own shard */
    s->call = c;
    fn(s, c);
    s->call = outer;
}

void shard_figures(const shard_t *s, int64_t *v)
{
    v[CMD_INFO_KEYS] = (int64_t)ht_count(&s->table);
    v[CMD_INFO_EXPIRES] = (int64_t)s->volatile_keys;
    v[CMD_INFO_MEMORY] = (int64_t)shard_mem(s);
    v[CMD_INFO_HITS] = (int64_t)s->stats.hits;
    v[CMD_INFO_MISSES] = (int64_t)s->stats.misses;
    v[CMD_INFO_EXPIRED] = (int64_t)s->stats.expired;
    v[CMD_INFO_COMMANDS] = (int64_t)s->stats.commands;
    v[CMD_INFO_EVICTED] = (int64_t)s->stats.evicted;
    v[CMD_INFO_EXPIRE_STALE] = (int64_t)shard_expire_stale_bp(s);
    v[CMD_INFO_EXPIRE_CAPPED] = (int64_t)s->expire_stats.cap_reached;
    v[CMD_INFO_EXPIRE_CYCLE_US] = (int64_t)(s->expire_stats.cycle_ns / 1000);
    v[CMD_INFO_TTL_MS] = 0;
}

uint32_t shard_hash(const shard_t *s, const char *key, size_t klen)
{
    const cmd_call *c = s->call;
    if (c != NULL && c->has_hash && key == c->argv[1].p && klen == c->argv[1].len)
        return c->key_hash;
    return (uint32_t)kv_hash(s->secret, key, klen);
}

/* The counts of e's database (not 0) as e enters or leaves. */
static void shard_account_db(shard_t *s, const kv_entry *e, int ttl, int sign)
{
    if (s->dbs == NULL) s->dbs = kv_xcalloc(KV_MAX_DBS, sizeof *s->dbs);
    shard_db_count *d = &s->dbs[entry_db(e)];
    d->keys += (size_t)(ptrdiff_t)sign;
    d->volatile_keys += (size_t)(ptrdiff_t)(sign * ttl);
}

size_t shard_db_keys(const shard_t *s, unsigned db)
{
    if (db != 0) return s->dbs ? s->dbs[db].keys : 0;
    size_t others = 0;
    for (unsigned i = 1; s->dbs && i < KV_MAX_DBS; i++) others += s->dbs[i].keys;
    return ht_count(&s->table) - others;
}

size_t shard_db_volatile(const shard_t *s, unsigned db)
{
    if (db != 0) return s->dbs ? s->dbs[db].volatile_keys : 0;
    size_t others = 0;
    for (unsigned i = 1; s->dbs && i < KV_MAX_DBS; i++) others += s->dbs[i].volatile_keys;
    return s->volatile_keys - others;
}

/* Tells the log that the next record is about database db (see
 * shard_log_ops.db); nothing for database 0 unless always. */
static void shard_log_db(shard_t *s, unsigned db, int always)
{
    if ((db != 0 || always) && s->log != NULL && s->log->db != NULL)
        s->log->db(s->log_ctx, s->id, db);
}

/* Counters for an entry entering (sign 1) or leaving (sign -1) the shard. */
static void shard_account(shard_t *s, const kv_entry *e, int sign)
{
    size_t mem;
    int ttl = (e->flags & KV_ENTRY_TTL) != 0;
    if (kv_type_is_obj(e->type)) {
        /* an object's memory can move on reads: uncharge what was charged */
        kv_entry *m = (kv_entry *)(uintptr_t)e;
        if (sign > 0) entry_obj_set_charged(m, entry_mem(e));
        mem = entry_obj_charged(m);
    } else {
        mem = entry_mem(e);
    }
    if (e->flags & KV_ENTRY_DB) shard_account_db(s, e, ttl, sign);
    if (sign > 0) {
        s->entry_bytes += mem;
        s->volatile_keys += (size_t)ttl;
    } else {
        assert(s->entry_bytes >= mem && s->volatile_keys >= (size_t)ttl);
        s->entry_bytes -= mem;
        s->volatile_keys -= (size_t)ttl;
    }
}

/* ---- the expiry index: exact at every change (expire.h) ---------------- */

static int shard_has_ttl(const kv_entry *e)
{
    return (e->flags & KV_ENTRY_TTL) != 0;
}

/* e enters the shard: indexed if it has a TTL. */
static void shard_index_add(shard_t *s, kv_entry *e)
{
    if (shard_has_ttl(e)) expire_idx_add(&s->expires, e);
}

/* e leaves the shard (before it is freed). */
static void shard_index_del(shard_t *s, const kv_entry *e)
{
    if (shard_has_ttl(e)) expire_idx_del(&s->expires, entry_ttl_slot(e));
}

/* n replaced an entry that had a TTL or not (had) at index position pos
 * (both read before that entry was rebuilt or freed). */
static void shard_index_moved(shard_t *s, int had, uint32_t pos, kv_entry *n)
{
    int has = shard_has_ttl(n);
    if (had && has)
        expire_idx_set(&s->expires, pos, n);
    else if (had)
        expire_idx_del(&s->expires, pos);
    else if (has)
        expire_idx_add(&s->expires, n);
}

/* The index position of e, if it has a TTL (else 0). */
static uint32_t shard_index_pos(const kv_entry *e)
{
    return shard_has_ttl(e) ? entry_ttl_slot(e) : 0;
}

void shard_written(shard_t *s, const kv_entry *e)
{
    if (s->watch) watch_touch(s, entry_db(e), entry_key((kv_entry *)(uintptr_t)e), e->klen);
    if (s->log == NULL || s->log->put == NULL) return;
    shard_log_db(s, entry_db(e), 0);
    s->log->put(s->log_ctx, s->id, e);
}

/* Logs the removal of e's key (e is out of the table, not yet freed). */
static void shard_log_del(shard_t *s, kv_entry *e)
{
    if (s->watch) watch_touch(s, entry_db(e), entry_key(e), e->klen);
    if (s->log == NULL || s->log->del == NULL) return;
    shard_log_db(s, entry_db(e), 0);
    s->log->del(s->log_ctx, s->id, entry_key(e), e->klen);
}

enum { DROP_DEL, DROP_EXPIRED, DROP_EVICTED };

/* Unlinks e, fixes the counters, logs the deletion and frees e; why says
 * which counter it goes to. */
static void shard_drop(shard_t *s, kv_entry *e, int why)
{
    kv_entry *got = ht_remove_db(&s->table, e->hash, entry_db(e), entry_key(e), e->klen);
    assert(got == e);
    (void)got;
    shard_account(s, e, -1);
    shard_index_del(s, e);
    shard_log_del(s, e);
    if (why == DROP_EXPIRED) s->stats.expired++;
    if (why == DROP_EVICTED) s->stats.evicted++;
    entry_free(e);
}

void shard_remove(shard_t *s, kv_entry *e)
{
    shard_drop(s, e, DROP_DEL);
}

void shard_drop_expired(shard_t *s, kv_entry *e)
{
    shard_drop(s, e, DROP_EXPIRED);
}

void shard_drop_evicted(shard_t *s, kv_entry *e)
{
    shard_drop(s, e, DROP_EVICTED);
}

kv_entry *shard_lookup(shard_t *s, const char *key, size_t klen)
{
    kv_entry *e = ht_find_db(&s->table, shard_hash(s, key, klen), s->db, key, klen);
    if (e != NULL && shard_expired(s, e)) {
        shard_drop(s, e, DROP_EXPIRED);
        return NULL;
    }
    if (e != NULL) evict_touch(s, e);
    return e;
}

/* Logs a hash's new expiry. */
static void shard_log_expire(shard_t *s, kv_entry *e)
{
    kv_str key = {entry_key(e), e->klen};
    if (s->watch) watch_touch(s, entry_db(e), key.p, key.len);
    if (s->log == NULL || s->log->expire == NULL) return;
    shard_log_db(s, entry_db(e), 0);
    s->log->expire(s->log_ctx, s->id, &key, entry_expire(e));
}

kv_entry *shard_update(shard_t *s, kv_entry *e, const char *val, size_t vlen, int64_t expire_ms)
{
    return shard_update_own(s, e, val, vlen, expire_ms, NULL);
}

kv_entry *shard_update_own(shard_t *s, kv_entry *e, const char *val, size_t vlen, int64_t expire_ms,
                           char **own)
{
    assert(e->type == KV_TYPE_STRING || (val == entry_val(e) && vlen == e->vlen));
    int had = shard_has_ttl(e);
    uint32_t pos = shard_index_pos(e);
    shard_account(s, e, -1);
    kv_entry *n = entry_rebuild_own(e, val, vlen, expire_ms, own);
    ht_relink(&s->table, e, n);
    shard_account(s, n, 1);
    shard_index_moved(s, had, pos, n);
    if (kv_type_is_obj(n->type))
        shard_log_expire(s, n); /* only the expiry of an object can change here */
    else
        shard_written(s, n);
    return n;
}

kv_entry *shard_put(shard_t *s, const char *key, size_t klen, const char *val, size_t vlen,
                    int64_t expire_ms)
{
    return shard_put_own(s, key, klen, val, vlen, expire_ms, NULL);
}

kv_entry *shard_put_own(shard_t *s, const char *key, size_t klen, const char *val, size_t vlen,
                        int64_t expire_ms, char **own)
{
    uint32_t h = shard_hash(s, key, klen);
    kv_entry *e = ht_find_db(&s->table, h, s->db, key, klen);
    if (e != NULL && e->type != KV_TYPE_STRING) {
        /* a string replaces another type: the PUT logged below says so */
        ht_remove_db(&s->table, h, s->db, key, klen);
        shard_account(s, e, -1);
        shard_index_del(s, e);
        entry_free(e);
        e = NULL;
    }
    if (e != NULL) {
        evict_touch(s, e);
        return shard_update_own(s, e, val, vlen, expire_ms, own);
    }
    e = entry_new_own(h, s->db, key, klen, val, vlen, expire_ms, own);
    evict_touch_new(s, e);
    ht_insert(&s->table, e);
    shard_account(s, e, 1);
    shard_index_add(s, e);
    shard_written(s, e);
    return e;
}

static kv_entry *resize_val(shard_t *s, kv_entry *e, size_t vlen, int append)
{
    int had = shard_has_ttl(e);
    uint32_t pos = shard_index_pos(e);
    shard_account(s, e, -1);
    kv_entry *n = append ? entry_append_val(e, vlen) : entry_resize_val(e, vlen);
    ht_relink(&s->table, e, n);
    shard_account(s, n, 1);
    shard_index_moved(s, had, pos, n);
    return n;
}

kv_entry *shard_resize_val(shard_t *s, kv_entry *e, size_t vlen)
{
    return resize_val(s, e, vlen, 0);
}

kv_entry *shard_append_val(shard_t *s, kv_entry *e, size_t vlen)
{
    return resize_val(s, e, vlen, 1);
}

kv_entry *shard_add_zeroed(shard_t *s, const char *key, size_t klen, size_t vlen)
{
    kv_entry *e = entry_new_db(shard_hash(s, key, klen), s->db, key, klen, NULL, 0, -1);
    e = entry_resize_val(e, vlen);
    evict_touch_new(s, e);
    ht_insert(&s->table, e);
    shard_account(s, e, 1);
    return e;
}

int shard_del(shard_t *s, const char *key, size_t klen)
{
    kv_entry *e = shard_lookup(s, key, klen);
    if (e == NULL) return 0;
    shard_drop(s, e, DROP_DEL);
    return 1;
}

void shard_clear(shard_t *s)
{
    if (s->watch) watch_touch_all(s, -1);
    ht_destroy(&s->table);
    ht_init(&s->table);
    expire_idx_reset(&s->expires);
    s->volatile_keys = 0;
    s->entry_bytes = 0;
    if (s->dbs) memset(s->dbs, 0, KV_MAX_DBS * sizeof *s->dbs);
    if (s->log != NULL && s->log->clear != NULL) s->log->clear(s->log_ctx, s->id);
}

typedef struct clear_db_walk {
    shard_t *s;
    unsigned db;
} clear_db_walk;

static void clear_db_visit(void *arg, kv_entry *e)
{
    clear_db_walk *w = arg;
    if (entry_db(e) != w->db) return;
    kv_entry *got = ht_remove_db(&w->s->table, e->hash, w->db, entry_key(e), e->klen);
    assert(got == e);
    (void)got;
    shard_account(w->s, e, -1);
    shard_index_del(w->s, e);
    entry_free(e); /* one CLEAR record for them all, below */
}

void shard_clear_db(shard_t *s, unsigned db)
{
    if (shard_db_keys(s, db) == ht_count(&s->table)) {
        /* nothing of another database here: as FLUSHALL, but logged as
         * this database's clear */
        if (s->watch) watch_touch_all(s, (int)db);
        ht_destroy(&s->table);
        ht_init(&s->table);
        expire_idx_reset(&s->expires);
        s->volatile_keys = 0;
        s->entry_bytes = 0;
        if (s->dbs) memset(s->dbs, 0, KV_MAX_DBS * sizeof *s->dbs);
    } else {
        if (s->watch) watch_touch_all(s, (int)db);
        clear_db_walk w = {s, db};
        ht_foreach(&s->table, clear_db_visit, &w);
    }
    if (s->log == NULL || s->log->clear == NULL) return;
    shard_log_db(s, db, 1);
    s->log->clear(s->log_ctx, s->id);
}

/* ---- hashes ------------------------------------------------------------------ */

/* A new hash entry (database 0, not in the table) moved to database db. */
static kv_entry *shard_entry_to_db(kv_entry *e, unsigned db)
{
    if (db == 0) return e;
    kv_entry *n = entry_new_db(e->hash, db, entry_key(e), e->klen, entry_val(e), e->vlen, -1);
    n->type = e->type;
    entry_free_shell(e); /* the hobj pointer moved to n */
    return n;
}

kv_entry *shard_hash_add(shard_t *s, const char *key, size_t klen)
{
    kv_entry *e = entry_new_hash(shard_hash(s, key, klen), key, klen, hobj_new(s->secret));
    e = shard_entry_to_db(e, s->db);
    evict_touch_new(s, e);
    ht_insert(&s->table, e);
    shard_account(s, e, 1);
    return e;
}

kv_entry *shard_hash_put(shard_t *s, const char *key, size_t klen, hobj_t *h, int64_t expire_ms)
{
    kv_entry *e = entry_new_hash(shard_hash(s, key, klen), key, klen, h);
    e = shard_entry_to_db(e, s->db);
    if (expire_ms >= 0) {
        kv_entry *n = entry_rebuild(e, entry_val(e), e->vlen, expire_ms);
        e = n;
    }
    evict_touch_new(s, e);
    ht_insert(&s->table, e);
    shard_account(s, e, 1);
    shard_index_add(s, e);
    shard_written(s, e);
    return e;
}

int shard_hash_set(shard_t *s, kv_entry *e, const kv_str *field, const kv_str *val)
{
    kv_entry *fe;
    return shard_hash_set_own(s, e, field, val, NULL, &fe);
}

int shard_hash_set_own(shard_t *s, kv_entry *e, const kv_str *field, const kv_str *val, char **own,
                       kv_entry **fe)
{
    assert(e->type == KV_TYPE_HASH);
    shard_account(s, e, -1);
    int added = hobj_set_own(entry_hobj(e), field->p, field->len, val->p, val->len, own, fe);
    shard_account(s, e, 1);
    kv_str key = {entry_key(e), e->klen};
    if (s->watch) watch_touch(s, entry_db(e), key.p, key.len);
    if (s->log != NULL && s->log->hset != NULL) {
        shard_log_db(s, entry_db(e), 0);
        s->log->hset(s->log_ctx, s->id, &key, field, val);
    }
    return added;
}

int shard_hash_del(shard_t *s, kv_entry *e, const kv_str *field, int *gone)
{
    assert(e->type == KV_TYPE_HASH);
    hobj_t *h = entry_hobj(e);
    shard_account(s, e, -1);
    int removed = hobj_del(h, field->p, field->len);
    shard_account(s, e, 1);
    if (removed && s->log != NULL && s->log->hdel != NULL) {
        kv_str key = {entry_key(e), e->klen};
        shard_log_db(s, entry_db(e), 0);
        s->log->hdel(s->log_ctx, s->id, &key, field);
    }
    *gone = 0;
    if (hobj_len(h) == 0) {
        /* the HDEL record removes the key on replay: no DEL record */
        kv_entry *got = ht_remove_db(&s->table, e->hash, entry_db(e), entry_key(e), e->klen);
        assert(got == e);
        (void)got;
        shard_account(s, e, -1);
        shard_index_del(s, e);
        if (s->watch) watch_touch(s, entry_db(e), entry_key(e), e->klen);
        entry_free(e);
        *gone = 1;
    } else if (removed && s->watch) {
        watch_touch(s, entry_db(e), entry_key(e), e->klen);
    }
    return removed;
}

kv_entry *shard_move(shard_t *s, kv_entry *e, const char *dst, size_t dlen)
{
    return shard_move_db(s, e, s->db, dst, dlen);
}

kv_entry *shard_move_db(shard_t *s, kv_entry *e, unsigned db, const char *dst, size_t dlen)
{
    kv_entry *n = entry_new_db(shard_hash(s, dst, dlen), db, dst, dlen, entry_val(e), e->vlen,
                               entry_expire(e));
    n->type = e->type;
    n->lru = e->lru; /* the value moves with its access history, as in Redis */
    kv_entry *got = ht_remove_db(&s->table, e->hash, entry_db(e), entry_key(e), e->klen);
    assert(got == e);
    (void)got;
    shard_account(s, e, -1);
    int had = shard_has_ttl(e);
    uint32_t pos = shard_index_pos(e);
    shard_log_del(s, e);
    entry_free_shell(e); /* a hash's hobj now belongs to n */
    ht_insert(&s->table, n);
    shard_account(s, n, 1);
    shard_index_moved(s, had, pos, n); /* n takes e's place in the index */
    shard_written(s, n);
    return n;
}

/* ---- lists and sets ------------------------------------------------------------ */

kv_entry *shard_obj_add(shard_t *s, const char *key, size_t klen, unsigned type)
{
    assert(type == KV_TYPE_LIST || type == KV_TYPE_SET || type == KV_TYPE_ZSET);
    void *obj = type == KV_TYPE_LIST  ? (void *)lobj_new()
                : type == KV_TYPE_SET ? (void *)sobj_new(s->secret)
                                      : (void *)zobj_new(s->secret);
    kv_entry *e = entry_new_obj(shard_hash(s, key, klen), key, klen, type, obj);
    e = shard_entry_to_db(e, s->db);
    evict_touch_new(s, e);
    ht_insert(&s->table, e); /* not charged: shard_obj_end charges it */
    return e;
}

kv_entry *shard_obj_put(shard_t *s, const char *key, size_t klen, unsigned type, void *obj,
                        int64_t expire_ms)
{
    kv_entry *e = entry_new_obj(shard_hash(s, key, klen), key, klen, type, obj);
    e = shard_entry_to_db(e, s->db);
    if (expire_ms >= 0) e = entry_rebuild(e, entry_val(e), e->vlen, expire_ms);
    evict_touch_new(s, e);
    ht_insert(&s->table, e);
    shard_account(s, e, 1);
    shard_index_add(s, e);
    shard_written(s, e);
    return e;
}

void shard_obj_begin(shard_t *s, kv_entry *e)
{
    assert(e->type == KV_TYPE_LIST || e->type == KV_TYPE_SET || e->type == KV_TYPE_ZSET);
    shard_account(s, e, -1);
}

static size_t shard_obj_len(kv_entry *e)
{
    if (e->type == KV_TYPE_ZSET) return zobj_len(entry_zobj(e));
    return e->type == KV_TYPE_LIST ? lobj_len(entry_lobj(e)) : sobj_len(entry_sobj(e));
}

int shard_obj_end(shard_t *s, kv_entry *e, int changed)
{
    if (changed && e->type == KV_TYPE_LIST && shard_obj_len(e) > 0)
        lobj_set_version(entry_lobj(e), lobj_version(entry_lobj(e)) + 1);
    return shard_obj_end_delta(s, e, changed ? KV_TYPE_STRING : 0, NULL, 0);
}

int shard_obj_end_delta(shard_t *s, kv_entry *e, unsigned dtype, const char *d, size_t n)
{
    if (shard_obj_len(e) == 0) {
        kv_entry *got = ht_remove_db(&s->table, e->hash, entry_db(e), entry_key(e), e->klen);
        assert(got == e);
        (void)got;
        shard_index_del(s, e);
        shard_log_del(s, e);
        entry_free(e);
        return 1;
    }
    shard_account(s, e, 1);
    if (dtype == KV_TYPE_STRING) { /* the whole value */
        shard_written(s, e);
        return 0;
    }
    if (dtype == 0) return 0; /* unchanged */
    if (s->watch) watch_touch(s, entry_db(e), entry_key(e), e->klen);
    if (s->log == NULL || s->log->put == NULL) return 0;
    /* the change travels as a PUT record of a log-only type */
    kv_entry *rec = entry_new_db(e->hash, entry_db(e), entry_key(e), e->klen, d, n, -1);
    rec->type = (uint8_t)dtype;
    shard_log_db(s, entry_db(e), 0);
    s->log->put(s->log_ctx, s->id, rec);
    entry_free_shell(rec); /* a big delta is a shared entry: not free() */
    return 0;
}
