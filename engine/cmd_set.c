/* cmd_set.c - set commands against one shard, with Redis 7.0's semantics
 * and reply texts (t_set.c), and the set algebra that SINTER/SUNION/SDIFF
 * across shards run on the network thread (cmd_setop_*). Values live in
 * sobj.h objects; every change is bracketed by shard_obj_begin/_end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cmd.h"
#include "engine/cmd_internal.h"
#include "engine/glob.h"
#include "engine/hobj.h"
#include "engine/table.h"
#include "engine/reply.h"
#include "engine/shard.h"
#include "engine/sobj.h"

#define ERR_POSITIVE "ERR value is out of range, must be positive"

/* The set at key (read: counts hit/miss); NULL if absent (*wrong = 0) or
 * after WRONGTYPE (*wrong = 1). */
static kv_entry *set_get(shard_t *s, const cmd_call *c, const kv_str *key, int read, int *wrong)
{
    return cmd_lookup_type(s, c, key, KV_TYPE_SET, read, wrong);
}

static uint64_t set_rand(shard_t *s)
{
    uint64_t x = s->rng ? s->rng : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return x;
}

/* ---- the log's set records (docs/persistence.md) -----------------------------
 * A PUT record of type KV_TYPE_SET_DELTA: u8 op (1: add, 2: remove), varint
 * n, n x (varint len, member). Idempotent, as HSET/HDEL: adding to a key
 * that is absent or not a set makes it a new set first; removing the last
 * member removes the key. */
enum { SDELTA_ADD = 1, SDELTA_REM = 2 };

typedef struct sdelta {
    kvbuf body; /* the members */
    uint64_t n;
} sdelta;

static void sdelta_add(sdelta *d, const char *p, size_t n)
{
    hobj_encode_varint(&d->body, n);
    kvbuf_append(&d->body, p, n);
    d->n++;
}

/* Ends the change of e, logging d (op) if it holds members; frees d. */
static int sdelta_end(shard_t *s, kv_entry *e, sdelta *d, int op)
{
    int gone;
    if (d->n == 0) {
        gone = shard_obj_end(s, e, 0);
    } else {
        kvbuf rec;
        char b = (char)op;
        kvbuf_init(&rec);
        kvbuf_append(&rec, &b, 1);
        hobj_encode_varint(&rec, d->n);
        kvbuf_append(&rec, d->body.data, d->body.len);
        gone = shard_obj_end_delta(s, e, KV_TYPE_SET_DELTA, rec.data, rec.len);
        kvbuf_destroy(&rec);
    }
    kvbuf_destroy(&d->body);
    return gone;
}

int cmd_set_replay(shard_t *s, const kv_str *key, const char *p, size_t n)
{
    size_t off = 1;
    uint64_t count = 0, len = 0;
    if (n < 1 || cmd_read_varint(p, n, &off, &count) != 0 || count > n) return -1;
    int op = (unsigned char)p[0];
    if (op != SDELTA_ADD && op != SDELTA_REM) return -1;
    /* check the whole record before any change */
    size_t first = off;
    for (uint64_t i = 0; i < count; i++) {
        if (cmd_read_varint(p, n, &off, &len) != 0 || len > n - off) return -1;
        off += (size_t)len;
    }
    if (off != n) return -1;
    kv_entry *e = ht_find_db(&s->table, shard_hash(s, key->p, key->len), s->db, key->p, key->len);
    if (e != NULL && e->type != KV_TYPE_SET) {
        if (op == SDELTA_REM) return 0;
        shard_remove(s, e);
        e = NULL;
    }
    if (e == NULL && op == SDELTA_REM) return 0;
    e = cmd_obj_open(s, e, key, KV_TYPE_SET);
    off = first;
    for (uint64_t i = 0; i < count; i++) {
        cmd_read_varint(p, n, &off, &len);
        if (op == SDELTA_ADD)
            sobj_add(entry_sobj(e), p + off, (size_t)len);
        else
            sobj_rem(entry_sobj(e), p + off, (size_t)len);
        off += (size_t)len;
    }
    shard_obj_end(s, e, 0); /* replay: nothing to log */
    return 0;
}

/* ---- SADD, SREM, reads ------------------------------------------------------- */

void cmd_sadd(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = set_get(s, c, &c->argv[1], 0, &wrong);
    if (wrong) return;
    e = cmd_obj_open(s, e, &c->argv[1], KV_TYPE_SET);
    int64_t added = 0;
    for (int i = 2; i < c->argc; i++)
        added += sobj_add(entry_sobj(e), c->argv[i].p, c->argv[i].len);
    shard_obj_end(s, e, added > 0);
    reply_int(c->out, added);
}

void cmd_srem(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = set_get(s, c, &c->argv[1], 0, &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    shard_obj_begin(s, e);
    int64_t removed = 0;
    for (int i = 2; i < c->argc; i++)
        removed += sobj_rem(entry_sobj(e), c->argv[i].p, c->argv[i].len);
    shard_obj_end(s, e, removed > 0);
    reply_int(c->out, removed);
}

static void emit_member(void *arg, const kv_str *m)
{
    reply_bulk(arg, m->p, m->len);
}

void cmd_smembers(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = set_get(s, c, &c->argv[1], 1, &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_array(c->out, 0);
        return;
    }
    reply_array(c->out, (int64_t)sobj_len(entry_sobj(e)));
    sobj_foreach(entry_sobj(e), emit_member, c->out);
}

void cmd_sismember(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = set_get(s, c, &c->argv[1], 1, &wrong);
    if (wrong) return;
    reply_int(c->out, e ? sobj_has(entry_sobj(e), c->argv[2].p, c->argv[2].len) : 0);
}

void cmd_smismember(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = set_get(s, c, &c->argv[1], 1, &wrong);
    if (wrong) return;
    reply_array(c->out, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        reply_int(c->out, e ? sobj_has(entry_sobj(e), c->argv[i].p, c->argv[i].len) : 0);
}

void cmd_scard(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = set_get(s, c, &c->argv[1], 1, &wrong);
    if (wrong) return;
    reply_int(c->out, e ? (int64_t)sobj_len(entry_sobj(e)) : 0);
}

/* ---- SPOP, SRANDMEMBER ------------------------------------------------------------ */

/* Parses the optional count of SPOP/SRANDMEMBER (argc 3); returns 0 or -1
 * after the error reply. */
static int parse_count(const cmd_call *c, int64_t *count, int allow_negative)
{
    if (c->argc > 3) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return -1;
    }
    if (c->argc < 3) return 0;
    if (kv_parse_i64(c->argv[2].p, c->argv[2].len, count) != 0) {
        reply_error(c->out, allow_negative ? KV_ERR_NOTINT : ERR_POSITIVE);
        return -1;
    }
    if (*count < 0 && !allow_negative) {
        reply_error(c->out, ERR_POSITIVE);
        return -1;
    }
    if (*count == INT64_MIN) {
        reply_error(c->out, "ERR value is out of range");
        return -1;
    }
    return 0;
}

/* SPOP/SRANDMEMBER on an absent key: an empty array with a count, nil
 * without. */
static void reply_absent(const cmd_call *c)
{
    if (c->argc == 3)
        reply_array(c->out, 0);
    else
        reply_nil(c->out);
}

void cmd_spop(shard_t *s, const cmd_call *c)
{
    int64_t count = 1;
    int wrong;
    if (parse_count(c, &count, 0) != 0) return;
    kv_entry *e = set_get(s, c, &c->argv[1], 0, &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_absent(c);
        return;
    }
    sobj_t *o = entry_sobj(e);
    size_t n = (uint64_t)count < sobj_len(o) ? (size_t)count : sobj_len(o);
    if (c->argc == 3) reply_array(c->out, (int64_t)n);
    if (n == 0) return;
    shard_obj_begin(s, e);
    sdelta d = {{0}, 0};
    for (size_t i = 0; i < n; i++) {
        kv_str m;
        sobj_random(o, &s->rng, &m);
        sdelta_add(&d, m.p, m.len); /* m points into o: copied before the removal */
        reply_bulk(c->out, m.p, m.len);
        const char *last = c->out->data + c->out->len - 2 - m.len;
        sobj_rem(o, last, m.len);
    }
    sdelta_end(s, e, &d, SDELTA_REM);
}

typedef struct collect {
    kv_str *v;
    size_t n;
} collect;

/* Copies m: a visited member lives for the visit only (sobj.h). */
static void collect_member(void *arg, const kv_str *m)
{
    collect *x = arg;
    char *copy = kv_xmalloc(m->len ? m->len : 1);
    memcpy(copy, m->p, m->len);
    x->v[x->n++] = (kv_str){copy, m->len};
}

void cmd_srandmember(shard_t *s, const cmd_call *c)
{
    int64_t count = 1;
    int wrong;
    kv_str m;
    if (parse_count(c, &count, 1) != 0) return;
    kv_entry *e = set_get(s, c, &c->argv[1], 1, &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_absent(c);
        return;
    }
    sobj_t *o = entry_sobj(e);
    size_t len = sobj_len(o);
    if (c->argc < 3) {
        sobj_random(o, &s->rng, &m);
        reply_bulk(c->out, m.p, m.len);
        return;
    }
    if (count < 0) { /* repeats allowed */
        reply_array(c->out, -count);
        for (int64_t i = 0; i < -count; i++) {
            sobj_random(o, &s->rng, &m);
            reply_bulk(c->out, m.p, m.len);
        }
        return;
    }
    size_t n = (uint64_t)count < len ? (size_t)count : len;
    reply_array(c->out, (int64_t)n);
    if (n == 0) return;
    if (n * 3 > len) { /* a partial shuffle of every member */
        collect x = {kv_xmalloc(len * sizeof(kv_str)), 0};
        sobj_foreach(o, collect_member, &x);
        for (size_t i = 0; i < n; i++) {
            size_t j = i + (size_t)(set_rand(s) % (len - i));
            kv_str t = x.v[i];
            x.v[i] = x.v[j];
            x.v[j] = t;
            reply_bulk(c->out, x.v[i].p, x.v[i].len);
        }
        for (size_t i = 0; i < x.n; i++) free((void *)(uintptr_t)x.v[i].p);
        free(x.v);
        return;
    }
    sobj_t *seen = sobj_new(s->secret); /* few picks of many: draw until distinct */
    size_t got = 0;
    while (got < n) {
        sobj_random(o, &s->rng, &m);
        if (!sobj_add(seen, m.p, m.len)) continue;
        reply_bulk(c->out, m.p, m.len);
        got++;
    }
    sobj_free(seen);
}

/* ---- SMOVE (both keys in this shard: net/route.c) ------------------------------------ */

void cmd_smove(shard_t *s, const cmd_call *c)
{
    int wrong;
    const kv_str *m = &c->argv[3];
    kv_entry *src = set_get(s, c, &c->argv[1], 0, &wrong);
    if (wrong) return;
    if (src == NULL) { /* 0 before the destination's type, as Redis 7.0 */
        reply_int(c->out, 0);
        return;
    }
    kv_entry *dst = set_get(s, c, &c->argv[2], 0, &wrong);
    if (wrong) return;
    if (!sobj_has(entry_sobj(src), m->p, m->len)) {
        reply_int(c->out, 0);
        return;
    }
    if (src == dst) {
        reply_int(c->out, 1);
        return;
    }
    sdelta d = {{0}, 0};
    shard_obj_begin(s, src);
    sobj_rem(entry_sobj(src), m->p, m->len);
    sdelta_add(&d, m->p, m->len);
    sdelta_end(s, src, &d, SDELTA_REM);
    dst = shard_lookup(s, c->argv[2].p, c->argv[2].len);
    dst = cmd_obj_open(s, dst, &c->argv[2], KV_TYPE_SET);
    kvbuf_init(&d.body);
    d.n = 0;
    if (sobj_add(entry_sobj(dst), m->p, m->len)) sdelta_add(&d, m->p, m->len);
    sdelta_end(s, dst, &d, SDELTA_ADD);
    reply_int(c->out, 1);
}

/* SMOVE's check of a key in another shard than the other key (net/xshard.c):
 * argv = name, key -> :1 (and CMD_RES_INT 1) if key holds a set, :0 if it
 * is absent, or WRONGTYPE. Changes nothing. */
void cmd_set_kind_part(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = set_get(s, c, &c->argv[1], 0, &wrong);
    if (wrong) return;
    int64_t v = e != NULL;
    if (c->res != NULL) *c->res = (cmd_res){.kind = CMD_RES_INT, .num = v};
    reply_int(c->out, v);
}

/* ---- SSCAN ------------------------------------------------------------------------------- */

typedef struct scan_ctx {
    kvbuf *out;
    const kv_str *pattern;
    int64_t n;
} scan_ctx;

static void scan_member(void *arg, const kv_str *m)
{
    scan_ctx *x = arg;
    if (x->pattern && !kv_glob_match(x->pattern->p, x->pattern->len, m->p, m->len, 0)) return;
    reply_bulk(x->out, m->p, m->len);
    x->n++;
}

void cmd_sscan(shard_t *s, const cmd_call *c)
{
    uint64_t cursor;
    int64_t count = 10;
    const kv_str *pattern = NULL;
    int wrong;
    if (cmd_parse_cursor(&c->argv[2], &cursor) != 0) {
        reply_error(c->out, "ERR invalid cursor");
        return;
    }
    kv_entry *e = set_get(s, c, &c->argv[1], 1, &wrong);
    if (wrong) return;
    if (e == NULL) {
        kvbuf_append_str(c->out, "*2\r\n$1\r\n0\r\n*0\r\n");
        return;
    }
    if (cmd_scan_opts(c, 3, &count, &pattern) != 0) return;
    kvbuf items;
    kvbuf_init(&items);
    scan_ctx x = {&items, pattern, 0};
    cursor = sobj_scan(entry_sobj(e), cursor, count, scan_member, &x);
    cmd_reply_scan(c->out, cursor, &items, x.n);
    kvbuf_destroy(&items);
}

/* ---- set algebra ---------------------------------------------------------------------------- */

typedef struct algebra {
    sobj_t *const *sets; /* NULL: an absent key (empty) */
    unsigned n;
    sobj_t *out;
    int op;
    unsigned skip; /* the set being iterated */
} algebra;

static void inter_visit(void *arg, const kv_str *m)
{
    algebra *a = arg;
    for (unsigned i = 0; i < a->n; i++)
        if (i != a->skip && !sobj_has(a->sets[i], m->p, m->len)) return;
    sobj_add(a->out, m->p, m->len);
}

static void union_visit(void *arg, const kv_str *m)
{
    algebra *a = arg;
    sobj_add(a->out, m->p, m->len);
}

static void diff_visit(void *arg, const kv_str *m)
{
    algebra *a = arg;
    for (unsigned i = 1; i < a->n; i++)
        if (a->sets[i] && sobj_has(a->sets[i], m->p, m->len)) return;
    sobj_add(a->out, m->p, m->len);
}

sobj_t *cmd_setop(int op, sobj_t *const *sets, unsigned n, const kv_hash_secret *secret)
{
    algebra a = {sets, n, sobj_new(secret), op, 0};
    if (op == SETOP_UNION) {
        for (unsigned i = 0; i < n; i++)
            if (sets[i]) sobj_foreach(sets[i], union_visit, &a);
    } else if (op == SETOP_DIFF) {
        if (n > 0 && sets[0]) sobj_foreach(sets[0], diff_visit, &a);
    } else {
        for (unsigned i = 0; i < n; i++)
            if (sets[i] == NULL) return a.out;
        for (unsigned i = 1; i < n; i++)
            if (sobj_len(sets[i]) < sobj_len(sets[a.skip])) a.skip = i;
        if (n > 0) sobj_foreach(sets[a.skip], inter_visit, &a);
    }
    return a.out;
}

int cmd_sintercard_args(int argc, const kv_str *argv, int64_t *numkeys, int64_t *limit,
                        const char **err)
{
    *limit = 0;
    if (kv_parse_i64(argv[1].p, argv[1].len, numkeys) != 0 || *numkeys <= 0) {
        *err = "ERR numkeys should be greater than 0";
        return -1;
    }
    if (*numkeys > argc - 2) {
        *err = "ERR Number of keys can't be greater than number of args";
        return -1;
    }
    for (int64_t i = 2 + *numkeys; i < argc; i += 2) {
        if (cmd_is(&argv[i], "limit") && i + 1 < argc) {
            if (kv_parse_i64(argv[i + 1].p, argv[i + 1].len, limit) != 0) {
                *err = KV_ERR_NOTINT;
                return -1;
            }
            if (*limit < 0) {
                *err = "ERR LIMIT can't be negative";
                return -1;
            }
        } else {
            *err = KV_ERR_SYNTAX;
            return -1;
        }
    }
    return 0;
}

void cmd_setop_reply(kvbuf *out, int op, sobj_t *result, int store, int64_t limit)
{
    int64_t card = (int64_t)sobj_len(result);
    if (op == SETOP_INTERCARD) {
        reply_int(out, limit > 0 && card > limit ? limit : card);
    } else if (store) {
        reply_int(out, card);
    } else {
        reply_array(out, card);
        sobj_foreach(result, emit_member, out);
    }
}

/* Every key in this shard (net/route.c sends the command here only then). */
static void setop_local(shard_t *s, const cmd_call *c, int op, int store)
{
    int64_t numkeys, limit = 0;
    int first = store ? 2 : 1, wrong;
    if (op == SETOP_INTERCARD) {
        const char *err;
        if (cmd_sintercard_args(c->argc, c->argv, &numkeys, &limit, &err) != 0) {
            reply_error(c->out, err);
            return;
        }
        first = 2;
    } else {
        numkeys = c->argc - first;
    }
    sobj_t **sets = kv_xcalloc((size_t)numkeys, sizeof *sets);
    for (int64_t i = 0; i < numkeys; i++) {
        kv_entry *e = set_get(s, c, &c->argv[first + i], 1, &wrong);
        if (wrong) {
            free(sets);
            return;
        }
        sets[i] = e ? entry_sobj(e) : NULL;
    }
    sobj_t *r =
        cmd_setop(op == SETOP_INTERCARD ? SETOP_INTER : op, sets, (unsigned)numkeys, s->secret);
    free(sets);
    cmd_setop_reply(c->out, op, r, store, limit);
    if (!store) {
        sobj_free(r);
        return;
    }
    shard_del(s, c->argv[1].p, c->argv[1].len);
    if (sobj_len(r) == 0)
        sobj_free(r);
    else
        shard_obj_put(s, c->argv[1].p, c->argv[1].len, KV_TYPE_SET, r, -1);
}

void cmd_sinter(shard_t *s, const cmd_call *c)
{
    setop_local(s, c, SETOP_INTER, 0);
}
void cmd_sunion(shard_t *s, const cmd_call *c)
{
    setop_local(s, c, SETOP_UNION, 0);
}
void cmd_sdiff(shard_t *s, const cmd_call *c)
{
    setop_local(s, c, SETOP_DIFF, 0);
}
void cmd_sinterstore(shard_t *s, const cmd_call *c)
{
    setop_local(s, c, SETOP_INTER, 1);
}
void cmd_sunionstore(shard_t *s, const cmd_call *c)
{
    setop_local(s, c, SETOP_UNION, 1);
}
void cmd_sdiffstore(shard_t *s, const cmd_call *c)
{
    setop_local(s, c, SETOP_DIFF, 1);
}
void cmd_sintercard(shard_t *s, const cmd_call *c)
{
    setop_local(s, c, SETOP_INTERCARD, 0);
}

/* SMEMBERS part: argv = name, keys of this shard -> per key *n members (an
 * absent key: *0); WRONGTYPE alone if any key holds another type. */
static void copy_member(void *arg, const kv_str *m)
{
    sobj_add(arg, m->p, m->len);
}

void cmd_smembers_part(shard_t *s, const cmd_call *c)
{
    int wrong;
    if (c->res == NULL) {
        reply_error(c->out, "ERR internal error: a typed part called without a result");
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        kv_entry *e = shard_lookup(s, c->argv[i].p, c->argv[i].len);
        if (e != NULL && !cmd_check_type(c, e, KV_TYPE_SET)) return;
    }
    sobj_t **sets = kv_xcalloc((size_t)c->argc, sizeof *sets);
    for (int i = 1; i < c->argc; i++) {
        kv_entry *e = set_get(s, c, &c->argv[i], 1, &wrong);
        if (e == NULL) continue;
        sets[i - 1] = sobj_new(s->secret); /* the gatherer's own copy: any thread may read it */
        sobj_foreach(entry_sobj(e), copy_member, sets[i - 1]);
    }
    *c->res = (cmd_res){.kind = CMD_RES_SETS, .count = c->argc - 1, .sets = sets};
}
