/* script_call.c - redis.call inside a script: the command table's checks,
 * then the command's shard handlers run directly on the shards of the
 * actor running the script, their replies joined as the network thread
 * joins a command's parts. Runs on that actor's thread only, and touches
 * only that actor's shards. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/reply.h"
#include "net/obs.h"
#include "net/scripting.h"
#include "net/xshard.h"

/* Redis 7.0's texts; the VM adds " script: <sha>, on @user_script:<line>." */
#define ERR_UNKNOWN  "ERR Unknown Redis command called from script"
#define ERR_NOSCRIPT "ERR This Redis command is not allowed from script"
#define ERR_ARITY    "ERR Wrong number of args calling Redis command from script"
#define ERR_RO       "ERR Write commands are not allowed from read-only scripts."

/* Budget of the eviction before one write of a script (as a plain write). */
#define SCRIPT_EVICT_US 200

static int name_is(const kv_str *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

/* The shard of key if the running actor owns it; else appends the error
 * of the undeclared-key rule and returns NULL. */
static shard_t *owned_shard(script_call_ctx *x, const kv_str *key, kvbuf *out)
{
    struct server *s = x->srv;
    uint32_t sh = route_shard(s, key->p, key->len);
    if (actor_of_shard(sh, s->nactors) != x->actor) {
        x->refused = 1;
        reply_errorf(out,
                     "ERR script tried accessing key '%.*s' of another actor; declare every key "
                     "the script uses in KEYS (and keep them on one actor)",
                     (int)(key->len > 128 ? 128 : key->len), key->p);
        return NULL;
    }
    shard_t *shard = actor_pool_shard(s->actors, sh);
    shard->now_ms = x->now_ms;
    return shard;
}

/* Runs fn on shard for def's command, as actor_run_batch runs a request:
 * MISCONF for a write to a shard whose log failed, eviction (or -OOM)
 * before a write that may grow memory. res (not NULL, zeroed): fn's typed
 * answer (engine/cmd.h), left CMD_RES_NONE when refused. */
static void run_on_res(script_call_ctx *x, const cmd_def *def, cmd_fn *fn, shard_t *shard, int argc,
                       const kv_str *argv, kvbuf *out, cmd_res *res)
{
    if ((def->flags & CMD_WRITE) && persist_shard_failed(x->srv->persist, shard->id)) {
        char msg[256];
        persist_misconf(x->srv->persist, shard->id, msg, sizeof msg);
        x->refused = 1;
        reply_error(out, msg);
        return;
    }
    if ((def->flags & CMD_DENYOOM) && shard->limits &&
        evict_make_room(shard, SCRIPT_EVICT_US) == EVICT_FAIL) {
        x->refused = 1;
        reply_error(out, SHARD_OOM_ERR);
        return;
    }
    if (def->flags & CMD_WRITE) atomic_store_explicit(x->wrote, 1, memory_order_relaxed);
    cmd_call c = {.argc = argc, .argv = argv, .out = out, .env = NULL, .res = res};
    unsigned saved = shard->db; /* the script's database, on every shard it touches */
    shard->db = x->db;
    shard_call(shard, fn, &c); /* counts it */
    shard->db = saved;
}

static void run_on(script_call_ctx *x, const cmd_def *def, cmd_fn *fn, shard_t *shard, int argc,
                   const kv_str *argv, kvbuf *out)
{
    run_on_res(x, def, fn, shard, argc, argv, out, NULL);
}

/* Reads the integer reply of a part; 0 if it is not one. */
static int64_t part_int(const kvbuf *r)
{
    return r->len > 1 && r->data[0] == ':' ? strtoll(r->data + 1, NULL, 10) : 0;
}

/* MGET, DEL, UNLINK, EXISTS, TOUCH (one key per part), MSET (a pair per
 * part): each key on its shard, the replies joined; the first error is
 * the reply. */
static void run_split(script_call_ctx *x, const cmd_def *def, int argc, const kv_str *argv,
                      kvbuf *out)
{
    int step = def->route == ROUTE_PAIRS ? 2 : 1;
    for (int i = 1; i < argc; i += step)
        if (owned_shard(x, &argv[i], out) == NULL) return;
    kvbuf part, items;
    kvbuf_init(&part);
    kvbuf_init(&items);
    int64_t sum = 0;
    int failed = 0;
    for (int i = 1; i < argc && !failed; i += step) {
        kv_str av[3] = {argv[0], argv[i], step == 2 ? argv[i + 1] : argv[i]};
        kvbuf_reset(&part);
        run_on(x, def, def->fn, owned_shard(x, &argv[i], out), 1 + step, av, &part);
        if (part.len > 0 && part.data[0] == '-') {
            kvbuf_append(out, part.data, part.len);
            failed = 1;
        } else if (def->join == JOIN_MGET) {
            kvbuf_append(&items, part.data, part.len);
        } else {
            sum += part_int(&part);
        }
    }
    if (failed) {
        /* the error is the reply */
    } else if (def->join == JOIN_MGET) {
        reply_array(out, (argc - 1) / step);
        kvbuf_append(out, items.data, items.len);
    } else if (def->join == JOIN_SUM) {
        reply_int(out, sum);
    } else {
        reply_ok(out);
    }
    kvbuf_destroy(&items);
    kvbuf_destroy(&part);
}

/* MSETNX: nothing is set if one key exists (all on this actor: atomic). */
static void run_msetnx(script_call_ctx *x, const cmd_def *def, int argc, const kv_str *argv,
                       kvbuf *out)
{
    for (int i = 1; i < argc; i += 2) {
        shard_t *sh = owned_shard(x, &argv[i], out);
        if (sh == NULL) return;
        if (shard_lookup(sh, argv[i].p, argv[i].len) != NULL) {
            reply_int(out, 0);
            return;
        }
    }
    kvbuf part;
    kvbuf_init(&part);
    for (int i = 1; i < argc; i += 2) {
        kv_str av[3] = {{"mset", 4}, argv[i], argv[i + 1]};
        kvbuf_reset(&part);
        run_on(x, def, cmd_mset_part, owned_shard(x, &argv[i], out), 3, av, &part);
    }
    kvbuf_destroy(&part);
    reply_int(out, 1);
}

/* RENAME / RENAMENX: one shard, or TAKE then PUT across two of this actor. */
static void run_rename(script_call_ctx *x, const cmd_def *def, int argc, const kv_str *argv,
                       kvbuf *out)
{
    shard_t *a = owned_shard(x, &argv[1], out);
    shard_t *b = a ? owned_shard(x, &argv[2], out) : NULL;
    if (b == NULL) return;
    if (a == b) {
        run_on(x, def, def->fn, a, argc, argv, out);
        return;
    }
    int nx = def->fn == cmd_renamenx;
    if (shard_lookup(a, argv[1].p, argv[1].len) == NULL) {
        reply_error(out, KV_ERR_NOKEY);
        return;
    }
    if (nx && shard_lookup(b, argv[2].p, argv[2].len) != NULL) {
        reply_int(out, 0);
        return;
    }
    /* TAKE answers in type: the value's bytes in took, its expiry and type */
    kvbuf took;
    kvbuf_init(&took);
    kv_str tav[2] = {{"take", 4}, argv[1]};
    cmd_res res = {0};
    run_on_res(x, def, cmd_take_part, a, 2, tav, &took, &res);
    if (res.kind != CMD_RES_TAKE) { /* refused (its error), or gone */
        if (res.kind == CMD_RES_NONE)
            kvbuf_append(out, took.data, took.len);
        else
            reply_error(out, KV_ERR_NOKEY);
        kvbuf_destroy(&took);
        return;
    }
    char pxat[24], type[24];
    kv_str pav[5] = {{"put", 3},
                     argv[2],
                     {took.data, took.len},
                     {pxat, (size_t)snprintf(pxat, sizeof pxat, "%lld", (long long)res.num)},
                     {type, (size_t)snprintf(type, sizeof type, "%u", (unsigned)res.type)}};
    kvbuf put;
    kvbuf_init(&put);
    run_on(x, def, cmd_put_part, b, 5, pav, &put);
    kvbuf_destroy(&put);
    kvbuf_destroy(&took);
    if (nx)
        reply_int(out, 1);
    else
        reply_ok(out);
}

/* DBSIZE, KEYS, FLUSHALL/FLUSHDB, RANDOMKEY: every shard, so only when
 * this actor owns them all (one actor). */
static void run_all(script_call_ctx *x, const cmd_def *def, int argc, const kv_str *argv,
                    kvbuf *out)
{
    struct server *s = x->srv;
    if (s->nactors != 1 || def->join == JOIN_INFO || def->join == JOIN_STATS) {
        x->refused = 1;
        reply_errorf(out, "ERR '%s' is not supported in mem-kv scripts%s", def->name,
                     s->nactors != 1 ? " with several actors" : "");
        return;
    }
    kvbuf part;
    kvbuf_init(&part);
    int64_t sum = 0, n = 0;
    kvbuf items;
    kvbuf_init(&items);
    for (unsigned sh = 0; sh < (unsigned)s->cfg.shards; sh++) {
        shard_t *shard = actor_pool_shard(s->actors, sh);
        shard->now_ms = x->now_ms;
        kvbuf_reset(&part);
        run_on(x, def, def->fn, shard, argc, argv, &part);
        if (def->join == JOIN_SUM) {
            sum += part_int(&part);
        } else if (def->join == JOIN_CONCAT && part.len > 0 && part.data[0] == '*') {
            const char *nl = memchr(part.data, '\n', part.len);
            n += strtoll(part.data + 1, NULL, 10);
            kvbuf_append(&items, nl + 1, part.len - (size_t)(nl + 1 - part.data));
        } else if (def->join == JOIN_RANDOM && items.len == 0 && part.len > 0 &&
                   part.data[1] != '-') {
            kvbuf_append(&items, part.data, part.len); /* the first shard's key */
        }
    }
    if (def->join == JOIN_SUM) {
        reply_int(out, sum);
    } else if (def->join == JOIN_CONCAT) {
        reply_array(out, n);
        kvbuf_append(out, items.data, items.len);
    } else if (def->join == JOIN_RANDOM) {
        if (items.len)
            kvbuf_append(out, items.data, items.len);
        else
            reply_nil(out);
    } else {
        reply_ok(out);
    }
    kvbuf_destroy(&items);
    kvbuf_destroy(&part);
}

/* A step of a command over several shards of this actor (xshard.c), run
 * as actor_fz_call runs one: MISCONF for a write to a shard whose log
 * failed, eviction first (-OOM for KV_OOM_REFUSE when no room can be
 * made), in the step's database. */
static void script_step(void *ctx, kv_req *r)
{
    script_call_ctx *x = ctx;
    shard_t *shard = actor_pool_shard(x->srv->actors, r->shard);
    shard->now_ms = x->now_ms;
    if (r->write && persist_shard_failed(x->srv->persist, shard->id)) {
        char msg[256];
        persist_misconf(x->srv->persist, shard->id, msg, sizeof msg);
        x->refused = 1; /* xshard.c refuses before its first change */
        reply_error(&r->reply, msg);
        return;
    }
    if (r->denyoom != KV_OOM_NONE && shard->limits &&
        evict_make_room(shard, SCRIPT_EVICT_US) == EVICT_FAIL && r->denyoom == KV_OOM_REFUSE) {
        x->refused = 1;
        reply_error(&r->reply, SHARD_OOM_ERR);
        return;
    }
    cmd_call c = {
        .argc = r->argc, .argv = r->argv, .out = &r->reply, .env = r->env, .res = &r->res};
    unsigned saved = shard->db;
    shard->db = r->db;
    shard_call(shard, r->fn, &c); /* counts it */
    shard->db = saved;
}

/* LMOVE, RPOPLPUSH, SMOVE (ROUTE_TWO), the set and sorted-set algebra,
 * ZRANGESTORE, LMPOP and ZMPOP (ROUTE_SETOP), BLMPOP and BZMPOP (ROUTE_BLOCK,
 * their non-blocking handlers as in MULTI): with every key on one shard
 * the command runs there, as route_parts sends it; with keys on several
 * shards of this actor, step by step as in a frozen run (xshard.c), the
 * script's run keeping the steps atomic and logging them as one
 * transaction. */
static void run_xshard(script_call_ctx *x, const cmd_def *def, int argc, const kv_str *argv,
                       kvbuf *out)
{
    kv_slot q;
    memset(&q, 0, sizeof q);
    q.def = def;
    q.argc = argc;
    kv_str *av = kv_xmalloc((size_t)argc * sizeof *av); /* kv_slot's argv is not const */
    memcpy(av, argv, (size_t)argc * sizeof *av);
    q.argv = av;
    q.db = (uint8_t)x->db;
    int *idx = kv_xmalloc((size_t)(argc + 1) * sizeof *idx);
    int n = xshard_keys(&q, idx);
    shard_t *one = NULL;
    int same = 1;
    if (n == 0) { /* bad arguments: the handler's error, on a shard of this actor */
        one = actor_pool_shard(x->srv->actors, x->actor);
        one->now_ms = x->now_ms;
    }
    for (int i = 0; i < n; i++) {
        shard_t *sh = owned_shard(x, &argv[idx[i]], out);
        if (sh == NULL) {
            free(idx);
            free(av);
            return;
        }
        if (one != NULL && sh != one) same = 0;
        one = sh;
    }
    free(idx);
    if (same) {
        run_on(x, def, def->fn, one, argc, argv, out);
    } else if (!xshard_handles(def)) {
        x->refused = 1;
        reply_errorf(out, "ERR '%s' across shards is not supported in mem-kv scripts", def->name);
    } else {
        if (def->flags & CMD_WRITE) atomic_store_explicit(x->wrote, 1, memory_order_relaxed);
        /* -OOM only for Redis's denyoom commands (not SMOVE, the pops) */
        int oom = (def->flags & CMD_DENYOOM) ? KV_OOM_REFUSE : KV_OOM_EVICT;
        xshard_run_steps(script_step, x, x->srv, &q, oom, out);
    }
    free(av);
}

/* The few connection commands a script may call. */
static void run_local(script_call_ctx *x, const cmd_def *def, int argc, const kv_str *argv,
                      kvbuf *out)
{
    if (name_is(&argv[0], "ping")) {
        if (argc == 2)
            reply_bulk(out, argv[1].p, argv[1].len);
        else
            reply_status(out, "PONG");
    } else if (name_is(&argv[0], "echo")) {
        reply_bulk(out, argv[1].p, argv[1].len);
    } else if (name_is(&argv[0], "time")) {
        int64_t us = kv_time_ms() * 1000;
        reply_array(out, 2);
        reply_bulk_i64(out, us / 1000000);
        reply_bulk_i64(out, us % 1000000);
    } else if (name_is(&argv[0], "select")) {
        int64_t db;
        if (kv_parse_i64(argv[1].p, argv[1].len, &db) != 0)
            reply_error(out, KV_ERR_NOTINT);
        else if (db < 0 || db >= x->srv->cfg.databases)
            reply_error(out, KV_ERR_DBINDEX);
        else {
            x->db = (unsigned)db; /* for the rest of the script, as in Redis */
            reply_ok(out);
        }
    } else {
        x->refused = 1;
        reply_error(out, ERR_NOSCRIPT);
    }
}

/* Redis's "noscript" commands, whether mem-kv has them or not (so that
 * MULTI or SUBSCRIBE in a script is refused as Redis refuses it, not as an
 * unknown command). Redis 7.0 lets BLMPOP and BZMPOP run in a script,
 * without blocking (as in MULTI). */
static int denied_in_scripts(const kv_str *name)
{
    static const char *const names[] = {
        "multi",        "exec",        "discard",      "watch",      "unwatch",      "subscribe",
        "psubscribe",   "unsubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "monitor",
        "sync",         "psync",       "replicaof",    "slaveof",    "failover",     "blpop",
        "brpop",        "brpoplpush",  "blmove",       "bzpopmin",   "bzpopmax",     "wait",
        "reset",        "function",    "fcall",        "fcall_ro",   "save",         "bgsave",
        "bgrewriteaof", "debug",       "acl"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name_is(name, names[i])) return 1;
    return 0;
}

/* Runs the command def (NULL: unknown) of redis.call; sets x->refused if
 * it was refused before it ran. */
static void dispatch(script_call_ctx *x, const cmd_def *def, unsigned flags, int argc,
                     const kv_str *argv, kvbuf *out)
{
    if (def == NULL && denied_in_scripts(&argv[0])) {
        reply_error(out, ERR_NOSCRIPT);
        return;
    }
    if (def == NULL) {
        reply_error(out, ERR_UNKNOWN);
        return;
    }
    x->refused = 1; /* until it passes the table's checks */
    if (!cmdtab_arity_ok(def, argc) ||
        ((def->route == ROUTE_PAIRS || def->route == ROUTE_MSETNX) && (argc - 1) % 2 != 0)) {
        reply_error(out, ERR_ARITY);
        return;
    }
    if ((def->flags & CMD_NOSCRIPT) || denied_in_scripts(&argv[0])) { /* BLPOP, BLMOVE... */
        reply_error(out, ERR_NOSCRIPT);
        return;
    }
    if ((def->flags & CMD_WRITE) && (x->read_only || (flags & SCRIPT_FLAG_NO_WRITES))) {
        reply_error(out, ERR_RO);
        return;
    }
    x->refused = 0;
    switch (def->route) {
    case ROUTE_LOCAL:
        run_local(x, def, argc, argv, out);
        return;
    case ROUTE_KEY: {
        shard_t *sh = owned_shard(x, &argv[1], out);
        if (sh) run_on(x, def, def->fn, sh, argc, argv, out);
        return;
    }
    case ROUTE_KEYS:
    case ROUTE_PAIRS:
        run_split(x, def, argc, argv, out);
        return;
    case ROUTE_MSETNX:
        run_msetnx(x, def, argc, argv, out);
        return;
    case ROUTE_RENAME:
        run_rename(x, def, argc, argv, out);
        return;
    case ROUTE_ALL:
        run_all(x, def, argc, argv, out);
        return;
    case ROUTE_TWO:
    case ROUTE_SETOP:
    case ROUTE_BLOCK: /* BLMPOP, BZMPOP (the others are noscript): never block */
        run_xshard(x, def, argc, argv, out);
        return;
    default: /* SCAN (cursors name shards of every actor), EVAL */
        x->refused = 1;
        reply_errorf(out, "ERR '%s' is not supported in mem-kv scripts", def->name);
        return;
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void script_call(void *ctx, unsigned flags, int argc, const kv_str *argv, kvbuf *out)
{
    script_call_ctx *x = ctx;
    const cmd_def *def = cmdtab_lookup(argv[0].p, argv[0].len);
    size_t at = out->len;
    uint64_t t0 = now_ns();
    x->refused = 0;
    dispatch(x, def, flags, argc, argv, out);
    if (def == NULL || x->obs == NULL) return; /* unknown: no command to count */
    /* as Redis's call() counts a command a script runs: calls and time, or
     * rejected_calls; failed_calls for an error reply */
    if (x->refused)
        obs_rejected(x->obs, def);
    else
        obs_record(x->obs, def, now_ns() - t0, out->len > at && out->data[at] == '-');
}
