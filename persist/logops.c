/* logops.c - the shard_log_ops onto a wal_t (persist_wal_log_ops) and
 * the writing of a whole hash as records (persist__write_hash, also used
 * by compaction's snapshot).
 *
 * Threads: the shard's owner actor, like every shard_log_ops call; a
 * record goes to the wal's pending batch (memory), written by group
 * commit. persist__write_hash: whichever thread owns the entry and the
 * sinks (the owner actor). */
#include <stdint.h>

#include "engine/entry.h"
#include "engine/hobj.h"
#include "persist/persist.h"
#include "persist/persist_internal.h"
#include "persist/wal.h"

/* ---- whole hashes as records --------------------------------------------- */

/* A hash's PUT record holds at most this much of its encoding; the other
 * fields follow as HSET records, so no record nears WAL_REC_MAX_PAYLOAD. */
#define PERSIST_HASH_CHUNK (64u << 20)

typedef struct hash_writer {
    kvbuf body;    /* pairs of the PUT record */
    uint64_t n;    /* pairs in body */
    uint64_t seen; /* fields visited by the current pass */
    int overflow;  /* a field did not fit in body */
    kv_str key;
    persist_hset_fn *hset;
    void *ctx;
    int rc;
} hash_writer;

static void hash_chunk_visit(void *arg, const kv_str *f, const kv_str *v)
{
    hash_writer *w = arg;
    if (w->overflow) return;
    if (w->n > 0 && w->body.len + f->len + v->len + 20 > PERSIST_HASH_CHUNK) {
        w->overflow = 1;
        return;
    }
    hobj_encode_pair(&w->body, f, v);
    w->n++;
}

static void hash_rest_visit(void *arg, const kv_str *f, const kv_str *v)
{
    hash_writer *w = arg;
    if (w->seen++ < w->n || w->rc != 0) return;
    w->rc = w->hset(w->ctx, &w->key, f, v);
}

/* Writes hash e whole: PUT (with the expiry) then HSETs. Returns 0 or the
 * first sink error. */
int persist__write_hash(const kv_entry *e, persist_put_fn *put, persist_hset_fn *hset, void *ctx)
{
    kv_entry *m = (kv_entry *)(uintptr_t)e; /* only read */
    hobj_t *h = entry_hobj(m);
    hash_writer w = {.key = {entry_key(m), e->klen}, .hset = hset, .ctx = ctx};
    kvbuf_init(&w.body);
    hobj_foreach(h, hash_chunk_visit, &w);
    kvbuf val;
    kvbuf_init(&val);
    hobj_encode_varint(&val, w.n);
    kvbuf_append(&val, w.body.data, w.body.len);
    kvbuf_destroy(&w.body);
    kv_str v = {val.data, val.len};
    w.rc = put(ctx, e, &v);
    kvbuf_destroy(&val);
    if (w.rc == 0 && w.overflow) hobj_foreach(h, hash_rest_visit, &w);
    return w.rc;
}

/* ---- shard_log_ops onto a wal_t ----------------------------------------- */

/* entry.h's accessors take a non-const entry; the log only reads. */
static const char *entry_key_c(const kv_entry *e)
{
    return e->data + entry_key_off(e->flags);
}

static int log_hash_put(void *ctx, const kv_entry *e, const kv_str *val)
{
    return wal_append_put(ctx, e->type, entry_key_c(e), e->klen, val->p, val->len, entry_expire(e));
}

static int log_hash_hset(void *ctx, const kv_str *key, const kv_str *f, const kv_str *v)
{
    return wal_append_hset(ctx, key, f, v);
}

/* A hash of another database than 0: each HSET after the PUT (which
 * shard.c's db call prefixed) needs its own DB record. */
typedef struct log_db_ctx {
    wal_t *w;
    unsigned db;
} log_db_ctx;

static int log_hash_put_db(void *ctx, const kv_entry *e, const kv_str *val)
{
    return log_hash_put(((log_db_ctx *)ctx)->w, e, val);
}

static int log_hash_hset_db(void *ctx, const kv_str *key, const kv_str *f, const kv_str *v)
{
    log_db_ctx *c = ctx;
    int rc = wal_append_db(c->w, c->db);
    return rc ? rc : wal_append_hset(c->w, key, f, v);
}

static void log_put(void *ctx, uint32_t shard, const kv_entry *e)
{
    (void)shard;
    if (e->type == KV_TYPE_HASH && entry_db(e) != 0) {
        log_db_ctx c = {ctx, entry_db(e)};
        (void)persist__write_hash(e, log_hash_put_db, log_hash_hset_db, &c);
        return;
    }
    if (e->type == KV_TYPE_HASH) {
        (void)persist__write_hash(e, log_hash_put, log_hash_hset, ctx);
        return;
    }
    const char *k = entry_key_c(e);
    if (kv_type_is_obj(
            e->type)) { /* a list or set: its whole encoding (the db record came first) */
        kvbuf enc;
        kvbuf_init(&enc);
        entry_obj_encode((kv_entry *)(uintptr_t)e, &enc);
        (void)wal_append_put(ctx, e->type, k, e->klen, enc.data, enc.len, entry_expire(e));
        kvbuf_destroy(&enc);
        return;
    }
    (void)wal_append_put(ctx, e->type, k, e->klen, entry_val((kv_entry *)(uintptr_t)e), e->vlen,
                         entry_expire(e));
}

static void log_hset(void *ctx, uint32_t shard, const kv_str *key, const kv_str *field,
                     const kv_str *val)
{
    (void)shard;
    (void)wal_append_hset(ctx, key, field, val);
}

static void log_hdel(void *ctx, uint32_t shard, const kv_str *key, const kv_str *field)
{
    (void)shard;
    (void)wal_append_hdel(ctx, key, field);
}

static void log_expire(void *ctx, uint32_t shard, const kv_str *key, int64_t expire_ms)
{
    (void)shard;
    (void)wal_append_expire(ctx, key, expire_ms);
}

static void log_del(void *ctx, uint32_t shard, const char *key, size_t klen)
{
    (void)shard;
    (void)wal_append_del(ctx, key, klen);
}

static void log_clear(void *ctx, uint32_t shard)
{
    (void)shard;
    (void)wal_append_clear(ctx);
}

static void log_db(void *ctx, uint32_t shard, unsigned db)
{
    (void)shard;
    (void)wal_append_db(ctx, db);
}

const shard_log_ops persist_wal_log_ops = {log_put,  log_del,    log_clear, log_hset,
                                           log_hdel, log_expire, log_db};
