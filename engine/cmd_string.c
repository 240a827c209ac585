/* cmd_string.c - string commands against one shard, with Redis 7.0's
 * semantics and reply texts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/cmd.h"
#include "engine/cmd_internal.h"
#include "engine/reply.h"
#include "engine/shard.h"

/* ---- helpers shared with cmd_keys.c -------------------------------------- */

kv_entry *cmd_lookup_read(shard_t *s, const kv_str *key)
{
    kv_entry *e = shard_lookup(s, key->p, key->len);
    if (e != NULL)
        s->stats.hits++;
    else
        s->stats.misses++;
    return e;
}

int cmd_check_string(const cmd_call *c, const kv_entry *e)
{
    if (e->type != KV_TYPE_STRING) {
        reply_error(c->out, KV_ERR_WRONGTYPE);
        return 0;
    }
    return 1;
}

int cmd_get_i64(const cmd_call *c, const kv_str *a, int64_t *v)
{
    if (kv_parse_i64(a->p, a->len, v) != 0) {
        reply_error(c->out, KV_ERR_NOTINT);
        return -1;
    }
    return 0;
}

const char *cmd_type_name(const kv_entry *e)
{
    switch (e->type) {
    case KV_TYPE_STRING:
        return "string";
    case KV_TYPE_HASH:
        return "hash";
    case KV_TYPE_LIST:
        return "list";
    case KV_TYPE_SET:
        return "set";
    case KV_TYPE_ZSET:
        return "zset";
    default:
        return "unknown";
    }
}

static void reply_value(kvbuf *out, kv_entry *e)
{
    reply_bulk(out, entry_val(e), e->vlen);
}

/* ---- SET and GETEX options ------------------------------------------------ */

enum {
    OPT_NX = 1 << 0,
    OPT_XX = 1 << 1,
    OPT_GET = 1 << 2,
    OPT_KEEPTTL = 1 << 3,
    OPT_PERSIST = 1 << 4,
    OPT_EX = 1 << 5,
    OPT_PX = 1 << 6,
    OPT_EXAT = 1 << 7,
    OPT_PXAT = 1 << 8,
};
#define OPT_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

/* Parses the options of SET (is_set) or GETEX from argv[first..], as
 * Redis's parseExtendedStringArgumentsOrReply: a repeated option is fine,
 * conflicting ones are a syntax error. The expire argument (the last one
 * given) is only stored here; its value is checked by expire_from_arg. */
static int parse_string_opts(const cmd_call *c, int first, int is_set, int *flags,
                             const kv_str **expire)
{
    *flags = 0;
    *expire = NULL;
    for (int j = first; j < c->argc; j++) {
        const kv_str *a = &c->argv[j];
        int f = *flags, has_next = j + 1 < c->argc;
        if (is_set && cmd_is(a, "nx") && !(f & OPT_XX)) {
            *flags |= OPT_NX;
        } else if (is_set && cmd_is(a, "xx") && !(f & OPT_NX)) {
            *flags |= OPT_XX;
        } else if (is_set && cmd_is(a, "get")) {
            *flags |= OPT_GET;
        } else if (is_set && cmd_is(a, "keepttl") && !(f & (OPT_PERSIST | OPT_EXPIRE))) {
            *flags |= OPT_KEEPTTL;
        } else if (!is_set && cmd_is(a, "persist") && !(f & (OPT_KEEPTTL | OPT_EXPIRE))) {
            *flags |= OPT_PERSIST;
        } else if (has_next && cmd_is(a, "ex") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE & ~OPT_EX)))) {
            *flags |= OPT_EX;
            *expire = &c->argv[++j];
        } else if (has_next && cmd_is(a, "px") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE & ~OPT_PX)))) {
            *flags |= OPT_PX;
            *expire = &c->argv[++j];
        } else if (has_next && cmd_is(a, "exat") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE & ~OPT_EXAT)))) {
            *flags |= OPT_EXAT;
            *expire = &c->argv[++j];
        } else if (has_next && cmd_is(a, "pxat") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE & ~OPT_PXAT)))) {
            *flags |= OPT_PXAT;
            *expire = &c->argv[++j];
        } else {
            reply_error(c->out, KV_ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* Turns an expire argument into an absolute time in ms, as Redis's
 * getExpireMillisecondsOrReply: it must be > 0 and must not overflow once
 * scaled and added to now. Replies the error and returns -1 otherwise. */
static int expire_from_arg(shard_t *s, const cmd_call *c, const kv_str *arg, int seconds,
                           int relative, int64_t *out)
{
    int64_t v;
    if (cmd_get_i64(c, arg, &v) != 0) return -1;
    if (v <= 0 || (seconds && v > INT64_MAX / 1000)) goto bad;
    if (seconds) v *= 1000;
    if (relative) {
        if (v > INT64_MAX - s->now_ms) goto bad;
        v += s->now_ms;
    }
    *out = v;
    return 0;
bad:
    reply_error_expire(c->out, c->argv[0].p, c->argv[0].len);
    return -1;
}

static int expire_from_opts(shard_t *s, const cmd_call *c, int flags, const kv_str *arg,
                            int64_t *out)
{
    return expire_from_arg(s, c, arg, (flags & (OPT_EX | OPT_EXAT)) != 0,
                           (flags & (OPT_EX | OPT_PX)) != 0, out);
}

char *cmd_take_arg(const cmd_call *c, const kv_str *val, unsigned *k)
{
    const kv_take *t = c->take;
    if (t == NULL || val->len < ENTRY_SHARE_MIN) return NULL;
    for (unsigned i = 0; i < t->nbigs; i++) {
        if (t->bigs[i] != val->p) continue;
        if (t->keeps[i] != NULL) return NULL; /* kept by an earlier store */
        *k = i;
        return t->bigs[i];
    }
    return NULL;
}

void cmd_take_done(const cmd_call *c, unsigned k, const char *own, kv_entry *e)
{
    if (own != NULL) return; /* copied: the argument stays the sender's */
    entry_pin(e);
    c->take->keeps[k] = e;
}

/* shard_put_own of argument val at key (absent, or of any type, which the
 * string replaces), with val's buffer taken when c may keep it. */
static kv_entry *string_put(shard_t *s, const cmd_call *c, const kv_str *key, const kv_str *val,
                            int64_t exp)
{
    unsigned k = 0;
    char *own = cmd_take_arg(c, val, &k);
    char *had = own;
    kv_entry *n = shard_put_own(s, key->p, key->len, val->p, val->len, exp, own ? &own : NULL);
    if (had != NULL) cmd_take_done(c, k, own, n);
    return n;
}

/* Stores key = val with expiry exp (<0: none) over e (may be NULL), as
 * string_put (the argument's buffer becomes the value when c may keep
 * it: no copy). An expiry already past removes the key instead, as Redis
 * does. */
static void string_store(shard_t *s, const cmd_call *c, const kv_str *key, kv_entry *e,
                         const kv_str *val, int64_t exp)
{
    if (exp >= 0 && exp <= s->now_ms) {
        if (e != NULL) shard_remove(s, e);
        return;
    }
    if (e == NULL || e->type != KV_TYPE_STRING) { /* absent, or a type the string replaces */
        string_put(s, c, key, val, exp);
        return;
    }
    unsigned k = 0;
    char *own = cmd_take_arg(c, val, &k);
    char *had = own;
    kv_entry *n = shard_update_own(s, e, val->p, val->len, exp, own ? &own : NULL);
    if (had != NULL) cmd_take_done(c, k, own, n);
}

/* ---- commands --------------------------------------------------------------- */

void cmd_get(shard_t *s, const cmd_call *c)
{
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e == NULL) {
        reply_nil(c->out);
        return;
    }
    if (!cmd_check_string(c, e)) return;
    if (c->pin != NULL && (e->flags & KV_ENTRY_SHARED)) {
        /* a big value: the reply refers to it (kv_pin), no copy */
        reply_bulk_len(c->out, e->vlen);
        entry_pin(e);
        *c->pin = (kv_pin){e, entry_val(e), e->vlen, c->out->len};
        kvbuf_append(c->out, "\r\n", 2);
        return;
    }
    reply_value(c->out, e);
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
void cmd_set(shard_t *s, const cmd_call *c)
{
    const kv_str *key = &c->argv[1], *expire;
    int flags;
    int64_t exp = -1;
    kv_entry *e;

    if (parse_string_opts(c, 3, 1, &flags, &expire) != 0) return;
    if (expire != NULL && expire_from_opts(s, c, flags, expire, &exp) != 0) return;
    if (flags & OPT_GET) {
        e = cmd_lookup_read(s, key);
        if (e != NULL && !cmd_check_string(c, e)) return;
        if (e == NULL)
            reply_nil(c->out);
        else
            reply_value(c->out, e);
    } else {
        e = shard_lookup(s, key->p, key->len);
    }
    if (((flags & OPT_NX) && e != NULL) || ((flags & OPT_XX) && e == NULL)) {
        if (!(flags & OPT_GET)) reply_nil(c->out);
        return;
    }
    if ((flags & OPT_KEEPTTL) && e != NULL) exp = entry_expire(e);
    string_store(s, c, key, e, &c->argv[2], exp);
    if (!(flags & OPT_GET)) reply_ok(c->out);
}

void cmd_setnx(shard_t *s, const cmd_call *c)
{
    if (shard_lookup(s, c->argv[1].p, c->argv[1].len) != NULL) {
        reply_int(c->out, 0);
        return;
    }
    string_put(s, c, &c->argv[1], &c->argv[2], -1);
    reply_int(c->out, 1);
}

static void setex_generic(shard_t *s, const cmd_call *c, int seconds)
{
    int64_t exp;
    if (expire_from_arg(s, c, &c->argv[2], seconds, 1, &exp) != 0) return;
    kv_entry *e = shard_lookup(s, c->argv[1].p, c->argv[1].len);
    string_store(s, c, &c->argv[1], e, &c->argv[3], exp);
    reply_ok(c->out);
}

void cmd_setex(shard_t *s, const cmd_call *c)
{
    setex_generic(s, c, 1);
}
void cmd_psetex(shard_t *s, const cmd_call *c)
{
    setex_generic(s, c, 0);
}

void cmd_getset(shard_t *s, const cmd_call *c)
{
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e != NULL && !cmd_check_string(c, e)) return;
    if (e == NULL)
        reply_nil(c->out);
    else
        reply_value(c->out, e);
    string_store(s, c, &c->argv[1], e, &c->argv[2], -1);
}

void cmd_getdel(shard_t *s, const cmd_call *c)
{
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e == NULL) {
        reply_nil(c->out);
        return;
    }
    if (!cmd_check_string(c, e)) return;
    reply_value(c->out, e);
    shard_remove(s, e);
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] */
void cmd_getex(shard_t *s, const cmd_call *c)
{
    const kv_str *expire;
    int flags;
    int64_t exp = -1;

    if (parse_string_opts(c, 2, 0, &flags, &expire) != 0) return;
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e == NULL) {
        reply_nil(c->out);
        return;
    }
    if (!cmd_check_string(c, e)) return;
    if (expire != NULL && expire_from_opts(s, c, flags, expire, &exp) != 0) return;
    reply_value(c->out, e);
    if (expire != NULL) {
        if (exp <= s->now_ms)
            shard_remove(s, e);
        else
            shard_update(s, e, entry_val(e), e->vlen, exp);
    } else if ((flags & OPT_PERSIST) && entry_expire(e) >= 0) {
        shard_update(s, e, entry_val(e), e->vlen, -1);
    }
}

void cmd_append(shard_t *s, const cmd_call *c)
{
    const kv_str *key = &c->argv[1], *add = &c->argv[2];
    kv_entry *e = shard_lookup(s, key->p, key->len);
    if (e == NULL) {
        string_put(s, c, key, add, -1);
        reply_int(c->out, (int64_t)add->len);
        return;
    }
    if (!cmd_check_string(c, e)) return;
    size_t old = e->vlen;
    if ((int64_t)(old + add->len) > s->max_string) {
        reply_error(c->out, KV_ERR_MAXSTRING);
        return;
    }
    if (add->len > 0) {
        e = shard_append_val(s, e, old + add->len);
        memcpy(entry_val(e) + old, add->p, add->len);
        shard_written(s, e);
    }
    reply_int(c->out, (int64_t)e->vlen);
}

void cmd_strlen(shard_t *s, const cmd_call *c)
{
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    if (!cmd_check_string(c, e)) return;
    reply_int(c->out, (int64_t)e->vlen);
}

static void incr_generic(shard_t *s, const cmd_call *c, int64_t incr)
{
    const kv_str *key = &c->argv[1];
    int64_t v = 0;
    kv_entry *e = shard_lookup(s, key->p, key->len);

    if (e != NULL) {
        if (!cmd_check_string(c, e)) return;
        if (kv_parse_i64(entry_val(e), e->vlen, &v) != 0) {
            reply_error(c->out, KV_ERR_NOTINT);
            return;
        }
    }
    if ((incr < 0 && v < 0 && incr < INT64_MIN - v) ||
        (incr > 0 && v > 0 && incr > INT64_MAX - v)) {
        reply_error(c->out, KV_ERR_OVERFLOW);
        return;
    }
    v += incr;
    char num[24];
    size_t n = (size_t)snprintf(num, sizeof num, "%lld", (long long)v);
    if (e != NULL)
        shard_update(s, e, num, n, entry_expire(e));
    else
        shard_put(s, key->p, key->len, num, n, -1);
    reply_int(c->out, v);
}

void cmd_incr(shard_t *s, const cmd_call *c)
{
    incr_generic(s, c, 1);
}

void cmd_decr(shard_t *s, const cmd_call *c)
{
    incr_generic(s, c, -1);
}

void cmd_incrby(shard_t *s, const cmd_call *c)
{
    int64_t incr;
    if (cmd_get_i64(c, &c->argv[2], &incr) != 0) return;
    incr_generic(s, c, incr);
}

void cmd_decrby(shard_t *s, const cmd_call *c)
{
    int64_t decr;
    if (cmd_get_i64(c, &c->argv[2], &decr) != 0) return;
    if (decr == INT64_MIN) {
        reply_error(c->out, "ERR decrement would overflow");
        return;
    }
    incr_generic(s, c, -decr);
}

void cmd_incrbyfloat(shard_t *s, const cmd_call *c)
{
    const kv_str *key = &c->argv[1], *arg = &c->argv[2];
    long double v = 0, incr;

    kv_entry *e = shard_lookup(s, key->p, key->len);
    if (e != NULL) {
        if (!cmd_check_string(c, e)) return;
        if (kv_parse_ld(entry_val(e), e->vlen, &v) != 0) {
            reply_error(c->out, KV_ERR_NOTFLOAT);
            return;
        }
    }
    if (kv_parse_ld(arg->p, arg->len, &incr) != 0) {
        reply_error(c->out, KV_ERR_NOTFLOAT);
        return;
    }
    v = kv_ld_add(v, incr);
    if (isnan(v) || isinf(v)) {
        reply_error(c->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[5120];
    size_t n = kv_format_ld(buf, sizeof buf, v);
    if (e != NULL)
        shard_update(s, e, buf, n, entry_expire(e));
    else
        shard_put(s, key->p, key->len, buf, n, -1);
    reply_bulk(c->out, buf, n);
}

void cmd_getrange(shard_t *s, const cmd_call *c)
{
    int64_t start, end;
    if (cmd_get_i64(c, &c->argv[2], &start) != 0) return;
    if (cmd_get_i64(c, &c->argv[3], &end) != 0) return;
    kv_entry *e = cmd_lookup_read(s, &c->argv[1]);
    if (e == NULL) {
        reply_bulk(c->out, "", 0);
        return;
    }
    if (!cmd_check_string(c, e)) return;
    int64_t len = (int64_t)e->vlen;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c->out, "", 0);
        return;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0) {
        reply_bulk(c->out, "", 0);
        return;
    }
    reply_bulk(c->out, entry_val(e) + start, (size_t)(end - start + 1));
}

void cmd_setrange(shard_t *s, const cmd_call *c)
{
    const kv_str *key = &c->argv[1], *val = &c->argv[3];
    int64_t off;

    if (cmd_get_i64(c, &c->argv[2], &off) != 0) return;
    if (off < 0) {
        reply_error(c->out, "ERR offset is out of range");
        return;
    }
    kv_entry *e = shard_lookup(s, key->p, key->len);
    if (e != NULL && !cmd_check_string(c, e)) return;
    if (val->len == 0) {
        reply_int(c->out, e ? (int64_t)e->vlen : 0);
        return;
    }
    if (off > s->max_string - (int64_t)val->len) {
        reply_error(c->out, KV_ERR_MAXSTRING);
        return;
    }
    if (off == 0 && (e == NULL || val->len >= e->vlen)) {
        /* the value is the argument as it is: stored as SET would (its
         * buffer kept when it may), the expiry kept */
        string_store(s, c, key, e, val, e != NULL ? entry_expire(e) : -1);
        reply_int(c->out, (int64_t)val->len);
        return;
    }
    size_t need = (size_t)off + val->len;
    if (e == NULL)
        e = shard_add_zeroed(s, key->p, key->len, need);
    else if (need > e->vlen || entry_pinned(e))
        /* a pinned value is being sent (GET, MGET): write into a copy */
        e = shard_resize_val(s, e, need > e->vlen ? need : e->vlen);
    memcpy(entry_val(e) + off, val->p, val->len);
    shard_written(s, e);
    reply_int(c->out, (int64_t)e->vlen);
}

/* Appends e's value to c's reply as a pin when c allows it and the value
 * is stored apart (KV_ENTRY_SHARED): its bulk header and CRLF in the reply,
 * and the bytes between them referred to, not copied. */
static void reply_value_pinned(const cmd_call *c, kv_entry *e)
{
    kv_pins *ps = c->pins;
    if (ps == NULL || !(e->flags & KV_ENTRY_SHARED)) {
        reply_value(c->out, e);
        return;
    }
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 4;
        ps->v = kv_xrealloc(ps->v, ps->cap * sizeof *ps->v);
    }
    reply_bulk_len(c->out, e->vlen);
    entry_pin(e);
    ps->v[ps->n++] = (kv_pin){e, entry_val(e), e->vlen, c->out->len};
    kvbuf_append(c->out, "\r\n", 2);
}

void cmd_mget_part(shard_t *s, const cmd_call *c)
{
    for (int i = 1; i < c->argc; i++) {
        kv_entry *e = cmd_lookup_read(s, &c->argv[i]);
        if (e == NULL || e->type != KV_TYPE_STRING)
            reply_nil(c->out);
        else
            reply_value_pinned(c, e);
    }
}

void cmd_mset_part(shard_t *s, const cmd_call *c)
{
    if (c->argc < 3 || (c->argc - 1) % 2 != 0) {
        reply_error_arity(c->out, c->argv[0].p, c->argv[0].len);
        return;
    }
    for (int i = 1; i + 1 < c->argc; i += 2) {
        string_put(s, c, &c->argv[i], &c->argv[i + 1], -1);
    }
    reply_ok(c->out);
}
