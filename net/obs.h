/* obs.h - the server's observability: per-network-thread command counts
 * and latency histograms, merged on demand into INFO (commandstats,
 * latencystats), STATS JSON and the Prometheus page; CONFIG RESETSTAT.
 *
 * Every network thread owns one obs_net. Only that thread records into it
 * and resets it (single writer, relaxed atomics as in hist.h), so the hot
 * path has no locked instruction and no shared cache line: recording one
 * command is one histogram increment; the clock is read once per parse
 * pass and once per reply collection pass. Other threads merge live
 * obs_nets when asked.
 */
#ifndef MEMKV_OBS_H
#define MEMKV_OBS_H

#include <stdint.h>

#include "actors/actor.h"
#include "engine/buf.h"
#include "net/cmdtab.h"
#include "engine/hist.h"

struct netthr;
struct server;
struct kv_slot;

/* One command of one network thread. */
typedef struct obs_cmd {
    hist_t lat;        /* ns from parse to the reply handed to write(); lat.total = calls */
    hist_u64 failed;   /* calls whose reply was an error */
    hist_u64 rejected; /* refused before running (wrong number of arguments) */
} obs_cmd;

/* Error replies by their first word (Redis's errorstats: ERR, WRONGTYPE,
 * EXECABORT, ...). A name is written once by the owner before nerrs
 * publishes it, so readers see only complete names. */
#define OBS_ERR_KINDS 32
#define OBS_ERR_NAME  24
typedef struct obs_err {
    char name[OBS_ERR_NAME]; /* written once, before publication */
    hist_u64 count;
} obs_err;

typedef struct obs_net {
    /* cmdtab_count() + 1 pointers, by cmdtab index: a command's figures are
     * allocated at its first call (a histogram is 32 KB; allocating all 170
     * up front cost 5.7 MB a thread, which eviction counts as overhead).
     * Written (once, release) and the figures updated by the owner only;
     * NULL: never called. */
    obs_cmd *_Atomic *cmds;
    hist_u64 gen; /* reset generation applied; written by the owner */
    obs_err errs[OBS_ERR_KINDS];
    _Atomic unsigned nerrs; /* published error kinds; written by the owner (release) */
    hist_u64 errors;        /* error replies, all kinds (total_error_replies) */
} obs_net;

/* Owner thread (or start-up): allocates / frees. init returns 0 or KV_ENOMEM. */
int obs_net_init(obs_net *o);
void obs_net_destroy(obs_net *o);

/* Command i's figures in o, allocated and published at its first call;
 * NULL when out of memory (that call is not counted). Owner thread. */
obs_cmd *obs_cmd_first(obs_net *o, size_t i);

static inline obs_cmd *obs_cmd_of(obs_net *o, const cmd_def *def)
{
    size_t i = cmdtab_index(def);
    obs_cmd *c = atomic_load_explicit(&o->cmds[i], memory_order_relaxed); /* own store */
    return c != NULL ? c : obs_cmd_first(o, i);
}

/* Calls recorded in o, all commands. Any thread. */
uint64_t obs_net_calls(const obs_net *o);

/* Records one answered command. Owner thread. */
static inline void obs_record(obs_net *o, const cmd_def *def, uint64_t ns, int failed)
{
    obs_cmd *c = obs_cmd_of(o, def);
    if (c == NULL) return;
    hist_record(&c->lat, ns);
    if (failed) hist_add(&c->failed, 1);
}
/* Records n answered commands of def that each took ns (a pipelined run
 * parsed and answered in the same passes), none failed. Owner thread. */
static inline void obs_record_n(obs_net *o, const cmd_def *def, uint64_t ns, uint64_t n)
{
    obs_cmd *c = obs_cmd_of(o, def);
    if (c != NULL) hist_record_n(&c->lat, ns, n);
}
static inline void obs_rejected(obs_net *o, const cmd_def *def)
{
    obs_cmd *c = obs_cmd_of(o, def);
    if (c != NULL) hist_add(&c->rejected, 1);
}

/* Records one error reply ("-PREFIX message..."; the RESP bytes of the
 * reply, len > 0). Owner thread. */
void obs_error(obs_net *o, const char *reply, size_t len);

/* A per-thread counter's owner adds to it (no locked instruction). */
static inline void obs_count(_Atomic uint64_t *c, uint64_t n)
{
    hist_add(c, n);
}

/* Owner network thread, once per loop iteration: applies a pending reset
 * (its command statistics and its net_stats counters). */
void obs_net_sync(struct netthr *t);

/* The same for an obs_net that only counts commands (the commands a
 * script runs, scripting.c): if gen (server.stats_gen) moved on, clears
 * o's command figures and marks gen applied. Owner thread. */
void obs_net_sync_cmds(obs_net *o, uint64_t gen);

/* CONFIG RESETSTAT: every network thread and actor resets its own figures
 * at its next safe point; until then readers count it as zero. Any
 * network thread. */
void obs_reset(struct netthr *t);

/* ---- merged views ------------------------------------------------------ */

typedef struct obs_cmd_sum {
    const cmd_def *def;
    uint64_t calls, failed, rejected;
    hist_t *lat; /* merged over threads; owned by the summary */
} obs_cmd_sum;

typedef struct obs_summary {
    obs_cmd_sum *cmd; /* commands with calls or rejections, in table order */
    size_t ncmd;
    obs_err errs[OBS_ERR_KINDS * 2]; /* error replies by kind, merged (counts plain) */
    size_t nerrs;
    uint64_t errors;   /* error replies */
    uint64_t unknown;  /* commands not in the table */
    uint64_t rejected; /* refused before running: rejected calls + unknown */
    hist_t all;        /* every command */
    actor_batch_stats batch;
    hist_t service; /* actor drain rounds, ns */
} obs_summary;

/* Merges every network thread's and actor's figures. NULL on OOM. Any
 * thread. */
obs_summary *obs_summary_new(struct server *s);
void obs_summary_free(obs_summary *m);

/* INFO sections `# Commandstats` and `# Latencystats` (Redis 7.0 format),
 * each ended by a blank line. */
void obs_info_commandstats(kvbuf *b, const obs_summary *m);
void obs_info_latencystats(kvbuf *b, const obs_summary *m);
/* INFO section `# Errorstats` (errorstat_ERR:count=N), ended by a blank line. */
void obs_info_errorstats(kvbuf *b, const obs_summary *m);

/* Appends the latency, per-command, per-shard and batch fields of STATS
 * to the JSON object being written in b (each field after a comma; the
 * caller closes the object). The shard parts of sl (one per shard, in
 * shard order, with their figures: CMD_RES_FIGURES) give the per-shard
 * keys. */
void obs_stats_json(kvbuf *b, struct server *s, const struct kv_slot *sl);

/* The Prometheus text exposition (format 0.0.4) of the whole server. */
void obs_prometheus(kvbuf *b, struct server *s);

/* ---- the /metrics HTTP endpoint (metrics.c) ---------------------------- */

/* Network thread 0 at init: watches the metrics listener, if any. */
void metrics_thread_init(struct netthr *t);
/* Owner thread: stops accepting and closes every metrics connection. */
void metrics_thread_stop(struct netthr *t);

#endif
