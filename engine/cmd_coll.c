/* cmd_coll.c - helpers the collection command files (cmd_hash.c,
 * cmd_list.c, cmd_set.c, cmd_zset.c) share: typed lookups, Redis's index
 * ranges, the log records' varints, and the *SCAN options and reply.
 * Owner actor thread only, as the commands that call them. */
#include <stdio.h>

#include "engine/cmd_internal.h"
#include "engine/shard.h"
#include "engine/varint.h"

int cmd_check_type(const cmd_call *c, const kv_entry *e, unsigned type)
{
    if (e->type != type) {
        reply_error(c->out, KV_ERR_WRONGTYPE);
        return 0;
    }
    return 1;
}

kv_entry *cmd_lookup_type(shard_t *s, const cmd_call *c, const kv_str *key, unsigned type, int read,
                          int *wrong)
{
    kv_entry *e = read ? cmd_lookup_read(s, key) : shard_lookup(s, key->p, key->len);
    *wrong = 0;
    if (e != NULL && !cmd_check_type(c, e, type)) {
        *wrong = 1;
        return NULL;
    }
    return e;
}

kv_entry *cmd_obj_open(shard_t *s, kv_entry *e, const kv_str *key, unsigned type)
{
    if (e == NULL) return shard_obj_add(s, key->p, key->len, type);
    shard_obj_begin(s, e);
    return e;
}

int cmd_index_range(int64_t len, int64_t *start, int64_t *stop)
{
    if (*start < 0) *start += len;
    if (*stop < 0) *stop += len;
    if (*start < 0) *start = 0;
    if (*start > *stop || *start >= len) return 0;
    if (*stop >= len) *stop = len - 1;
    return 1;
}

int cmd_read_varint(const char *p, size_t n, size_t *off, uint64_t *out)
{
    return varint_get(p, n, off, out);
}

int cmd_read_elem(const char *p, size_t n, size_t *off, kv_str *out)
{
    uint64_t len = 0;
    if (cmd_read_varint(p, n, off, &len) != 0 || len > n - *off) return -1;
    out->p = p + *off;
    out->len = (size_t)len;
    *off += (size_t)len;
    return 0;
}

int cmd_scan_opts(const cmd_call *c, int first, int64_t *count, const kv_str **pattern)
{
    for (int i = first; i < c->argc; i += 2) {
        const kv_str *a = &c->argv[i];
        int more = c->argc - i >= 2;
        if (more && cmd_is(a, "count")) {
            if (cmd_get_i64(c, &c->argv[i + 1], count) != 0) return -1;
            if (*count < 1) {
                reply_error(c->out, KV_ERR_SYNTAX);
                return -1;
            }
        } else if (more && cmd_is(a, "match")) {
            const kv_str *p = &c->argv[i + 1];
            *pattern = (p->len == 1 && p->p[0] == '*') ? NULL : p;
        } else {
            reply_error(c->out, KV_ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

void cmd_reply_scan(kvbuf *out, uint64_t cursor, const kvbuf *items, int64_t n)
{
    char num[24];
    reply_array(out, 2);
    reply_bulk(out, num, (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)cursor));
    reply_array(out, n);
    kvbuf_append(out, items->data, items->len);
}

int cmd_rand_count_args(const cmd_call *c, const char *with, int64_t *count, int *withs)
{
    int64_t l;
    if (cmd_get_i64(c, &c->argv[2], &l) != 0) return -1;
    if (l == INT64_MIN) {
        reply_error(c->out, "ERR value is out of range, value must between "
                            "-9223372036854775807 and 9223372036854775807");
        return -1;
    }
    if (c->argc > 4 || (c->argc == 4 && !cmd_is(&c->argv[3], with))) {
        reply_error(c->out, KV_ERR_SYNTAX);
        return -1;
    }
    *withs = c->argc == 4;
    if ((*withs && (l < -INT64_MAX / 2 || l > INT64_MAX / 2)) || l < -CMD_RAND_MAX_REPEATS) {
        reply_error(c->out, "ERR value is out of range");
        return -1;
    }
    *count = l;
    return 0;
}

int cmd_block_timeout_ok(const cmd_call *c, const kv_str *a)
{
    int64_t ms;
    const char *err;
    if (cmd_block_timeout(a, &ms, &err) == 0) return 1;
    reply_error(c->out, err);
    return 0;
}
