/* xshard.c - commands over keys of several shards, inside a frozen run
 * (xshard.h).
 *
 * Each step is a request on one shard (actor_fz_call: MISCONF, eviction and
 * the log as for any request), so the changes of a step are logged like
 * those of the plain command. The order of the checks is Redis's, and
 * every check comes before the first change; the one change that could
 * still be refused after them (the destination's log failing between two
 * steps) is undone on the source.
 */
#include "net/xshard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/block.h"
#include "engine/reply.h"
#include "engine/sobj.h"
#include "engine/zobj.h"

enum { XS_NONE, XS_LMOVE, XS_SMOVE, XS_SETOP, XS_ZSETOP, XS_MPOP, XS_BPOP, XS_BMPOP, XS_COPY };

/* What kind of cross-shard command def is (XS_NONE: not one), from its
 * table row (cmd_def.kind; LMOVE/RPOPLPUSH/SMOVE/COPY, ROUTE_TWO, by handler). */
static int xs_kind(const cmd_def *def)
{
    switch (def->kind) {
    case CMDK_SETOP:
        return XS_SETOP;
    case CMDK_ZSETOP:
    case CMDK_ZRANGESTORE:
        return XS_ZSETOP;
    case CMDK_MPOP:
        return XS_MPOP;
    case CMDK_BPOP:
    case CMDK_BZPOP:
        return XS_BPOP;
    case CMDK_BMPOP:
        return XS_BMPOP;
    case CMDK_BLMOVE:
    case CMDK_BRPOPLPUSH:
        return XS_LMOVE;
    default:
        break;
    }
    if (def->fn == cmd_lmove || def->fn == cmd_rpoplpush) return XS_LMOVE;
    if (def->fn == cmd_smove) return XS_SMOVE;
    if (def->fn == cmd_copy) return XS_COPY;
    return XS_NONE;
}

int xshard_handles(const cmd_def *def)
{
    return def->fn != NULL && xs_kind(def) != XS_NONE;
}

/* ZMPOP/LMPOP (first 1) or BZMPOP/BLMPOP (first 2) numkeys: 0 and *n, or -1. */
static int xs_mpop_n(const kv_slot *q, int first, int *n)
{
    int64_t numkeys, count;
    int which;
    const char *err;
    int z = q->def->zset;
    if (cmd_mpop_args(q->argc, q->argv, first, z ? "min" : "left", z ? "max" : "right", &numkeys,
                      &which, &count, &err) != 0)
        return -1;
    *n = (int)numkeys;
    return 0;
}

/* xshard_keys; *bad set when the command's arguments are bad (then every
 * argument from argv[1] on, or argv[1] alone). */
static int xs_keys(const kv_slot *q, int *idx, int *bad)
{
    int n = 0, first = 1, last = q->argc - 1, k;
    *bad = 0;
    int64_t nk, limit;
    const char *err;
    cmd_zsetop_spec sp;
    switch (xs_kind(q->def)) {
    case XS_LMOVE:
    case XS_SMOVE:
    case XS_COPY:
        last = 2;
        break;
    case XS_SETOP:
        if (q->def->op == SETOP_INTERCARD) {
            if (cmd_sintercard_args(q->argc, q->argv, &nk, &limit, &err) != 0) {
                *bad = 1;
                break;
            }
            first = 2;
            last = 1 + (int)nk;
        }
        break;
    case XS_ZSETOP:
        if (q->def->kind == CMDK_ZRANGESTORE) {
            last = 2;
            break;
        }
        if (cmd_zsetop_args(q->def->op, q->def->store, q->argc, q->argv, &sp, &err) != 0) {
            *bad = 1;
            break;
        }
        if (sp.store) idx[n++] = 1;
        first = sp.first;
        last = sp.first + (int)sp.numkeys - 1;
        break;
    case XS_MPOP:
        if (xs_mpop_n(q, 1, &k) != 0) {
            *bad = 1;
            break;
        }
        first = 2;
        last = 1 + k;
        break;
    case XS_BPOP:
        last = q->argc - 2;
        break;
    case XS_BMPOP:
        if (xs_mpop_n(q, 2, &k) != 0) {
            *bad = 1;
            break;
        }
        first = 3;
        last = 2 + k;
        break;
    }
    if (last >= q->argc) last = q->argc - 1;
    for (int i = first; i <= last; i++) idx[n++] = i;
    if (n == 0) idx[n++] = 1;
    return n;
}

int xshard_keys(const kv_slot *q, int *idx)
{
    int bad;
    int n = xs_keys(q, idx, &bad);
    return bad ? 0 : n;
}

void xshard_involve(const server_t *s, const kv_slot *q, uint8_t *inv)
{
    int *idx = kv_xmalloc((size_t)(q->argc + 1) * sizeof *idx);
    int bad;
    int n = xs_keys(q, idx, &bad);
    for (int i = 0; i < n; i++) {
        const kv_str *k = &q->argv[idx[i]];
        inv[actor_of_shard(route_shard(s, k->p, k->len), s->nactors)] = 1;
    }
    free(idx);
}

/* ---- steps ------------------------------------------------------------------ */

typedef struct xs_ctx {
    xshard_step_fn *step; /* runs one request: actor_fz_call, or a script's */
    void *step_ctx;
    const server_t *srv;
    const kv_slot *q;
    int oom;        /* denyoom of the first step that may grow memory */
    unsigned db;    /* the database of the steps: q->db (COPY ... DB n: n for dst) */
    blk_token *tok; /* a blocked BLMOVE/BRPOPLPUSH's token, or NULL */
    kvbuf *out;
    kvbuf rep; /* the last step's reply */
    cmd_res res;
} xs_ctx;

/* Runs fn with argv on key's shard (database q->db); its reply is in
 * x->rep (cleared first) and its typed answer in x->res (the caller
 * clears it). Returns 1 if the reply is an error. */
static int xs_call(xs_ctx *x, cmd_fn *fn, const kv_str *key, int argc, const kv_str *argv,
                   int write, int oom)
{
    kv_req r;
    memset(&r, 0, sizeof r);
    cmd_res_clear(&x->res);
    r.fn = fn;
    r.shard = route_shard(x->srv, key->p, key->len);
    r.write = (uint8_t)write;
    r.denyoom = (uint8_t)oom;
    r.db = (uint8_t)x->db;
    r.argc = argc;
    r.argv = argv;
    kvbuf_reset(&x->rep);
    r.reply = x->rep;
    x->step(x->step_ctx, &r);
    x->rep = r.reply;
    x->res = r.res;
    return x->rep.len > 0 && x->rep.data[0] == '-';
}

/* Runs fn with argv and env (kv_req.env) on key's shard, a read whose
 * reply is not used. */
static void xs_call_env(xs_ctx *x, cmd_fn *fn, const kv_str *key, int argc, const kv_str *argv,
                        void *env)
{
    kv_req r;
    memset(&r, 0, sizeof r);
    r.fn = fn;
    r.shard = route_shard(x->srv, key->p, key->len);
    r.db = x->q->db;
    r.argc = argc;
    r.argv = argv;
    r.env = env;
    x->step(x->step_ctx, &r);
    kvbuf_destroy(&r.reply);
    cmd_res_clear(&r.res);
}

/* The last step's error is the answer. */
static void xs_fail(xs_ctx *x)
{
    kvbuf_append(x->out, x->rep.data, x->rep.len);
}

/* The last step's error if it answered one, else internal (a step that
 * did not answer as it must). */
static void xs_fail_or(xs_ctx *x, const char *internal)
{
    if (x->rep.len > 0 && x->rep.data[0] == '-')
        xs_fail(x);
    else
        reply_error(x->out, internal);
}

static int xs_nil(const kvbuf *b)
{
    return b->len == 5 &&
           (memcmp(b->data, "*-1\r\n", 5) == 0 || memcmp(b->data, "$-1\r\n", 5) == 0);
}

/* The bytes of the bulk reply in b into *v (pointing into b): 0, or -1. */
static int xs_bulk(const kvbuf *b, kv_str *v)
{
    if (b->len < 4 || b->data[0] != '$' || b->data[1] == '-') return -1;
    size_t n = 0, i = 1;
    while (i < b->len && b->data[i] >= '0' && b->data[i] <= '9')
        n = n * 10 + (size_t)(b->data[i++] - '0');
    if (i + 2 + n + 2 != b->len) return -1;
    *v = (kv_str){b->data + i + 2, n};
    return 0;
}

static int xs_side(const kv_str *a, int *head)
{
    if (a->len == 4 && strncasecmp(a->p, "left", 4) == 0)
        *head = 1;
    else if (a->len == 5 && strncasecmp(a->p, "right", 5) == 0)
        *head = 0;
    else
        return -1;
    return 0;
}

/* LMOVE src dst from to, RPOPLPUSH src dst, and the non-blocking BLMOVE,
 * BRPOPLPUSH: Redis's checks (sides, timeout, source type, source empty,
 * destination type), then the pop and the push. */
static void xs_lmove(xs_ctx *x)
{
    const kv_slot *q = x->q;
    int from_head = 0, to_head = 1;
    if ((q->def->fn == cmd_lmove || q->def->kind == CMDK_BLMOVE) &&
        (xs_side(&q->argv[3], &from_head) != 0 || xs_side(&q->argv[4], &to_head) != 0)) {
        reply_error(x->out, KV_ERR_SYNTAX);
        return;
    }
    if (q->def->route == ROUTE_BLOCK) { /* BLMOVE, BRPOPLPUSH */
        int64_t ms;
        const char *err;
        if (cmd_block_timeout(&q->argv[q->argc - 1], &ms, &err) != 0) {
            reply_error(x->out, err);
            return;
        }
    }
    const kv_str *src = &q->argv[1], *dst = &q->argv[2];
    kv_str av[3] = {q->argv[0], *src};
    if (xs_call(x, cmd_list_kind_part, src, 2, av, 0, KV_OOM_NONE)) {
        xs_fail(x);
        return;
    }
    if (x->res.num == 0 && x->tok != NULL) { /* wait on src; the reply stays empty */
        kv_str wv[3] = {q->argv[0], *src, from_head ? (kv_str){"left", 4} : (kv_str){"right", 5}};
        xs_call_env(x, cmd_blmove_wait_part, src, 3, wv, x->tok);
        return;
    }
    if (x->res.num == 0) {
        reply_nil(x->out);
        return;
    }
    av[1] = *dst; /* a write: refused here if its log fails, room made first */
    if (xs_call(x, cmd_list_kind_part, dst, 2, av, 1, x->oom)) {
        xs_fail(x);
        return;
    }
    /* a blocked client's move: only if it has not timed out meanwhile (then
     * the empty reply lets the network thread answer the timeout) */
    if (x->tok != NULL && !blk_token_claim(x->tok, BLK_SERVED)) return;
    av[0] = from_head ? (kv_str){"lpop", 4} : (kv_str){"rpop", 4};
    av[1] = *src;
    kv_str v;
    if (xs_call(x, from_head ? cmd_lpop : cmd_rpop, src, 2, av, 1, KV_OOM_NONE) ||
        xs_bulk(&x->rep, &v) != 0) {
        xs_fail_or(x, "ERR internal error in a move across shards");
        return;
    }
    kvbuf elem;
    kvbuf_init(&elem);
    kvbuf_append(&elem, v.p, v.len);
    av[0] = to_head ? (kv_str){"lpush", 5} : (kv_str){"rpush", 5};
    av[1] = *dst;
    av[2] = (kv_str){elem.data, elem.len};
    if (xs_call(x, to_head ? cmd_lpush : cmd_rpush, dst, 3, av, 1, KV_OOM_EVICT)) {
        kvbuf err;
        kvbuf_init(&err);
        kvbuf_append(&err, x->rep.data, x->rep.len);
        av[0] = from_head ? (kv_str){"lpush", 5} : (kv_str){"rpush", 5};
        av[1] = *src; /* back where it was: no effect */
        xs_call(x, from_head ? cmd_lpush : cmd_rpush, src, 3, av, 1, KV_OOM_EVICT);
        kvbuf_append(x->out, err.data, err.len);
        kvbuf_destroy(&err);
    } else {
        reply_bulk(x->out, elem.data, elem.len);
    }
    kvbuf_destroy(&elem);
}

/* SMOVE src dst member, as Redis: an absent source answers 0 before any
 * type check of the destination. */
static void xs_smove(xs_ctx *x)
{
    const kv_slot *q = x->q;
    const kv_str *src = &q->argv[1], *dst = &q->argv[2];
    kv_str av[3] = {q->argv[0], *src, q->argv[3]};
    if (xs_call(x, cmd_set_kind_part, src, 2, av, 0, KV_OOM_NONE)) {
        xs_fail(x);
        return;
    }
    if (x->res.num == 0) {
        reply_int(x->out, 0);
        return;
    }
    av[1] = *dst;
    if (xs_call(x, cmd_set_kind_part, dst, 2, av, 1, x->oom)) {
        xs_fail(x);
        return;
    }
    av[0] = (kv_str){"srem", 4};
    av[1] = *src;
    if (xs_call(x, cmd_srem, src, 3, av, 1, KV_OOM_NONE)) {
        xs_fail(x);
        return;
    }
    if (x->rep.len < 2 || x->rep.data[1] == '0') { /* not a member */
        reply_int(x->out, 0);
        return;
    }
    av[0] = (kv_str){"sadd", 4};
    av[1] = *dst;
    if (xs_call(x, cmd_sadd, dst, 3, av, 1, KV_OOM_EVICT)) {
        kvbuf err;
        kvbuf_init(&err);
        kvbuf_append(&err, x->rep.data, x->rep.len);
        av[1] = *src; /* back where it was: no effect */
        xs_call(x, cmd_sadd, src, 3, av, 1, KV_OOM_EVICT);
        kvbuf_append(x->out, err.data, err.len);
        kvbuf_destroy(&err);
        return;
    }
    reply_int(x->out, 1);
}

/* COPY src dst [DB n] [REPLACE] (xs_call's steps): the options, src's
 * value (it stays), whether dst exists in database n, then the PUT there
 * with src's expiry. */
static void xs_copy(xs_ctx *x)
{
    const kv_slot *q = x->q;
    const kv_str *src = &q->argv[1], *dst = &q->argv[2];
    unsigned db;
    int replace;
    const char *err;
    if (cmd_copy_args(q->argc, q->argv, q->db, (unsigned)x->srv->cfg.databases, &db, &replace,
                      &err) != 0) {
        reply_error(x->out, err);
        return;
    }
    kv_str av[5] = {{"peek", 4}, *src};
    xs_call(x, cmd_peek_part, src, 2, av, 0, KV_OOM_NONE);
    if (x->res.kind == CMD_RES_ABSENT) {
        reply_int(x->out, 0);
        return;
    }
    if (x->res.kind != CMD_RES_TAKE) {
        xs_fail_or(x, "ERR internal error in a copy across shards");
        return;
    }
    kvbuf val;
    kvbuf_init(&val);
    kvbuf_append(&val, x->rep.data, x->rep.len);
    char pxat[24], type[24];
    kv_str pav[5] = {{"put", 3},
                     *dst,
                     {val.data, val.len},
                     {pxat, (size_t)snprintf(pxat, sizeof pxat, "%lld", (long long)x->res.num)},
                     {type, (size_t)snprintf(type, sizeof type, "%u", (unsigned)x->res.type)}};
    x->db = db; /* dst's steps: in database n */
    av[0] = (kv_str){"exists", 6};
    av[1] = *dst; /* a write: refused here if its log fails, room made first */
    if (xs_call(x, cmd_exists_part, dst, 2, av, 1, x->oom)) {
        xs_fail(x);
    } else if (!replace && x->res.kind == CMD_RES_INT && x->res.num > 0) {
        reply_int(x->out, 0);
    } else if (xs_call(x, cmd_put_part, dst, 5, pav, 1, KV_OOM_EVICT)) {
        xs_fail(x);
    } else {
        reply_int(x->out, 1);
    }
    kvbuf_destroy(&val);
}

/* A STORE's result: the encoded value enc (type "3" set, "6" zset) put at
 * argv[1], or argv[1] deleted when len is 0; answers len. */
static void xs_store(xs_ctx *x, const kvbuf *enc, int64_t len, const char *type)
{
    const kv_str *dst = &x->q->argv[1];
    int err;
    if (len == 0) {
        kv_str av[2] = {{"del", 3}, *dst};
        err = xs_call(x, cmd_del_part, dst, 2, av, 1, KV_OOM_NONE);
    } else {
        kv_str av[5] = {{"put", 3}, *dst, {enc->data, enc->len}, {"-1", 2}, {type, strlen(type)}};
        err = xs_call(x, cmd_put_part, dst, 5, av, 1, x->oom);
    }
    cmd_res_clear(&x->res);
    if (err)
        xs_fail(x);
    else
        reply_int(x->out, len);
}

/* SINTER, SUNION, SDIFF, their STOREs and SINTERCARD: each source key's
 * members from its shard (a WRONGTYPE anywhere is the answer), combined
 * here, stored in the destination's shard. */
static void xs_setop(xs_ctx *x)
{
    const kv_slot *q = x->q;
    int store = q->def->store, op = q->def->op;
    int first = store ? 2 : 1, n = q->argc - first;
    int64_t limit = 0;
    if (op == SETOP_INTERCARD) {
        int64_t nk;
        const char *err;
        if (cmd_sintercard_args(q->argc, q->argv, &nk, &limit, &err) != 0) {
            reply_error(x->out, err);
            return;
        }
        first = 2;
        n = (int)nk;
    }
    sobj_t **sets = kv_xcalloc((size_t)n + 1, sizeof *sets);
    int failed = 0;
    for (int k = 0; k < n && !failed; k++) {
        kv_str av[2] = {q->argv[0], q->argv[first + k]};
        xs_call(x, cmd_smembers_part, &av[1], 2, av, 0, KV_OOM_NONE);
        if (x->res.kind != CMD_RES_SETS || x->res.count < 1) {
            xs_fail(x);
            failed = 1;
        } else {
            sets[k] = x->res.sets[0]; /* taken from the result */
            x->res.sets[0] = NULL;
        }
        cmd_res_clear(&x->res);
    }
    if (!failed) {
        sobj_t *r =
            cmd_setop(op == SETOP_INTERCARD ? SETOP_INTER : op, sets, (unsigned)n, &x->srv->secret);
        if (!store) {
            cmd_setop_reply(x->out, op, r, 0, limit);
        } else {
            kvbuf enc;
            kvbuf_init(&enc);
            int64_t len = (int64_t)sobj_len(r);
            if (len > 0) sobj_encode(r, &enc);
            xs_store(x, &enc, len, "3"); /* KV_TYPE_SET */
            kvbuf_destroy(&enc);
        }
        sobj_free(r);
    }
    for (int k = 0; k < n; k++) sobj_free(sets[k]);
    free(sets);
}

/* The sorted set of the last step's typed answer (CMD_RES_ZSETS, one key),
 * taken from it; NULL for no such key (or an empty range), or when the
 * step answered something else (x->res.kind says). */
static zobj_t *xs_take_zset(xs_ctx *x)
{
    if (x->res.kind != CMD_RES_ZSETS || x->res.count < 1) return NULL;
    zobj_t *z = x->res.zsets[0];
    x->res.zsets[0] = NULL;
    return z;
}

/* A sorted-set STORE of r (taken; NULL: empty): as Redis keeps it, at argv[1]. */
static void xs_zstore(xs_ctx *x, zobj_t *r)
{
    r = cmd_zset_store_form(r, &x->srv->secret); /* NULL: empty */
    kvbuf enc;
    kvbuf_init(&enc);
    int64_t len = r != NULL ? (int64_t)zobj_len(r) : 0;
    if (len > 0) zobj_encode(r, &enc);
    zobj_free(r);
    xs_store(x, &enc, len, "6"); /* KV_TYPE_ZSET */
    kvbuf_destroy(&enc);
}

/* ZUNION, ZINTER, ZDIFF, their STOREs, ZINTERCARD and ZRANGESTORE: the
 * members of each source key from its shard (types first, then the
 * options, as Redis), combined here, stored in the destination's shard. */
static void xs_zsetop(xs_ctx *x)
{
    const kv_slot *q = x->q;
    const kv_hash_secret *secret = &x->srv->secret;
    if (q->def->kind == CMDK_ZRANGESTORE) {
        if (xs_call(x, cmd_zrangestore_part, &q->argv[2], q->argc, q->argv, 0, KV_OOM_NONE)) {
            xs_fail(x);
            return;
        }
        zobj_t *z = xs_take_zset(x);
        if (x->res.kind != CMD_RES_ZSETS) {
            reply_error(x->out, "ERR internal error in sorted set gather");
            return;
        }
        cmd_res_clear(&x->res);
        xs_zstore(x, z);
        return;
    }
    cmd_zsetop_spec sp;
    const char *err;
    if (cmd_zsetop_args(q->def->op, q->def->store, q->argc, q->argv, &sp, &err) != 0) {
        if (err != NULL)
            reply_error(x->out, err);
        else
            reply_errorf(x->out, "ERR at least 1 input key is needed for '%s' command",
                         q->def->name);
        return;
    }
    int n = (int)sp.numkeys;
    zobj_t **in = kv_xcalloc((size_t)n + 1, sizeof *in);
    double *weights = kv_xmalloc(((size_t)n + 1) * sizeof *weights);
    int failed = 0;
    for (int k = 0; k < n && !failed; k++) {
        kv_str av[2] = {q->argv[0], q->argv[sp.first + k]};
        if (xs_call(x, cmd_zmembers_part, &av[1], 2, av, 0, KV_OOM_NONE)) {
            xs_fail(x);
            failed = 1;
            break;
        }
        in[k] = xs_take_zset(x); /* NULL: no such key */
        if (x->res.kind != CMD_RES_ZSETS) {
            reply_error(x->out, "ERR internal error in sorted set gather");
            failed = 1;
        }
        cmd_res_clear(&x->res);
    }
    if (!failed && cmd_zsetop_opts(q->argc, q->argv, &sp, weights, &err) != 0) {
        reply_error(x->out, err);
        failed = 1;
    }
    if (!failed) {
        zobj_t *r = cmd_zsetop(&sp, in, weights, secret);
        if (sp.store) {
            xs_zstore(x, r);
        } else {
            cmd_zsetop_reply(x->out, &sp, r);
            zobj_free(r);
        }
    }
    for (int k = 0; k < n; k++) zobj_free(in[k]);
    free(in);
    free(weights);
}

/* ZMPOP/LMPOP and the non-blocking BLPOP... in MULTI: each key in argument
 * order, as the command over that key alone (argv: the npre arguments pre,
 * the key, the arguments after the keys), until one answers other than a
 * nil; so the first key that has elements is popped, as in Redis. */
static void xs_each_key(xs_ctx *x, const kv_str *pre, int npre, int first, int n, int after)
{
    const kv_slot *q = x->q;
    int rest = q->argc - after, argc = npre + 1 + rest;
    kv_str *av = kv_xmalloc((size_t)argc * sizeof *av);
    memcpy(av, pre, (size_t)npre * sizeof *av);
    memcpy(av + npre + 1, q->argv + after, (size_t)rest * sizeof *av);
    for (int k = 0; k < n; k++) {
        av[npre] = q->argv[first + k];
        xs_call(x, q->def->fn, &av[npre], argc, av, 1, KV_OOM_NONE);
        cmd_res_clear(&x->res);
        if (!xs_nil(&x->rep) || k == n - 1) break;
    }
    xs_fail(x); /* the answer, whatever it is */
    free(av);
}

static void xs_pops(xs_ctx *x, int kind)
{
    const kv_slot *q = x->q;
    int n = 0;
    if (kind == XS_BPOP) { /* name key... timeout */
        xs_each_key(x, q->argv, 1, 1, q->argc - 2, q->argc - 1);
        return;
    }
    int first = kind == XS_MPOP ? 2 : 3; /* [timeout] numkeys key... */
    if (xs_mpop_n(q, first - 1, &n) != 0) {
        reply_error(x->out, KV_ERR_SYNTAX); /* can't happen: checked at routing */
        return;
    }
    kv_str pre[3] = {q->argv[0], q->argv[1], {"1", 1}};
    if (kind == XS_MPOP) pre[1] = (kv_str){"1", 1};
    xs_each_key(x, pre, first, first, n, first + n);
}

/* Runs x->q's command step by step; x: zeroed but for step, step_ctx,
 * srv, q, oom, tok and out. */
static void xs_run(xs_ctx *x)
{
    kvbuf_init(&x->rep);
    x->db = x->q->db;
    int kind = xs_kind(x->q->def);
    switch (kind) {
    case XS_LMOVE:
        xs_lmove(x);
        break;
    case XS_SMOVE:
        xs_smove(x);
        break;
    case XS_COPY:
        xs_copy(x);
        break;
    case XS_SETOP:
        xs_setop(x);
        break;
    case XS_ZSETOP:
        xs_zsetop(x);
        break;
    case XS_MPOP:
    case XS_BPOP:
    case XS_BMPOP:
        xs_pops(x, kind);
        break;
    default:
        reply_errorf(x->out, "ERR '%s' across shards is not supported", x->q->def->name);
        break;
    }
    cmd_res_clear(&x->res);
    kvbuf_destroy(&x->rep);
}

/* A frozen run's step. */
static void xs_fz_step(void *ctx, kv_req *r)
{
    actor_fz_call(ctx, r);
}

void xshard_run(actor_fz *fz, const server_t *s, const kv_slot *q, int oom, struct blk_token *tok,
                kvbuf *out)
{
    xs_ctx x = {
        .step = xs_fz_step, .step_ctx = fz, .srv = s, .q = q, .oom = oom, .tok = tok, .out = out};
    xs_run(&x);
}

void xshard_run_steps(xshard_step_fn *step, void *ctx, const server_t *s, const kv_slot *q, int oom,
                      kvbuf *out)
{
    xs_ctx x = {
        .step = step, .step_ctx = ctx, .srv = s, .q = q, .oom = oom, .tok = NULL, .out = out};
    xs_run(&x);
}
