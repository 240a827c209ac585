/* cmd_zset2.c - more sorted-set commands with Redis 7.0's replies:
 * ZRANDMEMBER, ZSCAN, ZMPOP, BZPOPMIN/BZPOPMAX/BZMPOP (the algebra is in
 * cmd_zsetop.c). Owner actor thread only, but where a function says
 * otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/block.h"
#include "engine/cmd.h"
#include "engine/cmd_internal.h"
#include "engine/cmd_zset_internal.h"
#include "engine/glob.h"
#include "engine/reply.h"
#include "engine/shard.h"
#include "engine/sobj.h"
#include "engine/zobj.h"

/* Picks with repeats are bounded as HRANDFIELD's (a documented difference:
 * Redis would build any reply asked for). */
/* ZSCAN returns a sorted set this small whole, as Redis does its listpacks. */
#define ZSCAN_WHOLE 128

static uint64_t zrand(uint64_t *rng)
{
    uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    return x;
}

void cmd_zemit_elem(kvbuf *out, const zobj_t *z, size_t i, int withscores)
{
    kv_str m;
    double d;
    zobj_at(z, i, &m, &d);
    reply_bulk(out, m.p, m.len);
    if (withscores) cmd_zreply_score(out, d);
}

#define ZSET_SMALL_LEN    128
#define ZSET_SMALL_MEMBER 64

double cmd_zscore_stored(const zobj_t *z, size_t mlen, double d)
{
    if (d == 0 && zobj_len(z) < ZSET_SMALL_LEN && mlen <= ZSET_SMALL_MEMBER) return 0.0;
    return d;
}

zobj_t *cmd_zset_store_form(zobj_t *r, const kv_hash_secret *secret)
{
    if (r == NULL || zobj_len(r) > ZSET_SMALL_LEN) return r;
    int neg0 = 0;
    for (size_t i = 0; i < zobj_len(r); i++) {
        kv_str m;
        double d;
        zobj_at(r, i, &m, &d);
        if (m.len > ZSET_SMALL_MEMBER) return r;
        neg0 |= d == 0 && signbit(d);
    }
    if (!neg0) return r;
    zobj_t *c = zobj_new(secret);
    for (size_t i = 0; i < zobj_len(r); i++) {
        kv_str m;
        double d;
        zobj_at(r, i, &m, &d);
        zobj_set(c, m.p, m.len, d == 0 ? 0.0 : d);
    }
    zobj_free(r);
    return c;
}

/* ---- ZRANDMEMBER ---------------------------------------------------------------------------- */

static void zrandmember_count(shard_t *s, const cmd_call *c, int64_t l, int withscores)
{
    int wrong;
    kv_entry *e = cmd_lookup_type(s, c, &c->argv[1], KV_TYPE_ZSET, 1, &wrong);
    if (wrong) return;
    if (e == NULL || l == 0) {
        reply_array(c->out, 0);
        return;
    }
    zobj_t *z = entry_zobj(e);
    size_t size = zobj_len(z);
    int per = withscores ? 2 : 1;
    if (l < 0) { /* repeats allowed */
        uint64_t count = (uint64_t)0 - (uint64_t)l;
        reply_array(c->out, (int64_t)count * per);
        for (uint64_t i = 0; i < count; i++)
            cmd_zemit_elem(c->out, z, (size_t)(zrand(&s->rng) % size), withscores);
        return;
    }
    size_t count = (uint64_t)l < size ? (size_t)l : size;
    reply_array(c->out, (int64_t)count * per);
    /* selection sampling over the ranks: every subset equally likely */
    size_t need = count;
    for (size_t i = 0; i < size && need > 0; i++) {
        if (zrand(&s->rng) % (size - i) < need) {
            cmd_zemit_elem(c->out, z, i, withscores);
            need--;
        }
    }
}

/* ZRANDMEMBER key [count [WITHSCORES]] */
void cmd_zrandmember(shard_t *s, const cmd_call *c)
{
    int wrong;
    if (c->argc >= 3) {
        int64_t l;
        int withscores;
        if (cmd_rand_count_args(c, "withscores", &l, &withscores) != 0) return;
        zrandmember_count(s, c, l, withscores);
        return;
    }
    kv_entry *e = cmd_lookup_type(s, c, &c->argv[1], KV_TYPE_ZSET, 1, &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_nil(c->out);
        return;
    }
    zobj_t *z = entry_zobj(e);
    cmd_zemit_elem(c->out, z, (size_t)(zrand(&s->rng) % zobj_len(z)), 0);
}

/* ---- ZSCAN ------------------------------------------------------------------------------------
 */

/* ZSCAN key cursor [MATCH pattern] [COUNT count]. The cursor is a rank: a
 * set of up to ZSCAN_WHOLE members comes whole (cursor 0), a bigger one by
 * COUNT ranks per call. Members removed between calls shift the ranks, so
 * unlike Redis a member present all along may be missed then (docs). */
void cmd_zscan(shard_t *s, const cmd_call *c)
{
    uint64_t cursor;
    int64_t count = 10;
    const kv_str *pattern = NULL;
    int wrong;
    if (cmd_parse_cursor(&c->argv[2], &cursor) != 0) {
        reply_error(c->out, "ERR invalid cursor");
        return;
    }
    kv_entry *e = cmd_lookup_type(s, c, &c->argv[1], KV_TYPE_ZSET, 1, &wrong);
    if (wrong) return;
    if (e == NULL) {
        kvbuf_append_str(c->out, "*2\r\n$1\r\n0\r\n*0\r\n");
        return;
    }
    if (cmd_scan_opts(c, 3, &count, &pattern) != 0) return;
    zobj_t *z = entry_zobj(e);
    size_t len = zobj_len(z), end = len;
    if (len <= ZSCAN_WHOLE || cursor >= len)
        cursor = len <= ZSCAN_WHOLE ? 0 : len; /* a cursor past the end ends the scan */
    else if ((uint64_t)count < len - cursor)
        end = (size_t)(cursor + (uint64_t)count);
    kvbuf items;
    kvbuf_init(&items);
    int64_t n = 0;
    for (size_t i = (size_t)cursor; i < end; i++) {
        kv_str m;
        double d;
        zobj_at(z, i, &m, &d);
        if (pattern && !kv_glob_match(pattern->p, pattern->len, m.p, m.len, 0)) continue;
        reply_bulk(&items, m.p, m.len);
        cmd_zreply_score(&items, d);
        n += 2;
    }
    cmd_reply_scan(c->out, end >= len ? 0 : end, &items, n);
    kvbuf_destroy(&items);
}

/* ---- ZMPOP ---------------------------------------------------------------------------------- */

int cmd_mpop_args(int argc, const kv_str *argv, int first, const char *a, const char *b,
                  int64_t *numkeys, int *which, int64_t *count, const char **err)
{
    *err = KV_ERR_SYNTAX;
    *count = -1;
    if (kv_parse_i64(argv[first].p, argv[first].len, numkeys) != 0 || *numkeys < 1) {
        *err = "ERR numkeys should be greater than 0";
        return -1;
    }
    if (*numkeys >= argc - first - 1) return -1;
    int w = first + 1 + (int)*numkeys;
    if (cmd_is(&argv[w], a))
        *which = 0;
    else if (cmd_is(&argv[w], b))
        *which = 1;
    else
        return -1;
    for (int j = w + 1; j < argc; j++) {
        if (*count == -1 && cmd_is(&argv[j], "count") && j + 1 < argc) {
            j++;
            if (kv_parse_i64(argv[j].p, argv[j].len, count) != 0 || *count < 1) {
                *err = "ERR count should be greater than 0";
                return -1;
            }
        } else {
            return -1;
        }
    }
    if (*count == -1) *count = 1;
    return 0;
}

/* Removes member m, which points into z itself (copied first). */
static void zrem_own(zobj_t *z, const kv_str *m)
{
    char *tmp = kv_xmalloc(m->len ? m->len : 1);
    memcpy(tmp, m->p, m->len);
    zobj_rem(z, tmp, m->len);
    free(tmp);
}

size_t cmd_zset_pop_for(shard_t *s, kv_entry *e, const kv_str *key, int max, int64_t count,
                        kvbuf *out)
{
    zobj_t *z = entry_zobj(e);
    size_t n = count < 0 ? 1 : (uint64_t)count < zobj_len(z) ? (size_t)count : zobj_len(z);
    reply_array(out, count < 0 ? 3 : 2);
    reply_bulk(out, key->p, key->len);
    if (count >= 0) reply_array(out, (int64_t)n);
    shard_obj_begin(s, e);
    for (size_t i = 0; i < n; i++) {
        kv_str m;
        double d;
        zobj_at(z, max ? zobj_len(z) - 1 : 0, &m, &d);
        if (count >= 0) reply_array(out, 2);
        reply_bulk(out, m.p, m.len);
        cmd_zreply_score(out, d);
        zrem_own(z, &m);
    }
    shard_obj_end(s, e, 1);
    return n;
}

/* Pops from the first non-empty sorted set of keys[0..n) (nil if none),
 * and answers how many in c->res (CMD_RES_POPPED) if asked. */
static void zpop_keys(shard_t *s, const cmd_call *c, const kv_str *keys, int n, int max,
                      int64_t count)
{
    int wrong;
    for (int k = 0; k < n; k++) {
        kv_entry *e = cmd_lookup_type(s, c, &keys[k], KV_TYPE_ZSET, 0, &wrong);
        if (wrong) return;
        if (e == NULL) continue;
        size_t popped = cmd_zset_pop_for(s, e, &keys[k], max, count, c->out);
        if (c->res != NULL) /* ZMPOP across shards: not nil, go no further */
            *c->res = (cmd_res){.kind = CMD_RES_POPPED, .num = (int64_t)popped};
        return;
    }
    if (c->res != NULL) *c->res = (cmd_res){.kind = CMD_RES_POPPED, .num = 0};
    reply_nil_array(c->out);
}

/* ZMPOP numkeys key... MIN|MAX [COUNT n]: every key in this shard. */
void cmd_zmpop(shard_t *s, const cmd_call *c)
{
    int64_t numkeys, count;
    int max;
    const char *err;
    if (cmd_mpop_args(c->argc, c->argv, 1, "min", "max", &numkeys, &max, &count, &err) != 0) {
        reply_error(c->out, err);
        return;
    }
    zpop_keys(s, c, &c->argv[2], (int)numkeys, max, count);
}

/* ---- BZPOPMIN / BZPOPMAX / BZMPOP ------------------------------------------------------------ */

/* BZPOPMIN/BZPOPMAX key... timeout, not blocking (MULTI). */
static void bzpop_now(shard_t *s, const cmd_call *c, int max)
{
    if (!cmd_block_timeout_ok(c, &c->argv[c->argc - 1])) return;
    zpop_keys(s, c, &c->argv[1], c->argc - 2, max, -1);
}

void cmd_bzpopmin(shard_t *s, const cmd_call *c)
{
    bzpop_now(s, c, 0);
}

void cmd_bzpopmax(shard_t *s, const cmd_call *c)
{
    bzpop_now(s, c, 1);
}

/* BZMPOP timeout numkeys key... MIN|MAX [COUNT n], not blocking (MULTI):
 * the arguments, then the timeout, as Redis checks them. */
void cmd_bzmpop(shard_t *s, const cmd_call *c)
{
    int64_t numkeys, count;
    int max;
    const char *err;
    if (cmd_mpop_args(c->argc, c->argv, 2, "min", "max", &numkeys, &max, &count, &err) != 0) {
        reply_error(c->out, err);
        return;
    }
    if (!cmd_block_timeout_ok(c, &c->argv[1])) return;
    zpop_keys(s, c, &c->argv[3], (int)numkeys, max, count);
}

/* The blocked client's part (cmd.h); c->env the token. Replies the answer
 * after claiming the token, WRONGTYPE, or nothing (registered, or served
 * elsewhere). */
void cmd_bzpop_try(shard_t *s, const cmd_call *c)
{
    blk_token *tok = c->env;
    int max = cmd_is(&c->argv[1], "max"), wrong;
    int64_t count = -1;
    kv_parse_i64(c->argv[2].p, c->argv[2].len, &count);
    for (int i = 3; i < c->argc; i++) {
        kv_entry *e = cmd_lookup_type(s, c, &c->argv[i], KV_TYPE_ZSET, 0, &wrong);
        if (wrong) return;
        if (e != NULL) {
            if (blk_token_claim(tok, BLK_SERVED))
                cmd_zset_pop_for(s, e, &c->argv[i], max, count, c->out);
            return;
        }
    }
    if (blk_token_state(tok) != BLK_WAITING) return;
    for (int i = 3; i < c->argc; i++) {
        const kv_str *k = &c->argv[i];
        blk_wait *w = blk_reg_add(cmd_shard_blk(s), shard_hash(s, k->p, k->len), s->db, k->p,
                                  k->len, tok, max, 0, 0, NULL);
        w->zset = 1;
        w->mpop = count >= 0;
        w->count = (uint32_t)(count > UINT32_MAX ? UINT32_MAX : count < 0 ? 1 : count);
    }
}

/* key (database s->db) is now a non-empty sorted set: its blocked clients,
 * if any, are served after the current command (cmd_list_serve). */
void cmd_zset_signal(shard_t *s, const kv_str *key)
{
    if (s->blk == NULL) return;
    blk_reg_signal(s->blk, shard_hash(s, key->p, key->len), s->db, key->p, key->len);
}
