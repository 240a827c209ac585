/* shard.c - one shard's keyspace: lookups with lazy expiry, writes that keep
 * the counters exact, and the persistence hooks. */
#include "shard.h"

#include <assert.h>
#include <string.h>

#include "kv.h"

void shard_init(shard_t *s, uint32_t id, const kv_hash_secret *secret)
{
    memset(s, 0, sizeof *s);
    ht_init(&s->table);
    s->id = id;
    s->secret = secret;
    s->now_ms = kv_time_ms();
    s->rng =
        0x9e3779b97f4a7c15ull ^ ((uint64_t)id * 0xbf58476d1ce4e5b9ull) ^ (uint64_t)kv_mono_us();
    if (s->rng == 0) s->rng = 1;
}

void shard_destroy(shard_t *s)
{
    if (s == NULL) return;
    ht_destroy(&s->table);
    s->volatile_keys = 0;
    s->entry_bytes = 0;
}

size_t shard_mem(const shard_t *s)
{
    return s->entry_bytes + ht_mem(&s->table);
}

uint32_t shard_hash(const shard_t *s, const char *key, size_t klen)
{
    return (uint32_t)kv_hash(s->secret, key, klen);
}

/* Counters for an entry entering (sign 1) or leaving (sign -1) the shard. */
static void shard_account(shard_t *s, const kv_entry *e, int sign)
{
    size_t mem = entry_mem(e);
    int ttl = (e->flags & KV_ENTRY_TTL) != 0;
    if (sign > 0) {
        s->entry_bytes += mem;
        s->volatile_keys += (size_t)ttl;
    } else {
        assert(s->entry_bytes >= mem && s->volatile_keys >= (size_t)ttl);
        s->entry_bytes -= mem;
        s->volatile_keys -= (size_t)ttl;
    }
}

void shard_written(shard_t *s, const kv_entry *e)
{
    if (s->log != NULL && s->log->put != NULL) s->log->put(s->log_ctx, s->id, e);
}

/* Unlinks e, fixes the counters, logs the deletion and frees e; expired:
 * count it in stats.expired. */
static void shard_drop(shard_t *s, kv_entry *e, int expired)
{
    kv_entry *got = ht_remove(&s->table, e->hash, entry_key(e), e->klen);
    assert(got == e);
    (void)got;
    shard_account(s, e, -1);
    if (s->log != NULL && s->log->del != NULL)
        s->log->del(s->log_ctx, s->id, entry_key(e), e->klen);
    if (expired) s->stats.expired++;
    entry_free(e);
}

void shard_remove(shard_t *s, kv_entry *e)
{
    shard_drop(s, e, 0);
}

void shard_drop_expired(shard_t *s, kv_entry *e)
{
    shard_drop(s, e, 1);
}

kv_entry *shard_lookup(shard_t *s, const char *key, size_t klen)
{
    kv_entry *e = ht_find(&s->table, shard_hash(s, key, klen), key, klen);
    if (e != NULL && shard_expired(s, e)) {
        shard_drop(s, e, 1);
        return NULL;
    }
    return e;
}

kv_entry *shard_update(shard_t *s, kv_entry *e, const char *val, size_t vlen, int64_t expire_ms)
{
    shard_account(s, e, -1);
    kv_entry *n = entry_rebuild(e, val, vlen, expire_ms);
    ht_relink(&s->table, e, n);
    shard_account(s, n, 1);
    shard_written(s, n);
    return n;
}

kv_entry *shard_put(shard_t *s, const char *key, size_t klen, const char *val, size_t vlen,
                    int64_t expire_ms)
{
    uint32_t h = shard_hash(s, key, klen);
    kv_entry *e = ht_find(&s->table, h, key, klen);
    if (e != NULL) {
        e->type = KV_TYPE_STRING;
        return shard_update(s, e, val, vlen, expire_ms);
    }
    e = entry_new(h, key, klen, val, vlen, expire_ms);
    ht_insert(&s->table, e);
    shard_account(s, e, 1);
    shard_written(s, e);
    return e;
}

kv_entry *shard_resize_val(shard_t *s, kv_entry *e, size_t vlen)
{
    shard_account(s, e, -1);
    kv_entry *n = entry_resize_val(e, vlen);
    ht_relink(&s->table, e, n);
    shard_account(s, n, 1);
    return n;
}

kv_entry *shard_add_zeroed(shard_t *s, const char *key, size_t klen, size_t vlen)
{
    kv_entry *e = entry_new(shard_hash(s, key, klen), key, klen, NULL, 0, -1);
    e = entry_resize_val(e, vlen);
    ht_insert(&s->table, e);
    shard_account(s, e, 1);
    return e;
}

int shard_del(shard_t *s, const char *key, size_t klen)
{
    kv_entry *e = shard_lookup(s, key, klen);
    if (e == NULL) return 0;
    shard_drop(s, e, 0);
    return 1;
}

void shard_clear(shard_t *s)
{
    ht_destroy(&s->table);
    ht_init(&s->table);
    s->volatile_keys = 0;
    s->entry_bytes = 0;
    s->expire_cursor = 0;
    if (s->log != NULL && s->log->clear != NULL) s->log->clear(s->log_ctx, s->id);
}
