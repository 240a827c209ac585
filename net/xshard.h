/* xshard.h - commands whose keys are in several shards, run inside a frozen
 * run (actors/actor.h) step by step: LMOVE, RPOPLPUSH, SMOVE, COPY (outside and
 * inside MULTI: multi_xshard_group, multi_run), each attempt of a blocked
 * BLMOVE/BRPOPLPUSH (net/blocking.c), and inside MULTI also the set and
 * sorted-set algebra (SINTER... SINTERCARD, ZUNION... ZINTERCARD,
 * ZRANGESTORE), ZMPOP/LMPOP and the non-blocking forms of BLPOP/BRPOP/
 * BZPOPMIN/BZPOPMAX/BLMPOP/BZMPOP/BLMOVE/BRPOPLPUSH.
 *
 * Every shard of the command's keys is frozen while xshard_run runs, so the
 * steps (check the destination's type, pop from the source, push to the
 * destination; or gather the members, combine, store) are one atomic
 * command for every other client, and with persistence on the frozen run
 * logs them as one transaction: after a crash, all of them or none. An
 * error reply means no effect: every check comes before the first change.
 *
 * A script runs the same steps on the shards of its own actor
 * (xshard_run_steps, net/script_call.c): there the script's run is what
 * keeps them atomic and logs them as one transaction.
 */
#ifndef MEMKV_XSHARD_H
#define MEMKV_XSHARD_H

#include "actors/actor.h"
#include "net/net_internal.h"
#include "net/server.h"

/* 1 if xshard_run can run def's command with its keys in several shards.
 * Any thread. */
int xshard_handles(const cmd_def *def);

/* Network thread: sets inv[a] for the actor a of every shard q's keys are
 * in (one byte per actor). */
void xshard_involve(const server_t *s, const kv_slot *q, uint8_t *inv);

/* The argument indexes of q's keys into idx (room for q->argc + 1): their
 * number; 0 when the command's arguments are bad (its shard handler, on
 * any shard, answers the error). Any thread. */
int xshard_keys(const kv_slot *q, int *idx);

struct blk_token;

/* Actor thread running a frozen run whose involved actors own every shard
 * of q's keys: runs q's command (database q->db) and appends its reply to
 * out. oom is the kv_req.denyoom of its steps that may grow memory:
 * KV_OOM_REFUSE to answer -OOM when no room can be made, KV_OOM_EVICT for
 * a command admitted as a whole (MULTI). q is only read.
 *
 * tok: NULL, or the token of a blocked BLMOVE/BRPOPLPUSH (net/blocking.c):
 * then an empty source registers the client on it (cmd_blmove_wait_part)
 * and out stays empty, and a move claims the token (BLK_SERVED) before it
 * pops; out also stays empty when the claim fails (timed out). */
void xshard_run(actor_fz *fz, const server_t *s, const kv_slot *q, int oom, struct blk_token *tok,
                kvbuf *out);

/* Runs one step now: request r (fn, shard, argv, db, write, denyoom, env;
 * reply and res handed over empty) on a shard the caller may touch, as
 * actor_fz_call does (MISCONF, eviction); ctx is the caller's. */
typedef void xshard_step_fn(void *ctx, kv_req *r);

/* As xshard_run without a token, each step through step(ctx, r): an actor
 * thread that owns every shard of q's keys (a script on its actor; the
 * caller checks the keys with xshard_keys). */
void xshard_run_steps(xshard_step_fn *step, void *ctx, const server_t *s, const kv_slot *q, int oom,
                      kvbuf *out);

#endif
