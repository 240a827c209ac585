/* slowlog.c - SLOWLOG entries per network thread (see slowlog.h). */
#include "net/slowlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kv.h"
#include "engine/reply.h"

struct slowlog_entry {
    slowlog_entry *next, *prev; /* next: older */
    uint64_t id;
    int64_t unix_s;
    int64_t us;
    int argc;
    kv_str *argv; /* copies, truncated; in the same allocation */
    char addr[64];
    char name[64];
};

void slowlog_conf_init(slowlog_conf *sc, int64_t slower_than_us, int64_t max_len)
{
    atomic_init(&sc->slower_than_us, slower_than_us);
    atomic_init(&sc->max_len, max_len);
    atomic_init(&sc->next_id, 0);
}

int slowlog_ring_init(slowlog_ring *r)
{
    r->head = r->tail = NULL;
    r->n = 0;
    return pthread_mutex_init(&r->lock, NULL) ? KV_ENOMEM : 0;
}

static void ring_clear_locked(slowlog_ring *r)
{
    slowlog_entry *e = r->head;
    while (e) {
        slowlog_entry *n = e->next;
        free(e);
        e = n;
    }
    r->head = r->tail = NULL;
    r->n = 0;
}

void slowlog_ring_destroy(slowlog_ring *r)
{
    if (r == NULL) return;
    ring_clear_locked(r);
    pthread_mutex_destroy(&r->lock);
}

/* The text an entry keeps for argument i of argc (Redis's truncation):
 * written to buf (cap bytes), its length returned. */
static size_t arg_text(int i, int argc, int slargc, const kv_str *a, char *buf, size_t cap)
{
    if (slargc != argc && i == slargc - 1) {
        int n = snprintf(buf, cap, "... (%d more arguments)", argc - slargc + 1);
        return (size_t)n;
    }
    if (a->len <= SLOWLOG_MAX_ARG) {
        memcpy(buf, a->p, a->len);
        return a->len;
    }
    memcpy(buf, a->p, SLOWLOG_MAX_ARG);
    int n = snprintf(buf + SLOWLOG_MAX_ARG, cap - SLOWLOG_MAX_ARG, "... (%zu more bytes)",
                     a->len - SLOWLOG_MAX_ARG);
    return SLOWLOG_MAX_ARG + (size_t)n;
}

#define ARG_CAP (SLOWLOG_MAX_ARG + 48)

void slowlog_add(slowlog_conf *sc, slowlog_ring *r, int argc, const kv_str *argv, int64_t us,
                 int64_t unix_s, const char *addr, const char *name)
{
    int slargc = argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : argc;
    size_t size = sizeof(slowlog_entry) + (size_t)slargc * (sizeof(kv_str) + ARG_CAP);
    slowlog_entry *e = kv_xmalloc(size);
    e->argv = (kv_str *)(e + 1);
    char *p = (char *)(e->argv + slargc);
    for (int i = 0; i < slargc; i++) {
        size_t n = arg_text(i, argc, slargc, &argv[i], p, ARG_CAP);
        e->argv[i].p = p;
        e->argv[i].len = n;
        p += ARG_CAP;
    }
    e->argc = slargc;
    e->us = us;
    e->unix_s = unix_s;
    snprintf(e->addr, sizeof e->addr, "%s", addr);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->prev = NULL;
    int64_t max = atomic_load_explicit(&sc->max_len, memory_order_relaxed);
    pthread_mutex_lock(&r->lock);
    e->id = atomic_fetch_add_explicit(&sc->next_id, 1, memory_order_relaxed);
    e->next = r->head;
    if (r->head) r->head->prev = e;
    r->head = e;
    if (r->tail == NULL) r->tail = e;
    r->n++;
    while (r->n > max && r->tail) {
        slowlog_entry *old = r->tail;
        r->tail = old->prev;
        if (r->tail)
            r->tail->next = NULL;
        else
            r->head = NULL;
        r->n--;
        free(old);
    }
    pthread_mutex_unlock(&r->lock);
}

static void entry_reply(const slowlog_entry *e, kvbuf *out)
{
    reply_array(out, 6);
    reply_int(out, (int64_t)e->id);
    reply_int(out, e->unix_s);
    reply_int(out, e->us);
    reply_array(out, e->argc);
    for (int i = 0; i < e->argc; i++) reply_bulk(out, e->argv[i].p, e->argv[i].len);
    reply_bulk_cstr(out, e->addr);
    reply_bulk_cstr(out, e->name);
}

void slowlog_reply_get(slowlog_conf *sc, slowlog_ring *const *rings, unsigned n, int64_t count,
                       kvbuf *out)
{
    int64_t max = atomic_load_explicit(&sc->max_len, memory_order_relaxed);
    if (count < 0 || count > max) count = max;
    for (unsigned i = 0; i < n; i++) pthread_mutex_lock(&rings[i]->lock);
    /* Each ring is newest first: merge by id, highest first. */
    const slowlog_entry **cur = kv_xcalloc(n ? n : 1, sizeof *cur);
    int64_t avail = 0;
    for (unsigned i = 0; i < n; i++) {
        cur[i] = rings[i]->head;
        avail += rings[i]->n;
    }
    if (count > avail) count = avail;
    reply_array(out, count);
    for (int64_t k = 0; k < count; k++) {
        unsigned best = n;
        for (unsigned i = 0; i < n; i++)
            if (cur[i] && (best == n || cur[i]->id > cur[best]->id)) best = i;
        if (best == n) break; /* cannot happen: count <= avail */
        entry_reply(cur[best], out);
        cur[best] = cur[best]->next;
    }
    free(cur);
    for (unsigned i = n; i-- > 0;) pthread_mutex_unlock(&rings[i]->lock);
}

int64_t slowlog_len(slowlog_conf *sc, slowlog_ring *const *rings, unsigned n)
{
    int64_t max = atomic_load_explicit(&sc->max_len, memory_order_relaxed), sum = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_lock(&rings[i]->lock);
        sum += rings[i]->n;
        pthread_mutex_unlock(&rings[i]->lock);
    }
    return sum < max ? sum : max;
}

void slowlog_reset(slowlog_ring *const *rings, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_lock(&rings[i]->lock);
        ring_clear_locked(rings[i]);
        pthread_mutex_unlock(&rings[i]->lock);
    }
}
