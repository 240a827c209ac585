/* join.h - the gather half of scatter-gather: building one client reply
 * from the replies of the per-shard parts of a command.
 *
 * Pure functions over RESP sub-replies (engine/cmd.h says what each part
 * answers). If any part answered an error, the joined reply is the first
 * such error. Called by the network thread that owns the command.
 */
#ifndef MEMKV_JOIN_H
#define MEMKV_JOIN_H

#include <stdint.h>

#include "buf.h"
#include "msg.h"

/* If one of the n sub-replies is an error, appends it to out and returns 1. */
int join_first_error(kvbuf *out, kv_req *const *subs, unsigned n);

/* MGET: key i of nkeys is answered by subs[key_sub[i]], whose bulk-or-nil
 * elements come in key order. Appends *nkeys and the elements. */
void join_mget(kvbuf *out, kv_req *const *subs, unsigned n, const uint16_t *key_sub,
               unsigned nkeys);

/* Sum of integer replies (DEL, EXISTS, DBSIZE, ...), as :sum. */
void join_sum(kvbuf *out, kv_req *const *subs, unsigned n);
/* Sum as a number, for staged commands; -1 if a part is not an integer. */
int64_t join_sum_value(kv_req *const *subs, unsigned n);

/* +OK when every part said OK. */
void join_ok(kvbuf *out, kv_req *const *subs, unsigned n);

/* Concatenates the arrays the parts answered into one array (KEYS). */
void join_concat(kvbuf *out, kv_req *const *subs, unsigned n);

/* One of the non-nil bulk replies chosen with rng, or nil (RANDOMKEY). */
void join_random(kvbuf *out, kv_req *const *subs, unsigned n, uint64_t *rng);

/* Sums the first nfields integers of arrays of integers element-wise into
 * sums[0..nfields) (INFO part). Returns 0, or -1 if a reply is not such an
 * array. */
int join_sum_fields(kv_req *const *subs, unsigned n, int64_t *sums, unsigned nfields);

/* INFO parts: the (db, keys, expires, ttl_ms) quadruples after the first
 * nfields integers, summed per database into dbs[db] = {keys, expires,
 * ttl_ms} for 0 < db < ndbs (dbs[0] is left 0). Returns 0 or -1 as
 * join_sum_fields. */
int join_info_dbs(kv_req *const *subs, unsigned n, unsigned nfields, int64_t (*dbs)[3],
                  unsigned ndbs);

#endif
