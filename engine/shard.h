/* shard.h - one shard of the keyspace: its table, expiry state, counters
 * and the change hook through which persistence logs every change.
 *
 * Every function here is called only by the actor thread that owns the
 * shard (see actors/actor.h); nothing is locked.
 */
#ifndef MEMKV_SHARD_H
#define MEMKV_SHARD_H

#include <stdint.h>

#include "engine/evict.h"
#include "engine/expire.h"
#include "engine/hash.h"
#include "engine/hobj.h"
#include "engine/kv.h"
#include "engine/table.h"

/* Counters of one shard; read by the owner, gathered by INFO/STATS through
 * a shard request (never read from another thread). */
typedef struct shard_stats {
    uint64_t hits;     /* reads that found a live key */
    uint64_t misses;   /* reads that found nothing */
    uint64_t expired;  /* keys removed because their TTL passed */
    uint64_t commands; /* commands run on this shard: counted by shard_call only */
    uint64_t evicted;  /* keys removed by eviction (--maxmemory) */
} shard_stats;

/* Persistence seam: persist/ sets these (persist_wal_log_ops); NULL means no log.
 * put: the entry's full new state (value and absolute expiry) after a write
 *      (a hash: every field);
 * del: key removed (also by expiry); clear: the shard was emptied;
 * hset: a hash field's new value (a key that is absent or not a hash
 *      becomes a new hash without expiry first);
 * hdel: a hash field removed (the key goes when its last field does);
 * expire: only the expiry of a hash changed (expire_ms < 0: none);
 * db: the next call (put, del, clear, hset, hdel, expire) is about database
 *      db, not database 0: made before every change to a key of another
 *      database, and before a clear that empties one database only (then
 *      even for db 0); a clear without it empties every database.
 * Called by the owner actor during the command that made the change. */
typedef struct shard_log_ops {
    void (*put)(void *ctx, uint32_t shard, const kv_entry *e);
    void (*del)(void *ctx, uint32_t shard, const char *key, size_t klen);
    void (*clear)(void *ctx, uint32_t shard);
    void (*hset)(void *ctx, uint32_t shard, const kv_str *key, const kv_str *field,
                 const kv_str *val);
    void (*hdel)(void *ctx, uint32_t shard, const kv_str *key, const kv_str *field);
    void (*expire)(void *ctx, uint32_t shard, const kv_str *key, int64_t expire_ms);
    void (*db)(void *ctx, uint32_t shard, unsigned db);
} shard_log_ops;

/* Counts of one database other than 0 in a shard. */
typedef struct shard_db_count {
    size_t keys, volatile_keys;
} shard_db_count;

struct watch_set;

typedef struct shard {
    ht_t table;                   /* owner: actor */
    uint32_t id;                  /* ro */
    const kv_hash_secret *secret; /* ro, shared by all shards */
    int64_t now_ms;               /* owner: actor, set before each batch */
    expire_idx expires;           /* owner: actor: the keys that have a TTL (expire.h) */
    expire_cycle expire;          /* owner: actor: active expiry's current cycle */
    expire_stats expire_stats;    /* owner: actor: its figures */
    uint64_t expire_stats_gen;    /* owner: actor: the CONFIG RESETSTAT generation
                                   * expire_stats counts from (actors/actor.c) */
    size_t volatile_keys;         /* keys that have a TTL (= expires.n) */
    size_t entry_bytes;           /* bytes held by entries (entry_mem) */
    uint64_t rng;                 /* private: xorshift state */
    shard_stats stats;
    const evict_limits *limits; /* ro after start (atomic contents); NULL = no limit */
    int64_t max_string;         /* ro after start: proto-max-bulk-len, the longest string
                                 * APPEND and SETRANGE may make (shard_init: 512 MB) */
    struct evict_pool *pool;    /* private: eviction candidates (evict.c) */
    const shard_log_ops *log;   /* ro after start; NULL = no persistence */
    void *log_ctx;
    /* owner: actor, set by shard_call only, for the length of one handler:
     * the call running, whose key_hash shard_hash answers for argv[1] */
    const struct cmd_call *call;
    /* owner: actor, around one command: the database (SELECT) its keys are
     * in; 0 between commands */
    uint8_t db;
    uint16_t ndbs;           /* ro after start: --databases (shard_init: 16) */
    shard_db_count *dbs;     /* private: KV_MAX_DBS counts (databases 1..), NULL until used */
    struct watch_set *watch; /* private: keys clients WATCH (watch.c), NULL if none */
    struct blk_reg *blk;     /* owner: actor: blocked clients' waiters (block.h), NULL if none */
} shard_t;

void shard_init(shard_t *s, uint32_t id, const kv_hash_secret *secret);
void shard_destroy(shard_t *s);

/* Bytes this shard holds: entries, table arrays and the eviction pool. */
size_t shard_mem(const shard_t *s);

struct cmd_call;
/* Runs one command's handler fn (a cmd_fn of cmd.h) on s and counts it in
 * s->stats.commands: the one place commands are counted, as Redis's
 * call(). Every dispatch of a handler goes through it (the actor's
 * requests, their parts, commands inside scripts). While fn runs,
 * shard_hash answers c->key_hash for c->argv[1] when c->has_hash (the
 * router hashed the key already). Owner actor. */
void shard_call(shard_t *s, void (*fn)(shard_t *, const struct cmd_call *),
                const struct cmd_call *c);

/* The figures INFO, STATS and /metrics sum over the shards, into
 * v[0..CMD_INFO_NFIELDS) in the order of enum cmd_info_field (cmd.h):
 * every field but CMD_INFO_TTL_MS (a sample that cmd_info_part takes),
 * which is set to 0. cmd_info_part and the actor's publication of the
 * figures both read them here. Owner actor. */
void shard_figures(const shard_t *s, int64_t *v);

/* The error of a write refused because used memory is over --maxmemory and
 * eviction cannot make room (--maxmemory-policy noeviction, or nothing left
 * to evict): Redis's text, the same wherever the refusal happens. */
#define SHARD_OOM_ERR "OOM command not allowed when used memory > 'maxmemory'."

/* Looks key up (in database s->db, as every call below that takes a key)
 * for a command: a key whose TTL has passed is deleted (and
 * logged) and NULL returned. Counts nothing; callers count hits/misses.
 * A found key counts as accessed for LRU/LFU eviction (evict_touch).
 * The pointer is valid until the next change to the shard. */
kv_entry *shard_lookup(shard_t *s, const char *key, size_t klen);

/* Writes: each keeps volatile_keys/entry_bytes right and calls the log.
 * shard_put replaces any existing value (expire_ms < 0: no TTL). */
kv_entry *shard_put(shard_t *s, const char *key, size_t klen, const char *val, size_t vlen,
                    int64_t expire_ms);
/* Replaces e (found by shard_lookup) with a rebuilt entry; returns it. */
kv_entry *shard_update(shard_t *s, kv_entry *e, const char *val, size_t vlen, int64_t expire_ms);
/* shard_put and shard_update that may take the value's buffer instead of
 * copying it (entry_new_own: *own set to NULL when taken). */
kv_entry *shard_put_own(shard_t *s, const char *key, size_t klen, const char *val, size_t vlen,
                        int64_t expire_ms, char **own);
kv_entry *shard_update_own(shard_t *s, kv_entry *e, const char *val, size_t vlen, int64_t expire_ms,
                           char **own);
/* Removes key; returns 1 if it existed (expired keys count as absent). */
int shard_del(shard_t *s, const char *key, size_t klen);
/* The table hash of key (the low 32 bits of kv_hash). */
uint32_t shard_hash(const shard_t *s, const char *key, size_t klen);
/* Removes e (found by shard_lookup), logs the deletion and frees e. */
void shard_remove(shard_t *s, kv_entry *e);
/* Resizes the value of e (found by shard_lookup) to vlen bytes, keeping the
 * first bytes and zero-filling growth; the caller then writes the new bytes
 * and calls shard_written. Returns the entry, which may have moved. */
kv_entry *shard_resize_val(shard_t *s, kv_entry *e, size_t vlen);
/* The same when the caller writes only past the old length (APPEND: see
 * entry_append_val). */
kv_entry *shard_append_val(shard_t *s, kv_entry *e, size_t vlen);
/* Inserts key, which must be absent, with a zero-filled value of vlen
 * bytes and no TTL; as with shard_resize_val, the caller fills the value
 * and calls shard_written. */
kv_entry *shard_add_zeroed(shard_t *s, const char *key, size_t klen, size_t vlen);
/* Logs the new state of e after an in-place change. */
void shard_written(shard_t *s, const kv_entry *e);
/* True if e's TTL has passed at s->now_ms (Redis: now > expiry). */
static inline int shard_expired(const shard_t *s, const kv_entry *e)
{
    int64_t t = entry_expire(e);
    return t >= 0 && s->now_ms > t;
}
/* Removes e, whose TTL has passed, counting it in stats.expired. Safe
 * inside an ht_scan/ht_foreach callback for the entry it was given. */
void shard_drop_expired(shard_t *s, kv_entry *e);
/* Removes e for eviction (logged as a DEL), counting it in stats.evicted. */
void shard_drop_evicted(shard_t *s, kv_entry *e);
/* Removes every key, of every database. */
void shard_clear(shard_t *s);
/* Removes every key of database db (FLUSHDB). */
void shard_clear_db(shard_t *s, unsigned db);
/* Keys, and keys with a TTL, of database db in this shard. */
size_t shard_db_keys(const shard_t *s, unsigned db);
size_t shard_db_volatile(const shard_t *s, unsigned db);
/* True if e is in the database of the command being run (s->db). */
static inline int shard_in_db(const shard_t *s, const kv_entry *e)
{
    return entry_db(e) == s->db;
}

/* ---- hashes (every change keeps entry_bytes right and is logged) ---- */

/* Inserts key, which must be absent, as an empty hash without expiry; the
 * caller adds fields right away (an empty hash must not outlive the command). */
kv_entry *shard_hash_add(shard_t *s, const char *key, size_t klen);
/* Sets a field of hash e; returns 1 if the field is new. */
int shard_hash_set(shard_t *s, kv_entry *e, const kv_str *field, const kv_str *val);
/* The same with val's buffer given away (hobj_set_own: *own set to NULL
 * when the field took it); *fe is the field's entry, or NULL. */
int shard_hash_set_own(shard_t *s, kv_entry *e, const kv_str *field, const kv_str *val, char **own,
                       kv_entry **fe);
/* Removes a field of hash e; returns 1 if it was there. When the last field
 * goes, the key is removed and freed and *gone set to 1. */
int shard_hash_del(shard_t *s, kv_entry *e, const kv_str *field, int *gone);
/* Inserts key (which must be absent) holding h (owned from now on) with
 * expiry expire_ms (<0: none), and logs it whole. */
kv_entry *shard_hash_put(shard_t *s, const char *key, size_t klen, hobj_t *h, int64_t expire_ms);
/* Moves e (found by shard_lookup) to key dst, which must be absent, with
 * its value (a hash's hobj without a copy) and expiry; logs the delete and
 * the new entry. Returns the new entry; e is gone. */
kv_entry *shard_move(shard_t *s, kv_entry *e, const char *dst, size_t dlen);
/* The same with dst in database db (MOVE). */
kv_entry *shard_move_db(shard_t *s, kv_entry *e, unsigned db, const char *dst, size_t dlen);

/* ---- lists and sets (lobj.h, sobj.h) ----
 * A change brackets its object edits with shard_obj_begin/shard_obj_end,
 * which keep entry_bytes right and log the change: the key's whole new
 * value as a PUT, or (shard_obj_end_delta) a record of the change alone
 * (see docs/persistence.md). */

/* Inserts key, which must be absent, as an empty list or set (type) without
 * expiry, then runs shard_obj_begin on it: the caller adds elements and
 * calls shard_obj_end in the same command. */
kv_entry *shard_obj_add(shard_t *s, const char *key, size_t klen, unsigned type);
/* Inserts key (which must be absent) holding obj (a lobj_t or sobj_t of
 * type, owned from now on, not empty) with expiry expire_ms (<0: none), and
 * logs it whole. */
kv_entry *shard_obj_put(shard_t *s, const char *key, size_t klen, unsigned type, void *obj,
                        int64_t expire_ms);
/* Before changing the object of list/set entry e (found by shard_lookup). */
void shard_obj_begin(shard_t *s, kv_entry *e);
/* After: an empty object removes the key (logged as a DEL) and returns 1
 * (e is freed); else re-charges it, logs its value if changed, returns 0. */
int shard_obj_end(shard_t *s, kv_entry *e, int changed);
/* The same after a change that the log carries as the delta d[0..n) of
 * log-only type dtype (KV_TYPE_LIST_DELTA / KV_TYPE_SET_DELTA, see
 * cmd_list_replay and cmd_set_replay) instead of the whole value. The
 * caller sets a list's new version itself. */
int shard_obj_end_delta(shard_t *s, kv_entry *e, unsigned dtype, const char *d, size_t n);

/* Active expiry (expire.c), Redis's slow cycle over the keys with a TTL:
 * loops of 20 sampled keys, repeated while more than 10 % of a loop had
 * expired, removing (and logging) the expired ones; at most budget_us of
 * time for the whole cycle. shard_expire_begin starts a cycle at now_us
 * (the caller's clock; an unfinished previous cycle counts as cut by its
 * time cap); shard_expire_run runs it for at most about slice_us and
 * returns 1 if it has work left for another slice. Keys are judged at
 * s->now_ms, which the caller sets. */
void shard_expire_begin(shard_t *s, int64_t now_us, int64_t budget_us);
int shard_expire_run(shard_t *s, int64_t slice_us);
/* A whole cycle in one call (begin + run with budget_us); returns the
 * number of keys removed. */
size_t shard_expire_cycle(shard_t *s, int64_t budget_us);
/* The running stale share in hundredths of a percent (INFO's
 * expired_stale_perc x 100). */
uint64_t shard_expire_stale_bp(const shard_t *s);
/* Zeroes the figures of expire_stats (CONFIG RESETSTAT). */
void shard_expire_reset_stats(shard_t *s);

#endif
