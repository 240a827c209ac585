/* cmd_zset_internal.h - helpers shared by cmd_zset.c and cmd_zset2.c. */
#ifndef MEMKV_CMD_ZSET_INTERNAL_H
#define MEMKV_CMD_ZSET_INTERNAL_H

#include "engine/buf.h"
#include "engine/kv.h"
#include "engine/shard.h"

/* Parses a score as Redis's strtod-based check: 0, or -1 (NaN, junk). Any
 * thread. */
int cmd_zparse_score(const kv_str *a, double *out);
/* Appends d as a bulk, formatted as Redis 7.0 ("%.17g", inf, -inf). Any
 * thread. */
void cmd_zreply_score(kvbuf *out, double d);

/* key (database s->db) is now a non-empty sorted set: wakes its blocked
 * clients (BZPOPMIN...) after the command. Owner actor. */
void cmd_zset_signal(shard_t *s, const kv_str *key);

struct zobj;
/* Appends the member of rank i of z as a bulk, then its score if
 * withscores. Any thread, on z it reads alone. */
void cmd_zemit_elem(kvbuf *out, const struct zobj *z, size_t i, int withscores);
/* The score to store for a member of mlen bytes in z: Redis 7.0 keeps a
 * small sorted set (listpack form: up to 128 members of up to 64 bytes) with
 * its scores as text, where -0 becomes 0; mem-kv does the same for sets that
 * small. Any thread. */
double cmd_zscore_stored(const struct zobj *z, size_t mlen, double d);
/* cmd_zset_store_form is in cmd.h (the network thread's gather uses it). */

#endif
