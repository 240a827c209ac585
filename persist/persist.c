#include "persist.h"

#include "entry.h"
#include "wal.h"

int persist_batch_commit(persist_t *p, unsigned actor_id)
{
    (void)p;
    (void)actor_id;
    return 0;
}

/* entry.h's accessors take a non-const entry; the log only reads. */
static const char *entry_key_c(const kv_entry *e)
{
    return e->data + ((e->flags & KV_ENTRY_TTL) ? sizeof(int64_t) : 0);
}

static void log_put(void *ctx, uint32_t shard, const kv_entry *e)
{
    (void)shard;
    const char *k = entry_key_c(e);
    (void)wal_append_put(ctx, e->type, k, e->klen, k + e->klen, e->vlen, entry_expire(e));
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

const shard_log_ops persist_wal_log_ops = {log_put, log_del, log_clear};
