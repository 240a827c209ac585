/* scripting.h - EVAL, EVALSHA (and their _RO forms) and SCRIPT: where a script
 * runs and how its redis.call reaches the shards.
 *
 * A script is one request to the actor that owns its declared keys (KEYS;
 * actor 0 when it declares none): that actor runs it in its own Lua state
 * (engine/script.h), created on first use, and redis.call runs the command
 * functions directly on the shards of that actor. A key of another actor,
 * declared or not, is refused: there is no cross-actor step (yet).
 *
 * The scripts known by SHA1 (SCRIPT LOAD, every EVAL) are kept once for
 * the server, behind a mutex; an actor compiles a script the first time it
 * runs it. SCRIPT FLUSH empties that store and bumps a generation: each
 * actor starts a fresh Lua state at its next script.
 */
#ifndef MEMKV_SCRIPTING_H
#define MEMKV_SCRIPTING_H

#include "net/net_internal.h"
#include "engine/script.h"

typedef struct script_env script_env;

/* Start-up thread, after the actor pool exists: the scripting context of s
 * (its nactors, pool, persistence and --lua-time-limit). */
script_env *script_env_new(struct server *s);
/* After the actors stopped; accepts NULL. */
void script_env_free(script_env *e);
/* The command statistics of the commands scripts ran on actor a
 * (redis.call; Redis counts them in INFO commandstats as any command).
 * Written by actor a only; any thread merges them (obs_summary_new). */
obs_net *script_env_obs(script_env *e, unsigned a);
/* How many commands scripts ran (redis.call; not the rejected ones) since
 * CONFIG RESETSTAT generation gen, over every actor: Redis counts them in
 * total_commands_processed. 0 for e NULL. Any thread. */
uint64_t script_env_calls(script_env *e, uint64_t gen);

/* Network thread: routes the EVAL/EVALSHA command of slot sl (its def is
 * ROUTE_SCRIPT), or answers it at once (argument errors, NOSCRIPT). */
void script_route(netthr *t, conn *c, kv_slot *sl);

/* The shard handler of EVAL and friends (the command table's fn): runs the
 * script on the actor that owns shard s, with cmd_call.env the script_env.
 * That actor's thread only. */
cmd_fn script_part;

/* SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP, on the network thread. */
cmd_local_fn local_script;

/* script_call.c: redis.call's executor for a script running on actor
 * `actor` (the thread calling it); see script_call_fn. */
typedef struct script_call_ctx {
    struct server *srv; /* ro */
    unsigned actor;     /* the running actor */
    int read_only;      /* EVAL_RO / EVALSHA_RO */
    int64_t now_ms;     /* the batch's time, for the other shards touched */
    _Atomic int *wrote; /* set once the script ran a write command (SCRIPT KILL) */
    unsigned db;        /* the database the script's commands use (SELECT changes it) */
    obs_net *obs;       /* the running actor's: INFO commandstats of redis.call */
    int refused;        /* set while one command runs: refused before it ran */
} script_call_ctx;

void script_call(void *ctx, unsigned flags, int argc, const kv_str *argv, kvbuf *out);

#endif
