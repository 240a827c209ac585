/* cmd_list.c - list commands against one shard, with Redis 7.0's semantics
 * and reply texts (t_list.c). Values live in lobj.h objects; every change is
 * bracketed by shard_obj_begin/shard_obj_end so memory accounting, WATCH
 * and the log stay right. Owner actor thread only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/block.h"
#include "engine/cmd.h"
#include "engine/cmd_internal.h"
#include "engine/hobj.h"
#include "engine/lobj.h"
#include "engine/reply.h"
#include "engine/shard.h"

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

/* key (database s->db) got elements: its blocked clients, if any, are
 * served after the current command (cmd_list_serve). */
static void list_signal(shard_t *s, const kv_str *key)
{
    if (s->blk == NULL) return;
    blk_reg_signal(s->blk, shard_hash(s, key->p, key->len), s->db, key->p, key->len);
}

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
    list_signal(s, &c->argv[1]);
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

static void pop_n(shard_t *s, kvbuf *out, kv_entry *e, int where, size_t n);

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
    pop_n(s, c->out, e, where, n);
}

/* Pops n (<= its length) elements of list e at where, replying each. */
static void pop_n(shard_t *s, kvbuf *out, kv_entry *e, int where, size_t n)
{
    lobj_t *l = entry_lobj(e);
    size_t len = lobj_len(l);
    if (n == 0) return;
    shard_obj_begin(s, e);
    kv_str v;
    lobj_iter it;
    lobj_iter_init(l, &it, where == LOBJ_HEAD ? 0 : len - 1, where == LOBJ_TAIL);
    for (size_t i = 0; i < n && lobj_iter_next(&it, &v); i++) reply_bulk(out, v.p, v.len);
    lobj_iter_done(&it);
    lobj_delete(l, where == LOBJ_HEAD ? 0 : len - n, n);
    kvbuf d;
    delta_begin(&d, l, where == LOBJ_HEAD ? LDELTA_LPOP : LDELTA_RPOP);
    hobj_encode_varint(&d, n);
    delta_end(s, e, &d);
}

static void lmpop_keys(shard_t *s, const cmd_call *c, const kv_str *keys, int n, int where,
                       int64_t count);

/* LMPOP numkeys key... LEFT|RIGHT [COUNT n]: every key in this shard. */
void cmd_lmpop(shard_t *s, const cmd_call *c)
{
    int64_t numkeys, count;
    int right;
    const char *err;
    if (cmd_mpop_args(c->argc, c->argv, 1, "left", "right", &numkeys, &right, &count, &err) != 0) {
        reply_error(c->out, err);
        return;
    }
    lmpop_keys(s, c, &c->argv[2], (int)numkeys, right ? LOBJ_TAIL : LOBJ_HEAD, count);
}

/* LMPOP's answer, [key, [elements]], popping from e at key. Returns how
 * many it popped. */
static size_t lmpop_one(shard_t *s, kvbuf *out, kv_entry *e, const kv_str *key, int where,
                        uint64_t count)
{
    size_t len = lobj_len(entry_lobj(e));
    size_t n = count < len ? (size_t)count : len;
    reply_array(out, 2);
    reply_bulk(out, key->p, key->len);
    reply_array(out, (int64_t)n);
    pop_n(s, out, e, where, n);
    return n;
}

/* Pops from the first non-empty list of keys[0..n) (nil if none), and
 * answers how many in c->res (CMD_RES_POPPED) if asked. */
static void lmpop_keys(shard_t *s, const cmd_call *c, const kv_str *keys, int n, int where,
                       int64_t count)
{
    int wrong;
    for (int k = 0; k < n; k++) {
        kv_entry *e = list_write(s, c, &keys[k], &wrong);
        if (wrong) return;
        if (e == NULL) continue;
        size_t popped = lmpop_one(s, c->out, e, &keys[k], where, (uint64_t)count);
        if (c->res != NULL) /* LMPOP across shards: not nil, go no further */
            *c->res = (cmd_res){.kind = CMD_RES_POPPED, .num = (int64_t)popped};
        return;
    }
    if (c->res != NULL) *c->res = (cmd_res){.kind = CMD_RES_POPPED, .num = 0};
    reply_nil_array(c->out);
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

/* Moves one element of the non-empty list src (at key skey) to the list at
 * dkey (absent or a list: checked by the caller), logging both changes;
 * replies the element as a bulk. */
static void move_one(shard_t *s, kv_entry *src, const kv_str *skey, const kv_str *dkey, int from,
                     int to, kvbuf *out)
{
    /* the element is copied out before the pop may free the source */
    lobj_t *l = entry_lobj(src);
    size_t len = lobj_len(l);
    kv_str v;
    lobj_get(l, from == LOBJ_HEAD ? 0 : len - 1, &v);
    char *copy = kv_xmalloc(v.len ? v.len : 1);
    memcpy(copy, v.p, v.len);
    size_t n = v.len;
    int same = skey->len == dkey->len && memcmp(skey->p, dkey->p, skey->len) == 0;
    if (same) {
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
        kv_entry *dst = shard_lookup(s, dkey->p, dkey->len);
        dst = cmd_obj_open(s, dst, dkey, KV_TYPE_LIST);
        lobj_push(entry_lobj(dst), to, copy, n);
        delta_begin(&d, entry_lobj(dst), to == LOBJ_HEAD ? LDELTA_LPUSH : LDELTA_RPUSH);
        hobj_encode_varint(&d, 1);
        delta_elem(&d, copy, n);
        delta_end(s, dst, &d);
    }
    list_signal(s, dkey);
    reply_bulk(out, copy, n);
    free(copy);
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
    list_write(s, c, &c->argv[2], &wrong);
    if (wrong) return;
    move_one(s, src, &c->argv[1], &c->argv[2], from, to, c->out);
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

/* LMOVE's check of a key in another shard than the other key (net/xshard.c):
 * argv = name, key -> :1 (and CMD_RES_INT 1) if key holds a list, :0 if it
 * is absent, or WRONGTYPE. Changes nothing. */
void cmd_list_kind_part(shard_t *s, const cmd_call *c)
{
    int wrong;
    kv_entry *e = list_write(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    int64_t v = e != NULL;
    if (c->res != NULL) *c->res = (cmd_res){.kind = CMD_RES_INT, .num = v};
    reply_int(c->out, v);
}

/* ---- blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH) --------------------------
 * cmd_blpop & co. are the table's handlers: they never block (MULTI runs
 * them so, as Redis does in a transaction). The network thread runs the
 * _try forms with a token (block.h): they pop when they can, else register
 * the client on this shard's keys; cmd_list_serve serves the registered
 * clients once their key gets elements. */

int cmd_block_timeout(const kv_str *a, int64_t *ms, const char **err)
{
    long double v;
    if (kv_parse_ld(a->p, a->len, &v) != 0) {
        *err = "ERR timeout is not a float or out of range";
        return -1;
    }
    long double t = v * 1000.0L;
    if (t >= 9.2e18L || t <= -9.2e18L) {
        *err = t < 0 ? "ERR timeout is negative" : "ERR timeout is out of range";
        return -1;
    }
    *ms = (int64_t)t; /* truncated as Redis does: -0.0001 is 0, forever */
    if (*ms < 0) {
        *err = "ERR timeout is negative";
        return -1;
    }
    return 0;
}

/* Pops one element of the non-empty list e at key from where, logged as
 * LPOP/RPOP, and appends [key, element] to out. */
static void pop_one(shard_t *s, kv_entry *e, const kv_str *key, int where, kvbuf *out)
{
    lobj_t *l = entry_lobj(e);
    size_t len = lobj_len(l);
    kv_str v;
    lobj_get(l, where == LOBJ_HEAD ? 0 : len - 1, &v);
    reply_array(out, 2);
    reply_bulk(out, key->p, key->len);
    reply_bulk(out, v.p, v.len);
    shard_obj_begin(s, e);
    lobj_delete(l, where == LOBJ_HEAD ? 0 : len - 1, 1);
    kvbuf d;
    delta_begin(&d, l, where == LOBJ_HEAD ? LDELTA_LPOP : LDELTA_RPOP);
    hobj_encode_varint(&d, 1);
    delta_end(s, e, &d);
}

/* The non-blocking form: keys argv[1..argc-2], timeout last. */
static void bpop_now(shard_t *s, const cmd_call *c, int where)
{
    int wrong;
    if (!cmd_block_timeout_ok(c, &c->argv[c->argc - 1])) return;
    for (int i = 1; i < c->argc - 1; i++) {
        kv_entry *e = list_write(s, c, &c->argv[i], &wrong);
        if (wrong) return;
        if (e != NULL) {
            pop_one(s, e, &c->argv[i], where, c->out);
            return;
        }
    }
    reply_nil_array(c->out);
}

void cmd_blpop(shard_t *s, const cmd_call *c)
{
    bpop_now(s, c, LOBJ_HEAD);
}

void cmd_brpop(shard_t *s, const cmd_call *c)
{
    bpop_now(s, c, LOBJ_TAIL);
}

void cmd_blmove(shard_t *s, const cmd_call *c)
{
    int from, to;
    if (parse_side(&c->argv[3], &from) != 0 || parse_side(&c->argv[4], &to) != 0) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    if (!cmd_block_timeout_ok(c, &c->argv[5])) return;
    move_generic(s, c, from, to);
}

void cmd_brpoplpush(shard_t *s, const cmd_call *c)
{
    if (!cmd_block_timeout_ok(c, &c->argv[3])) return;
    move_generic(s, c, LOBJ_TAIL, LOBJ_HEAD);
}

/* BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n], not blocking (MULTI):
 * the arguments, then the timeout, as Redis checks them. */
void cmd_blmpop(shard_t *s, const cmd_call *c)
{
    int64_t numkeys, count;
    int right;
    const char *err;
    if (cmd_mpop_args(c->argc, c->argv, 2, "left", "right", &numkeys, &right, &count, &err) != 0) {
        reply_error(c->out, err);
        return;
    }
    if (!cmd_block_timeout_ok(c, &c->argv[1])) return;
    lmpop_keys(s, c, &c->argv[3], (int)numkeys, right ? LOBJ_TAIL : LOBJ_HEAD, count);
}

static blk_reg *shard_blk(shard_t *s)
{
    if (s->blk == NULL) s->blk = blk_reg_new();
    return s->blk;
}

blk_reg *cmd_shard_blk(shard_t *s)
{
    return shard_blk(s);
}

/* BLMPOP part: argv = name, LEFT|RIGHT, count, this shard's keys in the
 * client's order; c->env the token. As cmd_bpop_try. */
void cmd_blmpop_try(shard_t *s, const cmd_call *c)
{
    blk_token *tok = c->env;
    int where = cmd_is(&c->argv[1], "right") ? LOBJ_TAIL : LOBJ_HEAD, wrong;
    int64_t count = 1;
    kv_parse_i64(c->argv[2].p, c->argv[2].len, &count);
    for (int i = 3; i < c->argc; i++) {
        kv_entry *e = list_write(s, c, &c->argv[i], &wrong);
        if (wrong) return;
        if (e != NULL) {
            if (blk_token_claim(tok, BLK_SERVED))
                lmpop_one(s, c->out, e, &c->argv[i], where, (uint64_t)count);
            return;
        }
    }
    if (blk_token_state(tok) != BLK_WAITING) return;
    for (int i = 3; i < c->argc; i++) {
        const kv_str *k = &c->argv[i];
        blk_wait *w = blk_reg_add(shard_blk(s), shard_hash(s, k->p, k->len), s->db, k->p, k->len,
                                  tok, where, 0, 0, NULL);
        w->mpop = 1;
        w->count = (uint32_t)(count > UINT32_MAX ? UINT32_MAX : count);
    }
}

/* BLPOP/BRPOP part: argv = name, LEFT|RIGHT (the end it pops), this
 * shard's keys in the client's order; c->env the token. Replies [key, element] after claiming the
 * token, an error, or nothing (registered, or served elsewhere). */
void cmd_bpop_try(shard_t *s, const cmd_call *c)
{
    blk_token *tok = c->env;
    int where = LOBJ_HEAD, wrong;
    if (parse_side(&c->argv[1], &where) != 0) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    for (int i = 2; i < c->argc; i++) {
        kv_entry *e = list_write(s, c, &c->argv[i], &wrong);
        if (wrong) return;
        if (e != NULL) {
            if (blk_token_claim(tok, BLK_SERVED)) pop_one(s, e, &c->argv[i], where, c->out);
            return;
        }
    }
    if (blk_token_state(tok) != BLK_WAITING) return;
    for (int i = 2; i < c->argc; i++) {
        const kv_str *k = &c->argv[i];
        blk_reg_add(shard_blk(s), shard_hash(s, k->p, k->len), s->db, k->p, k->len, tok, where, 0,
                    0, NULL);
    }
}

/* BLMOVE part: argv = name, src, dst, wherefrom, whereto (checked by the
 * network thread; both keys in this shard); c->env the token. */
void cmd_blmove_try(shard_t *s, const cmd_call *c)
{
    blk_token *tok = c->env;
    int from = LOBJ_HEAD, to = LOBJ_HEAD, wrong;
    if (parse_side(&c->argv[3], &from) != 0 || parse_side(&c->argv[4], &to) != 0) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return;
    }
    kv_entry *src = list_write(s, c, &c->argv[1], &wrong);
    if (wrong) return;
    if (src != NULL) {
        list_write(s, c, &c->argv[2], &wrong);
        if (wrong) return;
        if (blk_token_claim(tok, BLK_SERVED))
            move_one(s, src, &c->argv[1], &c->argv[2], from, to, c->out);
        return;
    }
    if (blk_token_state(tok) != BLK_WAITING) return;
    const kv_str *k = &c->argv[1];
    blk_reg_add(shard_blk(s), shard_hash(s, k->p, k->len), s->db, k->p, k->len, tok, from, to, 1,
                &c->argv[2]);
}

/* BLMOVE/BRPOPLPUSH with the destination in another shard (net/xshard.c,
 * inside a frozen run that found src empty): argv = name, src, LEFT|RIGHT;
 * c->env the token. Registers the client on src as a waiter that pops
 * nothing (an LMPOP waiter of count 0): when src gets elements, the token
 * is served with [src, []] and the network thread runs the move across
 * the two shards itself. Replies nothing. */
void cmd_blmove_wait_part(shard_t *s, const cmd_call *c)
{
    blk_token *tok = c->env;
    const kv_str *k = &c->argv[1];
    if (blk_token_state(tok) != BLK_WAITING) return;
    int where = cmd_is(&c->argv[2], "right") ? LOBJ_TAIL : LOBJ_HEAD;
    blk_wait *w = blk_reg_add(shard_blk(s), shard_hash(s, k->p, k->len), s->db, k->p, k->len, tok,
                              where, 0, 0, NULL);
    w->mpop = 1;
    w->count = 0;
}

/* Serves the first waiting client of ready key k (database s->db) if its
 * list has an element; returns 1 if it served one (or answered it
 * WRONGTYPE), 0 if the list is empty or nobody waits. *gone is set when k
 * was freed. */
static int serve_one(shard_t *s, blk_key *k, int *gone)
{
    blk_reg *r = s->blk;
    blk_wait *w = blk_key_front(r, k);
    *gone = 0;
    if (w == NULL) {
        *gone = blk_key_pop(r, k, 0);
        return 0;
    }
    kv_str key = {k->key, k->klen};
    kv_entry *e = shard_lookup(s, key.p, key.len);
    if (e == NULL || (e->type != KV_TYPE_LIST && e->type != KV_TYPE_ZSET)) return 0;
    w = blk_key_front_kind(r, k, e->type == KV_TYPE_ZSET); /* BLPOP and BZPOPMIN waiters mix */
    if (w == NULL) return 0;
    kv_entry *dst = NULL;
    if (w->move) dst = shard_lookup(s, w->dst.p, w->dst.len);
    if (!blk_token_claim(w->tok, BLK_SERVED)) return 1; /* front drops it next time */
    blk_token *tok = w->tok;
    kvbuf_reset(&tok->reply);
    if (dst != NULL && dst->type != KV_TYPE_LIST)
        reply_error(&tok->reply, KV_ERR_WRONGTYPE); /* as Redis: answered, nothing moved */
    else if (w->move)
        move_one(s, e, &key, &w->dst, w->from, w->to, &tok->reply);
    else if (w->zset)
        cmd_zset_pop_for(s, e, &key, w->from, w->mpop ? (int64_t)w->count : -1, &tok->reply);
    else if (w->mpop)
        lmpop_one(s, &tok->reply, e, &key, w->from, w->count);
    else
        pop_one(s, e, &key, w->from, &tok->reply);
    *gone = blk_key_pop(r, k, 1); /* its reference goes with the delivery */
    blk_reg_served(r, tok);
    return 1;
}

unsigned cmd_list_serve(shard_t *s)
{
    if (s->blk == NULL || s->blk->ready == NULL) return 0;
    unsigned n = 0;
    uint8_t db = s->db;
    blk_key *k;
    while ((k = blk_reg_next_ready(s->blk)) != NULL) {
        s->db = k->db;
        int gone = 0;
        while (!gone && serve_one(s, k, &gone)) n++;
    }
    s->db = db;
    return n;
}
