/* monitor.h - MONITOR: every command any client runs, as one line to each
 * monitoring connection, in Redis's format
 *   +1339518083.107412 [0 127.0.0.1:60866] "keys" "*"
 *
 * Nothing is done for a command while nobody monitors but one relaxed
 * atomic load (monitor_active). A network thread that parses a command
 * formats its line once and appends it, under the hub's mutex, to the
 * pending bytes of every monitor; the monitor's own network thread is woken
 * (ev_async) and moves the bytes into the connection's output once the
 * connection has no reply pending before them.
 */
#ifndef MEMKV_MONITOR_H
#define MEMKV_MONITOR_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/buf.h"
#include "engine/cmd.h"

struct netthr;
struct conn;

typedef struct monitor_sub monitor_sub;

typedef struct monitor_hub {
    _Atomic int n;        /* monitors now; read relaxed on the hot path */
    pthread_mutex_t lock; /* guards subs and their pending bytes */
    monitor_sub *subs;
} monitor_hub;

int monitor_hub_init(monitor_hub *h);
void monitor_hub_destroy(monitor_hub *h);

/* Whether anybody monitors: the one check on the hot path. Any thread. */
static inline int monitor_active(monitor_hub *h)
{
    return atomic_load_explicit(&h->n, memory_order_relaxed) != 0;
}

/* MONITOR on c: from now on c receives the lines. c's network thread. */
void monitor_add(monitor_hub *h, struct conn *c);
/* c closes: no more lines. c's network thread; no-op if c never monitored. */
void monitor_remove(monitor_hub *h, struct conn *c);
/* A command c is about to run (argv as parsed): its line goes to every
 * monitor. c's network thread; call only when monitor_active. */
void monitor_feed(monitor_hub *h, struct conn *c, int argc, const kv_str *argv);
/* Wake-up on t: marks t's monitors with pending lines dirty. Network
 * thread t. */
void monitor_poll(monitor_hub *h, struct netthr *t);
/* Moves c's pending lines into c's output (c has no reply before them).
 * c's network thread. */
void monitor_take(monitor_hub *h, struct conn *c);

#endif
