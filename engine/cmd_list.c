/* cmd_list.c - list commands against one shard, with Redis 7.0's semantics
 * and reply texts (t_list.c). Values live in lobj.h objects; every change is
 * bracketed by shard_obj_begin/shard_obj_end so memory accounting, WATCH
 * and the log stay right. Owner actor thread only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_internal.h"
#include "hobj.h"
#include "lobj.h"
#include "reply.h"
#include "shard.h"

#define ERR_POSITIVE "ERR value is out of range, must be positive"
#define ERR_RANK                                                                                   \
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "   \
    "negative to start from the end of the list"

/* The list at key for a read: NULL when absent (wrong set to 0) or after
 * WRONGTYPE (wrong set to 1). */
static kv_entry *list_read(shard_t *s, const cmd_call *c, const kv_str *key, int *wrong)
{
    return cmd_lookup_type(s, c, key, KV_TYPE_LIST, 1, wrong);
}

/* The same for a write (no hit/miss counted). */
static kv_entry *list_write(shard_t *s, const cmd_call *c, const kv_str *key, int *wrong)
{
    return cmd_lookup_type(s, c, key, KV_TYPE_LIST, 0, wrong);
}

/* ---- the log's list records (docs/persistence.md) ---------------------------
 * A PUT record of type KV_TYPE_LIST_DELTA: u8 op, varint version (the
 * list's version after the change), then by op:
 *   LPUSH/RPUSH: varint n, n x (varint len, bytes), pushed in that order;
 *   LPOP/RPOP:   varint n (elements removed);
 *   LSET:        varint index, varint len, bytes.
 * Replay applies a record only to a list at version - 1 (an absent key is
 * at version 0), so a record already in a fuzzy snapshot is skipped. */
enum { LDELTA_LPUSH = 1, LDELTA_RPUSH, LDELTA_LPOP, LDELTA_RPOP, LDELTA_LSET };

/* Starts the record of a change to l (and bumps l's version). */
static void delta_begin(kvbuf *d, lobj_t *l, int op)
{
    char b = (char)op;
    kvbuf_init(d);
    kvbuf_append(d, &b, 1);
    lobj_set_version(l, lobj_version(l) + 1);
    hobj_encode_varint(d, lobj_version(l));
}

static void delta_elem(kvbuf *d, const char *p, size_t n)
{
    hobj_encode_varint(d, n);
    kvbuf_append(d, p, n);
}

/* Ends the change of e with record d (then freed). */
static void delta_end(shard_t *s, kv_entry *e, kvbuf *d)
{
    shard_obj_end_delta(s, e, KV_TYPE_LIST_DELTA, d->data, d->len);
    kvbuf_destroy(d);
}

int cmd_list_replay(shard_t *s, const kv_str *key, const char *p, size_t n)
{
    size_t off = 1;
    uint64_t version, count, idx;
    kv_str v;
    if (n < 1 || cmd_read_varint(p, n, &off, &version) != 0) return -1;
    int op = (unsigned char)p[0];
    if (op < LDELTA_LPUSH || op > LDELTA_LSET || version == 0) return -1;
    kv_entry *e = ht_find_db(&s->table, shard_hash(s, key->p, key->len), s->db, key->p, key->len);
    if (e != NULL && e->type != KV_TYPE_LIST) return 0; /* a later record replaces it */
    uint64_t cur = e ? lobj_version(entry_lobj(e)) : 0;
    if (version != cur + 1) return 0; /* already applied (or an older list's) */
    if (e == NULL && op != LDELTA_LPUSH && op != LDELTA_RPUSH) return 0;
    e = cmd_obj_open(s, e, key, KV_TYPE_LIST);
    lobj_t *l = entry_lobj(e);
    int rc = 0;
    switch (op) {
    case LDELTA_LPUSH:
    case LDELTA_RPUSH:
        if (cmd_read_varint(p, n, &off, &count) != 0 || count > n) {
            rc = -1;
            break;
        }
        for (uint64_t i = 0; i < count && rc == 0; i++) {
            if (cmd_read_elem(p, n, &off, &v) != 0)
                rc = -1;
            else
                lobj_push(l, op == LDELTA_LPUSH ? LOBJ_HEAD : LOBJ_TAIL, v.p, v.len);
        }
        break;
    case LDELTA_LPOP:
    case LDELTA_RPOP: {
        if (cmd_read_varint(p, n, &off, &count) != 0) {
            rc = -1;
            break;
        }
        size_t len = lobj_len(l), k = count < len ? (size_t)count : len;
        lobj_delete(l, op == LDELTA_LPOP ? 0 : len - k, k);
        break;
    }
    case LDELTA_LSET:
        if (cmd_read_varint(p, n, &off, &idx) != 0 || cmd_read_elem(p, n, &off, &v) != 0)
            rc = -1;
        else if (idx < lobj_len(l))
            lobj_set(l, (size_t)idx, v.p, v.len);
        break;
    }
    if (rc == 0 && off != n) rc = -1;
    lobj_set_version(l, version);
    shard_obj_end_delta(s, e, 0, NULL, 0); /* replay: nothing to log */
    return rc;
}

/* ---- pushes ---------------------------------------------------------------- */

static void push_generic(shard_t *s, const cmd_call *c, int where, int only_existing)
{
    int wrong;
    kv_entry *e = list_write(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (e == NULL && only_existing) {
        reply_int(c->out, 0);
        return;
    }
    e = cmd_obj_open(s, e, &c->argv[1], KV_TYPE_LIST);
    lobj_t *l = entry_lobj(e);
    kvbuf d;
    delta_begin(&d, l, where == LOBJ_HEAD ? LDELTA_LPUSH : LDELTA_RPUSH);
    hobj_encode_varint(&d, (uint64_t)(c->argc - 2));
    for (int i = 2; i < c->argc; i++) {
        lobj_push(l, where, c->argv[i].p, c->argv[i].len);
        delta_elem(&d, c->argv[i].p, c->argv[i].len);
    }
    int64_t len = (int64_t)lobj_len(l);
    delta_end(s, e, &d);
    reply_int(c->out, len);
}

void cmd_lpush(shard_t *s, const cmd_call *c)
{
    push_generic(s, c, LOBJ_HEAD, 0);
}

void cmd_rpush(shard_t *s, const cmd_call *c)
{
    push_generic(s, c, LOBJ_TAIL, 0);
}

void cmd_lpushx(shard_t *s, const cmd_call *c)
{
    push_generic(s, c, LOBJ_HEAD, 1);
}

void cmd_rpushx(shard_t *s, const cmd_call *c)
{
    push_generic(s, c, LOBJ_TAIL, 1);
}

/* ---- pops -------------------------------------------------------------------- */

static void pop_generic(shard_t *s, const cmd_call *c, int where)
{
    int64_t count = 1;
    int wrong;
    if (c->argc > 3) {
        reply_error_arity(c->out, c->argv[0].p, c->argv[0].len);
        return;
    }
    if (c->argc == 3) {
        if (kv_parse_i64(c->argv[2].p, c->argv[2].len, &count) != 0 || count < 0) {
            reply_error(c->out, ERR_POSITIVE);
            return;
        }
    }
    kv_entry *e = list_write(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (e == NULL) {
        if (c->argc == 3)
            reply_nil_array(c->out);
        else
            reply_nil(c->out);
        return;
    }
    lobj_t *l = entry_lobj(e);
    size_t len = lobj_len(l);
    size_t n = (uint64_t)count < len ? (size_t)count : len;
    if (c->argc == 3) reply_array(c->out, (int64_t)n);
    if (n == 0) return;
    shard_obj_begin(s, e);
    kv_str v;
    lobj_iter it;
    lobj_iter_init(l, &it, where == LOBJ_HEAD ? 0 : len - 1, where == LOBJ_TAIL);
    for (size_t i = 0; i < n && lobj_iter_next(&it, &v); i++) reply_bulk(c->out, v.p, v.len);
    lobj_iter_done(&it);
    lobj_delete(l, where == LOBJ_HEAD ? 0 : len - n, n);
    kvbuf d;
    delta_begin(&d, l, where == LOBJ_HEAD ? LDELTA_LPOP : LDELTA_RPOP);
    hobj_encode_varint(&d, n);
    delta_end(s, e, &d);
}

void cmd_lpop(shard_t *s, const cmd_call *c)
{
    pop_generic(s, c, LOBJ_HEAD);
}

void cmd_rpop(shard_t *s, const cmd_call *c)
{
    pop_generic(s, c, LOBJ_TAIL);
}

/* ---- reads --------------------------------------------------------------------- */

void cmd_llen(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = list_read(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    reply_int(c->out, e ? (int64_t)lobj_len(entry_lobj(e)) : 0);
}

void cmd_lrange(shard_t *s, const cmd_call *c)
{
    int64_t start, stop;
    int wrong;
    if (cmd_get_i64(c, &c->argv[2], &start) != 0 || cmd_get_i64(c, &c->argv[3], &stop) != 0) return;
    kv_entry *e = list_read(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (e == NULL || !cmd_index_range((int64_t)lobj_len(entry_lobj(e)), &start, &stop)) {
        reply_array(c->out, 0);
        return;
    }
    reply_array(c->out, stop - start + 1);
    lobj_iter it;
    kv_str v;
    lobj_iter_init(entry_lobj(e), &it, (size_t)start, 0);
    for (int64_t i = start; i <= stop && lobj_iter_next(&it, &v); i++)
        reply_bulk(c->out, v.p, v.len);
    lobj_iter_done(&it);
}

/* Resolves a possibly negative index; returns 0 and sets *at, or -1 if out
 * of range. */
static int list_index(const lobj_t *l, int64_t idx, size_t *at)
{
    int64_t len = (int64_t)lobj_len(l);
    if (idx < 0) idx += len;
    if (idx < 0 || idx >= len) return -1;
    *at = (size_t)idx;
    return 0;
}

void cmd_lindex(shard_t *s, const cmd_call *c)
{
    int64_t idx;
    int wrong;
    size_t at;
    kv_str v;
    if (cmd_get_i64(c, &c->argv[2], &idx) != 0) return;
    kv_entry *e = list_read(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (e == NULL || list_index(entry_lobj(e), idx, &at) != 0) {
        reply_nil(c->out);
        return;
    }
    lobj_get(entry_lobj(e), at, &v);
    reply_bulk(c->out, v.p, v.len);
}

/* ---- in-place changes ------------------------------------------------------------ */

void cmd_lset(shard_t *s, const cmd_call *c)
{
    int64_t idx;
    int wrong;
    size_t at;
    if (cmd_get_i64(c, &c->argv[2], &idx) != 0) return;
    kv_entry *e = list_write(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_error(c->out, KV_ERR_NOKEY);
        return;
    }
    if (list_index(entry_lobj(e), idx, &at) != 0) {
        reply_error(c->out, "ERR index out of range");
        return;
    }
    shard_obj_begin(s, e);
    lobj_set(entry_lobj(e), at, c->argv[3].p, c->argv[3].len);
    kvbuf d;
    delta_begin(&d, entry_lobj(e), LDELTA_LSET);
    hobj_encode_varint(&d, at);
    delta_elem(&d, c->argv[3].p, c->argv[3].len);
    delta_end(s, e, &d);
    reply_ok(c->out);
}

/* The index of the first element equal to x, or -1. */
static int64_t list_find(lobj_t *l, const kv_str *x)
{
    lobj_iter it;
    kv_str v;
    int64_t i = 0, found = -1;
    lobj_iter_init(l, &it, 0, 0);
    while (lobj_iter_next(&it, &v)) {
        if (v.len == x->len && memcmp(v.p, x->p, v.len) == 0) {
            found = i;
            break;
        }
        i++;
    }
    lobj_iter_done(&it);
    return found;
}

void cmd_linsert(shard_t *s, const cmd_call *c)
{
    int after, wrong;
    if (cmd_is(&c->argv[2], "after"))
        after = 1;
    else if (cmd_is(&c->argv[2], "before"))
        after = 0;
    else {
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    kv_entry *e = list_write(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    int64_t at = list_find(entry_lobj(e), &c->argv[3]);
    if (at < 0) {
        reply_int(c->out, -1);
        return;
    }
    shard_obj_begin(s, e);
    lobj_insert(entry_lobj(e), (size_t)at + (size_t)after, c->argv[4].p, c->argv[4].len);
    int64_t len = (int64_t)lobj_len(entry_lobj(e));
    shard_obj_end(s, e, 1);
    reply_int(c->out, len);
}

void cmd_lrem(shard_t *s, const cmd_call *c)
{
    int64_t count;
    int wrong;
    if (cmd_get_i64(c, &c->argv[2], &count) != 0) return;
    kv_entry *e = list_write(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_int(c->out, 0);
        return;
    }
    /* rebuilt without the removed elements: O(n), as LREM is */
    lobj_t *l = entry_lobj(e), *keep = lobj_new();
    const kv_str *x = &c->argv[3];
    size_t len = lobj_len(l);
    int back = count < 0;
    uint64_t limit =
        count == 0 ? UINT64_MAX : (back ? (uint64_t)0 - (uint64_t)count : (uint64_t)count);
    int64_t removed = 0;
    lobj_iter it;
    kv_str v;
    lobj_iter_init(l, &it, back ? len - 1 : 0, back);
    while (lobj_iter_next(&it, &v)) {
        if ((uint64_t)removed < limit && v.len == x->len && memcmp(v.p, x->p, v.len) == 0)
            removed++;
        else
            lobj_push(keep, back ? LOBJ_HEAD : LOBJ_TAIL, v.p, v.len);
    }
    lobj_iter_done(&it);
    if (removed == 0) {
        lobj_free(keep);
        reply_int(c->out, 0);
        return;
    }
    shard_obj_begin(s, e);
    lobj_set_version(keep, lobj_version(l));
    lobj_free(l);
    memcpy(entry_val(e), &keep, sizeof keep);
    shard_obj_end(s, e, 1);
    reply_int(c->out, removed);
}

void cmd_ltrim(shard_t *s, const cmd_call *c)
{
    int64_t start, stop;
    int wrong;
    if (cmd_get_i64(c, &c->argv[2], &start) != 0 || cmd_get_i64(c, &c->argv[3], &stop) != 0) return;
    kv_entry *e = list_write(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (e == NULL) {
        reply_ok(c->out);
        return;
    }
    lobj_t *l = entry_lobj(e);
    int64_t len = (int64_t)lobj_len(l);
    int some = cmd_index_range(len, &start, &stop);
    if (some && start == 0 && stop == len - 1) {
        reply_ok(c->out); /* keeps everything */
        return;
    }
    shard_obj_begin(s, e);
    if (!some) {
        lobj_delete(l, 0, (size_t)len);
    } else {
        lobj_delete(l, (size_t)stop + 1, (size_t)(len - stop - 1));
        lobj_delete(l, 0, (size_t)start);
    }
    shard_obj_end(s, e, 1);
    reply_ok(c->out);
}

/* ---- LPOS ---------------------------------------------------------------------------- */

void cmd_lpos(shard_t *s, const cmd_call *c)
{
    int64_t rank = 1, count = -1, maxlen = 0;
    int wrong;
    for (int i = 3; i < c->argc; i++) {
        const kv_str *o = &c->argv[i];
        int last = i + 1 >= c->argc;
        if (cmd_is(o, "rank") && !last) {
            if (cmd_get_i64(c, &c->argv[++i], &rank) != 0) return;
            if (rank == 0) {
                reply_error(c->out, ERR_RANK);
                return;
            }
        } else if (cmd_is(o, "count") && !last) {
            if (cmd_get_i64(c, &c->argv[++i], &count) != 0) return;
            if (count < 0) {
                reply_error(c->out, "ERR COUNT can't be negative");
                return;
            }
        } else if (cmd_is(o, "maxlen") && !last) {
            if (cmd_get_i64(c, &c->argv[++i], &maxlen) != 0) return;
            if (maxlen < 0) {
                reply_error(c->out, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            reply_error(c->out, KV_ERR_SYNTAX);
            return;
        }
    }
    kv_entry *e = list_read(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    int want_array = count >= 0;
    if (e == NULL) {
        if (want_array)
            reply_array(c->out, 0);
        else
            reply_nil(c->out);
        return;
    }
    lobj_t *l = entry_lobj(e);
    size_t len = lobj_len(l);
    int back = rank < 0;
    uint64_t skip = (back ? (uint64_t)0 - (uint64_t)rank : (uint64_t)rank) - 1;
    uint64_t want = count == 0 ? UINT64_MAX : (count < 0 ? 1 : (uint64_t)count);
    kvbuf found;
    kvbuf_init(&found);
    int64_t nfound = 0;
    lobj_iter it;
    kv_str v;
    const kv_str *x = &c->argv[2];
    lobj_iter_init(l, &it, back ? len - 1 : 0, back);
    for (size_t i = 0; (uint64_t)nfound < want && lobj_iter_next(&it, &v); i++) {
        if (maxlen > 0 && (int64_t)i >= maxlen) break;
        if (v.len != x->len || memcmp(v.p, x->p, v.len) != 0) continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        reply_int(&found, back ? (int64_t)(len - 1 - i) : (int64_t)i);
        nfound++;
    }
    lobj_iter_done(&it);
    if (want_array) {
        reply_array(c->out, nfound);
        kvbuf_append(c->out, found.data, found.len);
    } else if (nfound == 0) {
        reply_nil(c->out);
    } else {
        kvbuf_append(c->out, found.data, found.len);
    }
    kvbuf_destroy(&found);
}

/* ---- LMOVE, RPOPLPUSH (both keys in this shard: net/route.c) ------------------------ */

static int parse_side(const kv_str *a, int *where)
{
    if (cmd_is(a, "left"))
        *where = LOBJ_HEAD;
    else if (cmd_is(a, "right"))
        *where = LOBJ_TAIL;
    else
        return -1;
    return 0;
}

static void move_generic(shard_t *s, const cmd_call *c, int from, int to)
{
    int wrong;
    kv_entry *src = list_write(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (src == NULL) {
        reply_nil(c->out);
        return;
    }
    kv_entry *dst = list_write(s, c, &c->argv[2], &wrong);
    if (wrong) return;
    /* the element is copied out before the pop may free the source */
    lobj_t *l = entry_lobj(src);
    size_t len = lobj_len(l);
    kv_str v;
    lobj_get(l, from == LOBJ_HEAD ? 0 : len - 1, &v);
    char *copy = kv_xmalloc(v.len ? v.len : 1);
    memcpy(copy, v.p, v.len);
    size_t n = v.len;
    if (src == dst) {
        shard_obj_begin(s, src);
        lobj_delete(l, from == LOBJ_HEAD ? 0 : len - 1, 1);
        lobj_push(l, to, copy, n);
        shard_obj_end(s, src, 1);
    } else {
        kvbuf d;
        shard_obj_begin(s, src);
        lobj_delete(l, from == LOBJ_HEAD ? 0 : len - 1, 1);
        delta_begin(&d, l, from == LOBJ_HEAD ? LDELTA_LPOP : LDELTA_RPOP);
        hobj_encode_varint(&d, 1);
        delta_end(s, src, &d);
        /* the source may be gone: look dst up again */
        dst = shard_lookup(s, c->argv[2].p, c->argv[2].len);
        dst = cmd_obj_open(s, dst, &c->argv[2], KV_TYPE_LIST);
        lobj_push(entry_lobj(dst), to, copy, n);
        delta_begin(&d, entry_lobj(dst), to == LOBJ_HEAD ? LDELTA_LPUSH : LDELTA_RPUSH);
        hobj_encode_varint(&d, 1);
        delta_elem(&d, copy, n);
        delta_end(s, dst, &d);
    }
    reply_bulk(c->out, copy, n);
    free(copy);
}

void cmd_lmove(shard_t *s, const cmd_call *c)
{
    int from, to;
    if (parse_side(&c->argv[3], &from) != 0 || parse_side(&c->argv[4], &to) != 0) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    move_generic(s, c, from, to);
}

void cmd_rpoplpush(shard_t *s, const cmd_call *c)
{
    move_generic(s, c, LOBJ_TAIL, LOBJ_HEAD);
}
