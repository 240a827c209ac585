/* metrics.c - the Prometheus endpoint: a minimal HTTP/1.x server for
 * `GET /metrics` on --metrics-port, run by network thread 0's libev loop.
 *
 * One request per connection (the reply says `Connection: close`). Every
 * socket is non-blocking; a request may hold at most METRICS_MAX_REQ bytes
 * of head, a connection lives at most METRICS_TIMEOUT seconds, and at most
 * METRICS_MAX_CONNS are open at once, so a slow or hostile client costs a
 * few KB and never stalls the loop. GET (or HEAD) /metrics -> 200, other
 * paths -> 404, other methods -> 405, anything unparsable or too big -> 400.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/cpustat.h"
#include "net/net_internal.h"
#include "net/obs.h"

/* Set for this file by net/CMakeLists.txt (the commit at configure time). */
#ifndef MEMKV_GIT_SHA
#define MEMKV_GIT_SHA "unknown"
#endif
#ifndef MEMKV_BUILD_VERSION
#define MEMKV_BUILD_VERSION "unknown"
#endif

#define METRICS_MAX_REQ   4096
#define METRICS_MAX_CONNS 32
#define METRICS_TIMEOUT   5.0

typedef struct mconn {
    netthr *t;
    int fd;
    ev_io rw, ww;
    ev_timer timer;
    size_t inlen;
    int responding;
    kvbuf out;
    size_t off;
    struct mconn *prev, *next;
    char in[METRICS_MAX_REQ];
} mconn;

static void mconn_close(mconn *m)
{
    netthr *t = m->t;
    ev_io_stop(t->loop, &m->rw);
    ev_io_stop(t->loop, &m->ww);
    ev_timer_stop(t->loop, &m->timer);
    close(m->fd);
    if (m->prev)
        m->prev->next = m->next;
    else
        t->mconns = m->next;
    if (m->next) m->next->prev = m->prev;
    t->nmconns--;
    kvbuf_destroy(&m->out);
    free(m);
}

static void mconn_flush(mconn *m)
{
    while (m->off < m->out.len) {
        ssize_t n = write(m->fd, m->out.data + m->off, m->out.len - m->off);
        if (n > 0) {
            m->off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(m->t->loop, &m->ww);
            return;
        }
        break; /* broken: give up */
    }
    mconn_close(m);
}

static void mconn_respond(mconn *m, int code, const char *reason, const kvbuf *body, int head)
{
    static const char ctype_metrics[] = "text/plain; version=0.0.4; charset=utf-8";
    size_t len = body ? body->len : strlen(reason) + 1;
    kvbuf_printf(&m->out,
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n%s\r\n",
                 code, reason, body ? ctype_metrics : "text/plain; charset=utf-8", len,
                 code == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!head) {
        if (body)
            kvbuf_append(&m->out, body->data, body->len);
        else
            kvbuf_printf(&m->out, "%s\n", reason);
    }
    m->responding = 1;
    ev_io_stop(m->t->loop, &m->rw);
    shutdown(m->fd, SHUT_RD);
    mconn_flush(m);
}

/* ---- the families obs_prometheus leaves out -------------------------------- */

static void metric(kvbuf *b, const char *name, const char *type, const char *help, double v)
{
    kvbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

/* CPU seconds of the process and of each named thread. */
static void metrics_cpu(kvbuf *b)
{
    cpustat st;
    cpustat_read(&st);
    metric(b, "memkv_cpu_user_seconds_total", "counter", "CPU time in user mode, all threads.",
           st.user);
    metric(b, "memkv_cpu_system_seconds_total", "counter", "CPU time in the kernel, all threads.",
           st.sys);
    kvbuf_printf(b, "# HELP memkv_thread_cpu_seconds_total CPU time per thread (net-N: network "
                    "threads, actor-N: actors) and mode.\n"
                    "# TYPE memkv_thread_cpu_seconds_total counter\n");
    for (size_t i = 0; i < st.nthreads; i++) {
        const cpustat_thread *th = &st.thread[i];
        int named = strncmp(th->name, "net-", 4) == 0 || strncmp(th->name, "actor-", 6) == 0;
        const char *name = th->main ? "main" : named ? th->name : NULL;
        if (name == NULL) continue; /* helpers: in the process's figure only */
        kvbuf_printf(b,
                     "memkv_thread_cpu_seconds_total{thread=\"%s\",mode=\"user\"} %.2f\n"
                     "memkv_thread_cpu_seconds_total{thread=\"%s\",mode=\"system\"} %.2f\n",
                     name, th->user, name, th->sys);
    }
}

/* WAL figures that exist with persistence off too (0), so that alerts on
 * them never see an absent series. */
static void metrics_wal(kvbuf *b, server_t *s)
{
    persist_stats ps;
    memset(&ps, 0, sizeof ps);
    if (s->persist) persist_get_stats(s->persist, &ps);
    if (s->persist == NULL) { /* obs_prometheus has them otherwise */
        metric(b, "memkv_wal_failing_shards", "gauge",
               "Shards whose write-ahead log fails now: their writes get -MISCONF.", 0);
        metric(b, "memkv_wal_failures_total", "counter", "Failed WAL writes and fsyncs.", 0);
    }
    metric(b, "memkv_wal_broken_shards", "gauge",
           "Shards whose log segment is broken now (a failed write or fsync not yet repaired).",
           ps.broken_shards);
    metric(b, "memkv_wal_fsyncs_total", "counter", "fdatasync calls on WAL segments.",
           (double)ps.fsyncs);
    metric(b, "memkv_wal_fsync_seconds_total", "counter", "Time spent in WAL fdatasync calls.",
           (double)ps.fsync_us_total / 1e6);
    metric(b, "memkv_wal_enabled", "gauge", "1 if the write-ahead log is on (--persistence on).",
           s->persist != NULL);
}

/* Appends the families the operations guide and dashboards need beyond
 * obs_prometheus's: memory used and limit, CPU, build info, WAL failures,
 * time spent in active expiry and eviction. Network thread 0. */
static void metrics_more(kvbuf *b, server_t *s)
{
    metric(b, "memkv_memory_used_bytes", "gauge",
           "Bytes the allocator has handed out, all threads (INFO used_memory).",
           (double)kv_allocated_bytes());
    metric(b, "memkv_memory_max_bytes", "gauge", "The memory limit, --maxmemory (0: none).",
           (double)atomic_load(&s->limits.maxmemory));
    metrics_cpu(b);
    kvbuf_printf(b,
                 "# HELP memkv_build_info Version, git commit and allocator of this build (value "
                 "1).\n# TYPE memkv_build_info gauge\n"
                 "memkv_build_info{version=\"%s\",git_sha=\"%s\",allocator=\"%s\"} 1\n",
                 MEMKV_BUILD_VERSION, MEMKV_GIT_SHA, kv_allocator_name());
    metrics_wal(b, s);
    int64_t expire_us = 0;
    for (unsigned sh = 0; sh < (unsigned)s->cfg.shards; sh++) {
        int64_t f[CMD_INFO_NFIELDS];
        actor_pool_shard_figures(s->actors, sh, f);
        expire_us += f[CMD_INFO_EXPIRE_CYCLE_US];
    }
    metric(b, "memkv_expire_cycle_seconds_total", "counter",
           "Time the actors spent in active expiry cycles.", (double)expire_us / 1e6);
    hist_t *h = malloc(sizeof *h);
    if (h != NULL) {
        hist_init(h);
        actor_pool_evict_stats(s->actors, h);
        uint64_t n = hist_ld(&h->total);
        metric(b, "memkv_eviction_seconds_total", "counter",
               "Time spent evicting keys before writes and in ticks.",
               n ? hist_mean(h) * (double)n / 1e9 : 0.0);
        metric(b, "memkv_eviction_runs_total", "counter",
               "Eviction runs that evicted at least one key.", (double)n);
        free(h);
    }
}

static int tok_eq(const char *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* The SLOWLOG and LATENCY families (net/slowlog.h, net/latency.h). */
static void metrics_toolkit(kvbuf *b, server_t *s)
{
    slowlog_ring **rings = kv_xcalloc(s->nnet, sizeof *rings);
    for (unsigned i = 0; i < s->nnet; i++) rings[i] = &s->net[i].slow;
    int64_t len = slowlog_len(&s->slow, rings, s->nnet);
    free(rings);
    kvbuf_printf(b,
                 "# HELP memkv_slowlog_length Entries SLOWLOG GET -1 would show.\n"
                 "# TYPE memkv_slowlog_length gauge\n"
                 "memkv_slowlog_length %lld\n"
                 "# HELP memkv_slowlog_entries_total Commands logged by SLOWLOG since start "
                 "(its next id).\n"
                 "# TYPE memkv_slowlog_entries_total counter\n"
                 "memkv_slowlog_entries_total %llu\n",
                 (long long)len, (unsigned long long)atomic_load(&s->slow.next_id));
    latency_prometheus(&s->lat, b);
}

/* Answers the request whose head is m->in[0..inlen) (complete). */
static void mconn_handle(mconn *m)
{
    /* request line: METHOD SP TARGET SP HTTP/1.x */
    const char *p = m->in, *end = memchr(m->in, '\n', m->inlen);
    if (end == NULL) {
        mconn_respond(m, 400, "Bad Request", NULL, 0);
        return;
    }
    size_t linelen = (size_t)(end - p);
    if (linelen > 0 && p[linelen - 1] == '\r') linelen--;
    const char *sp1 = memchr(p, ' ', linelen);
    if (sp1 == NULL) {
        mconn_respond(m, 400, "Bad Request", NULL, 0);
        return;
    }
    const char *tgt = sp1 + 1;
    const char *sp2 = memchr(tgt, ' ', linelen - (size_t)(tgt - p));
    if (sp2 == NULL || sp2 == tgt) {
        mconn_respond(m, 400, "Bad Request", NULL, 0);
        return;
    }
    const char *ver = sp2 + 1;
    size_t verlen = linelen - (size_t)(ver - p);
    if (!(tok_eq(ver, verlen, "HTTP/1.1") || tok_eq(ver, verlen, "HTTP/1.0"))) {
        mconn_respond(m, 400, "Bad Request", NULL, 0);
        return;
    }
    size_t mlen = (size_t)(sp1 - p);
    int head = tok_eq(p, mlen, "HEAD");
    for (size_t i = 0; i < mlen; i++)
        if (p[i] < 'A' || p[i] > 'Z') {
            mconn_respond(m, 400, "Bad Request", NULL, 0);
            return;
        }
    if (!head && !tok_eq(p, mlen, "GET")) {
        mconn_respond(m, 405, "Method Not Allowed", NULL, 0);
        return;
    }
    size_t tlen = (size_t)(sp2 - tgt);
    const char *q = memchr(tgt, '?', tlen);
    if (q) tlen = (size_t)(q - tgt); /* ignore a query string */
    if (!tok_eq(tgt, tlen, "/metrics")) {
        mconn_respond(m, 404, "Not Found", NULL, head);
        return;
    }
    kvbuf body;
    kvbuf_init(&body);
    obs_prometheus(&body, m->t->srv);
    metrics_more(&body, m->t->srv);
    metrics_toolkit(&body, m->t->srv);
    mconn_respond(m, 200, "OK", &body, head);
    kvbuf_destroy(&body);
}

/* The end of the request head (blank line), or NULL. */
static const char *head_end(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '\n' &&
            (p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')))
            return p + i;
    return NULL;
}

static void mconn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    mconn *m = w->data;
    (void)loop;
    (void)revents;
    for (;;) {
        if (m->inlen == sizeof m->in) {
            mconn_respond(m, 400, "Bad Request", NULL, 0);
            return;
        }
        ssize_t n = read(m->fd, m->in + m->inlen, sizeof m->in - m->inlen);
        if (n > 0) {
            size_t from = m->inlen > 2 ? m->inlen - 2 : 0;
            m->inlen += (size_t)n;
            for (size_t i = from; i < m->inlen; i++)
                if (m->in[i] == '\0') {
                    mconn_respond(m, 400, "Bad Request", NULL, 0);
                    return;
                }
            if (head_end(m->in, m->inlen)) {
                mconn_handle(m);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        /* EOF or error before a complete head */
        if (n == 0 && m->inlen > 0) {
            mconn_respond(m, 400, "Bad Request", NULL, 0);
            return;
        }
        {
            mconn_close(m);
            return;
        }
    }
}

static void mconn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    mconn *m = w->data;
    (void)revents;
    ev_io_stop(loop, w);
    mconn_flush(m);
}

static void mconn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    mconn_close(w->data);
}

static void metrics_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    netthr *t = w->data;
    (void)revents;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (t->nmconns >= METRICS_MAX_CONNS) {
            close(fd);
            continue;
        }
        mconn *m = calloc(1, sizeof *m);
        if (m == NULL) {
            close(fd);
            continue;
        }
        m->t = t;
        m->fd = fd;
        kvbuf_init(&m->out);
        ev_io_init(&m->rw, mconn_read_cb, fd, EV_READ);
        ev_io_init(&m->ww, mconn_write_cb, fd, EV_WRITE);
        ev_timer_init(&m->timer, mconn_timeout_cb, METRICS_TIMEOUT, 0.);
        m->rw.data = m->ww.data = m->timer.data = m;
        m->next = t->mconns;
        if (t->mconns) t->mconns->prev = m;
        t->mconns = m;
        t->nmconns++;
        ev_io_start(loop, &m->rw);
        ev_timer_start(loop, &m->timer);
    }
}

void metrics_thread_init(netthr *t)
{
    const net_listeners *l = &t->srv->metrics_listen;
    for (unsigned i = 0; i < l->n; i++) {
        ev_io_init(&t->metrics_w[i], metrics_accept_cb, l->fd[i], EV_READ);
        t->metrics_w[i].data = t;
        ev_io_start(t->loop, &t->metrics_w[i]);
    }
}

void metrics_thread_stop(netthr *t)
{
    for (unsigned i = 0; i < NET_MAX_LISTEN; i++)
        if (ev_is_active(&t->metrics_w[i])) ev_io_stop(t->loop, &t->metrics_w[i]);
    while (t->mconns) mconn_close(t->mconns);
}
