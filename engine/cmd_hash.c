/* cmd_hash.c - hash commands against one shard, with Redis 7.0's semantics
 * and reply texts (t_hash.c). Values live in hobj.h objects; every change
 * goes through shard_hash_* so memory accounting and the log stay right. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cmd.h"
#include "engine/cmd_internal.h"
#include "engine/glob.h"
#include "engine/hobj.h"
#include "engine/reply.h"
#include "engine/shard.h"

#define ERR_HASH_NOTINT   "ERR hash value is not an integer"
#define ERR_HASH_NOTFLOAT "ERR hash value is not a float"
/* Most picks HRANDFIELD makes with a negative count (repeats allowed). */

/* Replies WRONGTYPE and returns 0 if e holds no hash; 1 otherwise. */
static int check_hash(const cmd_call *c, const kv_entry *e)
{
    return cmd_check_type(c, e, KV_TYPE_HASH);
}

/* Looks key up for a read command: NULL with the reply `missing` appended
 * (if not NULL) when absent, NULL after WRONGTYPE, or the hash entry. */
static kv_entry *hash_read(shard_t *s, const cmd_call *c, void (*missing)(kvbuf *))
{
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e == NULL) {
        if (missing) missing(c->out);
        return NULL;
    }
    return check_hash(c, e) ? e : NULL;
}

static void reply_empty_array(kvbuf *b)
{
    reply_array(b, 0);
}

static void reply_zero(kvbuf *b)
{
    reply_int(b, 0);
}

/* Looks key up for a write: the hash entry (created when absent and
 * create is set), or NULL (after WRONGTYPE, or absent without create). */
static kv_entry *hash_write(shard_t *s, const cmd_call *c, int create, int *wrongtype)
{
    const kv_str *key = &c->argv[1];
    kv_entry *e = shard_lookup(s, key->p, key->len);
    *wrongtype = 0;
    if (e != NULL && !check_hash(c, e)) {
        *wrongtype = 1;
        return NULL;
    }
    if (e == NULL && create) e = shard_hash_add(s, key->p, key->len);
    return e;
}

/* ---- HSET, HMSET, HSETNX ------------------------------------------------------- */

/* Sets field argv[i] of hash e to argv[i + 1], whose buffer the field
 * takes when c may keep it (a big bulk: no copy); 1 if the field is new. */
static int hash_set_arg(shard_t *s, const cmd_call *c, kv_entry *e, int i)
{
    unsigned k = 0;
    kv_entry *fe;
    char *own = cmd_take_arg(c, &c->argv[i + 1], &k);
    char *had = own;
    int added = shard_hash_set_own(s, e, &c->argv[i], &c->argv[i + 1], own ? &own : NULL, &fe);
    if (had != NULL) cmd_take_done(c, k, own, fe);
    return added;
}

/* Sets the pairs of argv[2..]; returns how many fields were new. */
static int64_t hset_pairs(shard_t *s, const cmd_call *c, int *err)
{
    *err = 0;
    if (c->argc % 2 != 0) {
        reply_error_arity(c->out, c->argv[0].p, c->argv[0].len);
        *err = 1;
        return 0;
    }
    kv_entry *e = hash_write(s, c, 1, err);
    if (e == NULL) return 0;
    int64_t added = 0;
    for (int i = 2; i + 1 < c->argc; i += 2) added += hash_set_arg(s, c, e, i);
    return added;
}

void cmd_hset(shard_t *s, const cmd_call *c)
{
    int err;
    int64_t added = hset_pairs(s, c, &err);
    if (!err) reply_int(c->out, added);
}

void cmd_hmset(shard_t *s, const cmd_call *c)
{
    int err;
    hset_pairs(s, c, &err);
    if (!err) reply_ok(c->out);
}

void cmd_hsetnx(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_str v;
    kv_entry *e = hash_write(s, c, 0, &wrong);
    if (wrong) return;
    if (e != NULL && hobj_get(entry_hobj(e), c->argv[2].p, c->argv[2].len, &v)) {
        reply_int(c->out, 0);
        return;
    }
    if (e == NULL) e = shard_hash_add(s, c->argv[1].p, c->argv[1].len);
    hash_set_arg(s, c, e, 2);
    reply_int(c->out, 1);
}

/* ---- reads of fields -------------------------------------------------------------- */

void cmd_hget(shard_t *s, const cmd_call *c)
{
    kv_str v;
    kv_entry *e = hash_read(s, c, reply_nil);
    if (e == NULL) return;
    if (hobj_get(entry_hobj(e), c->argv[2].p, c->argv[2].len, &v))
        reply_bulk(c->out, v.p, v.len);
    else
        reply_nil(c->out);
}

void cmd_hmget(shard_t *s, const cmd_call *c)
{
    kv_str v;
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e != NULL && !check_hash(c, e)) return;
    reply_array(c->out, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        if (e != NULL && hobj_get(entry_hobj(e), c->argv[i].p, c->argv[i].len, &v))
            reply_bulk(c->out, v.p, v.len);
        else
            reply_nil(c->out);
    }
}

void cmd_hexists(shard_t *s, const cmd_call *c)
{
    kv_str v;
    kv_entry *e = hash_read(s, c, reply_zero);
    if (e == NULL) return;
    reply_int(c->out, hobj_get(entry_hobj(e), c->argv[2].p, c->argv[2].len, &v));
}

void cmd_hstrlen(shard_t *s, const cmd_call *c)
{
    kv_str v;
    kv_entry *e = hash_read(s, c, reply_zero);
    if (e == NULL) return;
    int found = hobj_get(entry_hobj(e), c->argv[2].p, c->argv[2].len, &v);
    reply_int(c->out, found ? (int64_t)v.len : 0);
}

void cmd_hlen(shard_t *s, const cmd_call *c)
{
    kv_entry *e = hash_read(s, c, reply_zero);
    if (e == NULL) return;
    reply_int(c->out, (int64_t)hobj_len(entry_hobj(e)));
}

/* ---- whole-hash reads ---------------------------------------------------------------- */

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

typedef struct emit_ctx {
    kvbuf *out;
    int want;
    const kv_str *pattern; /* HSCAN MATCH; NULL: all */
    int64_t n;             /* elements appended */
} emit_ctx;

static void emit(void *arg, const kv_str *f, const kv_str *v)
{
    emit_ctx *x = arg;
    if (x->pattern && !kv_glob_match(x->pattern->p, x->pattern->len, f->p, f->len, 0)) return;
    if (x->want & WANT_FIELDS) {
        reply_bulk(x->out, f->p, f->len);
        x->n++;
    }
    if (x->want & WANT_VALUES) {
        reply_bulk(x->out, v->p, v->len);
        x->n++;
    }
}

static void hash_dump(shard_t *s, const cmd_call *c, int want)
{
    kv_entry *e = hash_read(s, c, reply_empty_array);
    if (e == NULL) return;
    hobj_t *h = entry_hobj(e);
    size_t n = hobj_len(h) * (want == (WANT_FIELDS | WANT_VALUES) ? 2 : 1);
    emit_ctx x = {c->out, want, NULL, 0};
    reply_array(c->out, (int64_t)n);
    hobj_foreach(h, emit, &x);
}

void cmd_hgetall(shard_t *s, const cmd_call *c)
{
    hash_dump(s, c, WANT_FIELDS | WANT_VALUES);
}
void cmd_hkeys(shard_t *s, const cmd_call *c)
{
    hash_dump(s, c, WANT_FIELDS);
}
void cmd_hvals(shard_t *s, const cmd_call *c)
{
    hash_dump(s, c, WANT_VALUES);
}

/* ---- HDEL ------------------------------------------------------------------------------ */

void cmd_hdel(shard_t *s, const cmd_call *c)
{
    int wrong, gone = 0;
    int64_t n = 0;
    kv_entry *e = hash_write(s, c, 0, &wrong);
    if (wrong) return;
    for (int i = 2; e != NULL && i < c->argc && !gone; i++)
        n += shard_hash_del(s, e, &c->argv[i], &gone);
    reply_int(c->out, n);
}

/* ---- HINCRBY, HINCRBYFLOAT --------------------------------------------------------------- */

/* Stores the new text of field argv[2] in e (created if NULL). */
static void hash_store_field(shard_t *s, const cmd_call *c, kv_entry *e, const char *p, size_t n)
{
    kv_str v = {p, n};
    if (e == NULL) e = shard_hash_add(s, c->argv[1].p, c->argv[1].len);
    shard_hash_set(s, e, &c->argv[2], &v);
}

void cmd_hincrby(shard_t *s, const cmd_call *c)
{
    int wrong;
    int64_t incr, v = 0;
    kv_str cur;
    if (cmd_get_i64(c, &c->argv[3], &incr) != 0) return;
    kv_entry *e = hash_write(s, c, 0, &wrong);
    if (wrong) return;
    if (e != NULL && hobj_get(entry_hobj(e), c->argv[2].p, c->argv[2].len, &cur) &&
        kv_parse_i64(cur.p, cur.len, &v) != 0) {
        reply_error(c->out, ERR_HASH_NOTINT);
        return;
    }
    if ((incr < 0 && v < 0 && incr < INT64_MIN - v) ||
        (incr > 0 && v > 0 && incr > INT64_MAX - v)) {
        reply_error(c->out, KV_ERR_OVERFLOW);
        return;
    }
    v += incr;
    char num[24];
    size_t n = (size_t)snprintf(num, sizeof num, "%lld", (long long)v);
    hash_store_field(s, c, e, num, n);
    reply_int(c->out, v);
}

void cmd_hincrbyfloat(shard_t *s, const cmd_call *c)
{
    int wrong;
    long double incr, v = 0;
    kv_str cur;
    if (kv_parse_ld(c->argv[3].p, c->argv[3].len, &incr) != 0) {
        reply_error(c->out, KV_ERR_NOTFLOAT);
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(c->out, "ERR value is NaN or Infinity");
        return;
    }
    kv_entry *e = hash_write(s, c, 0, &wrong);
    if (wrong) return;
    if (e != NULL && hobj_get(entry_hobj(e), c->argv[2].p, c->argv[2].len, &cur) &&
        kv_parse_ld(cur.p, cur.len, &v) != 0) {
        reply_error(c->out, ERR_HASH_NOTFLOAT);
        return;
    }
    v = kv_ld_add(v, incr);
    if (isnan(v) || isinf(v)) {
        reply_error(c->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[5120];
    size_t n = kv_format_ld(buf, sizeof buf, v);
    hash_store_field(s, c, e, buf, n);
    reply_bulk(c->out, buf, n);
}

/* ---- HRANDFIELD ----------------------------------------------------------------------------- */

static void reply_pair(kvbuf *out, const kv_str *f, const kv_str *v, int withvalues)
{
    reply_bulk(out, f->p, f->len);
    if (withvalues) reply_bulk(out, v->p, v->len);
}

typedef struct pick_ctx {
    uint64_t *rng;
    size_t need, left; /* Knuth's selection sampling: take need of left */
    kvbuf *out;
    int withvalues;
} pick_ctx;

static void pick_visit(void *arg, const kv_str *f, const kv_str *v)
{
    pick_ctx *p = arg;
    uint64_t x = *p->rng ? *p->rng : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *p->rng = x;
    if (p->need > 0 && x % p->left < p->need) {
        reply_pair(p->out, f, v, p->withvalues);
        p->need--;
    }
    p->left--;
}

/* count distinct random fields of h (count < len): one pass of selection
 * sampling, so every subset is equally likely. */
static void hrandfield_distinct(shard_t *s, hobj_t *h, size_t count, kvbuf *out, int withvalues)
{
    pick_ctx p = {&s->rng, count, hobj_len(h), out, withvalues};
    hobj_foreach(h, pick_visit, &p);
}

static void hrandfield_count(shard_t *s, const cmd_call *c, int64_t l, int withvalues)
{
    kv_entry *e = hash_read(s, c, reply_empty_array);
    if (e == NULL) return;
    hobj_t *h = entry_hobj(e);
    size_t size = hobj_len(h);
    int uniq = l >= 0;
    uint64_t count = l >= 0 ? (uint64_t)l : (uint64_t)0 - (uint64_t)l;
    kv_str f, v;
    if (count == 0) {
        reply_array(c->out, 0);
        return;
    }
    if (!uniq || count == 1) { /* repeats allowed */
        reply_array(c->out, (int64_t)count * (withvalues ? 2 : 1));
        for (uint64_t i = 0; i < count; i++) {
            hobj_random(h, &s->rng, &f, &v);
            reply_pair(c->out, &f, &v, withvalues);
        }
        return;
    }
    if (count >= size) { /* the whole hash */
        emit_ctx x = {c->out, WANT_FIELDS | (withvalues ? WANT_VALUES : 0), NULL, 0};
        reply_array(c->out, (int64_t)size * (withvalues ? 2 : 1));
        hobj_foreach(h, emit, &x);
        return;
    }
    reply_array(c->out, (int64_t)count * (withvalues ? 2 : 1));
    hrandfield_distinct(s, h, (size_t)count, c->out, withvalues);
}

/* HRANDFIELD key [count [WITHVALUES]] */
void cmd_hrandfield(shard_t *s, const cmd_call *c)
{
    if (c->argc >= 3) {
        int64_t l;
        int withvalues;
        if (cmd_rand_count_args(c, "withvalues", &l, &withvalues) != 0) return;
        hrandfield_count(s, c, l, withvalues);
        return;
    }
    kv_entry *e = hash_read(s, c, reply_nil);
    if (e == NULL) return;
    kv_str f, v;
    hobj_random(entry_hobj(e), &s->rng, &f, &v);
    reply_bulk(c->out, f.p, f.len);
}

/* ---- HSCAN ----------------------------------------------------------------------------------- */

/* HSCAN key cursor [MATCH pattern] [COUNT count]; the order of checks is
 * Redis's: cursor, key and type, then options. */
void cmd_hscan(shard_t *s, const cmd_call *c)
{
    uint64_t cursor;
    int64_t count = 10;
    const kv_str *pattern = NULL;

    if (cmd_parse_cursor(&c->argv[2], &cursor) != 0) {
        reply_error(c->out, "ERR invalid cursor");
        return;
    }
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e == NULL) {
        kvbuf_append_str(c->out, "*2\r\n$1\r\n0\r\n*0\r\n");
        return;
    }
    if (!check_hash(c, e)) return;
    if (cmd_scan_opts(c, 3, &count, &pattern) != 0) return;
    kvbuf items;
    kvbuf_init(&items);
    emit_ctx x = {&items, WANT_FIELDS | WANT_VALUES, pattern, 0};
    cursor = hobj_scan(entry_hobj(e), cursor, count, emit, &x);
    cmd_reply_scan(c->out, cursor, &items, x.n);
    kvbuf_destroy(&items);
}
