/* cmd_internal.h - helpers shared by the command files of engine/. */
#ifndef MEMKV_CMD_INTERNAL_H
#define MEMKV_CMD_INTERNAL_H

#include <stdint.h>
#include <strings.h>

#include "engine/cmd.h"
#include "engine/entry.h"
#include "engine/reply.h"

/* True if a equals the lower-case word w, ignoring case. */
static inline int cmd_is(const kv_str *a, const char *w)
{
    size_t n = strlen(w);
    return a->len == n && strncasecmp(a->p, w, n) == 0;
}

/* Looks a key up for a read: counts a hit or a miss, as Redis's
 * keyspace_hits/keyspace_misses. Valid until the next change to s. */
kv_entry *cmd_lookup_read(shard_t *s, const kv_str *key);

/* Replies WRONGTYPE and returns 0 if e holds no string; 1 otherwise. */
int cmd_check_string(const cmd_call *c, const kv_entry *e);

/* Parses a as an integer or replies "value is not an integer"; 0 or -1. */
int cmd_get_i64(const cmd_call *c, const kv_str *a, int64_t *v);

/* Parses a SCAN/HSCAN cursor as Redis does; 0, or -1 if invalid. */
int cmd_parse_cursor(const kv_str *a, uint64_t *out);

/* The name of e's type as TYPE says it. */
const char *cmd_type_name(const kv_entry *e);

/* Taking a big argument as a stored value (cmd.h kv_take), in two steps
 * around the call that stores it: cmd_take_arg answers the buffer to pass
 * as `own` (entry_new_own and its kin set it to NULL when they take it),
 * or NULL if c may not keep val (no take, too small to be stored apart,
 * not a big bulk of the parser's, or already kept), and its index in *k;
 * cmd_take_done(c, k, own, e) then pins e, the entry now holding val's
 * bytes, if own was taken. Owner actor thread. */
char *cmd_take_arg(const cmd_call *c, const kv_str *val, unsigned *k);
void cmd_take_done(const cmd_call *c, unsigned k, const char *own, kv_entry *e);

/* ---- cmd_coll.c: shared by the collection commands (owner actor thread) ---- */

/* Replies WRONGTYPE and returns 0 if e's type is not type; 1 otherwise. */
int cmd_check_type(const cmd_call *c, const kv_entry *e, unsigned type);

/* The entry of the given type at key (read: counts hit/miss, as
 * cmd_lookup_read); NULL if absent (*wrong = 0) or after WRONGTYPE
 * (*wrong = 1). Valid until the next change to s. */
kv_entry *cmd_lookup_type(shard_t *s, const cmd_call *c, const kv_str *key, unsigned type, int read,
                          int *wrong);

/* Begins a change of e (shard_obj_begin), or when e is NULL adds an empty
 * object of type at key (shard_obj_add, which begins its change). Returns
 * the entry to change; the caller ends it with shard_obj_end*. */
kv_entry *cmd_obj_open(shard_t *s, kv_entry *e, const kv_str *key, unsigned type);

/* Normalizes a Redis index range [*start, *stop] over len elements; 0 if it
 * is empty, else 1 with 0 <= *start <= *stop < len. */
int cmd_index_range(int64_t len, int64_t *start, int64_t *stop);

/* Reads a LEB128 varint of p[*off..n) and moves *off past it; 0, or -1 if
 * truncated or too long. */
int cmd_read_varint(const char *p, size_t n, size_t *off, uint64_t *out);

/* Reads a varint length and that many bytes; out points into p. 0 or -1. */
int cmd_read_elem(const char *p, size_t n, size_t *off, kv_str *out);

/* Parses the [MATCH pattern] [COUNT count] options of a *SCAN from
 * argv[first]; *pattern stays NULL for "*". 0, or -1 after the error reply.
 * *pattern points into c's arguments. */
int cmd_scan_opts(const cmd_call *c, int first, int64_t *count, const kv_str **pattern);

/* Picks with repeats that HRANDFIELD/ZRANDMEMBER answer at most (Redis 7.0
 * would build any reply asked for and run out of memory: a documented
 * difference). */
#define CMD_RAND_MAX_REPEATS (1ll << 24)

/* Parses the count [WITH...] of HRANDFIELD/ZRANDMEMBER (argc >= 3; with:
 * "withvalues" or "withscores"), Redis's errors and bounds: 0 with *count
 * and *withs, or -1 after the error reply. */
int cmd_rand_count_args(const cmd_call *c, const char *with, int64_t *count, int *withs);

/* The timeout argument of a blocking command: 1 if valid, else 0 after its
 * error reply. */
int cmd_block_timeout_ok(const cmd_call *c, const kv_str *a);

/* Appends a *SCAN reply: the next cursor, then n items already encoded. */
void cmd_reply_scan(kvbuf *out, uint64_t cursor, const kvbuf *items, int64_t n);

#endif
