/* cmd_internal.h - helpers shared by the command files of engine/. */
#ifndef MEMKV_CMD_INTERNAL_H
#define MEMKV_CMD_INTERNAL_H

#include <stdint.h>
#include <strings.h>

#include "cmd.h"
#include "entry.h"
#include "reply.h"

/* Largest string value, Redis's default proto-max-bulk-len (512 MB). */

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

#endif
