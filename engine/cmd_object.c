/* cmd_object.c - the per-key parts of MEMORY and OBJECT: MEMORY USAGE and
 * OBJECT ENCODING/FREQ/IDLETIME/REFCOUNT, run on the shard that holds the
 * key (net/cmdtab routes them by argv[2]). The subcommands without a key
 * are answered by the network thread (net/local_mem.c).
 *
 * Neither counts a keyspace hit or miss nor touches the key's LRU/LFU
 * figure: looking at a key must not change what OBJECT IDLETIME or FREQ
 * says about it (Redis's LOOKUP_NOTOUCH). An expired key is removed, as
 * any lookup does. Owner actor thread only.
 */
#include <stdatomic.h>

#include "engine/cmd_internal.h"
#include "engine/lobj.h"
#include "engine/shard.h"
#include "engine/sobj.h"
#include "engine/zobj.h"

/* key in s->db without an access: NULL if absent or expired (then
 * removed). Valid until the next change to s. */
static kv_entry *object_peek(shard_t *s, const kv_str *key)
{
    kv_entry *e = ht_find_db(&s->table, shard_hash(s, key->p, key->len), s->db, key->p, key->len);
    if (e != NULL && shard_expired(s, e)) {
        shard_drop_expired(s, e);
        return NULL;
    }
    return e;
}

/* Bytes key e costs here: its allocation as the allocator sizes it (a
 * hash's table or packed buffer and fields included), its share of the
 * shard's bucket array, and its slot in the expiry index if it has a TTL. */
static size_t object_usage(const shard_t *s, const kv_entry *e)
{
    size_t n = ht_count(&s->table);
    size_t bucket_share = n ? (ht_mem(&s->table) + n / 2) / n : 0;
    size_t ttl_slot = (e->flags & KV_ENTRY_TTL) ? sizeof(kv_entry *) : 0;
    return entry_mem(e) + bucket_share + ttl_slot;
}

void cmd_memory_usage(shard_t *s, const cmd_call *c)
{
    /* MEMORY USAGE key [SAMPLES n]: the figure is exact, n is checked and
     * otherwise unused */
    for (int i = 3; i < c->argc; i += 2) {
        int64_t n;
        if (!cmd_is(&c->argv[i], "samples") || i + 1 >= c->argc) {
            reply_error(c->out, "ERR syntax error");
            return;
        }
        if (cmd_get_i64(c, &c->argv[i + 1], &n) != 0) return;
        if (n < 0) {
            reply_error(c->out, "ERR syntax error");
            return;
        }
    }
    kv_entry *e = object_peek(s, &c->argv[2]);
    if (e == NULL) {
        reply_nil(c->out);
        return;
    }
    reply_int(c->out, (int64_t)object_usage(s, e));
}

/* Redis's string encodings, from the value alone: "int" for what
 * string2ll accepts within 20 bytes, "embstr" up to 44 bytes, else "raw".
 * Our strings are all stored inline in the entry; the name tells a client
 * what Redis would call the value. */
static const char *object_string_encoding(kv_entry *e)
{
    int64_t v;
    if (e->vlen <= 20 && kv_parse_i64(entry_val(e), e->vlen, &v) == 0) return "int";
    return e->vlen <= 44 ? "embstr" : "raw";
}

/* The encoding name of e's value, as Redis names the equivalent form: a
 * one-buffer (packed) collection is "listpack"; the big forms are Redis's
 * "quicklist" (our chain of packed nodes), "hashtable" (hashes and sets)
 * and "skiplist" (our B+tree with a member table, in Redis's place of a
 * skip list with a dict). */
static const char *object_encoding(kv_entry *e)
{
    switch (e->type) {
    case KV_TYPE_HASH:
        return hobj_is_packed(entry_hobj(e)) ? "listpack" : "hashtable";
    case KV_TYPE_LIST:
        return lobj_is_packed(entry_lobj(e)) ? "listpack" : "quicklist";
    case KV_TYPE_SET:
        if (sobj_is_intset(entry_sobj(e))) return "intset";
        return sobj_is_packed(entry_sobj(e)) ? "listpack" : "hashtable";
    case KV_TYPE_ZSET:
        return zobj_is_packed(entry_zobj(e)) ? "listpack" : "skiplist";
    default:
        return object_string_encoding(e);
    }
}

static int object_lfu(const shard_t *s)
{
    int p = s->limits ? atomic_load_explicit(&s->limits->policy, memory_order_relaxed)
                      : EVICT_NOEVICTION;
    return p == EVICT_ALLKEYS_LFU || p == EVICT_VOLATILE_LFU;
}

void cmd_object(shard_t *s, const cmd_call *c)
{
    const kv_str *sub = &c->argv[1];
    if (c->argc != 3) {
        char name[16] = "";
        for (size_t i = 0; i < sub->len && i + 1 < sizeof name; i++) /* a known subcommand */
            name[i] = (char)(sub->p[i] | 0x20);
        reply_errorf(c->out, "ERR wrong number of arguments for 'object|%s' command", name);
        return;
    }
    kv_entry *e = object_peek(s, &c->argv[2]);
    if (e == NULL) {
        reply_nil(c->out);
        return;
    }
    if (cmd_is(sub, "encoding")) {
        reply_bulk_cstr(c->out, object_encoding(e));
    } else if (cmd_is(sub, "refcount")) {
        reply_int(c->out, 1); /* values are never shared */
    } else if (cmd_is(sub, "idletime")) {
        if (object_lfu(s)) {
            reply_error(c->out, "ERR An LFU maxmemory policy is selected, idle time not tracked. "
                                "Please note that when switching between policies at runtime "
                                "LRU and LFU data will take some time to adjust.");
            return;
        }
        reply_int(c->out, evict_lru_idle(evict_lru_clock(s->now_ms), e->lru));
    } else if (cmd_is(sub, "freq")) {
        if (!object_lfu(s)) {
            reply_error(c->out, "ERR An LFU maxmemory policy is not selected, access frequency "
                                "not tracked. Please note that when switching between policies "
                                "at runtime LRU and LFU data will take some time to adjust.");
            return;
        }
        reply_int(c->out, evict_lfu_decayed(e->lru, s->now_ms));
    } else {
        reply_errorf(c->out, "ERR unknown subcommand '%.*s'. Try OBJECT HELP.",
                     (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    }
}
