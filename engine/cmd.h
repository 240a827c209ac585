/* cmd.h - command semantics against one shard.
 *
 * A handler runs one command (or the part of a multi-key command that falls
 * in this shard) on the shard and appends its RESP2 reply to c->out. Arity
 * has been checked by the caller (net/cmdtab) against the table's arity;
 * everything else (options, numbers, types) is checked here with Redis's
 * error texts. Owner actor thread only.
 *
 * Parts of multi-shard commands (marked "part") receive argv[0] = name and
 * only this shard's keys (and values, for MSET); they reply as described so
 * that actors/join.c can gather them:
 *   mget part:     one bulk-or-nil per key, no array header
 *   mset part:     +OK
 *   del/unlink/exists/touch part: :count
 *   keys part:     *n followed by n bulks
 *   dbsize part:   :count
 *   flushall part: +OK
 *   randomkey part: bulk or nil
 *   info part:     see cmd_info_part
 *   flushdb part:  +OK (the keys of the command's database, shard_t.db)
 *   scan:          argv = SCAN cursor [MATCH p] [COUNT n] [TYPE t] with the
 *                  shard-local cursor; replies *2 [$cursor, *n keys]
 *   take part:     internal: TAKE key -> *3 [$value, :pxat or -1, :type] and
 *                  the key is removed; nil if absent (cross-shard RENAME,
 *                  stage 1); a hash's value is its hobj_encode bytes
 *   put part:      internal: PUT key value pxat type -> +OK (stage 2)
 */
#ifndef MEMKV_CMD_H
#define MEMKV_CMD_H

#include "buf.h"
#include "kv.h"
#include "shard.h"

/* A reply that continues with a stored value instead of a copy of it: the
 * reply's first `at` bytes, then len bytes at p (the value of e, pinned
 * with entry_pin), then the rest of the reply. The reader drops the
 * reference with entry_unpin once the bytes are sent. */
typedef struct kv_pin {
    struct kv_entry *e; /* NULL: none */
    const char *p;
    size_t len;
    size_t at;
} kv_pin;

typedef struct cmd_call {
    int argc;
    const kv_str *argv; /* argv[0] is the command name as the client sent it */
    kvbuf *out;         /* reply appended here */
    void *env;          /* what the request's sender passed along (kv_req.env): the
                           scripting context for EVAL; NULL for plain commands */
    kv_pin *pin;        /* not NULL: GET may answer with a pinned value (a client's own
                           GET, sent as it is); NULL: the reply holds every byte */
} cmd_call;

typedef void cmd_fn(shard_t *s, const cmd_call *c);

/* strings */
cmd_fn cmd_get, cmd_set, cmd_setnx, cmd_setex, cmd_psetex, cmd_getset, cmd_getdel, cmd_getex,
    cmd_append, cmd_strlen, cmd_incr, cmd_decr, cmd_incrby, cmd_decrby, cmd_incrbyfloat,
    cmd_getrange, cmd_setrange, cmd_mget_part, cmd_mset_part;

/* keys and TTL */
cmd_fn cmd_del_part, cmd_exists_part, cmd_type, cmd_expire, cmd_pexpire, cmd_expireat,
    cmd_pexpireat, cmd_ttl, cmd_pttl, cmd_expiretime, cmd_pexpiretime, cmd_persist, cmd_keys_part,
    cmd_scan, cmd_randomkey_part, cmd_rename, cmd_renamenx, cmd_dbsize_part, cmd_flushall_part,
    cmd_flushdb_part, cmd_move, cmd_take_part, cmd_put_part;

/* WATCH / UNWATCH parts: argv = name, the client's id (decimal), then the
 * keys of this shard (database shard_t.db); reply +OK (watch.h). */
cmd_fn cmd_watch_part, cmd_unwatch_part;

/* MEMORY USAGE and OBJECT ENCODING/FREQ/IDLETIME/REFCOUNT (cmd_object.c):
 * argv = MEMORY USAGE key [SAMPLES n] / OBJECT <sub> key, the key at
 * argv[2]; nil when the key is absent. */
cmd_fn cmd_memory_usage, cmd_object;

/* hashes (cmd_hash.c) */
cmd_fn cmd_hset, cmd_hmset, cmd_hsetnx, cmd_hget, cmd_hmget, cmd_hgetall, cmd_hdel, cmd_hlen,
    cmd_hexists, cmd_hkeys, cmd_hvals, cmd_hincrby, cmd_hincrbyfloat, cmd_hstrlen, cmd_hrandfield,
    cmd_hscan;

/* lists (cmd_list.c); LMOVE/RPOPLPUSH get both keys in this shard */
cmd_fn cmd_lpush, cmd_rpush, cmd_lpushx, cmd_rpushx, cmd_lpop, cmd_rpop, cmd_llen, cmd_lrange,
    cmd_lindex, cmd_lset, cmd_linsert, cmd_lrem, cmd_ltrim, cmd_lpos, cmd_lmove, cmd_rpoplpush;

/* Blocking lists (cmd_list.c). The table's handlers never block (MULTI):
 * BLPOP/BRPOP key... timeout, BLMOVE src dst from to timeout, BRPOPLPUSH
 * src dst timeout pop or answer nil. The _try parts run for a blocked
 * client (c->env is its blk_token, block.h): BLPOP/BRPOP part argv = name
 * and this shard's keys; BLMOVE part argv = name src dst from to (one
 * shard). They reply the answer after claiming the token, an error, or
 * nothing at all (the client was registered on the keys, or is served
 * elsewhere). */
cmd_fn cmd_blpop, cmd_brpop, cmd_blmove, cmd_brpoplpush, cmd_bpop_try, cmd_blmove_try;
/* Serves the clients blocked on this shard's keys that got elements (in
 * FIFO order per key), each pop logged like LPOP; the served tokens wait
 * in s->blk for delivery after the log's commit. Returns how many. */
unsigned cmd_list_serve(shard_t *s);
/* Parses a blocking timeout in seconds (a float, 0 = forever) into ms:
 * 0, or -1 with Redis's error text in *err. Any thread. */
int cmd_block_timeout(const kv_str *a, int64_t *ms, const char **err);

/* sets (cmd_set.c); SMOVE and the set algebra commands run here when all
 * their keys are in this shard (net/route.c gathers them otherwise) */
cmd_fn cmd_sadd, cmd_srem, cmd_smembers, cmd_sismember, cmd_smismember, cmd_scard, cmd_spop,
    cmd_srandmember, cmd_smove, cmd_sscan, cmd_sinter, cmd_sunion, cmd_sdiff, cmd_sinterstore,
    cmd_sunionstore, cmd_sdiffstore, cmd_sintercard;
/* smembers part: argv = name, keys of this shard -> per key *n members
 * (absent: *0), or WRONGTYPE alone. */
cmd_fn cmd_smembers_part;

/* sorted sets (cmd_zset.c), a first subset */
cmd_fn cmd_zadd, cmd_zincrby, cmd_zscore, cmd_zmscore, cmd_zcard, cmd_zrem, cmd_zrank, cmd_zrevrank,
    cmd_zcount, cmd_zrange, cmd_zpopmin, cmd_zpopmax, cmd_zrevrange, cmd_zrangebyscore,
    cmd_zrevrangebyscore, cmd_zremrangebyscore, cmd_zremrangebyrank;

/* Replay of the log's list and set change records (PUT records of type
 * KV_TYPE_LIST_DELTA / KV_TYPE_SET_DELTA, value p[0..n)) on key in
 * database s->db, without lazy expiry and without logging: 0, or -1 if the
 * record is malformed. Recovery only. */
int cmd_list_replay(shard_t *s, const kv_str *key, const char *p, size_t n);
int cmd_set_replay(shard_t *s, const kv_str *key, const char *p, size_t n);

/* Set algebra, shared by the shard commands and the network thread's
 * gather (any thread, on objects it owns). */
enum { SETOP_INTER, SETOP_UNION, SETOP_DIFF, SETOP_INTERCARD };
struct sobj;
/* A new set: op (INTER, UNION or DIFF) over sets[0..n) (NULL: empty). */
struct sobj *cmd_setop(int op, struct sobj *const *sets, unsigned n, const kv_hash_secret *secret);
/* SINTERCARD numkeys key... [LIMIT l]: 0, or -1 with Redis's error in *err. */
int cmd_sintercard_args(int argc, const kv_str *argv, int64_t *numkeys, int64_t *limit,
                        const char **err);
/* The client's reply for result: SINTERCARD's count (capped by limit > 0),
 * a STORE's cardinality, or the members. */
void cmd_setop_reply(kvbuf *out, int op, struct sobj *result, int store, int64_t limit);
/* Parses one *n array of bulks at *p (smembers part reply) into a new set
 * and moves *p past it; NULL if malformed. */
struct sobj *cmd_setop_parse(const char **p, const char *end, const kv_hash_secret *secret);

/* cmd_info_part replies *N integers: CMD_INFO_NFIELDS in the order of enum
 * cmd_info_field (over every database), which the gatherer sums over
 * shards (EXPIRE_STALE, a share in hundredths of a percent, it then
 * divides by the number of shards), then (db, keys, expires, ttl_ms)
 * quadruples for each database other than 0 that has keys in this shard.
 * TTL_MS and ttl_ms estimate the sum of the remaining TTLs (ms) of the keys
 * with a TTL (all of them up to CMD_INFO_TTL_SAMPLES per shard, else that
 * many sampled), for INFO keyspace's avg_ttl. */
#define CMD_INFO_TTL_SAMPLES 1024
enum cmd_info_field {
    CMD_INFO_KEYS,
    CMD_INFO_EXPIRES,
    CMD_INFO_MEMORY,
    CMD_INFO_HITS,
    CMD_INFO_MISSES,
    CMD_INFO_EXPIRED,
    CMD_INFO_COMMANDS,
    CMD_INFO_EVICTED,
    CMD_INFO_EXPIRE_STALE,    /* expired_stale_perc x 100 */
    CMD_INFO_EXPIRE_CAPPED,   /* expired_time_cap_reached_count */
    CMD_INFO_EXPIRE_CYCLE_US, /* time in active expiry (expire_cycle_cpu_milliseconds) */
    CMD_INFO_TTL_MS,          /* estimated sum of remaining TTLs, every database (avg_ttl) */
    CMD_INFO_NFIELDS
};
cmd_fn cmd_info_part;

#endif
