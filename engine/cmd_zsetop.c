/* cmd_zsetop.c - ZUNION/ZINTER/ZDIFF (+STORE) and ZINTERCARD with Redis
 * 7.0's replies (sets count as sorted sets of score 1), and the algebra the
 * network thread's gather (net/route.c) shares with them. Owner actor
 * thread only, but where a function says otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cmd.h"
#include "engine/cmd_internal.h"
#include "engine/cmd_zset_internal.h"
#include "engine/reply.h"
#include "engine/shard.h"
#include "engine/sobj.h"
#include "engine/zobj.h"

/* ---- ZUNION / ZINTER / ZDIFF ------------------------------------------------------------------
 */

int cmd_zsetop_args(int op, int store, int argc, const kv_str *argv, cmd_zsetop_spec *sp,
                    const char **err)
{
    memset(sp, 0, sizeof *sp);
    sp->store = store;
    sp->op = op;
    int ni = store ? 2 : 1;
    sp->first = ni + 1;
    *err = KV_ERR_NOTINT;
    if (kv_parse_i64(argv[ni].p, argv[ni].len, &sp->numkeys) != 0) return -1;
    if (sp->numkeys < 1) {
        *err = NULL; /* the caller formats it with the command's name */
        return -1;
    }
    if (sp->numkeys > argc - sp->first) {
        *err = KV_ERR_SYNTAX;
        return -1;
    }
    return 0;
}

int cmd_zsetop_opts(int argc, const kv_str *argv, cmd_zsetop_spec *sp, double *weights,
                    const char **err)
{
    int j = sp->first + (int)sp->numkeys, n = (int)sp->numkeys;
    int card = sp->op == ZSETOP_INTERCARD, diff = sp->op == ZSETOP_DIFF;
    for (int i = 0; i < n; i++) weights[i] = 1;
    sp->agg = ZAGG_SUM;
    *err = KV_ERR_SYNTAX;
    while (j < argc) {
        int left = argc - j;
        if (!diff && !card && left >= n + 1 && cmd_is(&argv[j], "weights")) {
            j++;
            for (int i = 0; i < n; i++, j++) {
                if (cmd_zparse_score(&argv[j], &weights[i]) != 0) {
                    *err = "ERR weight value is not a float";
                    return -1;
                }
            }
        } else if (!diff && !card && left >= 2 && cmd_is(&argv[j], "aggregate")) {
            const kv_str *a = &argv[j + 1];
            if (cmd_is(a, "sum"))
                sp->agg = ZAGG_SUM;
            else if (cmd_is(a, "min"))
                sp->agg = ZAGG_MIN;
            else if (cmd_is(a, "max"))
                sp->agg = ZAGG_MAX;
            else
                return -1;
            j += 2;
        } else if (!sp->store && !card && cmd_is(&argv[j], "withscores")) {
            sp->withscores = 1;
            j++;
        } else if (card && left >= 2 && cmd_is(&argv[j], "limit")) {
            if (kv_parse_i64(argv[j + 1].p, argv[j + 1].len, &sp->limit) != 0 || sp->limit < 0) {
                *err = "ERR LIMIT can't be negative";
                return -1;
            }
            j += 2;
        } else {
            return -1;
        }
    }
    return 0;
}

static double agg(int how, double acc, double v)
{
    if (how == ZAGG_MIN) return v < acc ? v : acc;
    if (how == ZAGG_MAX) return v > acc ? v : acc;
    acc += v;
    return isnan(acc) ? 0 : acc; /* inf + -inf */
}

static double weigh(double w, double score)
{
    double v = w * score;
    return isnan(v) ? 0 : v; /* 0 * inf */
}

typedef struct zsrc {
    zobj_t *z; /* NULL: an absent key */
    double w;
} zsrc;

static size_t zsrc_len(const zsrc *x)
{
    return x->z ? zobj_len(x->z) : 0;
}

static int by_len(const void *a, const void *b)
{
    size_t x = zsrc_len(a), y = zsrc_len(b);
    return x < y ? -1 : x > y;
}

zobj_t *cmd_zsetop(const cmd_zsetop_spec *sp, zobj_t *const *in, const double *weights,
                   const kv_hash_secret *secret)
{
    size_t n = (size_t)sp->numkeys;
    zobj_t *r = zobj_new(secret);
    if (sp->op == ZSETOP_DIFF) {
        for (size_t i = 0; in[0] && i < zobj_len(in[0]); i++) {
            kv_str m;
            double d, x;
            zobj_at(in[0], i, &m, &d);
            size_t k = 1;
            while (k < n && !(in[k] && zobj_score(in[k], m.p, m.len, &x))) k++;
            if (k == n) zobj_set(r, m.p, m.len, d);
        }
        return r;
    }
    /* Redis visits the inputs from the smallest (qsort by size): the order
     * of aggregation shows in float sums and in MIN/MAX of 0 and -0 */
    zsrc *src = kv_xmalloc(n * sizeof *src);
    for (size_t k = 0; k < n; k++) src[k] = (zsrc){in[k], weights[k]};
    qsort(src, n, sizeof *src, by_len);
    if (sp->op == ZSETOP_UNION) {
        for (size_t k = 0; k < n; k++) {
            for (size_t i = 0; i < zsrc_len(&src[k]); i++) {
                kv_str m;
                double d, cur, v;
                zobj_at(src[k].z, i, &m, &d);
                v = weigh(src[k].w, d);
                if (zobj_score(r, m.p, m.len, &cur)) {
                    v = agg(sp->agg, cur, v);
                    /* zobj_set keeps a score equal to the new one: -0 for 0 */
                    if (v == cur && signbit(v) != signbit(cur)) zobj_rem(r, m.p, m.len);
                }
                zobj_set(r, m.p, m.len, v);
            }
        }
        free(src);
        return r;
    }
    /* INTER: walk the smallest input */
    for (size_t i = 0; i < zsrc_len(&src[0]); i++) {
        kv_str m;
        double d, x;
        zobj_at(src[0].z, i, &m, &d);
        double v = weigh(src[0].w, d);
        size_t k = 1;
        for (; k < n; k++) {
            if (!zobj_score(src[k].z, m.p, m.len, &x)) break;
            v = agg(sp->agg, v, src[k].w * x); /* Redis: a NaN here is no 0 */
        }
        if (k == n) zobj_set(r, m.p, m.len, v);
    }
    free(src);
    return r;
}

void cmd_zsetop_reply(kvbuf *out, const cmd_zsetop_spec *sp, const zobj_t *r)
{
    int64_t card = (int64_t)zobj_len(r);
    if (sp->op == ZSETOP_INTERCARD) {
        reply_int(out, sp->limit > 0 && card > sp->limit ? sp->limit : card);
    } else if (sp->store) {
        reply_int(out, card);
    } else {
        reply_array(out, card * (sp->withscores ? 2 : 1));
        for (size_t i = 0; i < (size_t)card; i++) cmd_zemit_elem(out, r, i, sp->withscores);
    }
}

static void add_one(void *arg, const kv_str *m)
{
    zobj_set(arg, m->p, m->len, 1.0);
}

/* A sorted set (new, owned by the caller) of set e's members at score 1. */
static zobj_t *zobj_of_set(kv_entry *e, const kv_hash_secret *secret)
{
    zobj_t *z = zobj_new(secret);
    sobj_foreach(entry_sobj(e), add_one, z);
    return z;
}

/* Replies the error of a bad numkeys as Redis, for the command named n. */
static void numkeys_error(const cmd_call *c, const char *err)
{
    if (err != NULL) {
        reply_error(c->out, err);
        return;
    }
    char msg[128];
    size_t n = c->argv[0].len < 32 ? c->argv[0].len : 32;
    char name[33];
    for (size_t i = 0; i < n; i++) {
        char ch = c->argv[0].p[i];
        name[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    name[n] = '\0';
    snprintf(msg, sizeof msg, "ERR at least 1 input key is needed for '%s' command", name);
    reply_error(c->out, msg);
}

/* Operation op (ZSETOP_*), of the STORE form if store, with every key in
 * this shard (net/route.c sends the command here only then). */
static void zsetop_local(shard_t *s, const cmd_call *c, int op, int store)
{
    cmd_zsetop_spec sp;
    const char *err;
    if (cmd_zsetop_args(op, store, c->argc, c->argv, &sp, &err) != 0) {
        numkeys_error(c, err);
        return;
    }
    size_t n = (size_t)sp.numkeys;
    zobj_t **in = kv_xcalloc(n, sizeof *in);
    unsigned char *own = kv_xcalloc(n, 1);
    double *weights = kv_xmalloc(n * sizeof *weights);
    int ok = 1;
    for (size_t k = 0; k < n && ok; k++) { /* Redis checks types before options */
        kv_entry *e = cmd_lookup_read(s, &c->argv[sp.first + k]);
        if (e == NULL) continue;
        if (e->type == KV_TYPE_ZSET) {
            in[k] = entry_zobj(e);
        } else if (e->type == KV_TYPE_SET) {
            in[k] = zobj_of_set(e, s->secret);
            own[k] = 1;
        } else {
            reply_error(c->out, KV_ERR_WRONGTYPE);
            ok = 0;
        }
    }
    if (ok && cmd_zsetop_opts(c->argc, c->argv, &sp, weights, &err) != 0) {
        reply_error(c->out, err);
        ok = 0;
    }
    zobj_t *r = ok ? cmd_zsetop(&sp, in, weights, s->secret) : NULL;
    for (size_t k = 0; k < n; k++)
        if (own[k]) zobj_free(in[k]);
    free(in);
    free(own);
    free(weights);
    if (r == NULL) return;
    if (!sp.store) {
        cmd_zsetop_reply(c->out, &sp, r);
        zobj_free(r);
        return;
    }
    cmd_zsetop_reply(c->out, &sp, r);
    r = cmd_zset_store_form(r, s->secret);
    shard_del(s, c->argv[1].p, c->argv[1].len);
    if (zobj_len(r) == 0) {
        zobj_free(r);
        return;
    }
    shard_obj_put(s, c->argv[1].p, c->argv[1].len, KV_TYPE_ZSET, r, -1);
    cmd_zset_signal(s, &c->argv[1]);
}

void cmd_zunion(shard_t *s, const cmd_call *c)
{
    zsetop_local(s, c, ZSETOP_UNION, 0);
}
void cmd_zinter(shard_t *s, const cmd_call *c)
{
    zsetop_local(s, c, ZSETOP_INTER, 0);
}
void cmd_zdiff(shard_t *s, const cmd_call *c)
{
    zsetop_local(s, c, ZSETOP_DIFF, 0);
}
void cmd_zunionstore(shard_t *s, const cmd_call *c)
{
    zsetop_local(s, c, ZSETOP_UNION, 1);
}
void cmd_zinterstore(shard_t *s, const cmd_call *c)
{
    zsetop_local(s, c, ZSETOP_INTER, 1);
}
void cmd_zdiffstore(shard_t *s, const cmd_call *c)
{
    zsetop_local(s, c, ZSETOP_DIFF, 1);
}
void cmd_zintercard(shard_t *s, const cmd_call *c)
{
    zsetop_local(s, c, ZSETOP_INTERCARD, 0);
}

/* A copy of sorted set z (new, owned by the caller): the gatherer reads it
 * on its own thread while the shard goes on. */
static zobj_t *zset_copy_of(const zobj_t *z, const kv_hash_secret *secret)
{
    zobj_t *r = zobj_new(secret);
    for (size_t i = 0; i < zobj_len(z); i++) {
        kv_str m;
        double d;
        zobj_at(z, i, &m, &d);
        zobj_set(r, m.p, m.len, d);
    }
    return r;
}

/* ZMEMBERS part (cmd.h): CMD_RES_ZSETS, a copy of each key's sorted set (a
 * set's members at score 1, NULL for an absent key), or WRONGTYPE alone if
 * any key holds another type. */
void cmd_zmembers_part(shard_t *s, const cmd_call *c)
{
    if (c->res == NULL) {
        reply_error(c->out, "ERR internal error: a typed part called without a result");
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        kv_entry *e = shard_lookup(s, c->argv[i].p, c->argv[i].len);
        if (e != NULL && e->type != KV_TYPE_ZSET && e->type != KV_TYPE_SET) {
            reply_error(c->out, KV_ERR_WRONGTYPE);
            return;
        }
    }
    zobj_t **zsets = kv_xcalloc((size_t)c->argc, sizeof *zsets);
    for (int i = 1; i < c->argc; i++) {
        kv_entry *e = cmd_lookup_read(s, &c->argv[i]);
        if (e != NULL)
            zsets[i - 1] = e->type == KV_TYPE_ZSET ? zset_copy_of(entry_zobj(e), s->secret)
                                                   : zobj_of_set(e, s->secret);
    }
    *c->res = (cmd_res){.kind = CMD_RES_ZSETS, .count = c->argc - 1, .zsets = zsets};
}
