#include "actor.h"

#include <assert.h>
#include <ck_pr.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "mbox.h"
#include "reply.h"

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

/* Redis's reply to a write over the limit. */
#define ACTOR_OOM_ERR "OOM command not allowed when used memory > 'maxmemory'."

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
    char pad[64];         /* keep actors' hot fields on separate lines */
} actor_t;

struct actor_pool {
    actor_pool_opts o; /* ro */
    shard_t *shards;   /* shard s owned by actors[s % nactors] */
    actor_t *actors;
    _Atomic int stop;
    _Atomic uint64_t stats_gen;         /* bumped by CONFIG RESETSTAT */
    hist_u64 (*figs)[CMD_INFO_NFIELDS]; /* per shard, published by its actor */
    _Atomic uint8_t *full;              /* per shard: evict_full, by its actor */
    hist_u64 *logbuf;                   /* per shard: its log buffers' bytes, by its actor */
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
    p->logbuf = calloc(o->nshards, sizeof *p->logbuf);
    if (p->shards == NULL || p->actors == NULL || p->figs == NULL || p->full == NULL ||
        p->logbuf == NULL)
        goto fail;
    for (unsigned s = 0; s < o->nshards; s++) {
        shard_init(&p->shards[s], s, o->secret);
        p->shards[s].limits = o->limits;
        if (o->max_string > 0) p->shards[s].max_string = o->max_string;
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

/* Publishes the shards' figures (as cmd_info_part computes them) for
 * readers on other threads (the /metrics page). Owner actor. */
static void actor_stats_publish(actor_t *a, uint64_t now_ns)
{
    actor_pool_t *p = a->pool;
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
        shard_t *sh = &p->shards[s];
        hist_u64 *f = p->figs[s];
        hist_st(&f[CMD_INFO_KEYS], ht_count(&sh->table));
        hist_st(&f[CMD_INFO_EXPIRES], sh->volatile_keys);
        hist_st(&f[CMD_INFO_MEMORY], shard_mem(sh));
        hist_st(&f[CMD_INFO_HITS], sh->stats.hits);
        hist_st(&f[CMD_INFO_MISSES], sh->stats.misses);
        hist_st(&f[CMD_INFO_EXPIRED], sh->stats.expired);
        hist_st(&f[CMD_INFO_COMMANDS], sh->stats.commands);
        hist_st(&f[CMD_INFO_EVICTED], sh->stats.evicted);
        hist_st(&p->logbuf[s], persist_shard_buffer_bytes(p->o.persist, s));
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
    for (unsigned s = 0; s < p->o.nshards; s++) sum += hist_ld(&p->logbuf[s]);
    return sum;
}

bool actor_pool_any_full(actor_pool_t *p)
{
    if (p == NULL || p->o.limits == NULL) return false;
    for (unsigned s = 0; s < p->o.nshards; s++)
        if (atomic_load_explicit(&p->full[s], memory_order_relaxed)) return true;
    return false;
}

/* Publishes evict_full of the actor's shards. Owner actor. */
static void actor_full_publish(actor_t *a)
{
    actor_pool_t *p = a->pool;
    if (p->o.limits == NULL) return;
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
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
#define ACTOR_PF_SLOT 8
#define ACTOR_PF_ENTRY 4

/* Advances one prefetch cursor of a batch by a request. */
static kv_req *actor_prefetch(actor_pool_t *p, kv_req *r, int deep)
{
    if (r == NULL) return NULL;
    if (r->has_hash) ht_prefetch(&p->shards[r->shard].table, r->key_hash, deep);
    return r->next;
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
        shard_t *s = &p->shards[r->shard];
        if (r->write && persist_shard_failed(p->o.persist, r->shard)) {
            actor_misconf(p, r); /* the log refuses writes: do not run it */
            continue;
        }
        if (r->obl != NULL && !r->write && kv_obl_over(r->obl)) {
            /* never sent: the network thread closes the client */
            reply_error(&r->reply, "ERR client output buffer limit reached");
            continue;
        }
        cmd_call c = {.argc = r->argc, .argv = r->argv, .out = &r->reply};
        s->now_ms = now_ms;
        if (r->denyoom && s->limits) {
            int room = actor_make_room(a, s, r, ACTOR_EVICT_US);
            if (room < 0) continue;
            a->evict_busy |= room;
        }
        if (r->has_hash) {
            s->hint_key = r->argv[1].p;
            s->hint_len = r->argv[1].len;
            s->hint_hash = r->key_hash;
        }
        r->fn(s, &c);
        kv_obl_count(r);
        s->hint_key = NULL;
    }
}

/* After a failed group commit: no write to a failed shard is acknowledged. */
static void actor_refuse_failed(actor_pool_t *p, kv_batch **got, int n)
{
    for (int i = 0; i < n; i++)
        for (kv_req *r = got[i]->head; r != NULL; r = r->next)
            if (r->write && persist_shard_failed(p->o.persist, r->shard)) actor_misconf(p, r);
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
    int pct = p->o.compact_cpu > 0 ? p->o.compact_cpu : 100;
    a->credit += (now_us - a->credit_t_us) * pct; /* x 100: calls come every few us */
    if (a->credit > ACTOR_SLICE_US * 100 || !a->persist_busy) a->credit = ACTOR_SLICE_US * 100;
    a->credit_t_us = now_us;
    /* One shard of this actor compacts at a time: it may start only when no
     * other is scanning (a shard that starts sets busy for the ones after).
     * A slice stops early when requests arrive. */
    int busy = 0;
    int64_t budget = a->credit >= PERSIST_SLICE_MIN_US * 100 ? a->credit / 100 : 0;
    persist_tick_opts t = {budget, 0, actor_has_work, a};
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
        t.may_begin = !busy && !a->persist_busy;
        busy |= persist_tick(p->o.persist, &p->shards[s], &t);
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

/* Active expiry for every shard of this actor: a quarter of each tick, as
 * Redis's slow cycle, split between the shards. */
static void actor_expire_tick(actor_t *a, int64_t now_us)
{
    actor_pool_t *p = a->pool;
    int64_t tick_us = 1000000 / p->o.hz;
    unsigned owned = (p->o.nshards + p->o.nactors - 1 - a->id) / p->o.nactors;
    int64_t budget = owned ? tick_us / 4 / owned : 0;
    int64_t now_ms = kv_time_ms();
    for (unsigned s = a->id; s < p->o.nshards; s += p->o.nactors) {
        p->shards[s].now_ms = now_ms;
        shard_expire_cycle(&p->shards[s], budget);
        /* Idle tables finish their resizes too (a shrink after mass expiry
         * would otherwise wait for the next command), as Redis's cron does. */
        ht_rehash_step(&p->shards[s].table, 1000);
    }
    a->next_tick_us = now_us + tick_us;
    a->evict_busy = actor_evict_tick(a);
    actor_stats_publish(a, hist_clock_ns());
    actor_full_publish(a);
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
    if (local) got[n++] = local;
    while (n < ACTOR_MAX_DRAIN && (b = mbox_pop_sc(&a->mbox)) != NULL) got[n++] = b;
    if (n == 0) return 0;
    uint64_t round_t0 = actor_stats_begin(a, got, n);
    int64_t now_ms = kv_time_ms();
    for (int i = 0; i < n; i++) actor_run_batch(a, got[i], now_ms);
    if (persist_batch_commit(p->o.persist, a->id, p->o.nactors) > 0) actor_refuse_failed(p, got, n);
    /* before the replies leave: a client that got its DEL's reply must find
     * a multi-shard write admitted by the network thread's view of `full` */
    actor_full_publish(a);
    for (int i = 0; i < n; i++) p->o.done(p->o.done_ctx, got[i]);
    actor_stats_end(a, round_t0);
    return n;
}

/* Between rounds: the expiry tick when due, compaction slices. */
static void actor_between(actor_t *a, int64_t now_us)
{
    actor_pool_t *p = a->pool;
    if (now_us >= a->next_tick_us) {
        actor_expire_tick(a, now_us);
        /* active expiry logged deletes: write (and sync) them like a batch */
        persist_batch_commit(p->o.persist, a->id, p->o.nactors);
        a->persist_busy = actor_persist_tick(a, now_us);
    } else {
        if (a->persist_busy)
            a->persist_busy = actor_persist_tick(a, now_us); /* a paced slice per round */
        if (a->evict_busy) {
            /* eviction left over: a time-boxed slice per round, and its DELs
             * committed like a batch's */
            a->evict_busy = actor_evict_tick(a);
            persist_batch_commit(p->o.persist, a->id, p->o.nactors);
        }
    }
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
        int64_t spin_end = now_us + p->o.spin_us;
        while (mbox_empty_sc(&a->mbox) && kv_mono_us() < spin_end) ck_pr_stall();
        if (!mbox_empty_sc(&a->mbox)) continue;
        int64_t wait = a->next_tick_us - kv_mono_us();
        if ((a->persist_busy || a->evict_busy) && wait > ACTOR_SLICE_US) wait = ACTOR_SLICE_US;
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
    if (!mbox_empty_sc(&a->mbox) || a->evict_busy) return 0;
    int64_t wait = a->next_tick_us > now_us ? a->next_tick_us - now_us : 0;
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
        /* Force a wake-up even if the actor has not published `sleeping`. */
        atomic_store(&a->mbox.sleeping, 1);
        mbox_wake_mp(&a->mbox);
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
        for (unsigned a = 0; a < p->o.nactors; a++) mbox_destroy(&p->actors[a].mbox);
    free(p->shards);
    free(p->actors);
    free(p->figs);
    free((void *)(uintptr_t)p->full);
    free(p->logbuf);
    free(p);
}
