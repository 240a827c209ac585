/* join.h - the gather half of scatter-gather: building one client reply
 * from the replies of the per-shard parts of a command.
 *
 * Pure functions over the parts' replies and typed answers (kv_req.res;
 * engine/cmd.h says what each part answers). If any part answered an
 * error, the joined reply is the first such error. Called by the network
 * thread that owns the command.
 */
#ifndef MEMKV_JOIN_H
#define MEMKV_JOIN_H

#include <stdint.h>

#include "engine/buf.h"
#include "actors/msg.h"

/* If one of the n parts answered an error (no typed answer, and an error
 * reply), appends it to out and returns 1. */
int join_first_error(kvbuf *out, kv_req *const *subs, unsigned n);

/* MGET: key i of nkeys is answered by subs[key_sub[i]], whose bulk-or-nil
 * elements come in key order. Appends *nkeys and the elements. */
void join_mget(kvbuf *out, kv_req *const *subs, unsigned n, const uint16_t *key_sub,
               unsigned nkeys);

/* Sum of the parts' counts (CMD_RES_INT: DEL, EXISTS, DBSIZE, ...), as :sum. */
void join_sum(kvbuf *out, kv_req *const *subs, unsigned n);
/* Sum as a number; -1 if a part answered no count. */
int64_t join_sum_value(kv_req *const *subs, unsigned n);

/* +OK when every part said OK. */
void join_ok(kvbuf *out, kv_req *const *subs, unsigned n);

/* Concatenates the keys the parts answered (CMD_RES_KEYS: bulks without a
 * header) into one array (KEYS). */
void join_concat(kvbuf *out, kv_req *const *subs, unsigned n);

/* One of the parts' keys (CMD_RES_KEYS, count 1) chosen with rng, or nil
 * (RANDOMKEY). */
void join_random(kvbuf *out, kv_req *const *subs, unsigned n, uint64_t *rng);

/* Sums the parts' figures (CMD_RES_FIGURES: INFO and STATS parts)
 * element-wise into sums[0..CMD_INFO_NFIELDS). Returns 0, or -1 if a part
 * answered no figures (it was refused: its reply holds the error). */
int join_sum_fields(kv_req *const *subs, unsigned n, int64_t *sums);

/* INFO parts: their per-database figures summed into dbs[db] = {keys,
 * expires, ttl_ms} for 0 < db < ndbs (dbs[0] is left 0). Returns 0 or -1
 * as join_sum_fields. */
int join_info_dbs(kv_req *const *subs, unsigned n, int64_t (*dbs)[3], unsigned ndbs);

#endif
