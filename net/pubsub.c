/* pubsub.c - Pub/Sub across network threads (see pubsub.h). */
#include "net/pubsub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/glob.h"
#include "engine/kv.h"
#include "net/local.h"
#include "net/net_internal.h"
#include "engine/reply.h"
#include "net/route.h"

/* The three name spaces: channels, patterns, shard channels. */
enum { PS_CHAN, PS_PAT, PS_SHARD, PS_KINDS };

static const char *const sub_word[PS_KINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_word[PS_KINDS] = {"unsubscribe", "punsubscribe", "sunsubscribe"};

typedef struct ps_conn ps_conn;

/* An entry of a name -> something map. In the hub's maps it holds the
 * subscribers; in a connection's maps, ref points at the hub's entry. */
typedef struct ps_ent {
    struct ps_ent *next; /* hash chain */
    uint64_t h;
    struct ps_ent *ref; /* connection maps: the hub's entry */
    ps_conn **subs;     /* hub maps: the subscribers, in no order */
    size_t nsubs, cap;
    size_t len;
    char key[];
} ps_ent;

typedef struct ps_map {
    ps_ent **b;
    size_t nb; /* power of two, or 0 */
    size_t n;
} ps_map;

struct pubsub_hub {
    const kv_hash_secret *secret; /* ro */
    pthread_rwlock_t lock;        /* guards the maps and their subscriber arrays */
    ps_map map[PS_KINDS];
    _Atomic int64_t hard, soft; /* client-output-buffer-limit pubsub */
    _Atomic int secs;
};

/* One subscribed (or once subscribed) connection. */
struct ps_conn {
    conn *c;               /* ro */
    ps_map map[PS_KINDS];  /* its subscriptions; owner: c's network thread */
    kvbuf pending;         /* messages not yet in c's output; guarded by t->ps_lock */
    ps_conn *next_ready;   /* t's ready list; guarded by t->ps_lock */
    uint8_t queued;        /* on the ready list; guarded by t->ps_lock */
    uint8_t over;          /* found over the hard limit; guarded by t->ps_lock */
    int64_t soft_since_ms; /* over the soft limit since; owner: c's network thread */
};

/* ---- maps --------------------------------------------------------------- */

static ps_ent *map_find(const ps_map *m, uint64_t h, const char *k, size_t len)
{
    if (m->nb == 0) return NULL;
    for (ps_ent *e = m->b[h & (m->nb - 1)]; e; e = e->next)
        if (e->h == h && e->len == len && memcmp(e->key, k, len) == 0) return e;
    return NULL;
}

static void map_grow(ps_map *m)
{
    size_t nb = m->nb ? m->nb * 2 : 8;
    ps_ent **b = kv_xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < m->nb; i++) {
        ps_ent *e = m->b[i], *n;
        for (; e; e = n) {
            n = e->next;
            e->next = b[e->h & (nb - 1)];
            b[e->h & (nb - 1)] = e;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

static ps_ent *map_add(ps_map *m, uint64_t h, const char *k, size_t len)
{
    if (m->n >= m->nb) map_grow(m);
    ps_ent *e = kv_xcalloc(1, sizeof *e + len + 1);
    e->h = h;
    e->len = len;
    memcpy(e->key, k, len);
    e->next = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = e;
    m->n++;
    return e;
}

/* Unlinks and frees e. */
static void map_del(ps_map *m, ps_ent *e)
{
    for (ps_ent **p = &m->b[e->h & (m->nb - 1)]; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    m->n--;
    free(e->subs);
    free(e);
}

static void map_destroy(ps_map *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        ps_ent *e = m->b[i], *n;
        for (; e; e = n) {
            n = e->next;
            free(e->subs);
            free(e);
        }
    }
    free(m->b);
    memset(m, 0, sizeof *m);
}

/* ---- the hub ------------------------------------------------------------ */

pubsub_hub *pubsub_hub_new(const kv_hash_secret *secret, int64_t hard, int64_t soft, int secs)
{
    pubsub_hub *h = calloc(1, sizeof *h);
    if (h == NULL) return NULL;
    h->secret = secret;
    if (pthread_rwlock_init(&h->lock, NULL) != 0) {
        free(h);
        return NULL;
    }
    pubsub_limits_set(h, hard, soft, secs);
    return h;
}

void pubsub_hub_free(pubsub_hub *h)
{
    if (h == NULL) return;
    for (int k = 0; k < PS_KINDS; k++) map_destroy(&h->map[k]);
    pthread_rwlock_destroy(&h->lock);
    free(h);
}

void pubsub_limits_set(pubsub_hub *h, int64_t hard, int64_t soft, int secs)
{
    atomic_store(&h->hard, hard);
    atomic_store(&h->soft, soft);
    atomic_store(&h->secs, secs);
}

void pubsub_limits_get(pubsub_hub *h, int64_t *hard, int64_t *soft, int *secs)
{
    *hard = atomic_load(&h->hard);
    *soft = atomic_load(&h->soft);
    *secs = atomic_load(&h->secs);
}

void pubsub_counts(pubsub_hub *h, uint64_t *chans, uint64_t *pats, uint64_t *shards)
{
    pthread_rwlock_rdlock(&h->lock);
    *chans = h->map[PS_CHAN].n;
    *pats = h->map[PS_PAT].n;
    *shards = h->map[PS_SHARD].n;
    pthread_rwlock_unlock(&h->lock);
}

static uint64_t ps_hash(const pubsub_hub *h, const char *k, size_t len)
{
    return kv_hash(h->secret, k, len);
}

/* ---- per thread ----------------------------------------------------------- */

int pubsub_thr_init(netthr *t)
{
    t->ps_ready = NULL;
    return pthread_mutex_init(&t->ps_lock, NULL) ? KV_ENOMEM : 0;
}

void pubsub_thr_destroy(netthr *t)
{
    pthread_mutex_destroy(&t->ps_lock);
}

void pubsub_poll(netthr *t)
{
    /* an uncontended lock per wake-up; the ready list is only read under it */
    pthread_mutex_lock(&t->ps_lock);
    ps_conn *p = t->ps_ready, *n;
    t->ps_ready = NULL;
    for (; p; p = n) {
        n = p->next_ready;
        p->next_ready = NULL;
        p->queued = 0;
        conn_mark_dirty(t, p->c); /* conn_service takes the messages */
    }
    pthread_mutex_unlock(&t->ps_lock);
}

static int64_t ps_now_ms(netthr *t)
{
    return (int64_t)(ev_now(t->loop) * 1000.0);
}

/* Whether c's queued output passed the pubsub limits now (Redis's rule:
 * over HARD, or over SOFT longer than SECS). c's network thread. */
static int ps_over_limit(ps_conn *p)
{
    conn *c = p->c;
    pubsub_hub *h = c->t->srv->pubsub;
    int64_t hard, soft;
    int secs;
    pubsub_limits_get(h, &hard, &soft, &secs);
    int64_t q = (int64_t)conn_out_pending(c);
    if (hard > 0 && q > hard) return 1;
    if (soft <= 0 || q <= soft) {
        p->soft_since_ms = 0;
        return 0;
    }
    int64_t now = ps_now_ms(c->t);
    if (p->soft_since_ms == 0) {
        p->soft_since_ms = now;
        return 0;
    }
    return now - p->soft_since_ms > (int64_t)secs * 1000;
}

/* Appends p's pending messages to out. c's network thread. Returns 1 if a
 * publisher found p over the hard limit. */
static int ps_move_pending(ps_conn *p, kvbuf *out)
{
    netthr *t = p->c->t;
    pthread_mutex_lock(&t->ps_lock);
    int over = p->over;
    if (p->pending.len > 0 && !over) kvbuf_append(out, p->pending.data, p->pending.len);
    p->pending.len = 0;
    if (p->pending.cap > (1u << 20)) kvbuf_destroy(&p->pending);
    pthread_mutex_unlock(&t->ps_lock);
    return over;
}

void pubsub_take(conn *c)
{
    ps_conn *p = c->pubsub;
    if (p == NULL || c->obl_over) return;
    if (ps_move_pending(p, &c->out) || ps_over_limit(p)) c->obl_over = 1; /* closed next */
}

/* ---- subscriptions -------------------------------------------------------- */

static ps_conn *ps_conn_get(conn *c)
{
    if (c->pubsub == NULL) {
        c->pubsub = kv_xcalloc(1, sizeof *c->pubsub);
        c->pubsub->c = c;
        kvbuf_init(&c->pubsub->pending);
    }
    return c->pubsub;
}

static void ps_publish_counts(conn *c)
{
    for (int k = 0; k < PS_KINDS; k++)
        __atomic_store_n(&c->ps_n[k], (uint32_t)c->pubsub->map[k].n, __ATOMIC_RELAXED);
}

/* Subscriptions a (un)subscribe reply counts: channels and patterns, or
 * shard channels (Redis 7.0). */
static int64_t ps_count(const ps_conn *p, int kind)
{
    if (kind == PS_SHARD) return (int64_t)p->map[PS_SHARD].n;
    return (int64_t)(p->map[PS_CHAN].n + p->map[PS_PAT].n);
}

/* Adds p to the hub's entry for the name (hub write-locked). */
static ps_ent *hub_add_locked(pubsub_hub *h, int kind, uint64_t hv, const kv_str *name, ps_conn *p)
{
    ps_ent *e = map_find(&h->map[kind], hv, name->p, name->len);
    if (e == NULL) e = map_add(&h->map[kind], hv, name->p, name->len);
    if (e->nsubs == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->subs = kv_xrealloc(e->subs, e->cap * sizeof *e->subs);
    }
    e->subs[e->nsubs++] = p;
    return e;
}

/* Removes p from the hub's entry e (hub write-locked); frees e when empty. */
static void hub_remove_locked(pubsub_hub *h, int kind, ps_ent *e, ps_conn *p)
{
    for (size_t i = 0; i < e->nsubs; i++)
        if (e->subs[i] == p) {
            e->subs[i] = e->subs[--e->nsubs];
            break;
        }
    if (e->nsubs == 0) map_del(&h->map[kind], e);
}

static void reply_sub(kvbuf *out, const char *word, const char *name, size_t len, int64_t n)
{
    reply_array(out, 3);
    reply_bulk_cstr(out, word);
    if (name)
        reply_bulk(out, name, len);
    else
        reply_nil(out);
    reply_int(out, n);
}

static void ps_subscribe(netthr *t, conn *c, int kind, int argc, const kv_str *argv, kvbuf *out)
{
    pubsub_hub *h = t->srv->pubsub;
    ps_conn *p = ps_conn_get(c);
    ps_move_pending(p, out); /* messages published before this command come first */
    for (int i = 1; i < argc; i++) {
        uint64_t hv = ps_hash(h, argv[i].p, argv[i].len);
        if (map_find(&p->map[kind], hv, argv[i].p, argv[i].len) == NULL) {
            pthread_rwlock_wrlock(&h->lock);
            ps_ent *he = hub_add_locked(h, kind, hv, &argv[i], p);
            pthread_rwlock_unlock(&h->lock);
            map_add(&p->map[kind], hv, argv[i].p, argv[i].len)->ref = he;
            ps_publish_counts(c);
        }
        reply_sub(out, sub_word[kind], argv[i].p, argv[i].len, ps_count(p, kind));
    }
}

/* Drops p's subscription ce (an entry of p->map[kind]); replies. */
static void ps_drop(pubsub_hub *h, ps_conn *p, int kind, ps_ent *ce, kvbuf *out)
{
    pthread_rwlock_wrlock(&h->lock);
    hub_remove_locked(h, kind, ce->ref, p);
    pthread_rwlock_unlock(&h->lock);
    if (out) {
        reply_array(out, 3);
        reply_bulk_cstr(out, unsub_word[kind]);
        reply_bulk(out, ce->key, ce->len);
    }
    map_del(&p->map[kind], ce);
    if (out) reply_int(out, ps_count(p, kind));
    ps_publish_counts(p->c);
}

static void ps_unsubscribe(netthr *t, conn *c, int kind, int argc, const kv_str *argv, kvbuf *out)
{
    pubsub_hub *h = t->srv->pubsub;
    ps_conn *p = c->pubsub;
    if (p) ps_move_pending(p, out);
    if (argc == 1) { /* from every one */
        size_t n = 0;
        while (p && p->map[kind].n > 0) {
            ps_ent *ce = NULL;
            for (size_t b = 0; ce == NULL; b++) ce = p->map[kind].b[b];
            ps_drop(h, p, kind, ce, out);
            n++;
        }
        if (n == 0) reply_sub(out, unsub_word[kind], NULL, 0, p ? ps_count(p, kind) : 0);
        return;
    }
    for (int i = 1; i < argc; i++) {
        ps_ent *ce =
            p ? map_find(&p->map[kind], ps_hash(h, argv[i].p, argv[i].len), argv[i].p, argv[i].len)
              : NULL;
        if (ce)
            ps_drop(h, p, kind, ce, out);
        else
            reply_sub(out, unsub_word[kind], argv[i].p, argv[i].len, p ? ps_count(p, kind) : 0);
    }
}

void pubsub_conn_close(conn *c)
{
    ps_conn *p = c->pubsub;
    if (p == NULL) return;
    netthr *t = c->t;
    pubsub_hub *h = t->srv->pubsub;
    pthread_rwlock_wrlock(&h->lock);
    for (int k = 0; k < PS_KINDS; k++)
        for (size_t b = 0; b < p->map[k].nb; b++)
            for (ps_ent *ce = p->map[k].b[b]; ce; ce = ce->next)
                hub_remove_locked(h, k, ce->ref, p);
    pthread_rwlock_unlock(&h->lock);
    /* no publisher reaches p any more; off t's ready list */
    pthread_mutex_lock(&t->ps_lock);
    for (ps_conn **q = &t->ps_ready; *q; q = &(*q)->next_ready)
        if (*q == p) {
            *q = p->next_ready;
            break;
        }
    pthread_mutex_unlock(&t->ps_lock);
    for (int k = 0; k < PS_KINDS; k++) map_destroy(&p->map[k]);
    kvbuf_destroy(&p->pending);
    free(p);
    c->pubsub = NULL;
    for (int k = 0; k < PS_KINDS; k++) __atomic_store_n(&c->ps_n[k], 0, __ATOMIC_RELAXED);
}

unsigned pubsub_conn_nsub(const conn *c)
{
    return __atomic_load_n(&c->ps_n[PS_CHAN], __ATOMIC_RELAXED);
}

unsigned pubsub_conn_npsub(const conn *c)
{
    return __atomic_load_n(&c->ps_n[PS_PAT], __ATOMIC_RELAXED);
}

unsigned pubsub_conn_nssub(const conn *c)
{
    return __atomic_load_n(&c->ps_n[PS_SHARD], __ATOMIC_RELAXED);
}

/* ---- publishing ------------------------------------------------------------ */

/* Network threads woken by one PUBLISH. */
typedef struct ps_wake {
    uint64_t bits[4]; /* thread ids below 256 */
} ps_wake;

/* Appends one message frame to p's pending bytes (hub read-locked). */
static void ps_deliver(ps_conn *p, const kvbuf *frame, int64_t hard, ps_wake *w)
{
    netthr *x = p->c->t;
    pthread_mutex_lock(&x->ps_lock);
    if (!p->over) {
        int64_t queued = atomic_load_explicit(&p->c->obl.queued, memory_order_relaxed);
        if (hard > 0 && (int64_t)(p->pending.len + frame->len) + queued > hard)
            p->over = 1; /* its thread closes it; counted as a receiver, as Redis */
        else
            kvbuf_append(&p->pending, frame->data, frame->len);
        if (!p->queued) {
            p->queued = 1;
            p->next_ready = x->ps_ready;
            x->ps_ready = p;
            if (x->id < 256)
                w->bits[x->id / 64] |= 1ull << (x->id % 64);
            else
                ev_async_send(x->loop, &x->wake_w);
        }
    }
    pthread_mutex_unlock(&x->ps_lock);
}

static void frame_message(kvbuf *f, const char *word, const kv_str *pat, const kv_str *ch,
                          const kv_str *msg)
{
    kvbuf_reset(f);
    reply_array(f, pat ? 4 : 3);
    reply_bulk_cstr(f, word);
    if (pat) reply_bulk(f, pat->p, pat->len);
    reply_bulk(f, ch->p, ch->len);
    reply_bulk(f, msg->p, msg->len);
}

/* Redis 7.0's stringmatchlen() matches nothing against an empty name but
 * an empty pattern ("*" does not match channel ""): the same here. */
static int ps_match(const char *pat, size_t plen, const char *name, size_t len)
{
    if (len == 0) return plen == 0;
    return kv_glob_match(pat, plen, name, len, 0);
}

/* Delivers msg to the subscribers of ch (and, for channels, of the
 * patterns matching it); returns their count. Network thread t. */
static int64_t ps_publish(netthr *t, int kind, const kv_str *ch, const kv_str *msg)
{
    pubsub_hub *h = t->srv->pubsub;
    int64_t hard = atomic_load_explicit(&h->hard, memory_order_relaxed);
    int64_t n = 0;
    ps_wake w = {{0}};
    kvbuf f;
    kvbuf_init(&f);
    uint64_t hv = ps_hash(h, ch->p, ch->len);
    pthread_rwlock_rdlock(&h->lock);
    ps_ent *e = map_find(&h->map[kind], hv, ch->p, ch->len);
    if (e) {
        frame_message(&f, kind == PS_SHARD ? "smessage" : "message", NULL, ch, msg);
        for (size_t i = 0; i < e->nsubs; i++) ps_deliver(e->subs[i], &f, hard, &w);
        n += (int64_t)e->nsubs;
    }
    ps_map *pm = &h->map[PS_PAT];
    for (size_t b = 0; kind == PS_CHAN && b < pm->nb; b++)
        for (ps_ent *pe = pm->b[b]; pe; pe = pe->next) {
            if (!ps_match(pe->key, pe->len, ch->p, ch->len)) continue;
            kv_str pat = {pe->key, pe->len};
            frame_message(&f, "pmessage", &pat, ch, msg);
            for (size_t i = 0; i < pe->nsubs; i++) ps_deliver(pe->subs[i], &f, hard, &w);
            n += (int64_t)pe->nsubs;
        }
    pthread_rwlock_unlock(&h->lock);
    kvbuf_destroy(&f);
    for (unsigned id = 0; id < t->srv->nnet && id < 256; id++) {
        if (!(w.bits[id / 64] & (1ull << (id % 64)))) continue;
        if (id == t->id)
            pubsub_poll(t); /* our own subscribers: no wake-up needed */
        else
            ev_async_send(t->srv->net[id].loop, &t->srv->net[id].wake_w);
    }
    return n;
}

/* ---- commands -------------------------------------------------------------- */

void pubsub_subscribe(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    ps_subscribe(t, c, PS_CHAN, argc, argv, out);
}

void pubsub_psubscribe(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    ps_subscribe(t, c, PS_PAT, argc, argv, out);
}

void pubsub_ssubscribe(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    ps_subscribe(t, c, PS_SHARD, argc, argv, out);
}

void pubsub_unsubscribe(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    ps_unsubscribe(t, c, PS_CHAN, argc, argv, out);
}

void pubsub_punsubscribe(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    ps_unsubscribe(t, c, PS_PAT, argc, argv, out);
}

void pubsub_sunsubscribe(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    ps_unsubscribe(t, c, PS_SHARD, argc, argv, out);
}

void pubsub_publish(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    (void)c, (void)argc;
    reply_int(out, ps_publish(t, PS_CHAN, &argv[1], &argv[2]));
}

void pubsub_spublish(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    (void)c, (void)argc;
    reply_int(out, ps_publish(t, PS_SHARD, &argv[1], &argv[2]));
}

static int subscribed(const conn *c)
{
    return c->pubsub != NULL &&
           (c->pubsub->map[PS_CHAN].n + c->pubsub->map[PS_PAT].n + c->pubsub->map[PS_SHARD].n) > 0;
}

void pubsub_ping(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    if (!subscribed(c) || argc > 2) {
        local_ping(t, c, argc, argv, out);
        return;
    }
    ps_move_pending(c->pubsub, out);
    reply_array(out, 2);
    reply_bulk_cstr(out, "pong");
    if (argc == 2)
        reply_bulk(out, argv[1].p, argv[1].len);
    else
        reply_bulk(out, "", 0);
}

static int arg_is(const kv_str *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

/* PUBSUB CHANNELS / SHARDCHANNELS [pattern]. */
static void ps_channels(pubsub_hub *h, int kind, int argc, const kv_str *argv, kvbuf *out)
{
    kvbuf body;
    kvbuf_init(&body);
    int64_t n = 0;
    pthread_rwlock_rdlock(&h->lock);
    ps_map *m = &h->map[kind];
    for (size_t b = 0; b < m->nb; b++)
        for (ps_ent *e = m->b[b]; e; e = e->next)
            if (argc < 3 || ps_match(argv[2].p, argv[2].len, e->key, e->len)) {
                reply_bulk(&body, e->key, e->len);
                n++;
            }
    pthread_rwlock_unlock(&h->lock);
    reply_array(out, n);
    kvbuf_append(out, body.data, body.len);
    kvbuf_destroy(&body);
}

/* PUBSUB NUMSUB / SHARDNUMSUB [name ...]. */
static void ps_numsub(pubsub_hub *h, int kind, int argc, const kv_str *argv, kvbuf *out)
{
    reply_array(out, (int64_t)(argc - 2) * 2);
    pthread_rwlock_rdlock(&h->lock);
    for (int i = 2; i < argc; i++) {
        ps_ent *e =
            map_find(&h->map[kind], ps_hash(h, argv[i].p, argv[i].len), argv[i].p, argv[i].len);
        reply_bulk(out, argv[i].p, argv[i].len);
        reply_int(out, e ? (int64_t)e->nsubs : 0);
    }
    pthread_rwlock_unlock(&h->lock);
}

static void ps_help(kvbuf *out)
{
    static const char *help[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    reply_array(out, sizeof help / sizeof help[0]);
    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) reply_status(out, help[i]);
}

void pubsub_pubsub(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    pubsub_hub *h = t->srv->pubsub;
    const kv_str *sub = &argv[1];
    (void)c;
    int chans = arg_is(sub, "channels"), shardch = arg_is(sub, "shardchannels");
    if (chans || shardch) {
        if (argc > 3)
            reply_errorf(out,
                         "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                         "PUBSUB HELP.",
                         (int)(sub->len > 128 ? 128 : sub->len), sub->p);
        else
            ps_channels(h, chans ? PS_CHAN : PS_SHARD, argc, argv, out);
    } else if (arg_is(sub, "numsub")) {
        ps_numsub(h, PS_CHAN, argc, argv, out);
    } else if (arg_is(sub, "shardnumsub")) {
        ps_numsub(h, PS_SHARD, argc, argv, out);
    } else if (arg_is(sub, "numpat")) {
        if (argc != 2) {
            reply_error(out, "ERR wrong number of arguments for 'pubsub|numpat' command");
            return;
        }
        uint64_t nc, np, ns;
        pubsub_counts(h, &nc, &np, &ns);
        reply_int(out, (int64_t)np);
    } else if (arg_is(sub, "help")) {
        if (argc != 2)
            reply_error(out, "ERR wrong number of arguments for 'pubsub|help' command");
        else
            ps_help(out);
    } else {
        reply_errorf(out, "ERR unknown subcommand '%.*s'. Try PUBSUB HELP.",
                     (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    }
}

/* ---- the subscribed connection's restriction -------------------------------- */

int pubsub_refuse(netthr *t, conn *c)
{
    if (!subscribed(c)) return 0;
    int argc = c->ps.argc;
    const kv_str *argv = c->ps.argv;
    const cmd_def *def = cmdtab_lookup(argv[0].p, argv[0].len);
    if (def == NULL || !cmdtab_arity_ok(def, argc)) return 0; /* its own error first */
    if (def->flags & CMD_SUBSCRIBED) return 0;
    char name[96], msg[256];
    if ((def->flags & CMD_CONTAINER) && argc >= 2) {
        size_t n = argv[1].len < 48 ? argv[1].len : 48;
        int k = snprintf(name, sizeof name, "%s|", def->name);
        for (size_t i = 0; i < n; i++) {
            char ch = argv[1].p[i];
            name[k + (int)i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
        name[k + (int)n] = '\0';
    } else {
        snprintf(name, sizeof name, "%s", def->name);
    }
    snprintf(msg, sizeof msg,
             "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
             "are allowed in this context",
             name);
    route_error_slot(c, msg);
    conn_mark_dirty(t, c);
    return 1;
}
