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
 *   del/unlink/exists/touch part: :count (and CMD_RES_INT: the count)
 *   keys part:     *n followed by n bulks; with c->res the bulks only and
 *                  CMD_RES_KEYS (n)
 *   dbsize part:   :count (and CMD_RES_INT: the count)
 *   flushall part: +OK
 *   randomkey part: bulk or nil (and CMD_RES_KEYS: 1 or 0)
 *   info part:     typed only: CMD_RES_FIGURES (see cmd_info_part)
 *   flushdb part:  +OK (the keys of the command's database, shard_t.db)
 *   scan:          argv = SCAN cursor [MATCH p] [COUNT n] [TYPE t] with the
 *                  shard-local cursor; replies *2 [$cursor, *n keys], or
 *                  with c->res only *n keys and CMD_RES_SCAN (the cursor)
 *   take part:     internal, typed only: TAKE key -> CMD_RES_TAKE (value,
 *                  pxat, type) and the key is removed; CMD_RES_ABSENT
 *                  (cross-shard RENAME, stage 1)
 *   put part:      internal: PUT key value pxat type -> +OK (stage 2)
 *   smembers, zmembers, zrangestore parts: typed only (CMD_RES_SETS,
 *                  CMD_RES_ZSETS), for the set algebra's gather
 *   zmpop, lmpop:  the client's reply, and CMD_RES_POPPED (how many popped)
 * A typed-only part called without c->res answers an internal error.
 */
#ifndef MEMKV_CMD_H
#define MEMKV_CMD_H

#include "engine/buf.h"
#include "engine/kv.h"
#include "engine/shard.h"

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

/* The stored values a reply refers to (MGET's parts: each big value of
 * the reply is a kv_pin, at its place in the reply's bytes). The array is
 * malloc'ed by the actor and freed, with the pins dropped, by the sender. */
typedef struct kv_pins {
    kv_pin *v;
    unsigned n, cap;
} kv_pins;

/* Arguments a command may keep instead of copying: big bulks that the
 * parser read into buffers of their own (kv_xmalloc_pages layout), and the
 * entries that took them. A command that takes bigs[k] (an argument whose
 * p is bigs[k]) as a stored value pins the entry that holds it in
 * keeps[k]: the argument's bytes stay readable (they are the pinned
 * value's) until the sender drops keeps[k] with entry_unpin, and frees
 * bigs[k] only if keeps[k] is NULL. The parts of one command (MSET over
 * several shards) share the arrays; each writes only the keeps[k] of its
 * own arguments, and bigs never changes, so parts on different actors
 * touch no common element (cmd_take_arg, cmd_take_done). */
typedef struct kv_take {
    char *const *bigs;       /* ro */
    struct kv_entry **keeps; /* rw for the actor: keeps[k] of its own arguments */
    unsigned nbigs;          /* ro */
} kv_take;
/* The figures of a shard that cmd_info_part answers (cmd_figures), in the
 * order of enum cmd_info_field (over every database), which the gatherer
 * sums over shards (EXPIRE_STALE, a share in hundredths of a percent, it
 * then divides by the number of shards), then one cmd_db_figures for each
 * database other than 0 that has keys in this shard.
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
/* ---- typed answers of internal parts ------------------------------------
 *
 * A part whose answer is read by the next step of a command (a staged
 * cross-shard RENAME, SCAN's cursor, the INFO/STATS figures, the counts of
 * the EXISTS checks) answers in type, as Dragonfly's OpResult<T>: the
 * handler fills a cmd_res, and its reader (the network thread once the
 * part has completed, or the actor running a frozen run or a script) takes
 * the fields as they are instead of parsing RESP back. Filled on the
 * thread that runs the handler; read only after the handler returned. */
enum cmd_res_kind {
    CMD_RES_NONE,    /* no typed answer: the part was refused (MISCONF, OOM, output
                        limit) or failed (bad argument); its reply holds the error */
    CMD_RES_INT,     /* num: a count (EXISTS, DEL, DBSIZE parts) */
    CMD_RES_ABSENT,  /* TAKE: the key does not exist (nothing was taken) */
    CMD_RES_TAKE,    /* TAKE: the reply holds the value's bytes as they are (a hash,
                        list, set or zset: its entry_obj_encode bytes, no RESP framing);
                        num: its absolute expiry in ms or -1; type: its KV_TYPE_* */
    CMD_RES_SCAN,    /* SCAN: the reply holds the page's keys as the client gets them
                        (*n then n bulks); num: the shard's next table cursor (0: done);
                        count: n */
    CMD_RES_FIGURES, /* INFO/STATS part: fig */
    CMD_RES_KEYS,    /* KEYS part: the reply holds count bulks (the keys) without an array
                        header; RANDOMKEY part: the reply is the client's (a bulk, or nil
                        when count is 0) */
    CMD_RES_SETS,    /* SMEMBERS part: sets[0..count), a copy of the set of each key of
                        the part in argument order (NULL: no such key) */
    CMD_RES_ZSETS,   /* ZMEMBERS part: zsets[0..count), a copy of the sorted set of each key
                        of the part in argument order (a set's members at score 1; NULL: no
                        such key); ZRANGESTORE part: zsets[0], the range (NULL: empty) */
    CMD_RES_POPPED,  /* ZMPOP/LMPOP (and the BZMPOP/BLMPOP/BZPOP* handlers that do not
                        block): num elements were popped, 0 when none (the reply is nil);
                        the reply is the client's */
};

/* One database's figures in a shard (databases other than 0 with keys). */
typedef struct cmd_db_figures {
    uint32_t db;
    int64_t keys, expires, ttl_ms;
} cmd_db_figures;

/* The figures of one shard (cmd_info_part), enum cmd_info_field below, over
 * every database; then ndb per-database figures. One allocation. */
typedef struct cmd_figures {
    int64_t v[CMD_INFO_NFIELDS];
    uint32_t ndb;
    cmd_db_figures db[];
} cmd_figures;

typedef struct cmd_res {
    uint8_t kind;        /* enum cmd_res_kind: which fields hold the answer */
    uint8_t type;        /* TAKE */
    int64_t num;         /* INT, TAKE, SCAN: see the kinds */
    int64_t count;       /* SCAN, KEYS, SETS, ZSETS */
    cmd_figures *fig;    /* FIGURES: owned by the result (cmd_res_clear frees it) */
    struct sobj **sets;  /* SETS: owned by the result, sets and array */
    struct zobj **zsets; /* ZSETS: owned by the result, sorted sets and array */
} cmd_res;

/* Forgets r's answer and frees what it owns; the thread that reads r.
 * Accepts a zeroed result. */
void cmd_res_clear(cmd_res *r);

typedef struct cmd_call {
    int argc;
    const kv_str *argv; /* argv[0] is the command name as the client sent it */
    kvbuf *out;         /* reply appended here */
    void *env;          /* what the request's sender passed along (kv_req.env): the
                           scripting context for EVAL; NULL for plain commands */
    kv_pin *pin;        /* not NULL: GET may answer with a pinned value (a client's own
                           GET, sent as it is); NULL: the reply holds every byte */
    kv_take *take;      /* not NULL: SET-like commands may keep a big value argument */
    kv_pins *pins;      /* not NULL: MGET's part may answer big values with pins */
    cmd_res *res;       /* not NULL: the part's typed answer goes here (cleared by the
                           caller, kind CMD_RES_NONE); handlers without one ignore it */
    uint32_t key_hash;  /* the low 32 bits of kv_hash(argv[1]) when has_hash: the
                           router computed it, shard_hash answers it for argv[1] */
    uint8_t has_hash;
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
    cmd_flushdb_part, cmd_move, cmd_take_part, cmd_put_part, cmd_peek_part, cmd_copy;

/* COPY src dst [DB n] [REPLACE]'s options, as Redis checks them before any
 * key (src and dst the same key of one database is an error): *db the
 * destination database (cur_db without DB), *replace; 0, or -1 with the
 * error text in *err. */
int cmd_copy_args(int argc, const kv_str *argv, unsigned cur_db, unsigned ndbs, unsigned *db,
                  int *replace, const char **err);

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
 * client (c->env is its blk_token, block.h): BLPOP/BRPOP part argv = name,
 * LEFT|RIGHT and this shard's keys; BLMOVE part argv = name src dst from to (one
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

/* LMOVE/SMOVE with their keys in two shards (net/xshard.c, inside a frozen
 * run), the check of one key: argv = name, key -> :1 (CMD_RES_INT 1) if it
 * holds a list (a set), :0 if absent, or WRONGTYPE; nothing is changed. */
cmd_fn cmd_list_kind_part, cmd_set_kind_part;
/* BLMOVE/BRPOPLPUSH across shards (net/xshard.c): argv = name, src,
 * LEFT|RIGHT, c->env its token: registers a waiter on src that pops
 * nothing and is served with [src, []] when src gets elements (the
 * network thread then moves across the shards). */
cmd_fn cmd_blmove_wait_part;

/* sets (cmd_set.c); SMOVE and the set algebra commands run here when all
 * their keys are in this shard (net/route.c gathers them otherwise) */
cmd_fn cmd_sadd, cmd_srem, cmd_smembers, cmd_sismember, cmd_smismember, cmd_scard, cmd_spop,
    cmd_srandmember, cmd_smove, cmd_sscan, cmd_sinter, cmd_sunion, cmd_sdiff, cmd_sinterstore,
    cmd_sunionstore, cmd_sdiffstore, cmd_sintercard;
/* smembers part, typed only: argv = name, keys of this shard ->
 * CMD_RES_SETS (a copy of each key's set), or WRONGTYPE alone. */
cmd_fn cmd_smembers_part;

/* sorted sets (cmd_zset.c, cmd_zset2.c, cmd_zsetop.c); ZRANGESTORE, ZMPOP and the zset
 * algebra commands run here when all their keys are in this shard
 * (net/route.c gathers ZUNION/ZINTER/ZDIFF(+STORE)/ZINTERCARD otherwise) */
cmd_fn cmd_zadd, cmd_zincrby, cmd_zscore, cmd_zmscore, cmd_zcard, cmd_zrem, cmd_zrank, cmd_zrevrank,
    cmd_zcount, cmd_zrange, cmd_zpopmin, cmd_zpopmax, cmd_zrevrange, cmd_zrangebyscore,
    cmd_zrevrangebyscore, cmd_zremrangebyscore, cmd_zremrangebyrank, cmd_zrangebylex,
    cmd_zrevrangebylex, cmd_zlexcount, cmd_zremrangebylex, cmd_zrangestore, cmd_zrandmember,
    cmd_zscan, cmd_zmpop, cmd_zunion, cmd_zinter, cmd_zdiff, cmd_zunionstore, cmd_zinterstore,
    cmd_zdiffstore, cmd_zintercard;
/* zmembers part, typed only: argv = name, keys of this shard ->
 * CMD_RES_ZSETS (a copy of each key's sorted set, a set's members at score
 * 1), or WRONGTYPE alone. */
cmd_fn cmd_zmembers_part;
/* zrangestore part, typed only: ZRANGESTORE's argv -> CMD_RES_ZSETS, the
 * range it would store (zsets[0]), or its error; nothing is changed. */
cmd_fn cmd_zrangestore_part;
/* LMPOP numkeys key... LEFT|RIGHT [COUNT n] (cmd_list.c), all keys here. */
cmd_fn cmd_lmpop;
/* Blocking multi-pops and zset pops, as BLPOP (above): the table's handlers
 * (BZPOPMIN/BZPOPMAX key... timeout, BZMPOP/BLMPOP timeout numkeys key...
 * MIN|MAX / LEFT|RIGHT [COUNT n]) never block; the _try parts run for a
 * blocked client: argv = name, MIN|MAX or LEFT|RIGHT, count (-1: BZPOPMIN's
 * reply shape), then this shard's keys in the client's order. */
cmd_fn cmd_bzpopmin, cmd_bzpopmax, cmd_bzmpop, cmd_blmpop, cmd_bzpop_try, cmd_blmpop_try;
/* Pops from the non-empty sorted set e at key (the highest if max) and
 * appends the answer to out: count < 0 as BZPOPMIN ([key, member, score]),
 * else up to count as ZMPOP ([key, [[member, score]...]]). Returns how
 * many members it popped. Owner actor. */
size_t cmd_zset_pop_for(shard_t *s, struct kv_entry *e, const kv_str *key, int max, int64_t count,
                        kvbuf *out);
struct blk_reg;
/* The shard's waiter registry, created on first use. Owner actor. */
struct blk_reg *cmd_shard_blk(shard_t *s);

/* ZMPOP/LMPOP arguments from argv[first] (numkeys): which = 0 for a, 1 for
 * b (MIN/MAX, LEFT/RIGHT). 0, or -1 with Redis's error in *err. Any thread. */
int cmd_mpop_args(int argc, const kv_str *argv, int first, const char *a, const char *b,
                  int64_t *numkeys, int *which, int64_t *count, const char **err);

/* Sorted-set algebra, shared by the shard commands and the network thread's
 * gather (any thread, on objects it owns). */
enum { ZSETOP_UNION, ZSETOP_INTER, ZSETOP_DIFF, ZSETOP_INTERCARD };
enum { ZAGG_SUM, ZAGG_MIN, ZAGG_MAX };
typedef struct cmd_zsetop_spec {
    int op, store, first; /* first: argv index of the first source key */
    int64_t numkeys;
    int agg, withscores;
    int64_t limit; /* ZINTERCARD */
} cmd_zsetop_spec;
struct zobj;
/* Fills sp for the operation op (ZSETOP_*), of the STORE form if store,
 * and parses numkeys: 0, or -1 with Redis's error in *err (NULL: "at least
 * 1 input key is needed for '<name>'"). */
int cmd_zsetop_args(int op, int store, int argc, const kv_str *argv, cmd_zsetop_spec *sp,
                    const char **err);
/* Parses WEIGHTS (into weights[numkeys]), AGGREGATE, WITHSCORES, LIMIT
 * after the keys: 0, or -1 with Redis's error in *err. */
int cmd_zsetop_opts(int argc, const kv_str *argv, cmd_zsetop_spec *sp, double *weights,
                    const char **err);
/* A new sorted set: sp's op over in[0..numkeys) (NULL: empty). */
struct zobj *cmd_zsetop(const cmd_zsetop_spec *sp, struct zobj *const *in, const double *weights,
                        const kv_hash_secret *secret);
/* The client's reply for r: a count (ZINTERCARD, STORE) or the members. */
void cmd_zsetop_reply(kvbuf *out, const cmd_zsetop_spec *sp, const struct zobj *r);
/* r, or a copy of it with -0 scores made 0 (r freed) when r is that small:
 * a STORE result as Redis would keep it. Any thread, on r it owns. */
struct zobj *cmd_zset_store_form(struct zobj *r, const kv_hash_secret *secret);

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

cmd_fn cmd_info_part;

#endif
