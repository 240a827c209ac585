/* cmd_zset.c - sorted-set commands against one shard, with Redis 7.0's
 * replies (t_zset.c) for the subset built so far: ZADD, ZINCRBY, ZSCORE,
 * ZMSCORE, ZCARD, ZREM, ZRANK, ZREVRANK, ZCOUNT, ZRANGE by index, ZPOPMIN,
 * ZPOPMAX. Scores print as Redis 7.0 does ("%.17g"). Every change logs the
 * whole sorted set (shard_obj_end). Owner actor thread only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cmd.h"
#include "engine/cmd_internal.h"
#include "engine/reply.h"
#include "engine/shard.h"
#include "engine/cmd_zset_internal.h"
#include "engine/zobj.h"

#define ERR_FLOAT "ERR value is not a valid float"

static kv_entry *zget(shard_t *s, const cmd_call *c, int read, int *wrong)
{
    return cmd_lookup_type(s, c, &c->argv[1], KV_TYPE_ZSET, read, wrong);
}

/* Parses a score as Redis's strtod-based check: 0, or -1 (NaN, junk). */
int cmd_zparse_score(const kv_str *a, double *out)
{
    char buf[128];
    if (a->len == 0 || a->len >= sizeof buf) return -1;
    memcpy(buf, a->p, a->len);
    buf[a->len] = '\0';
    if (buf[0] == ' ' || buf[0] == '\t') return -1;
    char *end;
    double d = strtod(buf, &end);
    if (*end != '\0' || isnan(d)) return -1;
    *out = d;
    return 0;
}

void cmd_zreply_score(kvbuf *out, double d)
{
    char buf[64];
    int n;
    if (isinf(d))
        n = snprintf(buf, sizeof buf, "%s", d > 0 ? "inf" : "-inf");
    else
        n = snprintf(buf, sizeof buf, "%.17g", d);
    reply_bulk(out, buf, (size_t)n);
}

enum { ZF_NX = 1, ZF_XX = 2, ZF_GT = 4, ZF_LT = 8, ZF_CH = 16, ZF_INCR = 32 };

void cmd_zadd(shard_t *s, const cmd_call *c)
{
    int flags = 0, i = 2, wrong;
    for (; i < c->argc; i++) {
        const kv_str *a = &c->argv[i];
        int f = cmd_is(a, "nx")     ? ZF_NX
                : cmd_is(a, "xx")   ? ZF_XX
                : cmd_is(a, "gt")   ? ZF_GT
                : cmd_is(a, "lt")   ? ZF_LT
                : cmd_is(a, "ch")   ? ZF_CH
                : cmd_is(a, "incr") ? ZF_INCR
                                    : 0;
        if (!f) break;
        flags |= f;
    }
    int pairs = c->argc - i;
    if (pairs == 0 || pairs % 2 != 0) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    pairs /= 2;
    if ((flags & ZF_NX) && (flags & ZF_XX)) {
        reply_error(c->out, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if (((flags & ZF_GT) && (flags & ZF_LT)) || ((flags & (ZF_GT | ZF_LT)) && (flags & ZF_NX))) {
        reply_error(c->out, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if ((flags & ZF_INCR) && pairs > 1) {
        reply_error(c->out, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double *scores = kv_xmalloc((size_t)pairs * sizeof *scores);
    for (int k = 0; k < pairs; k++) {
        if (cmd_zparse_score(&c->argv[i + 2 * k], &scores[k]) != 0) {
            free(scores);
            reply_error(c->out, ERR_FLOAT);
            return;
        }
    }
    kv_entry *e = zget(s, c, 0, &wrong);
    if (wrong) {
        free(scores);
        return;
    }
    if (e == NULL && (flags & ZF_XX)) {
        free(scores);
        if (flags & ZF_INCR)
            reply_nil(c->out);
        else
            reply_int(c->out, 0);
        return;
    }
    e = cmd_obj_open(s, e, &c->argv[1], KV_TYPE_ZSET);
    zobj_t *z = entry_zobj(e);
    int64_t added = 0, changed = 0;
    int incr_done = 0, nan_err = 0;
    double incr_result = 0;
    for (int k = 0; k < pairs; k++) {
        const kv_str *m = &c->argv[i + 2 * k + 1];
        double cur, sc = scores[k];
        int had = zobj_score(z, m->p, m->len, &cur);
        if ((had && (flags & ZF_NX)) || (!had && (flags & ZF_XX))) continue;
        if (flags & ZF_INCR) {
            sc = had ? cur + sc : sc;
            if (isnan(sc)) {
                nan_err = 1;
                break;
            }
        }
        if (had && (((flags & ZF_GT) && !(sc > cur)) || ((flags & ZF_LT) && !(sc < cur)))) continue;
        incr_done = 1;
        incr_result = sc;
        if (!had) {
            zobj_set(z, m->p, m->len, cmd_zscore_stored(z, m->len, sc));
            added++;
        } else if (cur != sc) {
            zobj_set(z, m->p, m->len, cmd_zscore_stored(z, m->len, sc));
            changed++;
        }
    }
    free(scores);
    shard_obj_end(s, e, added + changed > 0);
    if (added > 0) cmd_zset_signal(s, &c->argv[1]);
    if (nan_err) {
        reply_error(c->out, "ERR resulting score is not a number (NaN)");
        return;
    }
    if (flags & ZF_INCR) {
        if (incr_done)
            cmd_zreply_score(c->out, incr_result);
        else
            reply_nil(c->out);
        return;
    }
    reply_int(c->out, (flags & ZF_CH) ? added + changed : added);
}

void cmd_zincrby(shard_t *s, const cmd_call *c)
{
    double by, cur = 0;
    int wrong;
    if (cmd_zparse_score(&c->argv[2], &by) != 0) {
        reply_error(c->out, ERR_FLOAT);
        return;
    }
    kv_entry *e = zget(s, c, 0, &wrong);
    if (wrong) return;
    const kv_str *m = &c->argv[3];
    if (e != NULL && zobj_score(entry_zobj(e), m->p, m->len, &cur) && isnan(cur + by)) {
        reply_error(c->out, "ERR resulting score is not a number (NaN)");
        return;
    }
    e = cmd_obj_open(s, e, &c->argv[1], KV_TYPE_ZSET);
    zobj_set(entry_zobj(e), m->p, m->len, cmd_zscore_stored(entry_zobj(e), m->len, cur + by));
    shard_obj_end(s, e, 1);
    cmd_zset_signal(s, &c->argv[1]);
    cmd_zreply_score(c->out, cur + by);
}

void cmd_zscore(shard_t *s, const cmd_call *c)
{
    double d;
    int wrong;
    kv_entry *e = zget(s, c, 1, &wrong);
    if (wrong) return;
    if (e && zobj_score(entry_zobj(e), c->argv[2].p, c->argv[2].len, &d))
        cmd_zreply_score(c->out, d);
    else
        reply_nil(c->out);
}

void cmd_zmscore(shard_t *s, const cmd_call *c)
{
    double d;
    int wrong;
    kv_entry *e = zget(s, c, 1, &wrong);
    if (wrong) return;
    reply_array(c->out, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        if (e && zobj_score(entry_zobj(e), c->argv[i].p, c->argv[i].len, &d))
            cmd_zreply_score(c->out, d);
        else
            reply_nil(c->out);
    }
}

void cmd_zcard(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = zget(s, c, 1, &wrong);
    if (wrong) return;
    reply_int(c->out, e ? (int64_t)zobj_len(entry_zobj(e)) : 0);
}

void cmd_zrem(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = zget(s, c, 0, &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    shard_obj_begin(s, e);
    int64_t n = 0;
    for (int i = 2; i < c->argc; i++) n += zobj_rem(entry_zobj(e), c->argv[i].p, c->argv[i].len);
    shard_obj_end(s, e, n > 0);
    reply_int(c->out, n);
}

static void rank_generic(shard_t *s, const cmd_call *c, int rev)
{
    int wrong;
    if (c->argc > 3) { /* WITHSCORE is Redis 7.2 */
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    kv_entry *e = zget(s, c, 1, &wrong);
    if (wrong) return;
    int64_t r = e ? zobj_rank(entry_zobj(e), c->argv[2].p, c->argv[2].len) : -1;
    if (r < 0)
        reply_nil(c->out);
    else
        reply_int(c->out, rev ? (int64_t)zobj_len(entry_zobj(e)) - 1 - r : r);
}

void cmd_zrank(shard_t *s, const cmd_call *c)
{
    rank_generic(s, c, 0);
}

void cmd_zrevrank(shard_t *s, const cmd_call *c)
{
    rank_generic(s, c, 1);
}

/* Parses a ZCOUNT bound: [(]score, -inf/+inf. */
static int parse_bound(const kv_str *a, double *v, int *excl)
{
    kv_str b = *a;
    *excl = 0;
    if (b.len > 0 && b.p[0] == '(') {
        *excl = 1;
        b.p++;
        b.len--;
    }
    return cmd_zparse_score(&b, v);
}

/* Parses the score bounds amin and amax, then looks the sorted set up (read:
 * counts hit/miss) and sets [*lo, *hi) to the ranks whose scores are within
 * them (0, 0 when the key is absent). Returns the entry, or NULL when absent
 * (*wrong = 0) or after an error reply (*wrong = 1). */
static kv_entry *score_span(shard_t *s, const cmd_call *c, const kv_str *key, const kv_str *amin,
                            const kv_str *amax, int read, size_t *lo, size_t *hi, int *wrong)
{
    double min, max;
    int minx, maxx;
    *lo = *hi = 0;
    if (parse_bound(amin, &min, &minx) != 0 || parse_bound(amax, &max, &maxx) != 0) {
        reply_error(c->out, "ERR min or max is not a float");
        *wrong = 1;
        return NULL;
    }
    kv_entry *e = cmd_lookup_type(s, c, key, KV_TYPE_ZSET, read, wrong);
    if (e == NULL) return NULL;
    *lo = zobj_first_ge(entry_zobj(e), min, minx);
    *hi = zobj_first_ge(entry_zobj(e), max, !maxx);
    return e;
}

void cmd_zcount(shard_t *s, const cmd_call *c)
{
    size_t lo, hi;
    int wrong;
    score_span(s, c, &c->argv[1], &c->argv[2], &c->argv[3], 1, &lo, &hi, &wrong);
    if (wrong) return;
    reply_int(c->out, hi > lo ? (int64_t)(hi - lo) : 0);
}

/* A ZRANGEBYLEX bound: '[' inclusive, '(' exclusive, or "-" / "+". */
enum { LEX_INCL, LEX_EXCL, LEX_MINUS, LEX_PLUS };

static int parse_lex(const kv_str *a, int *kind, kv_str *v)
{
    if (a->len == 1 && (a->p[0] == '-' || a->p[0] == '+')) {
        *kind = a->p[0] == '-' ? LEX_MINUS : LEX_PLUS;
        return 0;
    }
    if (a->len == 0 || (a->p[0] != '[' && a->p[0] != '(')) return -1;
    *kind = a->p[0] == '[' ? LEX_INCL : LEX_EXCL;
    *v = (kv_str){a->p + 1, a->len - 1};
    return 0;
}

/* Redis's member order: bytes, then the shorter first. */
static int lex_cmp(const kv_str *a, const kv_str *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int r = n ? memcmp(a->p, b->p, n) : 0;
    if (r != 0) return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* The first rank whose member is > v, or >= v if ge; over members taken as
 * sorted (Redis: lex ranges are meant for members of equal scores). */
static size_t lex_first(const zobj_t *z, int kind, const kv_str *v, int ge)
{
    if (kind == LEX_MINUS) return 0;
    if (kind == LEX_PLUS) return zobj_len(z);
    size_t lo = 0, hi = zobj_len(z);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        kv_str m;
        double d;
        zobj_at(z, mid, &m, &d);
        int r = lex_cmp(&m, v);
        if (r > 0 || (ge && r == 0))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* As score_span for the lex bounds amin and amax. */
static kv_entry *lex_span(shard_t *s, const cmd_call *c, const kv_str *key, const kv_str *amin,
                          const kv_str *amax, int read, size_t *lo, size_t *hi, int *wrong)
{
    int kmin, kmax;
    kv_str vmin = {0}, vmax = {0};
    *lo = *hi = 0;
    if (parse_lex(amin, &kmin, &vmin) != 0 || parse_lex(amax, &kmax, &vmax) != 0) {
        reply_error(c->out, "ERR min or max not valid string range item");
        *wrong = 1;
        return NULL;
    }
    kv_entry *e = cmd_lookup_type(s, c, key, KV_TYPE_ZSET, read, wrong);
    if (e == NULL) return NULL;
    *lo = lex_first(entry_zobj(e), kmin, &vmin, kmin == LEX_INCL);
    *hi = lex_first(entry_zobj(e), kmax, &vmax, kmax == LEX_EXCL);
    return e;
}

void cmd_zlexcount(shard_t *s, const cmd_call *c)
{
    size_t lo, hi;
    int wrong;
    lex_span(s, c, &c->argv[1], &c->argv[2], &c->argv[3], 1, &lo, &hi, &wrong);
    if (wrong) return;
    reply_int(c->out, hi > lo ? (int64_t)(hi - lo) : 0);
}

/* Emits elements [lo, hi) of z (reversed if rev) after skipping offset, at
 * most count (< 0: all): as a reply, or into dst (ZRANGESTORE) when not
 * NULL. Returns how many. */
static int64_t emit_range(kvbuf *out, zobj_t *z, size_t lo, size_t hi, int rev, int withscores,
                          int64_t offset, int64_t count, zobj_t *dst)
{
    size_t n = hi > lo ? hi - lo : 0;
    if (offset < 0 || (uint64_t)offset >= n) {
        if (dst == NULL) reply_array(out, 0);
        return 0;
    }
    n -= (size_t)offset;
    if (count >= 0 && (uint64_t)count < n) n = (size_t)count;
    if (dst == NULL) reply_array(out, (int64_t)n * (withscores ? 2 : 1));
    for (size_t i = 0; i < n; i++) {
        size_t at = rev ? hi - 1 - (size_t)offset - i : lo + (size_t)offset + i;
        kv_str m;
        double d;
        zobj_at(z, at, &m, &d);
        if (dst != NULL) {
            zobj_set(dst, m.p, m.len, d);
            continue;
        }
        reply_bulk(out, m.p, m.len);
        if (withscores) cmd_zreply_score(out, d);
    }
    return (int64_t)n;
}

enum { RANGE_AUTO, RANGE_RANK, RANGE_SCORE, RANGE_LEX };

/* Replaces dst's value by z (NULL or empty: dst deleted); replies the count. */
static void store_result(shard_t *s, const cmd_call *c, const kv_str *dst, zobj_t *z)
{
    int64_t n = z ? (int64_t)zobj_len(z) : 0;
    shard_del(s, dst->p, dst->len);
    if (n > 0) {
        shard_obj_put(s, dst->p, dst->len, KV_TYPE_ZSET, z, -1);
        cmd_zset_signal(s, dst);
    } else
        zobj_free(z);
    reply_int(c->out, n);
}

/* ZRANGE key a b [BYSCORE|BYLEX] [REV] [LIMIT off n] [WITHSCORES], its
 * older forms (ZRANGEBYSCORE, ZREVRANGE...) with type and rev preset
 * (old_form), and ZRANGESTORE dst src a b [...] (store 1; store 2: its
 * part, answering the range in c->res, CMD_RES_ZSETS): the order of
 * checks is Redis's: options, then bounds, then the key's type. */
static void range_generic(shard_t *s, const cmd_call *c, int type, int rev, int old_form, int store)
{
    int withscores = 0, wrong, kidx = store ? 2 : 1;
    int64_t offset = 0, count = -1;
    int rev_set = old_form;
    for (int i = kidx + 3; i < c->argc; i++) {
        const kv_str *a = &c->argv[i];
        if (!store && cmd_is(a, "withscores")) {
            withscores = 1;
        } else if (cmd_is(a, "limit") && i + 2 < c->argc) {
            if (cmd_get_i64(c, &c->argv[i + 1], &offset) != 0 ||
                cmd_get_i64(c, &c->argv[i + 2], &count) != 0)
                return;
            i += 2;
        } else if (!rev_set && cmd_is(a, "rev")) {
            rev = rev_set = 1;
        } else if (type == RANGE_AUTO && cmd_is(a, "bylex")) {
            type = RANGE_LEX;
        } else if (type == RANGE_AUTO && cmd_is(a, "byscore")) {
            type = RANGE_SCORE;
        } else {
            reply_error(c->out, KV_ERR_SYNTAX);
            return;
        }
    }
    if (type == RANGE_AUTO) type = RANGE_RANK;
    if (count != -1 && type == RANGE_RANK) {
        reply_error(c->out,
                    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE "
                    "or BYLEX");
        return;
    }
    if (withscores && type == RANGE_LEX) {
        reply_error(c->out, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    const kv_str *key = &c->argv[kidx];
    /* REV takes max first */
    const kv_str *amin = &c->argv[kidx + (rev ? 2 : 1)], *amax = &c->argv[kidx + (rev ? 1 : 2)];
    size_t lo = 0, hi = 0;
    kv_entry *e;
    if (type == RANGE_SCORE) {
        e = score_span(s, c, key, amin, amax, 1, &lo, &hi, &wrong);
    } else if (type == RANGE_LEX) {
        e = lex_span(s, c, key, amin, amax, 1, &lo, &hi, &wrong);
    } else {
        int64_t start, stop;
        if (cmd_get_i64(c, &c->argv[kidx + 1], &start) != 0 ||
            cmd_get_i64(c, &c->argv[kidx + 2], &stop) != 0)
            return;
        e = cmd_lookup_type(s, c, key, KV_TYPE_ZSET, 1, &wrong);
        int64_t len = e ? (int64_t)zobj_len(entry_zobj(e)) : 0;
        if (e != NULL && cmd_index_range(len, &start, &stop)) {
            /* ranks counted from the end when reversed */
            lo = rev ? (size_t)(len - 1 - stop) : (size_t)start;
            hi = rev ? (size_t)(len - start) : (size_t)stop + 1;
        }
    }
    if (wrong) return;
    if (store) {
        zobj_t *dst = NULL;
        if (e != NULL && hi > lo) {
            dst = zobj_new(s->secret);
            emit_range(c->out, entry_zobj(e), lo, hi, rev, 0, offset, count, dst);
        }
        if (store == 2) { /* the gather's part: the range, typed */
            zobj_t **zsets = kv_xmalloc(sizeof *zsets);
            zsets[0] = dst;
            *c->res = (cmd_res){.kind = CMD_RES_ZSETS, .count = 1, .zsets = zsets};
            return;
        }
        store_result(s, c, &c->argv[1], cmd_zset_store_form(dst, s->secret));
        return;
    }
    if (e == NULL) {
        reply_array(c->out, 0);
        return;
    }
    emit_range(c->out, entry_zobj(e), lo, hi, rev, withscores, offset, count, NULL);
}

void cmd_zrange(shard_t *s, const cmd_call *c)
{
    range_generic(s, c, RANGE_AUTO, 0, 0, 0);
}

void cmd_zrangestore(shard_t *s, const cmd_call *c)
{
    range_generic(s, c, RANGE_AUTO, 0, 0, 1);
}

void cmd_zrangestore_part(shard_t *s, const cmd_call *c)
{
    if (c->res == NULL) {
        reply_error(c->out, "ERR internal error: a typed part called without a result");
        return;
    }
    range_generic(s, c, RANGE_AUTO, 0, 0, 2);
}

void cmd_zrevrange(shard_t *s, const cmd_call *c)
{
    range_generic(s, c, RANGE_RANK, 1, 1, 0);
}

void cmd_zrangebyscore(shard_t *s, const cmd_call *c)
{
    range_generic(s, c, RANGE_SCORE, 0, 1, 0);
}

void cmd_zrevrangebyscore(shard_t *s, const cmd_call *c)
{
    range_generic(s, c, RANGE_SCORE, 1, 1, 0);
}

void cmd_zrangebylex(shard_t *s, const cmd_call *c)
{
    range_generic(s, c, RANGE_LEX, 0, 1, 0);
}

void cmd_zrevrangebylex(shard_t *s, const cmd_call *c)
{
    range_generic(s, c, RANGE_LEX, 1, 1, 0);
}

/* Removes member m, which points into z itself (copied first). */
static void zrem_own(zobj_t *z, const kv_str *m)
{
    char *tmp = kv_xmalloc(m->len ? m->len : 1);
    memcpy(tmp, m->p, m->len);
    zobj_rem(z, tmp, m->len);
    free(tmp);
}

/* Removes ranks [lo, hi) of e's sorted set; replies the count. */
static void remove_ranks(shard_t *s, const cmd_call *c, kv_entry *e, size_t lo, size_t hi)
{
    if (hi <= lo) {
        reply_int(c->out, 0);
        return;
    }
    zobj_t *z = entry_zobj(e);
    shard_obj_begin(s, e);
    for (size_t i = hi; i > lo; i--) {
        kv_str m;
        double d;
        zobj_at(z, i - 1, &m, &d);
        zrem_own(z, &m);
    }
    shard_obj_end(s, e, 1);
    reply_int(c->out, (int64_t)(hi - lo));
}

void cmd_zremrangebyscore(shard_t *s, const cmd_call *c)
{
    size_t lo, hi;
    int wrong;
    kv_entry *e = score_span(s, c, &c->argv[1], &c->argv[2], &c->argv[3], 0, &lo, &hi, &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    remove_ranks(s, c, e, lo, hi);
}

void cmd_zremrangebylex(shard_t *s, const cmd_call *c)
{
    size_t lo, hi;
    int wrong;
    kv_entry *e = lex_span(s, c, &c->argv[1], &c->argv[2], &c->argv[3], 0, &lo, &hi, &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    remove_ranks(s, c, e, lo, hi);
}

void cmd_zremrangebyrank(shard_t *s, const cmd_call *c)
{
    int64_t start, stop;
    int wrong;
    if (cmd_get_i64(c, &c->argv[2], &start) != 0 || cmd_get_i64(c, &c->argv[3], &stop) != 0) return;
    kv_entry *e = zget(s, c, 0, &wrong);
    if (wrong) return;
    if (e == NULL || !cmd_index_range((int64_t)zobj_len(entry_zobj(e)), &start, &stop)) {
        reply_int(c->out, 0);
        return;
    }
    remove_ranks(s, c, e, (size_t)start, (size_t)stop + 1);
}

static void pop_generic(shard_t *s, const cmd_call *c, int max)
{
    int64_t count = 1;
    int wrong;
    if (c->argc > 3) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    if (c->argc == 3) {
        if (cmd_get_i64(c, &c->argv[2], &count) != 0) return;
        if (count < 0) {
            reply_error(c->out, "ERR value is out of range, must be positive");
            return;
        }
    }
    kv_entry *e = zget(s, c, 0, &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_array(c->out, 0);
        return;
    }
    zobj_t *z = entry_zobj(e);
    size_t n = (uint64_t)count < zobj_len(z) ? (size_t)count : zobj_len(z);
    reply_array(c->out, (int64_t)n * 2);
    if (n == 0) return;
    shard_obj_begin(s, e);
    for (size_t i = 0; i < n; i++) {
        kv_str m;
        double d;
        zobj_at(z, max ? zobj_len(z) - 1 : 0, &m, &d);
        reply_bulk(c->out, m.p, m.len);
        cmd_zreply_score(c->out, d);
        zrem_own(z, &m);
    }
    shard_obj_end(s, e, 1);
}

void cmd_zpopmin(shard_t *s, const cmd_call *c)
{
    pop_generic(s, c, 0);
}

void cmd_zpopmax(shard_t *s, const cmd_call *c)
{
    pop_generic(s, c, 1);
}
