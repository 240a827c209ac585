/* actor.h - the actor threads that own the shards.
 *
 * Shard s belongs to actor s mod A; only that actor's thread touches it.
 * Each actor drains its mailbox in batches of batches, runs every request
 * on its shard, lets persistence commit the batch (the WAL seam), then hands
 * each batch back through the completion callback. A write that may grow
 * memory first makes room under --maxmemory (engine/evict.h), at most
 * ACTOR_EVICT_US per write. Between batches it runs time-boxed active expiry
 * and eviction. When idle it spins briefly, then sleeps on its
 * mailbox until a producer wakes it or the next expiry tick is due.
 */
#ifndef MEMKV_ACTOR_H
#define MEMKV_ACTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/cmd.h"
#include "engine/hash.h"
#include "engine/hist.h"
#include "actors/msg.h"
#include "persist/persist.h"
#include "engine/shard.h"

typedef struct actor_pool actor_pool_t;

/* Called on the actor thread for every finished batch, in the order the
 * batches were received. Must not block; typically pushes the batch to the
 * network thread's completion mailbox and wakes its loop. */
typedef void actor_done_fn(void *ctx, kv_batch *b);

typedef struct actor_pool_opts {
    unsigned nactors;
    unsigned nshards;
    unsigned mailbox_capacity; /* batches; producers must stay below it */
    int hz;                    /* active expiry ticks per second */
    int spin_us;               /* busy-poll this long before sleeping */
    int compact_cpu;           /* percent of an actor's time compaction may take; 0 = 100 */
    const kv_hash_secret *secret;
    actor_done_fn *done;
    void *done_ctx;
    persist_t *persist; /* NULL: no persistence */
    int fsync_always;   /* --fsync always: a write's reply means durable */
    unsigned nnet;      /* network threads (kv_batch.net_id < nnet) */
    /* Hosted actors (--threads): non-NULL means no actor has a thread of
     * its own; actor i is run by the thread that calls actor_host_poll(i),
     * and a producer that publishes to it calls wake(wake_ctx, i) (any
     * thread, must not block) so that the host polls soon. */
    void (*wake)(void *ctx, unsigned actor_id);
    void *wake_ctx;
    evict_limits *limits; /* --maxmemory settings, shared; NULL: no limit */
    int64_t max_string;   /* --proto-max-bulk-len for APPEND/SETRANGE; 0: 512 MB */
    int databases;        /* --databases (MOVE's range); 0: 16 */
    /* The latency monitor (LATENCY): while *event_ms > 0, work between and
     * around rounds (expiry cycle, eviction, compaction slice, the log's
     * write and fsync) is timed and event(event_ctx, name, us) is called
     * for what took at least *event_ms milliseconds. Called on the actor's
     * thread; must not block for long. NULL: nothing is timed. */
    void (*event)(void *ctx, const char *name, uint64_t us);
    void *event_ctx;
    const _Atomic int64_t *event_ms;
} actor_pool_opts;

/* Creates the pool and its shards (threads not started). NULL on OOM.
 * Start-up thread. */
actor_pool_t *actor_pool_new(const actor_pool_opts *o);
/* Starts the threads (none when hosted); returns 0 or KV_ENOMEM. */
int actor_pool_start(actor_pool_t *p);
/* Stops and joins the threads. The caller must have stopped producing and
 * collected its in-flight batches first. Accepts a never-started pool. */
void actor_pool_stop(actor_pool_t *p);
/* Frees the shards and the pool; accepts NULL. After stop. */
void actor_pool_free(actor_pool_t *p);

unsigned actor_pool_nactors(const actor_pool_t *p);

/* Hosted actors only, on the one thread that hosts actor id: runs a round
 * (local, a batch of the calling thread, or NULL, then what the mailbox
 * holds: one group commit; local's done callback runs on this thread before
 * the return), the expiry tick when due, a compaction slice. Returns 0 if
 * it wants to be polled again at once (more in the mailbox, eviction left
 * over), else the microseconds until its next tick or until a paced
 * compaction has earned its next slice (--compact-cpu). */
int64_t actor_host_poll(actor_pool_t *p, unsigned id, kv_batch *local);
static inline unsigned actor_of_shard(unsigned shard, unsigned nactors)
{
    return shard % nactors;
}

/* Any producer thread: publishes a batch to its actor (b->actor_id) and
 * wakes it if it sleeps. Returns false if the mailbox is full (the caller
 * keeps the batch and retries; see the credit rule in net/). */
bool actor_submit_mp(actor_pool_t *p, kv_batch *b);

/* Batch statistics of the actors. A drain round is what one actor takes
 * from its mailbox at once (up to 64 network-thread batches): it is run,
 * committed (the WAL's group-commit unit) and handed back together. */
typedef struct actor_batch_stats {
    uint64_t rounds;       /* drain rounds */
    uint64_t batches;      /* network-thread batches received */
    uint64_t requests;     /* requests (shard parts) run */
    uint64_t max_requests; /* most requests in one round */
} actor_batch_stats;

/* Adds the statistics of every actor into *sum and service (ns per round,
 * from the drain to the hand-back, persistence commit included). Any
 * thread, while the actors run; an actor that has not yet applied the last
 * reset counts as zero. */
void actor_pool_stats(actor_pool_t *p, actor_batch_stats *sum, hist_t *service);
/* Adds every actor's eviction runs (ns spent evicting before one write or
 * in one tick, only runs that evicted) into *h. Any thread. */
void actor_pool_evict_stats(actor_pool_t *p, hist_t *h);
/* True if some shard is over its memory share with nothing it may evict,
 * as its actor last published it (after every drain round and tick): the
 * network thread refuses multi-shard writes (MSET) with -OOM then. Any
 * thread. */
bool actor_pool_any_full(actor_pool_t *p);
/* True if some shard's log refuses writes (-MISCONF), as its actor last
 * published it: the network thread refuses multi-shard writes then, so
 * that no part of one runs while another is refused. Any thread. */
bool actor_pool_any_log_failed(actor_pool_t *p);
/* A network thread that is stopping has closed all its connections: its
 * batches whose replies wait for a failing log (fsync always) may come
 * back, as nobody can get those replies. The network thread itself. */
void actor_pool_net_closed(actor_pool_t *p, unsigned net_id);
/* Bytes the shards' log buffers hold, as of each actor's last log
 * operation (persist_shard_buffer_bytes). Any thread. */
uint64_t actor_pool_log_buffers(actor_pool_t *p);
/* CONFIG RESETSTAT: each actor clears its batch statistics and its shards'
 * counters (hits, misses, expired, evicted, commands) before its next
 * round. Any thread. */
void actor_pool_reset_stats(actor_pool_t *p);

/* The figures of one shard as cmd_info_part answers them (enum
 * cmd_info_field), as its actor last published them: after every expiry
 * tick and at most every 10 ms while busy. Any thread; for the /metrics
 * page, which cannot wait for a gather. */
void actor_pool_shard_figures(actor_pool_t *p, unsigned shard, int64_t *out);

/* ---- frozen runs: one callback with the shards of several actors ------
 *
 * Atomicity is per actor: an actor runs one request at a time, so work on
 * the shards of one actor is atomic for every other client. A frozen run
 * extends that to several actors. The producer sends one request per
 * involved actor (kv_req.fz pointing to the same run; any shard of that
 * actor); each actor, when it reaches its request, parks until all of them
 * have arrived (a barrier, as VLL/Dragonfly schedule multi-shard
 * transactions); the last to arrive runs fn once, touching the shards of
 * every involved actor while their owners wait, and releases them. So no
 * other request runs on any involved shard between fn's first and last
 * access. With one involved actor there is no waiting at all: fn runs in
 * place, as cheap as any request.
 *
 * Deadlock freedom is the producer's duty: the requests of two runs that
 * share actors must reach those actors' mailboxes in the same order (the
 * network threads publish batches holding parts of multi-actor runs under
 * one mutex, all parts of a run at once), and a hosted actor's part goes
 * through its mailbox like any other. The changes fn makes are logged to
 * each shard's WAL and committed by that shard's owner at the end of its
 * round, like its own requests (--fsync always: before its batch returns).
 *
 * Used by MULTI/EXEC (net/multi.c); meant for scripts too. */
typedef struct actor_fz actor_fz; /* valid during fn only */
typedef void actor_fz_fn(actor_fz *fz, void *arg);

typedef struct actor_fz_run {
    actor_fz_fn *fn;          /* ro: runs once, on the actor that arrives last */
    void *arg;                /* ro: fn's argument (owned by the producer) */
    unsigned nactors;         /* ro: requests sent, one per involved actor */
    const uint8_t *inv;       /* ro: inv[a] != 0 for each involved actor a (one byte per
                                 actor of the pool; owned by the producer), so the
                                 run's writes over several shards are logged as one
                                 transaction (persist_tx_begin/end); NULL: they
                                 are not */
    _Atomic unsigned arrived; /* private: actors parked so far */
    _Atomic int done;         /* private: fn returned */
} actor_fz_run;

/* Producer: prepares run for nactors involved actors, those a with inv[a]
 * set (inv stays valid until the run's requests come back), before any
 * request referring to it is published. */
void actor_fz_init(actor_fz_run *run, actor_fz_fn *fn, void *arg, unsigned nactors,
                   const uint8_t *inv);

/* In fn: runs request r (a command part: shard, fn, argv, db, write,
 * denyoom, obl) now, as an actor runs the requests of a batch: refused
 * with MISCONF when the shard's log failed, eviction first under
 * --maxmemory. r->shard must belong to an involved actor. */
void actor_fz_call(actor_fz *fz, kv_req *r);
/* In fn: shard of an involved actor, its clock set to now, for direct
 * use (WATCH checks); valid during fn. */
shard_t *actor_fz_shard(actor_fz *fz, uint32_t shard);

/* The shard array, for tests and start-up loading only (no actor running),
 * and for the actor that owns the shard (a script touching the other
 * shards of its actor: net/script_call.c). */
shard_t *actor_pool_shard(actor_pool_t *p, unsigned shard);

#endif
