/* cmd_keys.c - keyspace and TTL commands against one shard, and the shard
 * parts of the keyspace-wide ones. Redis 7.0 semantics and texts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cmd.h"
#include "engine/block.h"
#include "engine/cmd_internal.h"
#include "engine/glob.h"
#include "engine/hobj.h"
#include "engine/reply.h"
#include "engine/shard.h"
#include "engine/sobj.h"
#include "engine/watch.h"
#include "engine/zobj.h"

void cmd_res_clear(cmd_res *r)
{
    free(r->fig);
    for (int64_t i = 0; r->sets != NULL && i < r->count; i++) sobj_free(r->sets[i]);
    free(r->sets);
    for (int64_t i = 0; r->zsets != NULL && i < r->count; i++) zobj_free(r->zsets[i]);
    free(r->zsets);
    *r = (cmd_res){0};
}

/* A count: the reply, and the typed answer if asked. */
static void reply_count(const cmd_call *c, int64_t n)
{
    if (c->res != NULL) *c->res = (cmd_res){.kind = CMD_RES_INT, .num = n};
    reply_int(c->out, n);
}

/* A typed-only part called without a result to fill (a bug of its caller). */
static int want_res(const cmd_call *c)
{
    if (c->res != NULL) return 1;
    reply_error(c->out, "ERR internal error: a typed part called without a result");
    return 0;
}

/* ---- DEL, EXISTS, TYPE ----------------------------------------------------- */

void cmd_del_part(shard_t *s, const cmd_call *c)
{
    int64_t n = 0;
    for (int i = 1; i < c->argc; i++) n += shard_del(s, c->argv[i].p, c->argv[i].len);
    reply_count(c, n);
}

void cmd_exists_part(shard_t *s, const cmd_call *c)
{
    int64_t n = 0;
    for (int i = 1; i < c->argc; i++)
        if (cmd_lookup_read(s, &c->argv[i]) != NULL) n++;
    reply_count(c, n);
}

void cmd_type(shard_t *s, const cmd_call *c)
{
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    reply_status(c->out, e ? cmd_type_name(e) : "none");
}

/* ---- EXPIRE family ---------------------------------------------------------- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* EXPIRE key n [NX|XX|GT|LT]; seconds: n is in seconds; base: added to n
 * (now for relative forms, 0 for the -AT forms). */
static void expire_generic(shard_t *s, const cmd_call *c, int seconds, int64_t base)
{
    int flags = 0;
    int64_t when;

    for (int j = 3; j < c->argc; j++) {
        const kv_str *a = &c->argv[j];
        if (cmd_is(a, "nx"))
            flags |= EXP_NX;
        else if (cmd_is(a, "xx"))
            flags |= EXP_XX;
        else if (cmd_is(a, "gt"))
            flags |= EXP_GT;
        else if (cmd_is(a, "lt"))
            flags |= EXP_LT;
        else {
            int n = a->len > 128 ? 128 : (int)a->len;
            reply_errorf(c->out, "ERR Unsupported option %.*s", n, a->p);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(c->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        reply_error(c->out, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    if (cmd_get_i64(c, &c->argv[2], &when) != 0) return;
    if (seconds) {
        if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) goto bad;
        when *= 1000;
    }
    if (when > INT64_MAX - base) goto bad;
    when += base;

    kv_entry *e = shard_lookup(s, c->argv[1].p, c->argv[1].len);
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    int64_t cur = entry_expire(e);
    if (((flags & EXP_NX) && cur != -1) || ((flags & EXP_XX) && cur == -1) ||
        ((flags & EXP_GT) && (cur == -1 || when <= cur)) ||
        ((flags & EXP_LT) && cur != -1 && when >= cur)) {
        reply_int(c->out, 0);
        return;
    }
    if (when <= s->now_ms)
        shard_remove(s, e); /* a deadline in the past deletes the key */
    else
        shard_update(s, e, entry_val(e), e->vlen, when);
    reply_int(c->out, 1);
    return;
bad:
    reply_error_expire(c->out, c->argv[0].p, c->argv[0].len);
}

void cmd_expire(shard_t *s, const cmd_call *c)
{
    expire_generic(s, c, 1, s->now_ms);
}
void cmd_pexpire(shard_t *s, const cmd_call *c)
{
    expire_generic(s, c, 0, s->now_ms);
}
void cmd_expireat(shard_t *s, const cmd_call *c)
{
    expire_generic(s, c, 1, 0);
}
void cmd_pexpireat(shard_t *s, const cmd_call *c)
{
    expire_generic(s, c, 0, 0);
}

/* TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 no key, -1 no expiry; seconds are
 * rounded to the nearest, as Redis does. */
static void ttl_generic(shard_t *s, const cmd_call *c, int ms, int absolute)
{
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e == NULL) {
        reply_int(c->out, -2);
        return;
    }
    int64_t exp = entry_expire(e);
    if (exp < 0) {
        reply_int(c->out, -1);
        return;
    }
    int64_t t = absolute ? exp : exp - s->now_ms;
    if (t < 0) t = 0;
    reply_int(c->out, ms ? t : t / 1000 + (t % 1000 >= 500));
}

void cmd_ttl(shard_t *s, const cmd_call *c)
{
    ttl_generic(s, c, 0, 0);
}
void cmd_pttl(shard_t *s, const cmd_call *c)
{
    ttl_generic(s, c, 1, 0);
}
void cmd_expiretime(shard_t *s, const cmd_call *c)
{
    ttl_generic(s, c, 0, 1);
}
void cmd_pexpiretime(shard_t *s, const cmd_call *c)
{
    ttl_generic(s, c, 1, 1);
}

void cmd_persist(shard_t *s, const cmd_call *c)
{
    kv_entry *e = shard_lookup(s, c->argv[1].p, c->argv[1].len);
    if (e == NULL || entry_expire(e) < 0) {
        reply_int(c->out, 0);
        return;
    }
    shard_update(s, e, entry_val(e), e->vlen, -1);
    reply_int(c->out, 1);
}

/* ---- KEYS and SCAN ---------------------------------------------------------- */

typedef struct key_filter {
    shard_t *s;
    const kv_str *pattern; /* NULL: every key */
    const kv_str *type;    /* NULL: every type */
    int drop_expired;      /* SCAN removes expired keys it meets, KEYS skips them */
    kvbuf keys;            /* bulk strings of the keys that passed */
    int64_t n;
} key_filter;

static void key_filter_visit(void *arg, kv_entry *e)
{
    key_filter *f = arg;
    if (shard_expired(f->s, e)) {
        if (f->drop_expired) shard_drop_expired(f->s, e);
        return;
    }
    if (!shard_in_db(f->s, e)) return;
    if (f->pattern && !kv_glob_match(f->pattern->p, f->pattern->len, entry_key(e), e->klen, 0))
        return;
    if (f->type && !cmd_is(f->type, cmd_type_name(e))) return;
    reply_bulk(&f->keys, entry_key(e), e->klen);
    f->n++;
}

/* A pattern of "*" matches everything: skip the matcher. */
static const kv_str *pattern_or_null(const kv_str *p)
{
    return (p->len == 1 && p->p[0] == '*') ? NULL : p;
}

void cmd_keys_part(shard_t *s, const cmd_call *c)
{
    key_filter f = {.s = s, .pattern = pattern_or_null(&c->argv[1])};
    kvbuf_init(&f.keys);
    ht_foreach(&s->table, key_filter_visit, &f);
    if (c->res != NULL) /* the gatherer writes one header for every shard's keys */
        *c->res = (cmd_res){.kind = CMD_RES_KEYS, .count = f.n};
    else
        reply_array(c->out, f.n);
    kvbuf_append(c->out, f.keys.data, f.keys.len);
    kvbuf_destroy(&f.keys);
}

/* Parses a SCAN cursor as Redis does (strtoull on the whole argument, no
 * leading space, no overflow); 0 or -1. */
int cmd_parse_cursor(const kv_str *a, uint64_t *out)
{
    char buf[32];
    char *end;
    if (a->len == 0 || a->len >= sizeof buf) return -1;
    memcpy(buf, a->p, a->len);
    buf[a->len] = '\0';
    if (buf[0] == ' ' || (buf[0] >= '\t' && buf[0] <= '\r')) return -1;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (*end != '\0' || errno == ERANGE) return -1;
    *out = v;
    return 0;
}

/* SCAN cursor [MATCH pattern] [COUNT n] [TYPE type] on this shard. */
void cmd_scan(shard_t *s, const cmd_call *c)
{
    uint64_t cursor;
    int64_t count = 10;
    key_filter f = {.s = s, .drop_expired = 1};

    if (cmd_parse_cursor(&c->argv[1], &cursor) != 0) {
        reply_error(c->out, "ERR invalid cursor");
        return;
    }
    for (int i = 2; i < c->argc;) {
        const kv_str *a = &c->argv[i];
        int more = c->argc - i >= 2;
        if (more && cmd_is(a, "count")) {
            if (cmd_get_i64(c, &c->argv[i + 1], &count) != 0) return;
            if (count < 1) {
                reply_error(c->out, KV_ERR_SYNTAX);
                return;
            }
        } else if (more && cmd_is(a, "match")) {
            f.pattern = pattern_or_null(&c->argv[i + 1]);
        } else if (more && cmd_is(a, "type")) {
            f.type = &c->argv[i + 1];
        } else {
            reply_error(c->out, KV_ERR_SYNTAX);
            return;
        }
        i += 2;
    }
    kvbuf_init(&f.keys);
    /* as Redis: up to count*10 buckets for count keys, so sparse or filtered
     * tables still answer in bounded time */
    int64_t budget = count > INT64_MAX / 10 ? INT64_MAX : count * 10;
    do {
        cursor = ht_scan(&s->table, cursor, key_filter_visit, &f);
    } while (cursor != 0 && budget-- > 0 && f.n < count);
    if (c->res != NULL) { /* the router makes the client's cursor */
        *c->res = (cmd_res){.kind = CMD_RES_SCAN, .num = (int64_t)cursor, .count = f.n};
    } else {
        char num[24];
        reply_array(c->out, 2);
        reply_bulk(c->out, num,
                   (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)cursor));
    }
    reply_array(c->out, f.n);
    kvbuf_append(c->out, f.keys.data, f.keys.len);
    kvbuf_destroy(&f.keys);
}

/* ---- RANDOMKEY, DBSIZE, FLUSHALL, INFO -------------------------------------- */

/* Random picks that may land on expired keys (which are removed) before
 * one is returned anyway, as Redis does when every key is volatile. */
#define RANDOMKEY_TRIES 100

typedef struct pick_walk {
    shard_t *s;
    size_t skip; /* entries of the database to pass before the pick */
    kv_entry *got;
} pick_walk;

static void pick_visit(void *arg, kv_entry *e)
{
    pick_walk *w = arg;
    if (w->got != NULL || !shard_in_db(w->s, e)) return;
    if (w->skip-- == 0) w->got = e;
}

/* A random entry of database s->db when random draws keep landing in other
 * databases: a walk to a random position among its keys. */
static kv_entry *random_in_db(shard_t *s)
{
    size_t n = shard_db_keys(s, s->db);
    if (n == 0) return NULL;
    s->rng ^= s->rng << 13, s->rng ^= s->rng >> 7, s->rng ^= s->rng << 17;
    pick_walk w = {s, (size_t)(s->rng % n), NULL};
    ht_foreach(&s->table, pick_visit, &w);
    return w.got;
}

void cmd_randomkey_part(shard_t *s, const cmd_call *c)
{
    for (int tries = 0;; tries++) {
        kv_entry *e = shard_db_keys(s, s->db) ? ht_random(&s->table, &s->rng) : NULL;
        if (e != NULL && !shard_in_db(s, e))
            e = tries < RANDOMKEY_TRIES ? NULL : random_in_db(s);
        else if (e == NULL && tries == 0)
            tries = RANDOMKEY_TRIES; /* the database is empty */
        if (e == NULL) {
            if (tries < RANDOMKEY_TRIES) continue;
            if (c->res != NULL) *c->res = (cmd_res){.kind = CMD_RES_KEYS, .count = 0};
            reply_nil(c->out);
            return;
        }
        if (shard_expired(s, e) && tries < RANDOMKEY_TRIES) {
            shard_drop_expired(s, e);
            continue;
        }
        if (c->res != NULL) *c->res = (cmd_res){.kind = CMD_RES_KEYS, .count = 1};
        reply_bulk(c->out, entry_key(e), e->klen);
        return;
    }
}

void cmd_dbsize_part(shard_t *s, const cmd_call *c)
{
    reply_count(c, (int64_t)shard_db_keys(s, s->db));
}

/* A flush that freed at least this much of a shard purges the allocator. */
#define FLUSH_PURGE_BYTES (256u << 10)

/* After a flush: the freed entries are dirty pages that jemalloc keeps
 * resident until allocations advance its decay; a refill then leaves many
 * of them resident next to the new data (RSS 117 % of maxmemory after a
 * FLUSHALL and a fill to 3x the limit, 104 % without the FLUSHALL). Redis
 * purges jemalloc after a synchronous flush for the same reason; here the
 * main thread purges within 250 ms, off the actors. Actor thread. */
static void flush_purge(size_t before, size_t after)
{
    if (before >= after + FLUSH_PURGE_BYTES) kv_allocator_purge_soon();
}

/* FLUSHDB [ASYNC|SYNC]: the keys of the command's database only. */
void cmd_flushdb_part(shard_t *s, const cmd_call *c)
{
    if (c->argc > 2 ||
        (c->argc == 2 && !cmd_is(&c->argv[1], "sync") && !cmd_is(&c->argv[1], "async"))) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    size_t before = shard_mem(s);
    shard_clear_db(s, s->db);
    flush_purge(before, shard_mem(s));
    reply_ok(c->out);
}

/* key (in database db) now holds a value of type type that was not there
 * before (RENAME, MOVE, a PUT): a list or sorted set serves the clients
 * blocked on it, as Redis's dbAdd signals the key. */
static void key_signal(shard_t *s, unsigned db, const kv_str *key, unsigned type)
{
    if (s->blk == NULL || (type != KV_TYPE_LIST && type != KV_TYPE_ZSET)) return;
    blk_reg_signal(s->blk, shard_hash(s, key->p, key->len), (uint8_t)db, key->p, key->len);
}
/* MOVE key db: the key goes to database db of the same shard (a key's shard
 * does not depend on its database). */
void cmd_move(shard_t *s, const cmd_call *c)
{
    const kv_str *key = &c->argv[1];
    int64_t db;
    if (cmd_get_i64(c, &c->argv[2], &db) != 0) return;
    if (db < 0 || db >= (int64_t)s->ndbs) {
        reply_error(c->out, "ERR DB index is out of range");
        return;
    }
    if ((unsigned)db == s->db) {
        reply_error(c->out, "ERR source and destination objects are the same");
        return;
    }
    kv_entry *e = shard_lookup(s, key->p, key->len);
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    unsigned from = s->db;
    s->db = (uint8_t)db;
    kv_entry *d = shard_lookup(s, key->p, key->len);
    s->db = (uint8_t)from;
    if (d != NULL) {
        reply_int(c->out, 0);
        return;
    }
    unsigned type = e->type;
    shard_move_db(s, e, (unsigned)db, key->p, key->len);
    key_signal(s, (unsigned)db, key, type);
    reply_int(c->out, 1);
}

/* FLUSHALL [ASYNC|SYNC] (and FLUSHDB): both modes empty the shard now. */
void cmd_flushall_part(shard_t *s, const cmd_call *c)
{
    if (c->argc > 2 ||
        (c->argc == 2 && !cmd_is(&c->argv[1], "sync") && !cmd_is(&c->argv[1], "async"))) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    size_t before = shard_mem(s);
    shard_clear(s);
    flush_purge(before, shard_mem(s));
    reply_ok(c->out);
}

/* Estimates the sum of the remaining TTLs (ms) of the keys with a TTL,
 * per database (ttl[db], KV_MAX_DBS of them): exact up to
 * CMD_INFO_TTL_SAMPLES keys, else scaled from that many sampled ones.
 * Returns the sum over every database. */
static int64_t info_ttl_sums(shard_t *s, int64_t now_ms, int64_t *ttl)
{
    uint32_t n = s->expires.n;
    if (n == 0) return 0;
    int all = n <= CMD_INFO_TTL_SAMPLES;
    uint32_t k = all ? n : CMD_INFO_TTL_SAMPLES;
    int64_t sum[KV_MAX_DBS] = {0}, seen[KV_MAX_DBS] = {0}, total = 0;
    for (uint32_t i = 0; i < k; i++) {
        const kv_entry *e = all ? s->expires.v[i] : expire_idx_random(&s->expires, &s->rng);
        int64_t left = entry_expire(e) - now_ms;
        unsigned db = entry_db(e);
        sum[db] += left > 0 ? left : 0;
        seen[db]++;
    }
    for (unsigned db = 0; db < KV_MAX_DBS; db++) {
        if (seen[db] == 0) continue;
        /* scale the sample to the database's keys with a TTL */
        int64_t keys = (int64_t)shard_db_volatile(s, db);
        ttl[db] = all ? sum[db] : (int64_t)((double)sum[db] / (double)seen[db] * (double)keys);
        total += ttl[db];
    }
    return total;
}

void cmd_info_part(shard_t *s, const cmd_call *c)
{
    if (!want_res(c)) return;
    int64_t *ttl = kv_xcalloc(KV_MAX_DBS, sizeof *ttl);
    int64_t ttl_all = info_ttl_sums(s, s->now_ms, ttl);
    uint32_t ndb = 0;
    for (unsigned db = 1; s->dbs && db < KV_MAX_DBS; db++) ndb += s->dbs[db].keys > 0;
    cmd_figures *f = kv_xmalloc(sizeof *f + ndb * sizeof f->db[0]);
    shard_figures(s, f->v);
    f->v[CMD_INFO_TTL_MS] = ttl_all;
    f->ndb = 0;
    for (unsigned db = 1; ndb && db < KV_MAX_DBS; db++) {
        if (s->dbs[db].keys == 0) continue;
        f->db[f->ndb++] = (cmd_db_figures){.db = db,
                                           .keys = (int64_t)s->dbs[db].keys,
                                           .expires = (int64_t)s->dbs[db].volatile_keys,
                                           .ttl_ms = ttl[db]};
    }
    free(ttl);
    cmd_res_clear(c->res);
    *c->res = (cmd_res){.kind = CMD_RES_FIGURES, .fig = f};
}

/* ---- RENAME within a shard, and the TAKE/PUT stages across shards ---------- */

static void rename_generic(shard_t *s, const cmd_call *c, int nx)
{
    const kv_str *src = &c->argv[1], *dst = &c->argv[2];
    kv_entry *e = shard_lookup(s, src->p, src->len);
    if (e == NULL) {
        reply_error(c->out, KV_ERR_NOKEY);
        return;
    }
    if (src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
        if (nx)
            reply_int(c->out, 0);
        else
            reply_ok(c->out);
        return;
    }
    kv_entry *d = shard_lookup(s, dst->p, dst->len);
    if (d != NULL) {
        if (nx) {
            reply_int(c->out, 0);
            return;
        }
        shard_remove(s, d);
    }
    /* entries never move when the table changes, so e stays valid */
    unsigned type = e->type;
    shard_move(s, e, dst->p, dst->len);
    key_signal(s, s->db, dst, type);
    if (nx)
        reply_int(c->out, 1);
    else
        reply_ok(c->out);
}

void cmd_rename(shard_t *s, const cmd_call *c)
{
    rename_generic(s, c, 0);
}
void cmd_renamenx(shard_t *s, const cmd_call *c)
{
    rename_generic(s, c, 1);
}

/* The value of e as TAKE answers it: its bytes into out. */
static void value_bytes(kv_entry *e, kvbuf *out)
{
    if (kv_type_is_obj(e->type))
        entry_obj_encode(e, out);
    else
        kvbuf_append(out, entry_val(e), e->vlen);
}

/* The value of key (c->argv[1]) as TAKE/PEEK answer it: its bytes in
 * c->out, CMD_RES_TAKE with its expiry and type; CMD_RES_ABSENT and NULL
 * if there is no such key (or no typed answer is wanted). */
static kv_entry *peek_value(shard_t *s, const cmd_call *c)
{
    if (!want_res(c)) return NULL;
    kv_entry *e = shard_lookup(s, c->argv[1].p, c->argv[1].len);
    if (e == NULL) {
        c->res->kind = CMD_RES_ABSENT;
        return NULL;
    }
    value_bytes(e, c->out);
    *c->res = (cmd_res){.kind = CMD_RES_TAKE, .num = entry_expire(e), .type = e->type};
    return e;
}

/* TAKE key -> CMD_RES_TAKE: the value's bytes in c->out as they are (an
 * object's entry_obj_encode bytes), its expiry and type; the key is gone.
 * CMD_RES_ABSENT if there is no such key. */
void cmd_take_part(shard_t *s, const cmd_call *c)
{
    kv_entry *e = peek_value(s, c);
    if (e != NULL) shard_remove(s, e);
}

/* Puts val (TAKE's bytes of a value of type type) at key of database
 * s->db with expiry pxat (< 0: none), replacing it: 0, or -1 after
 * appending the error to out. */
static int put_value(shard_t *s, const kv_str *key, const kv_str *val, int64_t pxat, int64_t type,
                     kvbuf *out)
{
    if (pxat < 0) pxat = -1;
    if (type == KV_TYPE_HASH) {
        hobj_t *h = hobj_decode(s->secret, val->p, val->len);
        if (h == NULL || hobj_len(h) == 0) {
            hobj_free(h);
            reply_error(out, "ERR internal error: bad hash in PUT");
            return -1;
        }
        shard_del(s, key->p, key->len);
        shard_hash_put(s, key->p, key->len, h, pxat);
    } else if (type == KV_TYPE_LIST || type == KV_TYPE_SET || type == KV_TYPE_ZSET) {
        void *obj = entry_obj_decode(s->secret, (unsigned)type, val->p, val->len);
        if (obj == NULL) {
            reply_error(out, "ERR internal error: bad list or set in PUT");
            return -1;
        }
        shard_del(s, key->p, key->len);
        shard_obj_put(s, key->p, key->len, (unsigned)type, obj, pxat);
        key_signal(s, s->db, key, (unsigned)type); /* cross-shard RENAME, STOREs, COPY */
    } else {
        shard_put(s, key->p, key->len, val->p, val->len, pxat);
    }
    return 0;
}

/* PUT key value pxat type -> +OK; pxat < 0 means no expiry. Replaces key. */
void cmd_put_part(shard_t *s, const cmd_call *c)
{
    int64_t pxat, type;
    if (cmd_get_i64(c, &c->argv[3], &pxat) != 0) return;
    if (cmd_get_i64(c, &c->argv[4], &type) != 0) return;
    if (put_value(s, &c->argv[1], &c->argv[2], pxat, type, c->out) == 0) reply_ok(c->out);
}

/* PEEK key -> as TAKE, but the key stays (COPY across shards). */
void cmd_peek_part(shard_t *s, const cmd_call *c)
{
    peek_value(s, c);
}

/* ---- COPY ------------------------------------------------------------------------ */

int cmd_copy_args(int argc, const kv_str *argv, unsigned cur_db, unsigned ndbs, unsigned *db,
                  int *replace, const char **err)
{
    int64_t d = cur_db;
    *replace = 0;
    for (int i = 3; i < argc; i++) {
        if (cmd_is(&argv[i], "replace")) {
            *replace = 1;
        } else if (cmd_is(&argv[i], "db") && i + 1 < argc) {
            i++;
            if (kv_parse_i64(argv[i].p, argv[i].len, &d) != 0) {
                *err = KV_ERR_NOTINT;
                return -1;
            }
            if (d < INT32_MIN || d > INT32_MAX) { /* Redis's getIntFromObject */
                *err = "ERR value is out of range, value must between -2147483648 and 2147483647";
                return -1;
            }
            if (d < 0 || d >= (int64_t)ndbs) { /* each DB as it comes, as Redis */
                *err = KV_ERR_DBINDEX;
                return -1;
            }
        } else {
            *err = KV_ERR_SYNTAX;
            return -1;
        }
    }
    if ((unsigned)d == cur_db && argv[1].len == argv[2].len &&
        memcmp(argv[1].p, argv[2].p, argv[1].len) == 0) {
        *err = "ERR source and destination objects are the same";
        return -1;
    }
    *db = (unsigned)d;
    return 0;
}

/* COPY src dst [DB n] [REPLACE], both keys in this shard: 1 if copied
 * (with src's expiry), 0 if src is absent or dst exists without REPLACE. */
void cmd_copy(shard_t *s, const cmd_call *c)
{
    unsigned db;
    int replace;
    const char *err;
    if (cmd_copy_args(c->argc, c->argv, s->db, s->ndbs, &db, &replace, &err) != 0) {
        reply_error(c->out, err);
        return;
    }
    kv_entry *e = shard_lookup(s, c->argv[1].p, c->argv[1].len);
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    kvbuf val;
    kvbuf_init(&val);
    value_bytes(e, &val);
    int64_t pxat = entry_expire(e), type = e->type;
    unsigned from = s->db;
    s->db = (uint8_t)db;
    const kv_str *dst = &c->argv[2];
    if (!replace && shard_lookup(s, dst->p, dst->len) != NULL) {
        reply_int(c->out, 0);
    } else {
        kv_str v = {val.data, val.len};
        if (put_value(s, dst, &v, pxat, type, c->out) == 0) reply_int(c->out, 1);
    }
    s->db = (uint8_t)from;
    kvbuf_destroy(&val);
}

/* ---- WATCH / UNWATCH parts ---------------------------------------------------- */

/* argv = name, client id (decimal), keys of this shard. */
static void watch_generic(shard_t *s, const cmd_call *c, int add)
{
    int64_t client;
    if (c->argc < 2 || kv_parse_i64(c->argv[1].p, c->argv[1].len, &client) != 0) {
        reply_error(c->out, "ERR internal error in WATCH");
        return;
    }
    for (int i = 2; i < c->argc; i++) {
        if (add)
            watch_add(s, (uint64_t)client, &c->argv[i]);
        else
            watch_remove(s, (uint64_t)client, &c->argv[i]);
    }
    reply_ok(c->out);
}

void cmd_watch_part(shard_t *s, const cmd_call *c)
{
    watch_generic(s, c, 1);
}

void cmd_unwatch_part(shard_t *s, const cmd_call *c)
{
    watch_generic(s, c, 0);
}
