#include "actors/actor.h"

#include <assert.h>
#include <ck_pr.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/block.h"
#include "engine/kv.h"
#include "actors/mbox.h"
#include "engine/reply.h"

/* Most batches drained before the actor commits and replies: bounds the
 * latency one busy producer can add to the others. */
#define ACTOR_MAX_DRAIN 64
/* Longest compaction slice between two batches (a fuzzy snapshot is fed in
 * such slices, so it never stalls the shard for long). */
#define ACTOR_SLICE_US 500
/* Longest eviction before one write, and in one tick for all the actor's
 * shards: eviction never adds more than about this to a command. */
#define ACTOR_EVICT_US      200
#define ACTOR_EVICT_TICK_US 400

/* How often batches waiting for a failing log (fsync always) look again. */
#define ACTOR_PARKED_POLL_US 10000

/* Redis's reply to a write over the limit. */
#define ACTOR_OOM_ERR SHARD_OOM_ERR

/* One actor's batch statistics: single writer (the actor), relaxed
 * atomics so that STATS/INFO may read them live (see hist.h). */
typedef struct actor_stats {
    hist_t service; /* ns per drain round */
    hist_t evict;   /* ns per eviction run that evicted */
    hist_u64 batches, requests, max_requests;
    hist_u64 gen;    /* the reset generation applied */
    uint64_t pub_ns; /* private: when the shard figures were last published */
} actor_stats_t;

typedef struct actor {
    actor_pool_t *pool;   /* ro */
    unsigned id;          /* ro */
    pthread_t thread;     /* ro after start */
    int started;          /* owner: start-up thread */
    mbox_t mbox;          /* consumer: this actor */
    int64_t next_tick_us; /* owner: actor */
    actor_stats_t st;     /* written by the actor, read by any thread */
    int persist_busy;     /* owner: actor: a compaction is scanning */
    int64_t credit;       /* owner: actor: compaction time it may still take, us x 100 */
    int64_t credit_t_us;  /* owner: actor: when credit was last topped up */
    int evict_busy;       /* owner: actor: a shard is still over its memory share */
    int log_stall;        /* owner: actor: a shard's log is past its hard bound: take no
                             requests until its compaction has pruned it */
    kv_batch **parked;    /* owner: actor: batches whose replies wait for the log */
    unsigned nparked, capparked;
    kv_batch **held; /* owner: actor: the hosting thread's batches not run yet (stall) */
    unsigned nheld, capheld;
    int blk_served; /* owner: actor: blocked clients were served this round (cmd_list_serve) */
    char pad[64];   /* keep actors' hot fields on separate lines */
} actor_t;

struct actor_pool {
    actor_pool_opts o; /* ro */
    shard_t *shards;   /* shard s owned by actors[s % nactors] */
    actor_t *actors;
    _Atomic int stop;
    _Atomic uint64_t stats_gen;         /* bumped by CONFIG RESETSTAT */
    hist_u64 (*figs)[CMD_INFO_NFIELDS]; /* per shard, published by its actor */
    _Atomic uint8_t *full;              /* per shard: evict_full, by its actor */
    _Atomic uint8_t *logfail;           /* per shard: its log refuses writes, by its actor */
    _Atomic uint8_t *net_closed;        /* per network thread: its connections are closed */
};

actor_pool_t *actor_pool_new(const actor_pool_opts *o)
{
    actor_pool_t *p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    p->o = *o;
    if (p->o.hz <= 0) p->o.hz = 10;
    p->shards = calloc(o->nshards, sizeof *p->shards);
    p->actors = calloc(o->nactors, sizeof *p->actors);
    p->figs = calloc(o->nshards, sizeof *p->figs);
    p->full = calloc(o->nshards, sizeof *p->full);
    p->logfail = calloc(o->nshards, sizeof *p->logfail);
    p->net_closed = calloc(o->nnet ? o->nnet : 1, sizeof *p->net_closed);
    if (p->shards == NULL || p->actors == NULL || p->figs == NULL || p->full == NULL ||
        p->logfail == NULL || p->net_closed == NULL)
        goto fail;
    for (unsigned s = 0; s < o->nshards; s++) {
        shard_init(&p->shards[s], s, o->secret);
        p->shards[s].limits = o->limits;
        if (o->max_string > 0) p->shards[s].max_string = o->max_string;
        if (o->databases > 0) p->shards[s].ndbs = (uint16_t)o->databases;
    }
    for (unsigned a = 0; a < o->nactors; a++) {
        p->actors[a].pool = p;
        p->actors[a].id = a;
        if (mbox_init(&p->actors[a].mbox, o->mailbox_capacity) != 0) goto fail;
    }
    atomic_init(&p->stop, 0);
    atomic_init(&p->stats_gen, 0);
    for (unsigned a = 0; a < o->nactors; a++) {
        hist_init(&p->actors[a].st.service);
        hist_init(&p->actors[a].st.evict);
    }
    return p;
fail:
    actor_pool_free(p);
    return NULL;
}

unsigned actor_pool_nactors(const actor_pool_t *p)
{
    return p->o.nactors;
}

shard_t *actor_pool_shard(actor_pool_t *p, unsigned shard)
{
    return &p->shards[shard];
}

bool actor_submit_mp(actor_pool_t *p, kv_batch *b)
{
    actor_t *a = &p->actors[b->actor_id];
    if (!mbox_push_mp(&a->mbox, b)) return false;
    if (p->o.wake)
        p->o.wake(p->o.wake_ctx, b->actor_id); /* hosted: the host's loop polls it */
    else
        mbox_wake_mp(&a->mbox);
    return true;
}

/* Replaces r's reply with the MISCONF error of its shard's log. */
static void actor_misconf(actor_pool_t *p, kv_req *r)
{
    char msg[256];
    persist_misconf(p->o.persist, r->shard, msg, sizeof msg);
    kvbuf_reset(&r->reply);
    reply_error(&r->reply, msg);
}

void actor_pool_reset_stats(actor_pool_t *p)
{
    atomic_fetch_add(&p->stats_gen, 1);
}

void actor_pool_stats(actor_pool_t *p, actor_batch_stats *sum, hist_t *service)
{
    uint64_t gen = atomic_load(&p->stats_gen);
    for (unsigned i = 0; i < p->o.nactors; i++) {
        actor_stats_t *st = &p->actors[i].st;
        if (atomic_load_explicit(&st->gen, memory_order_acquire) != gen) continue;
        sum->rounds += hist_ld(&st->service.total);
        sum->batches += hist_ld(&st->batches);
        sum->requests += hist_ld(&st->requests);
        uint64_t mx = hist_ld(&st->max_requests);
        if (mx > sum->max_requests) sum->max_requests = mx;
        hist_merge(service, &st->service);
    }
}

/* Publishes the shards' figures (shard_figures, as INFO reads them) for
 * readers on other threads (the /metrics page). Owner actor. */
static void actor_stats_publish(actor_t *a, uint64_t now_ns)
{
    actor_pool_t *p = a->pool;
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
        shard_t *sh = &p->shards[s];
        hist_u64 *f = p->figs[s];
        int64_t v[CMD_INFO_NFIELDS];
        shard_figures(sh, v);
        for (int i = 0; i < CMD_INFO_NFIELDS; i++)
            if (i != CMD_INFO_TTL_MS) hist_st(&f[i], (uint64_t)v[i]);
    }
    a->st.pub_ns = now_ns;
}

void actor_pool_evict_stats(actor_pool_t *p, hist_t *h)
{
    uint64_t gen = atomic_load(&p->stats_gen);
    for (unsigned i = 0; i < p->o.nactors; i++) {
        actor_stats_t *st = &p->actors[i].st;
        if (atomic_load_explicit(&st->gen, memory_order_acquire) != gen) continue;
        hist_merge(h, &st->evict);
    }
}

uint64_t actor_pool_log_buffers(actor_pool_t *p)
{
    uint64_t sum = 0;
    /* live, not the published figure: see wal_buffer_bytes */
    for (unsigned s = 0; s < p->o.nshards; s++) sum += persist_shard_buffer_bytes(p->o.persist, s);
    return sum;
}

bool actor_pool_any_full(actor_pool_t *p)
{
    if (p == NULL || p->o.limits == NULL) return false;
    for (unsigned s = 0; s < p->o.nshards; s++)
        if (atomic_load_explicit(&p->full[s], memory_order_relaxed)) return true;
    return false;
}

bool actor_pool_any_log_failed(actor_pool_t *p)
{
    if (p == NULL || p->o.persist == NULL) return false;
    for (unsigned s = 0; s < p->o.nshards; s++)
        if (atomic_load_explicit(&p->logfail[s], memory_order_relaxed)) return true;
    return false;
}

void actor_pool_net_closed(actor_pool_t *p, unsigned net_id)
{
    if (net_id < p->o.nnet) atomic_store_explicit(&p->net_closed[net_id], 1, memory_order_release);
}

/* Publishes whether the actor's shards' logs refuse writes. Owner actor. */
static void actor_logfail_publish(actor_t *a)
{
    actor_pool_t *p = a->pool;
    if (p->o.persist == NULL) return;
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
        uint8_t f = (uint8_t)!persist_shard_ok(p->o.persist, s);
        if (atomic_load_explicit(&p->logfail[s], memory_order_relaxed) != f)
            atomic_store_explicit(&p->logfail[s], f, memory_order_relaxed);
    }
}

/* Publishes the memory figures (for the other shards' totals) and
 * evict_full of the actor's shards. Owner actor. */
static void actor_full_publish(actor_t *a)
{
    actor_pool_t *p = a->pool;
    actor_logfail_publish(a);
    if (p->o.limits == NULL) return;
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
        evict_publish(&p->shards[s]);
        uint8_t f = (uint8_t)evict_full(&p->shards[s]);
        if (atomic_load_explicit(&p->full[s], memory_order_relaxed) != f)
            atomic_store_explicit(&p->full[s], f, memory_order_relaxed);
    }
}

/* Makes room in s for a write (r->denyoom; NULL from the tick); returns 0
 * to run it (1 if s is still over its share: the time box ended), or -1
 * after replying -OOM. Records the time of runs that evicted. */
static int actor_make_room(actor_t *a, shard_t *s, kv_req *r, int64_t budget_us)
{
    uint64_t before = s->stats.evicted, t0 = hist_clock_ns();
    enum evict_result res = evict_make_room(s, budget_us);
    if (s->stats.evicted != before) hist_record(&a->st.evict, hist_clock_ns() - t0);
    if (res == EVICT_RUNNING) return 1;
    if (res != EVICT_FAIL || r == NULL || r->denyoom != KV_OOM_REFUSE) return 0;
    kvbuf_reset(&r->reply);
    reply_error(&r->reply, ACTOR_OOM_ERR);
    return -1;
}

void actor_pool_shard_figures(actor_pool_t *p, unsigned shard, int64_t *out)
{
    for (int i = 0; i < CMD_INFO_NFIELDS; i++) out[i] = (int64_t)hist_ld(&p->figs[shard][i]);
}

/* End of a drain round: its service time; the shard figures at most every
 * 10 ms. */
static void actor_stats_end(actor_t *a, uint64_t t0)
{
    uint64_t now = hist_clock_ns();
    hist_record(&a->st.service, now - t0);
    if (now - a->st.pub_ns >= 10000000u) actor_stats_publish(a, now);
}

/* Start of a drain round: applies a pending reset (the safe point for the
 * shards' counters), counts the round and returns its start time. */
static uint64_t actor_stats_begin(actor_t *a, kv_batch **got, int n)
{
    actor_pool_t *p = a->pool;
    actor_stats_t *st = &a->st;
    uint64_t gen = atomic_load_explicit(&p->stats_gen, memory_order_relaxed);
    if (gen != hist_ld(&st->gen)) {
        hist_init(&st->service);
        hist_init(&st->evict);
        hist_st(&st->batches, 0);
        hist_st(&st->requests, 0);
        hist_st(&st->max_requests, 0);
        for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
            shard_stats *ss = &p->shards[s].stats;
            ss->hits = ss->misses = ss->expired = ss->evicted = ss->commands = 0;
        }
        atomic_store_explicit(&st->gen, gen, memory_order_release);
    }
    uint64_t reqs = 0;
    for (int i = 0; i < n; i++) reqs += got[i]->n;
    hist_add(&st->batches, (uint64_t)n);
    hist_add(&st->requests, reqs);
    if (reqs > hist_ld(&st->max_requests)) hist_st(&st->max_requests, reqs);
    return hist_clock_ns();
}

/* Prefetch distances, in requests ahead of the one running: the bucket
 * slot first, then (once it has arrived) the chain's first entry. */
#define ACTOR_PF_SLOT  8
#define ACTOR_PF_ENTRY 4

/* Advances one prefetch cursor of a batch by a request. */
static kv_req *actor_prefetch(actor_pool_t *p, kv_req *r, int deep)
{
    if (r == NULL) return NULL;
    if (r->has_hash) ht_prefetch(&p->shards[r->shard].table, r->key_hash, deep);
    return r->next;
}

/* Runs one request on its shard (any shard the calling actor owns, or has
 * frozen). */
static void actor_run_req(actor_t *a, kv_req *r, int64_t now_ms)
{
    actor_pool_t *p = a->pool;
    shard_t *s = &p->shards[r->shard];
    r->applied = 0;
    if (r->write && persist_shard_failed(p->o.persist, r->shard)) {
        actor_misconf(p, r); /* the log refuses writes: do not run it */
        return;
    }
    if (r->obl != NULL && !r->write && kv_obl_over(r->obl)) {
        /* never sent: the network thread closes the client */
        reply_error(&r->reply, "ERR client output buffer limit reached");
        return;
    }
    cmd_call c = {.argc = r->argc,
                  .argv = r->argv,
                  .out = &r->reply,
                  .env = r->env,
                  .pin = r->may_pin ? &r->pin : NULL,
                  .take = r->take.nbigs ? &r->take : NULL,
                  .pins = r->may_pin ? &r->pins : NULL,
                  .res = &r->res,
                  .key_hash = r->key_hash,
                  .has_hash = r->has_hash};
    s->now_ms = now_ms;
    if (r->denyoom && s->limits) {
        int room = actor_make_room(a, s, r, ACTOR_EVICT_US);
        if (room < 0) return;
        a->evict_busy |= room;
    }
    s->db = r->db;
    shard_call(s, r->fn, &c); /* counts it */
    s->db = 0;
    r->applied = r->write;
    kv_obl_count(r);
}

/* ---- frozen runs (actor.h) ---------------------------------------------- */

struct actor_fz {
    actor_t *a; /* the actor running fn */
    int64_t now_ms;
};

void actor_fz_init(actor_fz_run *run, actor_fz_fn *fn, void *arg, unsigned nactors,
                   const uint8_t *inv)
{
    run->fn = fn;
    run->arg = arg;
    run->nactors = nactors;
    run->inv = inv;
    atomic_init(&run->arrived, 0);
    atomic_init(&run->done, 0);
}

void actor_fz_call(actor_fz *fz, kv_req *r)
{
    actor_run_req(fz->a, r, fz->now_ms);
}

shard_t *actor_fz_shard(actor_fz *fz, uint32_t shard)
{
    shard_t *s = &fz->a->pool->shards[shard];
    s->now_ms = fz->now_ms;
    return s;
}

/* Parked at a run until the actor that arrives last has run it: spins a
 * little (the others are usually a few microseconds away), then yields
 * the CPU, which may be the one the awaited actor needs. */
static void actor_fz_wait(actor_fz_run *run)
{
    for (unsigned i = 0; !atomic_load_explicit(&run->done, memory_order_acquire); i++) {
        if (i < 256)
            ck_pr_stall();
        else
            sched_yield();
    }
}

/* Reaching a run's request: the last involved actor to arrive runs it
 * (after every other one parked: the acq_rel arrivals order their earlier
 * work on their shards before it), the others wait for its release. */
static void actor_fz_enter(actor_t *a, actor_fz_run *run, int64_t now_ms)
{
    unsigned n = atomic_fetch_add_explicit(&run->arrived, 1, memory_order_acq_rel) + 1;
    if (n < run->nactors) {
        actor_fz_wait(run);
        return;
    }
    actor_fz fz = {a, now_ms};
    actor_pool_t *p = a->pool;
    /* writes to several shards: logged as one transaction (all or none) */
    persist_t *log = run->inv ? p->o.persist : NULL; /* NULL inv: not logged as one */
    persist_tx_begin(log, run->inv, p->o.nactors);
    run->fn(&fz, run->arg);
    persist_tx_end(log, run->inv, p->o.nactors);
    atomic_store_explicit(&run->done, 1, memory_order_release);
}

/* Serves the blocked clients of shard s whose keys got elements. */
static void actor_blk_serve_shard(actor_t *a, shard_t *s)
{
    if (s->blk == NULL || s->blk->ready == NULL) return;
    if (persist_shard_failed(a->pool->o.persist, s->id)) return; /* no pop it cannot log */
    s->now_ms = kv_time_ms();
    if (cmd_list_serve(s)) a->blk_served = 1;
}

/* After request r: the clients blocked on keys it gave elements to are
 * served now, before the next request (as Redis serves them after the
 * command, EXEC or script that pushed). A transaction or a script may
 * have written any shard of this actor. */
static void actor_blk_serve(actor_t *a, const kv_req *r)
{
    actor_pool_t *p = a->pool;
    if (r->fz == NULL && r->env == NULL) {
        actor_blk_serve_shard(a, &p->shards[r->shard]);
        return;
    }
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors)
        actor_blk_serve_shard(a, &p->shards[s]);
}

/* After the round's commit: the served clients' answers go to their
 * network threads (their pops are in the log now). */
static void actor_blk_deliver(actor_t *a)
{
    actor_pool_t *p = a->pool;
    a->blk_served = 0;
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors)
        if (p->shards[s].blk) blk_reg_deliver(p->shards[s].blk);
}

/* Runs every request of one batch on its shard. */
static void actor_run_batch(actor_t *a, kv_batch *b, int64_t now_ms)
{
    actor_pool_t *p = a->pool;
    kv_req *pf_slot = b->head, *pf_entry = b->head;
    for (int i = 0; i < ACTOR_PF_SLOT; i++) pf_slot = actor_prefetch(p, pf_slot, 0);
    for (int i = 0; i < ACTOR_PF_ENTRY; i++) pf_entry = actor_prefetch(p, pf_entry, 1);
    for (kv_req *r = b->head; r != NULL; r = r->next) {
        pf_slot = actor_prefetch(p, pf_slot, 0);
        pf_entry = actor_prefetch(p, pf_entry, 1);
        if (r->fz != NULL) {
            r->applied = 1; /* may have written any shard of this actor (actor_must_park) */
            actor_fz_enter(a, r->fz, now_ms);
        } else
            actor_run_req(a, r, now_ms);
        actor_blk_serve(a, r);
    }
}

/* After a failed group commit with fsync always: 1 if b holds a write
 * that ran on a shard whose log failed. Its effect is in memory and its
 * records wait in the log's buffers, so neither OK (not durable) nor an
 * error (it took effect) would be true: the batch's replies wait until
 * the log has made them durable (actor_release_parked). */
static int actor_must_park(actor_pool_t *p, const kv_batch *b)
{
    for (const kv_req *r = b->head; r != NULL; r = r->next) {
        if (!r->applied) continue;
        if (r->fz == NULL) {
            if (!persist_shard_ok(p->o.persist, r->shard)) return 1;
            continue;
        }
        /* a frozen run's part: it may have written any shard of this actor */
        unsigned na = p->o.nactors;
        for (unsigned s = r->shard % na; s < p->o.nshards; s += na)
            if (!persist_shard_ok(p->o.persist, s)) return 1;
    }
    return 0;
}

/* Appends b to a growable array of batches. */
static void batch_list_push(kv_batch ***list, unsigned *n, unsigned *cap, kv_batch *b)
{
    if (*n == *cap) {
        unsigned c = *cap ? 2 * *cap : 8;
        kv_batch **grown = realloc(*list, c * sizeof *grown);
        if (grown == NULL) abort(); /* cannot reply truthfully: as any OOM, abort */
        *list = grown;
        *cap = c;
    }
    (*list)[(*n)++] = b;
}

static void actor_park(actor_t *a, kv_batch *b)
{
    batch_list_push(&a->parked, &a->nparked, &a->capparked, b);
}

/* Hosted actors in a stall: the hosting thread's batch is kept, not run;
 * the thread's credit rule stops it making many. */
static void actor_hold(actor_t *a, kv_batch *b)
{
    batch_list_push(&a->held, &a->nheld, &a->capheld, b);
}

/* After a stall: the held batches go first (they are older than local and
 * than anything in the mailbox from the same thread), as many as a round
 * takes; returns local, or NULL if it was held behind them. */
static kv_batch *actor_unhold(actor_t *a, kv_batch *local, kv_batch **got, int *n)
{
    unsigned take = a->nheld < ACTOR_MAX_DRAIN ? a->nheld : ACTOR_MAX_DRAIN;
    for (unsigned i = 0; i < take; i++) got[(*n)++] = a->held[i];
    memmove(a->held, a->held + take, (a->nheld - take) * sizeof *a->held);
    a->nheld -= take;
    if (a->nheld > 0 && local) {
        actor_hold(a, local);
        return NULL;
    }
    return local;
}

/* 1 if parked batch b may be handed back: every write of it that ran is
 * durable now (its log retried and synced), or its network thread has
 * closed its connections (stopping: nobody gets the replies, and the
 * final sync of persist_close decides what stays). */
static int actor_parked_ready(actor_pool_t *p, const kv_batch *b)
{
    if (b->net_id < p->o.nnet &&
        atomic_load_explicit(&p->net_closed[b->net_id], memory_order_acquire))
        return 1;
    for (const kv_req *r = b->head; r != NULL; r = r->next) {
        if (!r->applied) continue;
        unsigned first = r->shard, step = p->o.nshards; /* one shard, or every shard */
        if (r->fz != NULL) first = r->shard % p->o.nactors, step = p->o.nactors; /* of the actor */
        for (unsigned s = first; s < p->o.nshards; s += step)
            if (!persist_shard_durable(p->o.persist, s)) return 0;
    }
    return 1;
}

/* Hands back the parked batches that are ready, keeping the others in
 * order. Owner actor. */
static void actor_release_parked(actor_t *a)
{
    actor_pool_t *p = a->pool;
    unsigned kept = 0;
    for (unsigned i = 0; i < a->nparked; i++) {
        kv_batch *b = a->parked[i];
        if (actor_parked_ready(p, b))
            p->o.done(p->o.done_ctx, b);
        else
            a->parked[kept++] = b;
    }
    a->nparked = kept;
}

static int actor_has_work(void *ctx)
{
    actor_t *a = ctx;
    return !mbox_empty_sc(&a->mbox);
}

/* Between batches: compaction slices and log retries for every shard this
 * actor owns. Returns 1 if a compaction wants more slices soon. */
static int actor_persist_tick(actor_t *a, int64_t now_us)
{
    actor_pool_t *p = a->pool;
    if (p->o.persist == NULL) return 0;
    /* Pacing: compaction earns compact_cpu percent of the wall-clock time as
     * credit (at most one slice's worth) and spends what its slices take, so
     * the scan, and the disk work it feeds, leave the rest of the CPU to
     * requests; a slice runs only on PERSIST_SLICE_MIN_US of credit. */
    /* A log past its soft bound compacts unpaced, its slices not cut short
     * by waiting requests; past its hard bound the actor takes no requests
     * (persist_log_pressure): the back-pressure that bounds the log. */
    int pressure = 0;
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
        int ps = persist_log_pressure(p->o.persist, s);
        if (ps > pressure) pressure = ps;
    }
    a->log_stall = pressure == 2;
    int pct = pressure ? 100 : p->o.compact_cpu > 0 ? p->o.compact_cpu : 100;
    a->credit += (now_us - a->credit_t_us) * pct; /* x 100: calls come every few us */
    if (a->credit > ACTOR_SLICE_US * 100 || !a->persist_busy) a->credit = ACTOR_SLICE_US * 100;
    a->credit_t_us = now_us;
    /* One shard of this actor compacts at a time, and the one whose log is
     * furthest past its threshold begins next (persist_compact_pick): the
     * lowest-numbered due shard going first starved the others. A slice
     * stops early when requests arrive. */
    int busy = 0;
    int64_t budget = a->credit >= PERSIST_SLICE_MIN_US * 100 ? a->credit / 100 : 0;
    persist_tick_opts t = {budget, 0, pressure ? NULL : actor_has_work, a};
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors)
        busy |= persist_tick(p->o.persist, &p->shards[s], &t);
    if (!busy && !a->persist_busy) {
        int next = persist_compact_pick(p->o.persist, a->id, p->o.nactors);
        t.may_begin = 1;
        if (next >= 0) busy = persist_tick(p->o.persist, &p->shards[next], &t);
    }
    if (budget > 0) { /* a slice or a start ran: charge it (bookkeeping is free) */
        int64_t end_us = kv_mono_us();
        a->credit -= (end_us - now_us) * 100;
        a->credit_t_us = end_us;
    }
    return busy;
}

/* Eviction that writes left unfinished (or a lowered CONFIG SET
 * maxmemory): the shards over their share evict for ACTOR_EVICT_TICK_US in
 * all, so a command waiting behind the tick waits no longer. */
static int actor_evict_tick(actor_t *a)
{
    actor_pool_t *p = a->pool;
    if (p->o.limits == NULL) return 0;
    int64_t end = kv_mono_us() + ACTOR_EVICT_TICK_US, now_ms = kv_time_ms();
    int more = 0;
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
        int64_t left = end - kv_mono_us();
        if (left <= 0) return 1;
        p->shards[s].now_ms = now_ms;
        more |= actor_make_room(a, &p->shards[s], NULL, left) > 0;
    }
    return more;
}

/* Longest active-expiry slice, for all the actor's shards together; a
 * busy cycle gets one slice per four of wall-clock time (the quarter of
 * Redis's slow cycle), so requests wait behind expiry at most this long. */
#define ACTOR_EXPIRE_SLICE_US 200

/* Active expiry for every shard of this actor, Redis's slow cycle over the
 * keys with a TTL: every tick (1/hz) starts a cycle per shard with an equal
 * share of a quarter of the tick; cycles that stay busy (many keys due) go
 * on in slices, called back 3 slices later, until done or out of budget. A
 * cycle where nothing is due samples 20 keys per shard and ends. */
static void actor_expire_tick(actor_t *a, int64_t now_us)
{
    actor_pool_t *p = a->pool;
    int64_t tick_us = 1000000 / p->o.hz;
    unsigned owned = (p->o.nshards + p->o.nactors - 1 - a->id) / p->o.nactors;
    int64_t budget = owned ? tick_us / 4 / owned : 0;
    int64_t now_ms = kv_time_ms(), next = now_us + tick_us;
    uint64_t gen = atomic_load_explicit(&p->stats_gen, memory_order_relaxed);
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
        shard_t *sh = &p->shards[s];
        sh->now_ms = now_ms;
        if (sh->expire_stats_gen != gen) { /* CONFIG RESETSTAT applied to the others */
            shard_expire_reset_stats(sh);
            sh->expire_stats_gen = gen;
        }
        if (now_us - sh->expire.started_us >= tick_us) {
            shard_expire_begin(sh, now_us, budget);
            /* Idle tables finish their resizes too (a shrink after mass expiry
             * would otherwise wait for the next command), as Redis's cron does. */
            ht_rehash_step(&sh->table, 1000);
        }
        if (sh->expire.started_us + tick_us < next) next = sh->expire.started_us + tick_us;
    }
    /* one slice for all: start at a shard that moves on with the clock, so
     * a busy first shard does not leave the others the ends of slices */
    int64_t end = now_us + ACTOR_EXPIRE_SLICE_US;
    unsigned first = owned ? (unsigned)((now_us / ACTOR_EXPIRE_SLICE_US) % owned) : 0;
    int more = 0;
    for (unsigned k = 0; k < owned; k++) {
        unsigned s = a->id + ((first + k) % owned) * p->o.nactors;
        int64_t left = end - kv_mono_us();
        more |= shard_expire_run(&p->shards[s], left > 0 ? left : 0);
        hist_u64 *f = p->figs[s];
        hist_st(&f[CMD_INFO_EXPIRE_STALE], shard_expire_stale_bp(&p->shards[s]));
        hist_st(&f[CMD_INFO_EXPIRE_CAPPED], p->shards[s].expire_stats.cap_reached);
        hist_st(&f[CMD_INFO_EXPIRE_CYCLE_US], p->shards[s].expire_stats.cycle_ns / 1000);
    }
    int64_t again = now_us + 4 * ACTOR_EXPIRE_SLICE_US; /* 3 slices for requests */
    if (more && again < next) next = again;
    a->next_tick_us = next;
    a->evict_busy = actor_evict_tick(a);
    actor_stats_publish(a, hist_clock_ns());
    actor_full_publish(a);
}

/* The latency monitor's start time for a piece of work, or 0 when it is
 * off (one relaxed load). Owner actor. */
static int64_t actor_ev_begin(const actor_pool_t *p)
{
    if (p->o.event == NULL || atomic_load_explicit(p->o.event_ms, memory_order_relaxed) <= 0)
        return 0;
    return kv_mono_us();
}

/* Reports the work begun at t0 (actor_ev_begin) if it took the threshold. */
static void actor_ev_end(const actor_pool_t *p, const char *name, int64_t t0)
{
    if (t0 == 0) return;
    int64_t us = kv_mono_us() - t0;
    int64_t ms = atomic_load_explicit(p->o.event_ms, memory_order_relaxed);
    if (ms > 0 && us >= ms * 1000) p->o.event(p->o.event_ctx, name, (uint64_t)us);
}

/* One drain round: local (a batch of the hosting thread, may be NULL) and
 * up to ACTOR_MAX_DRAIN batches from the mailbox are run, committed (one
 * group commit) and handed back. Returns the number of batches. */
static int actor_round(actor_t *a, kv_batch *local)
{
    actor_pool_t *p = a->pool;
    kv_batch *got[ACTOR_MAX_DRAIN + 1];
    int n = 0;
    kv_batch *b;
    if (a->log_stall) { /* a hosted thread's own batch waits too, in order */
        if (local) actor_hold(a, local);
        return 0;
    }
    if (a->nheld) local = actor_unhold(a, local, got, &n);
    if (local) got[n++] = local;
    while (n < ACTOR_MAX_DRAIN && (b = mbox_pop_sc(&a->mbox)) != NULL) got[n++] = b;
    if (n == 0) return 0;
    uint64_t round_t0 = actor_stats_begin(a, got, n);
    int64_t now_ms = kv_time_ms();
    for (int i = 0; i < n; i++) actor_run_batch(a, got[i], now_ms);
    /* A failed commit: with fsync interval or no, the writes that ran are
     * answered OK, as Redis does with appendfsync everysec: they are in
     * memory, their records stay in the log's buffers for the retry, and
     * the policy never promised them durable yet; every later write to the
     * shard is refused (-MISCONF) before it runs. With fsync always they
     * wait (actor_must_park). */
    int64_t t0 = p->o.persist ? actor_ev_begin(p) : 0;
    int failed = persist_batch_commit(p->o.persist, a->id, p->o.nactors);
    actor_ev_end(p, p->o.fsync_always ? "aof-fsync-always" : "aof-write", t0);
    int park = failed > 0 && p->o.fsync_always;
    if (a->blk_served) actor_blk_deliver(a);
    /* before the replies leave: a client that got its DEL's reply must find
     * a multi-shard write admitted by the network thread's view of `full` */
    actor_full_publish(a);
    for (int i = 0; i < n; i++) {
        if (park && actor_must_park(p, got[i]))
            actor_park(a, got[i]);
        else
            p->o.done(p->o.done_ctx, got[i]);
    }
    actor_stats_end(a, round_t0);
    return n;
}

/* Between rounds: the expiry tick when due, compaction slices, parked
 * batches whose writes are durable now. */
static void actor_between(actor_t *a, int64_t now_us)
{
    actor_pool_t *p = a->pool;
    if (a->nparked) actor_release_parked(a);
    int64_t t0;
    if (now_us >= a->next_tick_us) {
        t0 = actor_ev_begin(p);
        actor_expire_tick(a, now_us);
        actor_ev_end(p, "expire-cycle", t0);
        /* active expiry logged deletes: write (and sync) them like a batch */
        persist_batch_commit(p->o.persist, a->id, p->o.nactors);
        t0 = actor_ev_begin(p);
        a->persist_busy = actor_persist_tick(a, now_us);
        actor_ev_end(p, "compaction-slice", t0);
    } else {
        if (a->persist_busy || a->log_stall) { /* a paced slice per round */
            t0 = actor_ev_begin(p);
            a->persist_busy = actor_persist_tick(a, now_us);
            actor_ev_end(p, "compaction-slice", t0);
        }
        if (a->evict_busy) {
            /* eviction left over: a time-boxed slice per round, and its DELs
             * committed like a batch's */
            t0 = actor_ev_begin(p);
            a->evict_busy = actor_evict_tick(a);
            actor_ev_end(p, "eviction-cycle", t0);
            persist_batch_commit(p->o.persist, a->id, p->o.nactors);
        }
    }
}

static void actor_nap(int64_t us)
{
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

static void *actor_main(void *arg)
{
    actor_t *a = arg;
    actor_pool_t *p = a->pool;
    a->next_tick_us = kv_mono_us();

    while (!atomic_load_explicit(&p->stop, memory_order_acquire)) {
        int n = actor_round(a, NULL);
        int64_t now_us = kv_mono_us();
        actor_between(a, now_us);
        if (n > 0) continue;

        /* Idle: spin briefly (a wake-up costs tens of microseconds on a VM),
         * then sleep until a producer wakes us or the next tick. */
        if (a->log_stall) { /* back-pressure: requests wait, compaction runs */
            if (!a->persist_busy) actor_nap(ACTOR_SLICE_US); /* the worker finishes it */
            continue;
        }
        int64_t spin_end = now_us + p->o.spin_us;
        while (mbox_empty_sc(&a->mbox) && kv_mono_us() < spin_end) ck_pr_stall();
        if (!mbox_empty_sc(&a->mbox)) continue;
        int64_t wait = a->next_tick_us - kv_mono_us();
        if ((a->persist_busy || a->evict_busy) && wait > ACTOR_SLICE_US) wait = ACTOR_SLICE_US;
        if (a->nparked && wait > ACTOR_PARKED_POLL_US) wait = ACTOR_PARKED_POLL_US;
        mbox_wait_sc(&a->mbox, wait > 0 ? wait : 0);
    }
    return NULL;
}

int64_t actor_host_poll(actor_pool_t *p, unsigned id, kv_batch *local)
{
    actor_t *a = &p->actors[id];
    assert(p->o.wake != NULL && id < p->o.nactors);
    if (a->next_tick_us == 0) a->next_tick_us = kv_mono_us();
    actor_round(a, local);
    int64_t now_us = kv_mono_us();
    actor_between(a, now_us);
    if (a->log_stall) return a->persist_busy ? 0 : ACTOR_SLICE_US;
    if (!mbox_empty_sc(&a->mbox) || a->evict_busy || a->nheld) return 0;
    int64_t wait = a->next_tick_us > now_us ? a->next_tick_us - now_us : 0;
    if (a->nparked && wait > ACTOR_PARKED_POLL_US) wait = ACTOR_PARKED_POLL_US;
    if (a->persist_busy) { /* a paced compaction: poll again when it has credit */
        int pct = p->o.compact_cpu > 0 ? p->o.compact_cpu : 100;
        int64_t need = (PERSIST_SLICE_MIN_US * 100 - a->credit) / pct;
        if (need < wait) wait = need > 0 ? need : 0;
    }
    return wait;
}

int actor_pool_start(actor_pool_t *p)
{
    if (p->o.wake) return 0; /* hosted: no threads of their own */
    for (unsigned i = 0; i < p->o.nactors; i++) {
        actor_t *a = &p->actors[i];
        if (pthread_create(&a->thread, NULL, actor_main, a) != 0) return KV_ENOMEM;
        a->started = 1;
        char name[16];
        snprintf(name, sizeof name, "actor-%u", i & 0xffffu);
        pthread_setname_np(a->thread, name);
    }
    return 0;
}

void actor_pool_stop(actor_pool_t *p)
{
    if (p == NULL) return;
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    for (unsigned i = 0; i < p->o.nactors; i++) {
        actor_t *a = &p->actors[i];
        if (!a->started) continue;
        /* even if the actor has not published `sleeping`; it sees p->stop */
        mbox_wake_force(&a->mbox);
        pthread_join(a->thread, NULL);
        a->started = 0;
    }
}

void actor_pool_free(actor_pool_t *p)
{
    if (p == NULL) return;
    if (p->shards)
        for (unsigned s = 0; s < p->o.nshards; s++) shard_destroy(&p->shards[s]);
    if (p->actors)
        for (unsigned a = 0; a < p->o.nactors; a++) {
            mbox_destroy(&p->actors[a].mbox);
            free(p->actors[a].parked);
            free(p->actors[a].held);
        }
    free(p->shards);
    free(p->actors);
    free(p->figs);
    free((void *)(uintptr_t)p->full);
    free((void *)(uintptr_t)p->logfail);
    free((void *)(uintptr_t)p->net_closed);
    free(p);
}
