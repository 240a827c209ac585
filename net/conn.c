/* conn.c - what the other files of net/ ask of a connection: queue it for
 * servicing (conn_mark_dirty) and close it (conn_close). Moved out of
 * netloop.c so that climit.c, route.c, local.c and the others do not call
 * back into the event loop's file; netloop.c services and frees the
 * connection. Its network thread only. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "net/blocking.h"
#include "net/monitor.h"
#include "net/multi.h"
#include "net/net_internal.h"
#include "net/pubsub.h"
#include "net/tls.h"

void conn_mark_dirty(netthr *t, conn *c)
{
    if (c->dirty) return;
    c->dirty = 1;
    c->next_dirty = t->dirty;
    t->dirty = c;
}

/* Closes the socket now; the memory goes once no part is in flight. */
void conn_close(netthr *t, conn *c)
{
    if (c->closed) return;
    ev_io_stop(t->loop, &c->rw);
    ev_io_stop(t->loop, &c->ww);
    tls_conn_close(c);
    close(c->fd);
    c->closed = 1;
    c->closing = 1;
    block_conn_closed(t, c);                       /* a blocked command gives up */
    if (t->cron_next == c) t->cron_next = c->next; /* climit_cron's place moves on */
    monitor_remove(&t->srv->mon, c);
    pubsub_conn_close(c); /* unsubscribed now: PUBLISH no longer counts it */
    pthread_mutex_lock(&t->conns_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    pthread_mutex_unlock(&t->conns_lock);
    atomic_fetch_sub_explicit(&t->stats.clients, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->srv->clients, 1, memory_order_relaxed);
    multi_conn_close(t, c); /* its watched keys */
    conn_mark_dirty(t, c);
}
