/* handoff.c - mem-kv-handoff: the actor hand-off alone, in one process.
 *
 * P producer threads (standing in for network threads) publish batches of
 * B no-op requests to A actor threads through the real actor pool (ck MPSC
 * mailboxes, wake only if sleeping); each actor runs them and hands every
 * batch back through the producer's own MPSC completion ring, as the
 * server does. Each producer keeps at most W batches in flight per actor.
 * Reports requests and batches per second: the ceiling of the hand-off,
 * without parsing, sockets or shard work, to predict how the design scales
 * with more cores.
 *
 * Usage: mem-kv-handoff [-p PRODUCERS] [-a ACTORS] [-b BATCH] [-w WINDOW] [-d SECONDS]
 */
#include <ck_pr.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/actor.h"
#include "engine/kv.h"
#include "actors/mbox.h"

typedef struct producer {
    unsigned id;
    mbox_t done; /* completions (MPSC: every actor pushes) */
    uint64_t requests, batches;
    pthread_t th;
} producer;

static struct {
    unsigned np, na, batch, window;
    double secs;
    actor_pool_t *pool;
    producer *prod;
    atomic_int stop;
} g;

static void noop(shard_t *s, const cmd_call *c)
{
    (void)s, (void)c;
}

/* Actor thread: back to the producer that sent it. */
static void done_cb(void *ctx, kv_batch *b)
{
    (void)ctx;
    while (!mbox_push_mp(&g.prod[b->net_id].done, b)) ck_pr_stall();
}

static kv_batch *batch_new(unsigned net, unsigned actor)
{
    kv_batch *b = kv_xcalloc(1, sizeof *b);
    b->net_id = (uint16_t)net;
    b->actor_id = (uint16_t)actor;
    kv_req *r = kv_xcalloc(g.batch, sizeof *r);
    for (unsigned i = 0; i < g.batch; i++) {
        r[i].fn = noop;
        r[i].shard = actor; /* shard s belongs to actor s mod A: shards = actors */
        kv_batch_add(b, &r[i]);
    }
    return b;
}

static void *producer_main(void *arg)
{
    producer *p = arg;
    unsigned *inflight = kv_xcalloc(g.na, sizeof *inflight);
    kv_batch **spare = kv_xcalloc(g.na * g.window, sizeof *spare);
    unsigned nspare = 0;
    for (unsigned a = 0; a < g.na; a++)
        for (unsigned w = 0; w < g.window; w++) spare[nspare++] = batch_new(p->id, a);
    while (!atomic_load_explicit(&g.stop, memory_order_relaxed)) {
        int did = 0;
        /* publish one batch per actor per round, as a network thread does
         * once per loop iteration */
        for (unsigned i = 0; i < nspare;) {
            kv_batch *b = spare[i];
            if (inflight[b->actor_id] < g.window && actor_submit_mp(g.pool, b)) {
                inflight[b->actor_id]++;
                spare[i] = spare[--nspare];
                did = 1;
            } else {
                i++;
            }
        }
        kv_batch *b;
        while ((b = mbox_pop_sc(&p->done)) != NULL) {
            inflight[b->actor_id]--;
            p->requests += b->n;
            p->batches++;
            spare[nspare++] = b;
            did = 1;
        }
        if (!did) ck_pr_stall();
    }
    /* collect what is still in flight before the actors stop */
    for (;;) {
        unsigned left = 0;
        for (unsigned a = 0; a < g.na; a++) left += inflight[a];
        if (left == 0) break;
        kv_batch *b = mbox_pop_sc(&p->done);
        if (b == NULL) continue;
        inflight[b->actor_id]--;
        spare[nspare++] = b;
    }
    for (unsigned i = 0; i < nspare; i++) {
        free(spare[i]->head);
        free(spare[i]);
    }
    free(spare);
    free(inflight);
    return NULL;
}

static unsigned arg_uint(const char *s, const char *what)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v == 0 || v > 4096) {
        fprintf(stderr, "mem-kv-handoff: bad %s '%s'\n", what, s);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    g.np = 1, g.na = 1, g.batch = 16, g.window = 64, g.secs = 2;
    int o;
    while ((o = getopt(argc, argv, "p:a:b:w:d:h")) != -1) {
        switch (o) {
        case 'p':
            g.np = arg_uint(optarg, "-p");
            break;
        case 'a':
            g.na = arg_uint(optarg, "-a");
            break;
        case 'b':
            g.batch = arg_uint(optarg, "-b");
            break;
        case 'w':
            g.window = arg_uint(optarg, "-w");
            break;
        case 'd':
            g.secs = arg_uint(optarg, "-d");
            break;
        default:
            fprintf(stderr,
                    "Usage: %s [-p PRODUCERS] [-a ACTORS] [-b BATCH] [-w WINDOW] [-d SECONDS]\n"
                    "Requests per second through the actor hand-off alone (no sockets).\n",
                    argv[0]);
            return o == 'h' ? 0 : 2;
        }
    }
    kv_hash_secret secret;
    memset(&secret, 7, sizeof secret);
    g.prod = kv_xcalloc(g.np, sizeof *g.prod);
    actor_pool_opts ao = {.nactors = g.na,
                          .nshards = g.na,
                          .mailbox_capacity = g.np * g.window + 1,
                          .hz = 10,
                          .spin_us = 20,
                          .secret = &secret,
                          .done = done_cb};
    g.pool = actor_pool_new(&ao);
    if (g.pool == NULL || actor_pool_start(g.pool) != 0) {
        fprintf(stderr, "mem-kv-handoff: cannot start the actors\n");
        return 1;
    }
    for (unsigned i = 0; i < g.np; i++) {
        g.prod[i].id = i;
        if (mbox_init(&g.prod[i].done, g.na * g.window + 1) != 0) return 1;
    }
    int64_t t0 = kv_mono_us();
    for (unsigned i = 0; i < g.np; i++)
        pthread_create(&g.prod[i].th, NULL, producer_main, &g.prod[i]);
    usleep((useconds_t)(g.secs * 1e6));
    atomic_store(&g.stop, 1);
    uint64_t req = 0, bat = 0;
    for (unsigned i = 0; i < g.np; i++) {
        pthread_join(g.prod[i].th, NULL);
        req += g.prod[i].requests;
        bat += g.prod[i].batches;
    }
    double el = (double)(kv_mono_us() - t0) / 1e6;
    actor_pool_stop(g.pool);
    actor_pool_free(g.pool);
    for (unsigned i = 0; i < g.np; i++) mbox_destroy(&g.prod[i].done);
    free(g.prod);
    printf("producers %u actors %u batch %u window %u: %.0f requests/s, %.0f batches/s (%.1f s, "
           "%ld CPUs)\n",
           g.np, g.na, g.batch, g.window, (double)req / el, (double)bat / el, el,
           sysconf(_SC_NPROCESSORS_ONLN));
    return 0;
}
