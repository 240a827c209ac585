/* run.c - threads, event loops and connections; see run.h. */
#include "bench/run.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/keygen.h"
#include "bench/reply_parser.h"
#include "bench/req.h"
#include "bench/schedule.h"
#include "bench/series.h"
#include "bench/tlsc.h"

volatile sig_atomic_t run_interrupted;

#define SLOT_AUTH   7
#define MAX_WAIT_NS (100 * 1000 * 1000ull) /* loops look at the clock at least this often */

typedef struct slot {
    uint64_t t0; /* send time (closed loop) or intended send time (open loop) */
    uint8_t type;
    uint8_t measured;
    uint16_t pad;
    uint32_t nkeys;
} slot_t;

enum conn_state { CS_AUTH, CS_RUN, CS_CLOSED };

struct worker;

typedef struct conn {
    int fd;
    struct ssl_st *ssl; /* --tls */
    int state;
    int want_write; /* EPOLLOUT is registered */
    struct worker *w;
    keygen_t kg;
    sched_t sched;
    reply_parser rp;
    char *out; /* out[out_off..out_len) not yet written */
    size_t out_off, out_len, out_cap;
    char *in; /* in[0..in_len) received, not yet parsed */
    size_t in_len, in_cap;
    slot_t *ring; /* pipeline slots, FIFO */
    unsigned head, count;
    uint64_t budget; /* measured requests still to send (--requests, load) */
} conn_t;

typedef struct tstats {
    uint64_t count[REQ_NTYPES], errors[REQ_NTYPES], hits[REQ_NTYPES], misses[REQ_NTYPES],
        keys[REQ_NTYPES];
    hist_t hist[REQ_NTYPES];
    uint64_t warmup, conn_errors, proto_errors, timeouts, lost;
    uint64_t last_reply_ns;
    uint64_t last_send_ns; /* when the last measured request was written (open loop) */
    char first_error[200];
} tstats;

typedef struct run_ctx {
    const bench_opts *o;
    req_fmt fmt;
    keygen_zipf zipf;
    struct addrinfo *addr;
    tlsc_t *tls; /* --tls: shared read-only by the workers */
    int load;    /* this phase fills the key space */
    int open_loop;
    unsigned pipeline; /* this phase's window */
    unsigned nconns;   /* over all threads */
    size_t max_req;
    uint64_t t_start, t_measure, t_end; /* t_end: UINT64_MAX with --requests */
    double measure_unix;                /* wall clock (s since the epoch) at t_measure */
    double send_span_s;                 /* measured phase: t_measure to the last send */
    series_t *ser;                      /* the measured phase's per-second series */
    int ser_oom, hlog_failed;
    pthread_barrier_t ready, go;
} run_ctx;

typedef struct worker {
    pthread_t tid;
    unsigned id;
    run_ctx *rc;
    int ep;
    conn_t *conns;
    unsigned nconns, active;
    uint64_t *scratch; /* MGET keys */
    tstats *st;
    uint64_t last_progress_ns; /* last reply, or last send from idle */
    _Atomic uint64_t progress; /* measured replies; owner writes, main reads (relaxed) */
    _Atomic uint64_t errs;     /* errors as report_errors counts them; owner writes, main reads */
    unsigned connected;        /* connections that connected; read by main after `ready` */
    _Atomic int finished;
} worker_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One more error (owner thread): the per-second series counts these. */
static void err_tick(struct worker *w)
{
    atomic_store_explicit(&w->errs, atomic_load_explicit(&w->errs, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void note_error(tstats *st, const char *what, const char *text, size_t len)
{
    if (st->first_error[0]) return;
    if (len > 150) len = 150;
    snprintf(st->first_error, sizeof(st->first_error), "%s%.*s", what, (int)len, text);
}

/* ---- connection life ---------------------------------------------------- */

static void conn_close(conn_t *c)
{
    if (c->state == CS_CLOSED) return;
    tlsc_close(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = CS_CLOSED;
    c->w->active--;
}

/* Charges every request in flight as lost, then closes. */
static void conn_drop_inflight(conn_t *c, int timed_out)
{
    tstats *st = c->w->st;
    while (c->count) {
        slot_t *s = &c->ring[c->head];
        if (s->type != SLOT_AUTH && s->measured) {
            st->errors[s->type]++;
            st->lost++;
            err_tick(c->w);
            if (timed_out) st->timeouts++;
        }
        c->head = (c->head + 1) % c->w->rc->pipeline;
        c->count--;
    }
    conn_close(c);
}

static void conn_fail(conn_t *c, const char *why)
{
    tstats *st = c->w->st;
    st->conn_errors++;
    err_tick(c->w);
    note_error(st, "", why, strlen(why));
    conn_drop_inflight(c, 0);
}

static void conn_fail_errno(conn_t *c, const char *op, int err)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "%s: %s", op, strerror(err));
    conn_fail(c, msg);
}

static void conn_set_write_interest(conn_t *c, int on)
{
    if (c->want_write == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_write = on;
}

static void conn_flush(conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = c->ssl
                        ? tlsc_send(c->ssl, c->out + c->out_off, c->out_len - c->out_off)
                        : send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_set_write_interest(c, 1);
            return;
        } else {
            conn_fail_errno(c, "send", n < 0 ? errno : EPIPE);
            return;
        }
    }
    c->out_off = c->out_len = 0;
    conn_set_write_interest(c, 0);
}

/* May this connection start another request? */
static int conn_more(const conn_t *c, uint64_t now)
{
    const run_ctx *rc = c->w->rc;
    if (run_interrupted) return 0;
    if (rc->load) return c->budget > 0;
    if (rc->o->requests) {
        if (c->budget > 0) return 1;
        return 0;
    }
    if (rc->open_loop) return sched_peek(&c->sched) < rc->t_end;
    return now < rc->t_end;
}

static req_type pick_type(conn_t *c)
{
    const unsigned *r = c->w->rc->o->ratio;
    uint64_t sum = 0;
    for (int t = 0; t < REQ_NTYPES; t++) sum += r[t];
    uint64_t x = keygen_rng_below(&c->kg.rng, sum);
    for (int t = 0; t < REQ_NTYPES - 1; t++) {
        if (x < r[t]) return (req_type)t;
        x -= r[t];
    }
    return (req_type)(REQ_NTYPES - 1);
}

/* Formats one request at out + out_len and fills its slot. */
static void conn_gen(conn_t *c, slot_t *s)
{
    const run_ctx *rc = c->w->rc;
    const bench_opts *o = rc->o;
    char *dst = c->out + c->out_len;
    req_type t = rc->load ? REQ_SET : pick_type(c);
    size_t n;
    s->type = (uint8_t)t;
    s->nkeys = 1;
    switch (t) {
    case REQ_SET: {
        size_t vlen = o->vmin;
        if (o->vmax > o->vmin) vlen += (size_t)keygen_rng_below(&c->kg.rng, o->vmax - o->vmin + 1);
        n = req_set(&rc->fmt, dst, keygen_next(&c->kg), vlen);
        break;
    }
    case REQ_GET:
        n = req_get(&rc->fmt, dst, keygen_next(&c->kg));
        break;
    case REQ_HSET: {
        size_t vlen = o->vmin;
        if (o->vmax > o->vmin) vlen += (size_t)keygen_rng_below(&c->kg.rng, o->vmax - o->vmin + 1);
        n = req_hset(&rc->fmt, dst, keygen_next(&c->kg), o->fields, vlen);
        break;
    }
    case REQ_HMGET:
        n = req_hmget(&rc->fmt, dst, keygen_next(&c->kg), o->fields);
        s->nkeys = o->fields;
        break;
    default:
        for (unsigned i = 0; i < o->mget_keys; i++) c->w->scratch[i] = keygen_next(&c->kg);
        n = req_mget(&rc->fmt, dst, c->w->scratch, o->mget_keys);
        s->nkeys = o->mget_keys;
        break;
    }
    assert(n <= rc->max_req);
    c->out_len += n;
}

/* Fills the pipeline window with whatever may be sent now, then writes. */
static void conn_fill(conn_t *c, uint64_t now)
{
    run_ctx *rc = c->w->rc;
    if (c->state != CS_RUN) return;
    if (c->out_off > 0 && c->out_off < c->out_len) { /* keep unsent bytes, make room */
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    unsigned added = 0;
    while (c->count < rc->pipeline && conn_more(c, now)) {
        uint64_t t0 = now;
        if (rc->open_loop && !sched_take(&c->sched, now, &t0)) break;
        slot_t *s = &c->ring[(c->head + c->count) % rc->pipeline];
        conn_gen(c, s);
        s->t0 = t0;
        s->measured = rc->load || t0 >= rc->t_measure;
        if (s->measured) c->w->st->last_send_ns = now;
        if (s->measured && c->budget) c->budget--;
        if (c->count == 0) c->w->last_progress_ns = now;
        c->count++;
        added++;
    }
    if (added) conn_flush(c);
}

/* ---- replies ------------------------------------------------------------ */

static void conn_on_reply(conn_t *c, const reply_t *r, uint64_t now)
{
    worker_t *w = c->w;
    tstats *st = w->st;
    slot_t s = c->ring[c->head];
    c->head = (c->head + 1) % w->rc->pipeline;
    c->count--;
    w->last_progress_ns = now;
    if (s.type == SLOT_AUTH) {
        if (r->kind == REPLY_STATUS) {
            c->state = CS_RUN;
        } else {
            note_error(st, "AUTH failed: ", r->text ? r->text : "", r->text ? r->text_len : 0);
            st->conn_errors++;
            err_tick(w);
            conn_drop_inflight(c, 0);
        }
        return;
    }
    if (!s.measured) {
        st->warmup++;
        return;
    }
    int t = s.type;
    hist_record(&st->hist[t], now > s.t0 ? now - s.t0 : 0);
    st->count[t]++;
    st->keys[t] += s.nkeys;
    st->last_reply_ns = now;
    atomic_store_explicit(&w->progress,
                          atomic_load_explicit(&w->progress, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (r->kind == REPLY_ERROR) {
        st->errors[t]++;
        err_tick(w);
        note_error(st, "", r->text, r->text_len);
        return;
    }
    int ok = 0;
    switch (t) {
    case REQ_SET:
        ok = r->kind == REPLY_STATUS;
        break;
    case REQ_GET:
        if (r->kind == REPLY_NIL)
            st->misses[t]++, ok = 1;
        else if (r->kind == REPLY_BULK)
            st->hits[t]++, ok = 1;
        break;
    case REQ_HSET:
        ok = r->kind == REPLY_INT || (w->rc->fmt.plain && r->kind == REPLY_BULK);
        break;
    case REQ_HMGET:
    case REQ_MGET:
        if (w->rc->fmt.plain) {
            uint32_t tokens, nils;
            reply_plain_count(r->text, r->text_len, &tokens, &nils);
            if (tokens == s.nkeys) st->hits[t] += tokens - nils, st->misses[t] += nils, ok = 1;
        } else if (r->kind == REPLY_ARRAY && r->elems == s.nkeys) {
            st->hits[t] += r->elems - r->nils;
            st->misses[t] += r->nils;
            ok = 1;
        }
        break;
    }
    if (!ok) {
        st->errors[t]++;
        err_tick(w);
        note_error(st, "unexpected reply to ", req_type_name((req_type)t),
                   strlen(req_type_name((req_type)t)));
    }
}

static void conn_parse(conn_t *c, uint64_t now)
{
    size_t off = 0;
    int plain = c->w->rc->fmt.plain;
    while (off < c->in_len && c->state != CS_CLOSED) {
        reply_t r;
        size_t used;
        int rv = plain ? reply_plain_feed(c->in + off, c->in_len - off, c->in_cap / 2, &used, &r)
                       : reply_resp_feed(&c->rp, c->in + off, c->in_len - off, &used, &r);
        off += used;
        if (rv == REPLY_AGAIN) break;
        if (rv == REPLY_BAD || c->count == 0) {
            const char *why = rv == REPLY_BAD ? "protocol error in a reply" : "reply to no request";
            c->w->st->proto_errors++;
            err_tick(c->w);
            note_error(c->w->st, "", why, strlen(why));
            conn_drop_inflight(c, 0);
            return;
        }
        conn_on_reply(c, &r, now);
    }
    if (c->state == CS_CLOSED) return;
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static void conn_on_readable(conn_t *c, uint64_t now)
{
    for (int rounds = 0; rounds < 4 && c->state != CS_CLOSED; rounds++) {
        size_t room = c->in_cap - c->in_len;
        ssize_t n = c->ssl ? tlsc_recv(c->ssl, c->in + c->in_len, room)
                           : recv(c->fd, c->in + c->in_len, room, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            conn_parse(c, now);
            /* TLS: what OpenSSL already decrypted raises no epoll event */
            if (c->ssl && c->state != CS_CLOSED && tlsc_pending(c->ssl))
                rounds = -1;
            else if ((size_t)n < room)
                break;
        } else if (n == 0) {
            conn_fail(c, c->in_len || c->count ? "connection closed by the server (short read)"
                                               : "connection closed by the server");
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            conn_fail_errno(c, "recv", errno);
            return;
        }
    }
}

static void conn_check_done(conn_t *c, uint64_t now)
{
    if (c->state == CS_RUN && c->count == 0 && !conn_more(c, now)) conn_close(c);
}

/* ---- set-up --------------------------------------------------------------- */

static int conn_connect(conn_t *c, const struct addrinfo *ai, tstats *st)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (c->w->rc->tls) {
        char msg[200];
        c->ssl = tlsc_connect(c->w->rc->tls, fd, c->w->rc->o->host, msg, sizeof(msg));
        if (!c->ssl) {
            note_error(st, "", msg, strlen(msg));
            close(fd);
            return -EPROTO;
        }
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->fd = fd;
    return 0;
}

static int worker_init(worker_t *w, run_ctx *rc, unsigned id)
{
    const bench_opts *o = rc->o;
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->rc = rc;
    w->ep = -1;
    w->nconns = o->clients;
    w->st = calloc(1, sizeof(*w->st));
    w->conns = calloc(w->nconns, sizeof(conn_t));
    w->scratch = calloc(o->mget_keys ? o->mget_keys : 1, sizeof(uint64_t));
    if (!w->st || !w->conns || !w->scratch) return -1;
    for (int t = 0; t < REQ_NTYPES; t++) hist_init(&w->st->hist[t]);
    size_t in_cap = 256 * 1024;
    if (rc->fmt.plain) {
        unsigned most = o->mget_keys > o->fields ? o->mget_keys : o->fields;
        size_t line = (size_t)most * (o->vmax + 1) + 256;
        if (o->vmax + 256 > line) line = o->vmax + 256;
        if (2 * line + 65536 > in_cap) in_cap = 2 * line + 65536;
    }
    for (unsigned i = 0; i < w->nconns; i++) {
        conn_t *c = &w->conns[i];
        unsigned g = id * o->clients + i;
        c->fd = -1;
        c->w = w;
        c->state = CS_CLOSED;
        reply_parser_init(&c->rp);
        c->out_cap = (size_t)rc->pipeline * rc->max_req + 1024;
        c->out = malloc(c->out_cap);
        c->in_cap = in_cap;
        c->in = malloc(c->in_cap);
        c->ring = calloc(rc->pipeline, sizeof(slot_t));
        if (!c->out || !c->in || !c->ring) return -1;
        if (rc->load) {
            uint64_t lo = o->keys * g / rc->nconns, hi = o->keys * (g + 1) / rc->nconns;
            keygen_init(&c->kg, KEYGEN_SEQUENTIAL, o->keys, NULL, o->seed, lo, 1);
            c->budget = hi - lo;
        } else {
            keygen_init(&c->kg, o->pattern, o->keys, &rc->zipf, o->seed, g, rc->nconns);
            c->budget = o->requests;
        }
    }
    return 0;
}

static void worker_destroy(worker_t *w)
{
    if (w->conns)
        for (unsigned i = 0; i < w->nconns; i++) {
            conn_t *c = &w->conns[i];
            tlsc_close(c->ssl);
            if (c->fd >= 0) close(c->fd);
            free(c->out);
            free(c->in);
            free(c->ring);
        }
    if (w->ep >= 0) close(w->ep);
    free(w->conns);
    free(w->scratch);
    free(w->st);
    w->conns = NULL;
    w->st = NULL;
    w->scratch = NULL;
}

static void worker_connect_all(worker_t *w)
{
    run_ctx *rc = w->rc;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    for (unsigned i = 0; i < w->nconns; i++) {
        conn_t *c = &w->conns[i];
        int e = w->ep < 0 ? -errno : conn_connect(c, rc->addr, w->st);
        if (e < 0) {
            char msg[160];
            snprintf(msg, sizeof(msg), "connect to %s:%d: %s", rc->o->host, rc->o->port,
                     strerror(-e));
            w->st->conn_errors++;
            err_tick(w);
            note_error(w->st, "", msg, strlen(msg));
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev);
        c->state = CS_RUN;
        w->active++;
        w->connected++;
    }
}

static void worker_start_conns(worker_t *w, uint64_t now)
{
    run_ctx *rc = w->rc;
    for (unsigned i = 0; i < w->nconns; i++) {
        conn_t *c = &w->conns[i];
        if (c->state == CS_CLOSED) continue;
        if (rc->open_loop)
            sched_init(&c->sched, rc->t_start, rc->o->rate, rc->nconns, w->id * rc->o->clients + i);
        if (rc->o->password) {
            size_t n = req_auth(&rc->fmt, c->out, c->out_cap, rc->o->password);
            c->out_len = n;
            c->ring[0] = (slot_t){.type = SLOT_AUTH};
            c->count = 1;
            c->state = CS_AUTH;
            conn_flush(c);
        } else {
            conn_fill(c, now);
            conn_check_done(c, now);
        }
    }
}

/* Closes connections that are done, and gives up on requests when no
 * reply at all has come for --timeout seconds while some are in flight. */
static void worker_watchdog(worker_t *w, uint64_t now)
{
    uint64_t last = w->last_progress_ns;
    int stalled = now > last && now - last > (uint64_t)(w->rc->o->timeout * 1e9);
    for (unsigned i = 0; i < w->nconns; i++) {
        conn_t *c = &w->conns[i];
        if (c->state == CS_CLOSED) continue;
        if (stalled && c->count) {
            note_error(w->st, "", "timed out waiting for replies", 29);
            conn_drop_inflight(c, 1);
        } else {
            conn_check_done(c, now);
        }
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    run_ctx *rc = w->rc;
    struct epoll_event evs[256];
    worker_connect_all(w);
    pthread_barrier_wait(&rc->ready);
    pthread_barrier_wait(&rc->go);
    w->last_progress_ns = now_ns();
    worker_start_conns(w, w->last_progress_ns);
    while (w->active > 0) {
        uint64_t now = now_ns();
        uint64_t wait = MAX_WAIT_NS;
        if (rc->open_loop) {
            for (unsigned i = 0; i < w->nconns; i++) {
                conn_t *c = &w->conns[i];
                if (c->state != CS_RUN) continue;
                conn_fill(c, now);
                if (c->state == CS_RUN && c->count < rc->pipeline && conn_more(c, now)) {
                    uint64_t next = sched_peek(&c->sched);
                    uint64_t d = next > now ? next - now : 0;
                    if (d < wait) wait = d;
                }
            }
        }
        if (rc->t_end != UINT64_MAX && now < rc->t_end && rc->t_end - now < wait)
            wait = rc->t_end - now;
        worker_watchdog(w, now);
        if (w->active == 0) break;
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull),
                              .tv_nsec = (long)(wait % 1000000000ull)};
        int n = epoll_pwait2(w->ep, evs, 256, &ts, NULL);
        if (n < 0 && errno != EINTR) break;
        now = now_ns();
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->state == CS_CLOSED) continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn_on_readable(c, now);
            if (c->state != CS_CLOSED && (evs[i].events & EPOLLOUT)) conn_flush(c);
            if (c->state != CS_CLOSED) {
                conn_fill(c, now);
                conn_check_done(c, now);
            }
        }
    }
    atomic_store(&w->finished, 1);
    return NULL;
}

/* ---- one phase (load or measured run) -------------------------------------- */

/* The main thread's view of a running phase: once a second, the interval
 * histogram of the replies of that second (cumulative snapshot minus the
 * previous one), for the progress line, the series and the .hlog. */
typedef struct monitor {
    hist_t *cur, *prev, *iv; /* private: three scratch histograms */
    uint64_t prev_errs;
    uint64_t t_prev; /* start of the current interval (ns) */
    int show;        /* progress line on stderr */
    int tty;         /* stderr is a terminal: rewrite one line; else one line per second */
    int shown;
} monitor;

static void mon_snapshot(worker_t *ws, unsigned nw, hist_t *cur, uint64_t *errs)
{
    hist_init(cur);
    *errs = 0;
    for (unsigned i = 0; i < nw; i++) {
        for (int t = 0; t < REQ_NTYPES; t++) hist_merge(cur, &ws[i].st->hist[t]);
        *errs += atomic_load_explicit(&ws[i].errs, memory_order_relaxed);
    }
}

/* Closes the interval [t_prev, now): series point, .hlog line, progress. */
static void mon_interval(monitor *m, worker_t *ws, unsigned nw, run_ctx *rc, uint64_t now,
                         int final)
{
    uint64_t errs;
    mon_snapshot(ws, nw, m->cur, &errs);
    series_hist_diff(m->iv, m->cur, m->prev);
    hist_t *t = m->prev;
    m->prev = m->cur;
    m->cur = t;
    uint64_t n = hist_ld(&m->iv->total), e = errs - m->prev_errs;
    m->prev_errs = errs;
    double t_s = (double)(m->t_prev - rc->t_measure) / 1e9;
    double len = (double)(now - m->t_prev) / 1e9;
    uint64_t start = m->t_prev;
    m->t_prev = now;
    if (final && n == 0 && e == 0) return;
    if (!rc->load) {
        if (rc->ser && series_add(rc->ser, t_s, len, m->iv, e)) rc->ser_oom = 1;
        if (rc->o->hlog_out && n && series_hlog_interval(rc->o->hlog_out, t_s, len, m->iv))
            rc->hlog_failed = 1;
    }
    if (!m->show || final) return;
    double el = (double)(now - rc->t_start) / 1e9, r = len > 0 ? (double)n / len : 0;
    /* an open loop that fell behind still sends what was due before the end */
    int late = !rc->load && rc->open_loop && rc->t_end != UINT64_MAX && start >= rc->t_end;
    fprintf(stderr, "%s[%6.1f s] %s%.0f req/s, p99 %.3f ms, max %.3f ms, %llu errors%s%s",
            m->tty ? "\r\033[K" : "", el, rc->load ? "loading: " : "", r,
            (double)hist_value_at(m->iv, 99) / 1e6, n ? (double)hist_ld(&m->iv->max) / 1e6 : 0.0,
            (unsigned long long)e, late ? " (past --duration: sending requests already due)" : "",
            m->tty ? "" : "\n");
    fflush(stderr);
    m->shown = 1;
}

/* Watches the workers until they all finish. */
static int mon_run(run_ctx *rc, worker_t *ws, unsigned nw)
{
    monitor m = {0};
    m.cur = malloc(sizeof(hist_t));
    m.prev = malloc(sizeof(hist_t));
    m.iv = malloc(sizeof(hist_t));
    if (!m.cur || !m.prev || !m.iv) {
        free(m.cur), free(m.prev), free(m.iv);
        return -1;
    }
    hist_init(m.prev);
    m.tty = isatty(2);
    m.show = rc->o->progress > 0 || (rc->o->progress == 0 && m.tty);
    m.t_prev = rc->t_measure;
    uint64_t last_warm = rc->t_start;
    for (;;) {
        int all = 1;
        for (unsigned i = 0; i < nw; i++) all &= atomic_load(&ws[i].finished);
        if (all) break;
        uint64_t now = now_ns(), wait = 50 * 1000 * 1000ull;
        if (now < rc->t_measure) {
            if (m.show && now - last_warm >= 1000000000ull) {
                fprintf(stderr, "%s[%6.1f s] warming up%s", m.tty ? "\r\033[K" : "",
                        (double)(now - rc->t_start) / 1e9, m.tty ? "" : "\n");
                fflush(stderr);
                m.shown = 1;
                last_warm = now;
            }
        } else if (now - m.t_prev >= 1000000000ull) {
            mon_interval(&m, ws, nw, rc, now, 0);
        } else if (m.t_prev + 1000000000ull - now < wait) {
            wait = m.t_prev + 1000000000ull - now;
        }
        struct timespec ts = {0, (long)wait};
        nanosleep(&ts, NULL);
    }
    uint64_t now = now_ns();
    if (now > rc->t_measure) mon_interval(&m, ws, nw, rc, now, 1);
    if (m.show && m.shown && m.tty) fprintf(stderr, "\r\033[K");
    free(m.cur), free(m.prev), free(m.iv);
    return 0;
}

static int run_phase(run_ctx *rc, tstats *total, double *elapsed, char *err, size_t errlen)
{
    const bench_opts *o = rc->o;
    unsigned nw = o->threads;
    worker_t *ws = calloc(nw, sizeof(worker_t));
    int rv = -1;
    unsigned started = 0;
    if (!ws) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_barrier_init(&rc->ready, NULL, nw + 1);
    pthread_barrier_init(&rc->go, NULL, nw + 1);
    for (unsigned i = 0; i < nw; i++) {
        if (worker_init(&ws[i], rc, i)) {
            snprintf(err, errlen, "out of memory for %u connections", o->clients);
            goto out;
        }
    }
    for (; started < nw; started++)
        if (pthread_create(&ws[started].tid, NULL, worker_main, &ws[started])) {
            snprintf(err, errlen, "cannot start thread %u", started);
            /* the barriers would never open: this is fatal */
            fprintf(stderr, "mem-kv-bench: %s\n", err);
            exit(1);
        }
    pthread_barrier_wait(&rc->ready);
    rc->t_start = now_ns();
    rc->t_measure = rc->load ? rc->t_start : rc->t_start + (uint64_t)(o->warmup * 1e9);
    rc->t_end =
        (rc->load || o->requests) ? UINT64_MAX : rc->t_measure + (uint64_t)(o->duration * 1e9);
    if (!rc->load) {
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        rc->measure_unix = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9 + o->warmup;
        if (o->hlog_out && series_hlog_header(o->hlog_out, rc->measure_unix)) rc->hlog_failed = 1;
    }
    pthread_barrier_wait(&rc->go);

    unsigned connected = 0;
    for (unsigned i = 0; i < nw; i++) connected += ws[i].connected;
    int mon_ok = mon_run(rc, ws, nw) == 0;
    for (unsigned i = 0; i < nw; i++) pthread_join(ws[i].tid, NULL);
    if (!mon_ok) rc->ser_oom = 1;

    uint64_t last_reply = 0, last_send = 0;
    for (unsigned i = 0; i < nw; i++) {
        tstats *s = ws[i].st;
        for (int t = 0; t < REQ_NTYPES; t++) {
            total->count[t] += s->count[t];
            total->errors[t] += s->errors[t];
            total->hits[t] += s->hits[t];
            total->misses[t] += s->misses[t];
            total->keys[t] += s->keys[t];
            hist_merge(&total->hist[t], &s->hist[t]);
        }
        total->warmup += s->warmup;
        total->conn_errors += s->conn_errors;
        total->proto_errors += s->proto_errors;
        total->timeouts += s->timeouts;
        total->lost += s->lost;
        if (s->last_reply_ns > last_reply) last_reply = s->last_reply_ns;
        if (s->last_send_ns > last_send) last_send = s->last_send_ns;
        if (!total->first_error[0] && s->first_error[0])
            memcpy(total->first_error, s->first_error, sizeof(total->first_error));
    }
    if (connected == 0) {
        snprintf(err, errlen, "no server answers (%s)",
                 total->first_error[0] ? total->first_error : "no connection succeeded");
        goto out;
    }
    *elapsed = last_reply > rc->t_measure ? (double)(last_reply - rc->t_measure) / 1e9 : 0.0;
    if (!rc->load)
        rc->send_span_s =
            last_send > rc->t_measure ? (double)(last_send - rc->t_measure) / 1e9 : 0.0;
    /* a duration run is measured over its duration even if the last reply came early */
    if (!rc->load && !o->requests && *elapsed < o->duration && !run_interrupted)
        *elapsed = o->duration;
    rv = 0;
out:
    for (unsigned i = 0; i < nw; i++) worker_destroy(&ws[i]);
    pthread_barrier_destroy(&rc->ready);
    pthread_barrier_destroy(&rc->go);
    free(ws);
    return rv;
}

int run_bench(const bench_opts *o, run_result *res, char *err, size_t errlen)
{
    run_ctx rc;
    memset(&rc, 0, sizeof(rc));
    memset(res, 0, sizeof(*res));
    series_init(&res->ser);
    rc.o = o;
    rc.nconns = o->threads * o->clients;
    if (req_fmt_init(&rc.fmt, o->plain, o->key_prefix, o->keys, o->vmax, o->ttl)) {
        snprintf(err, errlen, "out of memory for values");
        return -1;
    }
    if (o->pattern == KEYGEN_ZIPF && keygen_zipf_init(&rc.zipf, o->keys, o->zipf_s)) {
        snprintf(err, errlen, "bad zipf parameters");
        req_fmt_destroy(&rc.fmt);
        return -1;
    }
    rc.max_req = req_max_len(&rc.fmt, o->mget_keys, o->fields);
    char port[16];
    snprintf(port, sizeof(port), "%d", o->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(o->host, port, &hints, &rc.addr);
    if (gai) {
        snprintf(err, errlen, "cannot resolve %s: %s", o->host, gai_strerror(gai));
        req_fmt_destroy(&rc.fmt);
        return -1;
    }
    tstats *load = calloc(1, sizeof(tstats)), *meas = calloc(1, sizeof(tstats));
    res->hist = calloc(REPORT_NCMDS, sizeof(hist_t));
    int rv = -1;
    if (!load || !meas || !res->hist) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (o->tls && !(rc.tls = tlsc_new(o, err, errlen))) goto out;
    for (int t = 0; t < REQ_NTYPES; t++) hist_init(&load->hist[t]), hist_init(&meas->hist[t]);
    report_run *r = &res->rep;
    if (o->load) {
        double el;
        rc.load = 1;
        rc.open_loop = 0;
        rc.pipeline = o->pipeline > 64 ? o->pipeline : 64;
        rc.max_req = req_max_len(&rc.fmt, o->mget_keys, o->fields);
        if (run_phase(&rc, load, &el, err, errlen)) goto out;
        r->load_requests = load->count[REQ_SET];
        r->load_s = el;
    }
    if (!run_interrupted) {
        double el;
        rc.load = 0;
        rc.open_loop = o->rate > 0;
        rc.pipeline = o->pipeline;
        rc.ser = &res->ser;
        if (run_phase(&rc, meas, &el, err, errlen)) goto out;
        r->elapsed_s = el;
    }
    /* load-phase failures count as errors of the run */
    meas->conn_errors += load->conn_errors;
    meas->proto_errors += load->proto_errors;
    for (int t = 0; t < REQ_NTYPES; t++) meas->errors[t] += load->errors[t];
    meas->lost += load->lost;
    meas->timeouts += load->timeouts;
    if (!meas->first_error[0] && load->first_error[0])
        snprintf(meas->first_error, sizeof(meas->first_error), "during --load: %.180s",
                 load->first_error);

    static const char *const names[REPORT_NCMDS] = {"SET", "GET", "MGET", "HSET", "HMGET", "ALL"};
    for (int c = 0; c < REPORT_NCMDS; c++) {
        hist_init(&res->hist[c]);
        r->cmds[c].name = names[c];
        r->cmds[c].hist = &res->hist[c];
    }
    for (int t = 0; t < REQ_NTYPES; t++) {
        report_cmd *rc2 = &r->cmds[t], *all = &r->cmds[REPORT_ALL];
        rc2->count = meas->count[t];
        rc2->errors = meas->errors[t];
        rc2->hits = meas->hits[t];
        rc2->misses = meas->misses[t];
        rc2->keys = t == REQ_SET || t == REQ_HSET ? 0 : meas->keys[t];
        hist_merge(&res->hist[t], &meas->hist[t]);
        hist_merge(&res->hist[REPORT_ALL], &meas->hist[t]);
        all->count += rc2->count;
        all->errors += rc2->errors;
        all->hits += rc2->hits;
        all->misses += rc2->misses;
        all->keys += rc2->keys;
    }
    r->host = o->host;
    r->port = o->port;
    r->protocol = o->plain ? "plain" : "resp";
    r->threads = o->threads;
    r->clients = o->clients;
    r->pipeline = o->pipeline;
    r->open_loop = o->rate > 0;
    r->rate = o->rate;
    r->keys = o->keys;
    r->pattern = keygen_pattern_name(o->pattern);
    r->zipf_s = o->zipf_s;
    r->vmin = o->vmin;
    r->vmax = o->vmax;
    r->ttl = o->ttl;
    memcpy(r->ratio, o->ratio, sizeof(r->ratio));
    r->mget_keys = o->mget_keys;
    r->fields = o->fields;
    r->seed = o->seed;
    r->warmup_s = o->warmup;
    r->duration_s = o->requests ? 0 : o->duration;
    r->requests_per_client = o->requests;
    r->warmup_requests = meas->warmup;
    r->conn_errors = meas->conn_errors;
    r->proto_errors = meas->proto_errors;
    r->timeouts = meas->timeouts;
    r->lost = meas->lost;
    r->interrupted = run_interrupted != 0;
    memcpy(r->first_error, meas->first_error, sizeof(r->first_error));
    r->started_unix = rc.measure_unix;
    /* the span the schedule asked for: --duration, or n requests per connection */
    double asked =
        o->requests ? (double)o->requests * rc.nconns / (o->rate > 0 ? o->rate : 1) : o->duration;
    r->send_span_s = rc.send_span_s > asked ? rc.send_span_s : asked;
    r->series = &res->ser;
    r->series_incomplete = rc.ser_oom;
    r->hlog_failed = rc.hlog_failed;
    rv = 0;
out:
    free(load);
    free(meas);
    freeaddrinfo(rc.addr);
    tlsc_free(rc.tls);
    req_fmt_destroy(&rc.fmt);
    if (rv) {
        free(res->hist);
        res->hist = NULL;
        series_destroy(&res->ser);
    }
    return rv;
}

void run_result_destroy(run_result *res)
{
    if (!res) return;
    free(res->hist);
    res->hist = NULL;
    series_destroy(&res->ser);
}
