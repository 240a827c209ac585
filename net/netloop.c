/* netloop.c - network threads: accept, read, parse, publish batches,
 * collect completions, write replies in request order.
 *
 * Each network thread runs one libev loop and owns its connections for
 * their whole life. Per loop iteration it publishes at most one batch per
 * actor (in the prepare watcher, after every read of the iteration) and
 * writes each connection's ready replies once.
 */
#include <arpa/inet.h>
#include <ck_pr.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine/entry.h"
#include "net/blocking.h"
#include "net/multi.h"
#include "net/net_internal.h"
#include "engine/reply.h"
#include "net/route.h"
#include "net/tls.h"
#include "net/uring.h"

#define READ_CHUNK (16 * 1024)
/* The reads of a connection that sends big bulks (conn->read_big) into
 * its input buffer: a 16 KB value with its command's header and the next
 * command's start in one read, where READ_CHUNK took two (conn_read_more). */
#define READ_BIG_CHUNK (32 * 1024 + 512)
/* A big bulk copied out of the input buffer (its bytes came in the same
 * read as its header) with at least this many bytes turns read_big on. */
#define READ_BIG_COPIED (4 * 1024)
/* Reads at once after one that filled all it asked for (conn_read_more):
 * at most this many in a row, then the loop's turn. */
#define READ_MORE_MAX 8

static void conn_process_input(netthr *t, conn *c);
static void conn_queue_seg(conn *c, kvbuf *reply);
static void conn_queue_pinned(conn *c, kv_slot *sl);
static void conn_free_segs(conn *c);
static void net_recv_flush(netthr *t);

/* write(2) of a connection, through TLS on the TLS port. */
static ssize_t conn_io_write(conn *c, const void *buf, size_t len)
{
    return c->tls ? tls_write(c, buf, len) : write(c->fd, buf, len);
}

/* ---- connection lifecycle -------------------------------------------- */

static void conn_free(netthr *t, conn *c)
{
    kv_slot *sl = c->head;
    while (sl) {
        kv_slot *n = sl->next;
        slot_free(sl);
        sl = n;
    }
    multi_conn_free(c);
    pubsub_conn_close(c);
    parse_destroy(&c->ps);
    kvbuf_destroy(&c->in);
    kvbuf_destroy(&c->out);
    conn_free_segs(c);
    free(c);
}

static void conn_set_reading(netthr *t, conn *c, int on)
{
    if (c->closed || on == c->reading) return;
    if (on) {
        ev_io_start(t->loop, &c->rw);
        tls_conn_resume(c);
    } else
        ev_io_stop(t->loop, &c->rw);
    c->reading = (uint8_t)on;
}

/* Whether t's connections must wait before parsing more: out of credit
 * towards an actor, or too many argument bytes in flight. Network thread t. */
static int net_stalled(const netthr *t)
{
    return t->paused ||
           atomic_load_explicit(&t->inflight_bytes, memory_order_relaxed) >= NET_INFLIGHT_MAX_BYTES;
}

/* Whether c may parse more commands now. */
static int conn_can_parse(const netthr *t, const conn *c)
{
    if (t->busy && c->head != NULL) return 0; /* busy: only replies wait; see net_busy_dispatch */
    return !c->closing && !c->held && c->blocker == NULL && c->nslots < CONN_MAX_SLOTS &&
           !net_stalled(t) && conn_out_pending(c) < CONN_MAX_OUT;
}

/* ---- output ----------------------------------------------------------- */

/* Moves the ready replies at the head of the FIFO into c->out, and
 * records each command's latency (they are handed to write() next).
 * Commands parsed in one pass share t_parse and those collected here share
 * now: a run of the same command with the same latency (a pipeline of
 * GETs) is recorded once with its count. */
static void conn_collect_replies(conn *c)
{
    kv_slot *sl;
    uint64_t now = 0, run_ns = 0, run_n = 0;
    const cmd_def *run_def = NULL;
    while ((sl = c->head) != NULL && sl->ready) {
        if (climit_output_full(c)) {
            c->obl_over = 1; /* client-output-buffer-limit: close, send no more */
            break;
        }
        int failed = sl->reply.len > 0 && sl->reply.data[0] == '-';
        if (sl->def) {
            if (now == 0) now = hist_clock_ns();
            uint64_t ns = now - sl->t_parse;
            if (failed) {
                obs_record(&c->t->obs, sl->def, ns, failed);
            } else if (sl->def == run_def && ns == run_ns) {
                run_n++;
            } else {
                if (run_n) obs_record_n(&c->t->obs, run_def, run_ns, run_n);
                run_def = sl->def;
                run_ns = ns;
                run_n = 1;
            }
            if (now - sl->t_parse >=
                    atomic_load_explicit(&c->t->srv->watch_ns, memory_order_relaxed) &&
                sl->def->route != ROUTE_BLOCK) /* time spent blocked is not work */
                local_slow(c, sl, now - sl->t_parse);
        }
        if (failed) obs_error(&c->t->obs, sl->reply.data, sl->reply.len);
        if (sl->mute)
            ; /* CLIENT REPLY OFF/SKIP */
        else if (sl->pin.e != NULL || sl->pins.n > 0)
            conn_queue_pinned(c, sl);
        else if (sl->proto == PARSE_PLAIN)
            plain_from_resp(sl->def, sl->reply.data, sl->reply.len, &c->out);
        else if (sl->reply.len >= CONN_OUT_SEG_MIN)
            conn_queue_seg(c, &sl->reply);
        else
            kvbuf_append(&c->out, sl->reply.data, sl->reply.len);
        if (sl->close_after) c->closing = c->close_ready = 1;
        c->head = sl->next;
        if (c->head == NULL) c->tail = NULL;
        c->nslots--;
        slot_free(sl);
        if (c->close_ready) break;
    }
    if (run_n) obs_record_n(&c->t->obs, run_def, run_ns, run_n);
    if (c->mon && c->head == NULL) monitor_take(&c->t->srv->mon, c);
    if (c->pubsub && c->head == NULL) pubsub_take(c);
}

/* Links g at the end of c's big replies, after out's bytes so far. */
static void conn_link_seg(conn *c, conn_outseg *g)
{
    g->next = NULL;
    g->mark = c->out.len;
    g->off = 0;
    if (c->seg_tail)
        c->seg_tail->next = g;
    else
        c->seg_head = g;
    c->seg_tail = g;
    c->seg_bytes += g->buf.len;
}

/* Queues a big reply as it is: takes reply's buffer (leaving it empty). */
static void conn_queue_seg(conn *c, kvbuf *reply)
{
    conn_outseg *g = kv_xmalloc(sizeof *g);
    g->buf = *reply;
    g->pin = NULL;
    kvbuf_init(reply);
    conn_link_seg(c, g);
}

/* The output buffer a connection keeps between bursts: a pipeline of a
 * few 16-24 KB GET copies, or of hundreds of small replies. */
#define CONN_OUT_KEEP (64u << 10)

/* Pinned values up to this size are copied into conn.out (and unpinned at
 * once) rather than sent from the stored bytes: measured on the 2-CPU VM
 * (docs/benchmarks.md, issue 20), a GET of 16 KB costs less CPU that way,
 * as the kernel copies from a buffer it touched a moment ago instead of
 * four pages of a 64 MB data set; from 32 KB up, sending the stored bytes
 * costs less. */
#define CONN_PIN_COPY_MAX (24u << 10)
/* ... as long as conn.out stays within this: a deep pipeline of such GETs
 * goes on as segments rather than growing out past the size a drained
 * buffer keeps (CONN_OUT_KEEP). */
#define CONN_PIN_COPY_OUT CONN_OUT_KEEP

/* Queues the value of pin (at offset pin->at of its reply) as a segment
 * that holds the reference (taken: pin is cleared), or a copy of a small
 * one (CONN_PIN_COPY_MAX). */
static void conn_queue_pin(conn *c, kv_pin *pin)
{
    if (pin->len <= CONN_PIN_COPY_MAX && c->out.len + pin->len <= CONN_PIN_COPY_OUT) {
        kvbuf_append(&c->out, pin->p, pin->len);
        entry_unpin(pin->e);
        *pin = (kv_pin){0};
        return;
    }
    conn_outseg *g = kv_xmalloc(sizeof *g);
    g->buf = (kvbuf){.data = (char *)(uintptr_t)pin->p, .len = pin->len, .cap = pin->len};
    g->pin = pin->e;
    conn_link_seg(c, g);
    *pin = (kv_pin){0};
}

/* Queues a reply that refers to pinned values (a GET's kv_pin, or MGET's
 * kv_pins in order): its bytes before each value into out, the value as a
 * segment, ..., then the rest of the reply. */
static void conn_queue_pinned(conn *c, kv_slot *sl)
{
    size_t from = 0;
    if (sl->pin.e != NULL) {
        kvbuf_append(&c->out, sl->reply.data, sl->pin.at);
        from = sl->pin.at;
        conn_queue_pin(c, &sl->pin);
    }
    for (unsigned i = 0; i < sl->pins.n; i++) {
        kv_pin *pin = &sl->pins.v[i];
        kvbuf_append(&c->out, sl->reply.data + from, pin->at - from);
        from = pin->at;
        conn_queue_pin(c, pin);
    }
    sl->pins.n = 0; /* taken: the array goes with the slot */
    kvbuf_append(&c->out, sl->reply.data + from, sl->reply.len - from);
}

/* Frees a segment sent or dropped: its buffer, or its reference. */
static void conn_seg_free(conn_outseg *g)
{
    if (g->pin != NULL)
        entry_unpin(g->pin);
    else
        kvbuf_destroy(&g->buf);
    free(g);
}

static void conn_free_segs(conn *c)
{
    conn_outseg *g;
    while ((g = c->seg_head) != NULL) {
        c->seg_head = g->next;
        conn_seg_free(g);
    }
    c->seg_tail = NULL;
    c->seg_bytes = 0;
}

#define CONN_IOV_MAX 32

/* Fills iov with c's unsent bytes in order (out's bytes up to each big
 * reply's mark, the reply, ..., the rest of out); returns the count. */
static int conn_out_iov(const conn *c, struct iovec *iov)
{
    int n = 0;
    size_t pos = c->out_off;
    const conn_outseg *g = c->seg_head;
    for (; g && n < CONN_IOV_MAX - 2; g = g->next) {
        if (g->mark > pos) {
            iov[n++] = (struct iovec){c->out.data + pos, g->mark - pos};
            pos = g->mark;
        }
        iov[n++] = (struct iovec){g->buf.data + g->off, g->buf.len - g->off};
    }
    if (g == NULL && c->out.len > pos)
        iov[n++] = (struct iovec){c->out.data + pos, c->out.len - pos};
    return n;
}

/* n bytes of conn_out_iov's were sent: advances out_off and frees the big
 * replies sent in full. */
static void conn_out_sent(conn *c, size_t n)
{
    conn_outseg *g;
    while (n > 0) {
        g = c->seg_head;
        if (g == NULL || c->out_off < g->mark) {
            size_t end = g ? g->mark : c->out.len;
            size_t k = end - c->out_off < n ? end - c->out_off : n;
            c->out_off += k;
            n -= k;
            continue;
        }
        size_t k = g->buf.len - g->off < n ? g->buf.len - g->off : n;
        g->off += k;
        c->seg_bytes -= k;
        n -= k;
        if (g->off == g->buf.len) {
            c->seg_head = g->next;
            if (c->seg_head == NULL) c->seg_tail = NULL;
            conn_seg_free(g);
        }
    }
}

/* Sends the next bytes; writev(2) on plain TCP, the first piece on TLS. */
static ssize_t conn_out_write(conn *c)
{
    struct iovec iov[CONN_IOV_MAX];
    int n = conn_out_iov(c, iov);
    if (c->tls || n == 1) return conn_io_write(c, iov[0].iov_base, iov[0].iov_len);
    return writev(c->fd, iov, n);
}

/* All of c's output was sent: the buffer is reset (freed if it is bigger
 * than CONN_OUT_KEEP: an idle connection does not hold a burst's worth of
 * memory), EPOLLOUT unwatched. */
static void conn_out_drained(netthr *t, conn *c)
{
    c->out.len = c->out_off = 0;
    if (c->out.cap > CONN_OUT_KEEP) kvbuf_destroy(&c->out);
    if (ev_is_active(&c->ww)) ev_io_stop(t->loop, &c->ww);
}

/* Writes what it can; returns -1 if the connection broke. With io_uring
 * (plain TCP) the output waits on t->sendq for net_send_flush, the end of
 * the loop iteration's service. */
static int conn_write(netthr *t, conn *c)
{
    if (t->ur != NULL && c->tls == NULL) {
        if (conn_out_pending(c) > 0 && !c->sendq) {
            c->sendq = 1;
            c->next_send = t->sendq;
            t->sendq = c;
        }
        return 0;
    }
    while (conn_out_pending(c) > 0) {
        ssize_t n = conn_out_write(c);
        if (n > 0) {
            conn_out_sent(c, (size_t)n);
            c->last_ms = (int64_t)(ev_now(t->loop) * 1000.0);
            obs_count(&t->stats.net_out, (uint64_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!ev_is_active(&c->ww)) ev_io_start(t->loop, &c->ww);
            return 0;
        }
        return -1;
    }
    conn_out_drained(t, c);
    return 0;
}

/* One send's completion (net_uring_submit): as conn_write's loop does
 * with write(2)'s result. What a short send left goes in the next round
 * (which finds EAGAIN if the socket is full: then EPOLLOUT is awaited, as
 * on the epoll path). A connection that may have to close or resume
 * parsing now that its output is out is serviced again. Network thread t,
 * inside net_send_flush. */
static void conn_send_done(void *arg, void *ud, int res)
{
    netthr *t = arg;
    conn *c = ud;
    if (c->closed) return;
    if (res > 0) {
        conn_out_sent(c, (size_t)res);
        c->last_ms = (int64_t)(ev_now(t->loop) * 1000.0);
        obs_count(&t->stats.net_out, (uint64_t)res);
        if (conn_out_pending(c) == 0) {
            conn_out_drained(t, c);
            if (c->close_ready || c->eof || c->obl_over || !c->reading) conn_mark_dirty(t, c);
            return;
        }
    }
    if (res > 0 || res == -EINTR) {
        /* the rest, in net_send_flush's next round: as conn_write's loop,
         * without servicing (parsing) the connection again meanwhile */
        if (!c->sendq) {
            c->sendq = 1;
            c->next_send = t->sendq;
            t->sendq = c;
        }
        return;
    }
    if (res == -EAGAIN || res == -EWOULDBLOCK) {
        if (!ev_is_active(&c->ww)) ev_io_start(t->loop, &c->ww);
        return;
    }
    conn_close(t, c); /* the peer is gone (or 0 bytes taken: as write(2) returning 0) */
}

/* Sends the output of every connection on t->sendq, one io_uring_enter
 * per 256 connections, and handles the results. Returns whether some
 * connection was marked dirty (net_service goes round again). Network
 * thread t. */
static int net_send_flush(netthr *t)
{
    int again = 0;
    while (t->sendq != NULL) {
        unsigned room = net_uring_room(t->ur);
        conn *c;
        while (room > 0 && (c = t->sendq) != NULL) {
            t->sendq = c->next_send;
            c->sendq = 0;
            if (c->closed) { /* conn_service frees it now that it is off the list */
                conn_mark_dirty(t, c);
                again = 1;
                continue;
            }
            struct iovec iov[CONN_IOV_MAX];
            int n = conn_out_iov(c, iov);
            if (n == 0) continue;
            net_uring_send(t->ur, c->fd, iov, n, c);
            room--;
        }
        net_uring_submit(t->ur, conn_send_done, t);
        if (t->dirty != NULL) again = 1;
    }
    return again;
}

/* Writes replies, closes when done, resumes parsing when allowed. */
static void conn_service(netthr *t, conn *c)
{
    if (c->closed) {
        /* drop replies nobody will read; free once no part is in flight */
        kv_slot *sl;
        while ((sl = c->head) != NULL && sl->ready) {
            c->head = sl->next;
            if (c->head == NULL) c->tail = NULL;
            c->nslots--;
            slot_free(sl);
        }
        if (c->nslots == 0 && !c->sendq && !c->recvq) conn_free(t, c);
        return;
    }
    if (climit_output_check(t, c)) return; /* an actor refused its reads: close now */
    conn_collect_replies(c);
    if (conn_write(t, c) != 0) {
        conn_close(t, c);
        return;
    }
    if (climit_output_check(t, c)) return;
    if (conn_can_parse(t, c))
        conn_process_input(t, c);
    else if (net_stalled(t) && !c->closing)
        c->stalled = t->stalls = 1; /* resumed with the others (net_resume_stalled) */
    int drained = conn_out_pending(c) == 0;
    /* After QUIT or a protocol error, once its reply is out; after the
     * peer's EOF, once everything it sent has been answered. */
    if (drained && (c->close_ready || (c->eof && c->nslots == 0 && !t->paused && !c->held)))
        conn_close(t, c);
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    conn *c = w->data;
    netthr *t = c->t;
    (void)loop;
    (void)revents;
    conn_service(t, c);
}

/* ---- input ------------------------------------------------------------ */

/* ---- CLIENT PAUSE ------------------------------------------------------ */

void server_pause(server_t *s, int64_t until_ms, int writes)
{
    atomic_store(&s->pause_writes, writes);
    atomic_store(&s->pause_until_ms, until_ms);
    for (unsigned i = 0; i < s->nnet; i++) ev_async_send(s->net[i].loop, &s->net[i].wake_w);
}

/* Milliseconds the pause still lasts, 0 if none. Any thread. */
static int64_t pause_left(server_t *s)
{
    int64_t until = atomic_load_explicit(&s->pause_until_ms, memory_order_relaxed);
    if (until == 0) return 0;
    int64_t left = until - kv_time_ms();
    return left > 0 ? left : 0;
}

/* Whether the command just parsed on c (r bytes) must wait for the pause
 * to end: then it stays unparsed in c's input and c is held. A command
 * with big arguments read into buffers of their own cannot be put back:
 * it runs (docs/observability.md). */
static int conn_pause_hold(netthr *t, conn *c)
{
    server_t *s = t->srv;
    int64_t left = pause_left(s);
    if (left == 0) return 0;
    const cmd_def *d = cmdtab_lookup(c->ps.argv[0].p, c->ps.argv[0].len);
    if (d == NULL) return 0; /* unknown: its error, at once */
    if (atomic_load_explicit(&s->pause_writes, memory_order_relaxed) &&
        !((d->flags & CMD_WRITE) || d->route == ROUTE_SCRIPT))
        return 0;
    if (parse_nbig(&c->ps) > 0) return 0;
    c->held = 1;
    t->nheld++;
    if (!ev_is_active(&t->pause_w)) {
        ev_timer_set(&t->pause_w, (double)left / 1000.0 + 0.001, 0.);
        ev_timer_start(t->loop, &t->pause_w);
    }
    return 1;
}

/* The pause ended (or was lifted): held connections parse again. */
static void net_pause_check(netthr *t)
{
    if (t->nheld == 0) return;
    int64_t left = pause_left(t->srv);
    if (left > 0) {
        ev_timer_stop(t->loop, &t->pause_w);
        ev_timer_set(&t->pause_w, (double)left / 1000.0 + 0.001, 0.);
        ev_timer_start(t->loop, &t->pause_w);
        return;
    }
    ev_timer_stop(t->loop, &t->pause_w);
    t->nheld = 0;
    for (conn *c = t->conns; c; c = c->next)
        if (c->held) {
            c->held = 0;
            conn_mark_dirty(t, c); /* conn_service parses its input */
        }
}

static void pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    net_pause_check(w->data);
}

#define NET_BUSY_ERR                                                                               \
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."

static int argv_is(const kv_str *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

/* Busy mode: SCRIPT KILL and SHUTDOWN NOSAVE run as usual, anything else is
 * answered BUSY (and fails a transaction being queued), as Redis does during
 * a script. Network thread t. */
static void net_busy_dispatch(netthr *t, conn *c)
{
    int argc = c->ps.argc;
    const kv_str *argv = c->ps.argv;
    if (argc == 2 && ((argv_is(&argv[0], "script") && argv_is(&argv[1], "kill")) ||
                      (argv_is(&argv[0], "shutdown") && argv_is(&argv[1], "nosave")))) {
        route_dispatch(t, c);
        return;
    }
    route_error_slot(c, NET_BUSY_ERR);
    multi_flag_error(c);
    conn_mark_dirty(t, c);
}

static void conn_process_input(netthr *t, conn *c)
{
    uint64_t now = 0; /* commands parsed in one pass share a timestamp */
    while (conn_can_parse(t, c) && c->in_off < c->in.len) {
        long r = parse_next(&c->ps, c->in.data + c->in_off, c->in.len - c->in_off);
        if (r == PARSE_AGAIN) break;
        if (r > 0 && c->ps.argc > 0 &&
            atomic_load_explicit(&t->srv->pause_until_ms, memory_order_relaxed) &&
            conn_pause_hold(t, c))
            break; /* in_off not advanced: parsed again once the pause ends */
        if (r == PARSE_BAD) {
            kv_slot *sl = route_error_slot(c, c->ps.err);
            sl->close_after = 1;
            c->closing = 1;
            conn_mark_dirty(t, c);
            break;
        }
        c->in_off += (size_t)r;
        if (c->ps.argc == 0) continue;
        obs_count(&t->stats.commands, 1);
        if (now == 0) now = hist_clock_ns();
        if (t->busy)
            net_busy_dispatch(t, c);
        else if (c->pubsub && pubsub_refuse(t, c))
            ; /* subscribed: only (P|S)(UN)SUBSCRIBE, PING, QUIT */
        else
            route_dispatch(t, c);
        c->tail->t_parse = now; /* every dispatch queues exactly one slot */
        /* after the dispatch, as Redis feeds monitors after the call: a
         * SELECT shows its new database */
        if (monitor_active(&t->srv->mon))
            monitor_feed(&t->srv->mon, c, c->tail->argc, c->tail->argv);
        c->tail->mute = c->reply_off || c->reply_skip;
        if (c->reply_skip) c->reply_skip--;
    }
    /* Keep only unparsed bytes; the parser's state is relative to in_off. */
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
        if (c->in.cap > (1u << 20)) kvbuf_destroy(&c->in);
    } else if (c->in_off > 0 && (c->in_off >= c->in.len / 2 || c->in_off > (1u << 20))) {
        kvbuf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    if (net_stalled(t) && !c->closing) c->stalled = t->stalls = 1;
    /* a blocked client is still read (buffered, not run): its close is seen */
    conn_set_reading(t, c, (conn_can_parse(t, c) || block_waiting(c)) && !c->eof);
}

/* Where c's next read goes: c's input buffer or, inside a big bulk,
 * straight into the argument's own buffer (parse_direct; on plain TCP with
 * the input buffer as a second piece that takes what follows). Fills iov
 * (1 or 2 pieces) and *room (the direct piece's size, 0 if none); the
 * pointers stay valid until c's input or parser changes. Without a direct
 * piece, the input piece is READ_BIG_CHUNK bytes while c->read_big
 * (conn_read_more). Sets c->read_want and c->read_direct. */
static int conn_read_iov(conn *c, struct iovec *iov, size_t *room)
{
    *room = 0;
    char *direct = parse_direct(&c->ps, c->in.len - c->in_off, room);
    size_t chunk = direct == NULL && c->read_big ? READ_BIG_CHUNK : READ_CHUNK;
    char *p = kvbuf_reserve(&c->in, chunk);
    if (direct == NULL) {
        *room = 0;
        iov[0] = (struct iovec){p, chunk};
        c->read_want = chunk;
        c->read_direct = 0;
        return 1;
    }
    iov[0] = (struct iovec){direct, *room};
    iov[1] = (struct iovec){p, chunk};
    c->read_want = *room + chunk;
    c->read_direct = 1;
    return 2;
}

/* n bytes were read into conn_read_iov's pieces (room: its *room). */
static void conn_read_got(conn *c, size_t n, size_t room)
{
    size_t d = n < room ? n : room;
    if (room > 0) parse_direct_done(&c->ps, d);
    c->in.len += n - d;
}

/* Reads into c's input (conn_read_iov): read(2)'s result. */
static ssize_t conn_read(conn *c)
{
    struct iovec iov[2];
    size_t room;
    int n = conn_read_iov(c, iov, &room);
    ssize_t r;
    if (c->tls)
        r = tls_read(c, iov[0].iov_base, iov[0].iov_len); /* one piece at a time */
    else if (n == 1)
        r = read(c->fd, iov[0].iov_base, iov[0].iov_len);
    else
        r = readv(c->fd, iov, n);
    if (r > 0) conn_read_got(c, (size_t)r, room);
    return r;
}

/* After a read of n bytes has been parsed: updates c->read_big and says
 * whether to read again at once (plain TCP) rather than in a later loop
 * iteration. A big bulk of at least READ_BIG_COPIED bytes that came in the
 * same read as its header was copied out of the input buffer: from then on
 * c's reads without a direct piece ask for READ_BIG_CHUNK bytes, so that a
 * 16 KB value and its header come in one read, not two; such a read that
 * finds no big bulk turns that off. A read that filled all it asked for is
 * followed at once by another if the parser waits inside a big bulk: the
 * rest is most likely in the socket already. (Reading only up to a big
 * bulk's header, so that all its bytes land in their own buffer, was
 * measured too: a read more per value, and the copy's cost moved into the
 * kernel's copy, which then wrote the cold buffer; no gain.) Network
 * thread. */
static int conn_read_more(conn *c, size_t n)
{
    size_t copied = parse_big_copied(&c->ps);
    if (copied >= READ_BIG_COPIED)
        c->read_big = 1;
    else if (c->read_big && !c->read_direct && copied == 0 && parse_big_bytes(&c->ps) == 0)
        c->read_big = 0;
    if (c->closed || c->tls || c->eof || !c->reading || n < c->read_want) return 0;
    size_t room;
    return parse_direct(&c->ps, c->in.len - c->in_off, &room) != NULL;
}

/* What a read returned (n bytes, or 0 at EOF, or -1 with err) does to c:
 * its input is parsed (and more read at once: conn_read_more), EOF
 * half-closes, an error closes. */
static void conn_read_result(netthr *t, conn *c, ssize_t n, int err)
{
    for (int k = 0; n > 0; k++) {
        obs_count(&t->stats.net_in, (uint64_t)n);
        conn_process_input(t, c);
        climit_input_over(t, c);
        if (!conn_read_more(c, (size_t)n) || k == READ_MORE_MAX) return;
        n = conn_read(c);
        err = n < 0 ? errno : 0;
    }
    if (n == 0 && block_waiting(c)) { /* as Redis: a blocked client that leaves is gone */
        conn_close(t, c);
        return;
    }
    if (n == 0) {
        /* Half-close (nc -N, nc -q): answer what was asked, then close. */
        c->eof = 1;
        conn_set_reading(t, c, 0);
        conn_mark_dirty(t, c);
        return;
    }
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
    conn_close(t, c);
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    conn *c = w->data;
    netthr *t = c->t;
    (void)loop;
    (void)revents;
    if (t->ur != NULL && c->tls == NULL) {
        /* io_uring: read with the others at the end of the iteration */
        if (!c->recvq) {
            c->recvq = 1;
            c->next_recv = t->recvq;
            t->recvq = c;
        }
        return;
    }
    ssize_t n = conn_read(c);
    conn_read_result(t, c, n, n < 0 ? errno : 0);
}

/* One read's completion (net_uring_submit). */
static void conn_recv_done(void *arg, void *ud, int res)
{
    netthr *t = arg;
    conn *c = ud;
    if (c->closed) return;
    if (res > 0) conn_read_got(c, (size_t)res, c->recv_room);
    conn_read_result(t, c, res < 0 ? -1 : res, res < 0 ? -res : 0);
}

/* Reads every connection on t->recvq (EPOLLIN seen this iteration) with
 * one io_uring_enter per 256 of them, then parses what came. Network
 * thread t. */
static void net_recv_flush(netthr *t)
{
    while (t->recvq != NULL) {
        unsigned room = net_uring_room(t->ur);
        conn *c;
        while (room > 0 && (c = t->recvq) != NULL) {
            t->recvq = c->next_recv;
            c->recvq = 0;
            if (c->closed) { /* conn_service frees it now that it is off the list */
                conn_mark_dirty(t, c);
                continue;
            }
            struct iovec iov[2];
            int n = conn_read_iov(c, iov, &c->recv_room);
            net_uring_read(t->ur, c->fd, iov, n, c);
            room--;
        }
        net_uring_submit(t->ur, conn_recv_done, t);
    }
}

/* ---- accept ----------------------------------------------------------- */

/* "host:port" of fd's peer, or of its local end if local. */
static void peer_name(int fd, int local, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &sl)
                   : getpeername(fd, (struct sockaddr *)&ss, &sl);
    if (rc == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(buf, len, "%s:%d", host, port);
}

/* Whether w is one of t's TLS listeners. */
static int accept_is_tls(const netthr *t, const ev_io *w)
{
    return w >= t->tls_accept_w && w < t->tls_accept_w + NET_MAX_LISTEN;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    netthr *t = w->data;
    server_t *s = t->srv;
    int tls = accept_is_tls(t, w);
    (void)revents;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN: another thread took it, or none left */
        if (atomic_load(&s->clients) >= s->cfg.maxclients) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            /* TLS port: no handshake yet, so no way to say it; just close (as Redis) */
            ssize_t ignored = tls ? 0 : write(fd, msg, sizeof msg - 1);
            (void)ignored;
            close(fd);
            atomic_fetch_add_explicit(&t->stats.rejected, 1, memory_order_relaxed);
            continue;
        }
        if (climit_refuse(t, fd, tls)) { /* protected mode */
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = kv_xcalloc(1, sizeof *c);
        c->t = t;
        c->fd = fd;
        c->id = atomic_fetch_add(&s->next_client_id, 1) + 1;
        c->created_ms = kv_time_ms();
        peer_name(fd, 0, c->addr, sizeof c->addr);
        peer_name(fd, 1, c->laddr, sizeof c->laddr);
        if (tls && tls_conn_attach(s->tls, c) != 0) {
            close(fd);
            conn_free(t, c);
            continue;
        }
        climit_conn_init(t, c); /* parser, keepalive, auth state, output budget */
        ev_io_init(&c->rw, conn_read_cb, fd, EV_READ);
        ev_io_init(&c->ww, conn_write_cb, fd, EV_WRITE);
        c->rw.data = c->ww.data = c;
        pthread_mutex_lock(&t->conns_lock);
        c->next = t->conns;
        if (t->conns) t->conns->prev = c;
        t->conns = c;
        pthread_mutex_unlock(&t->conns_lock);
        atomic_fetch_add_explicit(&t->stats.connections, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->stats.clients, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->clients, 1, memory_order_relaxed);
        conn_set_reading(t, c, 1);
        (void)loop;
    }
}

/* ---- batches: publish and complete ------------------------------------ */

/* Publishes the ordered batches (parts of commands over several actors:
 * transactions over several actors, MGET, MSET, DEL, KEYS, ...) all at
 * once, in the global order the server's fz_lock makes: any two such
 * commands then reach every actor they share in the same order, so a
 * reader's parts run all before or all after a writer's, and actors parked
 * at a transaction never wait for each other in a cycle (actor.h). All or
 * none: if one actor has no credit left, they wait together. With
 * --threads the batch for this thread's own actor goes through its mailbox
 * too, so that it is ordered with the others'. */
static void net_publish_ordered(netthr *t)
{
    server_t *s = t->srv;
    for (unsigned a = 0; a < s->nactors; a++)
        if (t->out[a] != NULL && t->out[a]->ordered && t->inflight[a] >= NET_MAX_INFLIGHT) {
            t->paused = 1;
            return;
        }
    pthread_mutex_lock(&s->fz_lock);
    for (unsigned a = 0; a < s->nactors; a++) {
        kv_batch *b = t->out[a];
        if (b == NULL || !b->ordered) continue;
        int ok = actor_submit_mp(s->actors, b); /* never full: the credit above */
        (void)ok;
        t->inflight[a]++;
        t->out[a] = NULL;
    }
    pthread_mutex_unlock(&s->fz_lock);
    t->ordered_pending = 0;
}

/* Publishes the batch built for each actor, within the credit. */
static void net_publish(netthr *t)
{
    if (t->ordered_pending) net_publish_ordered(t);
    int blocked = t->ordered_pending;
    for (unsigned a = 0; a < t->srv->nactors; a++) {
        kv_batch *b = t->out[a];
        if (b == NULL || (t->srv->hosted && a == t->id)) continue; /* see net_host */
        if (b->ordered) continue; /* waits for net_publish_ordered */
        if (t->inflight[a] >= NET_MAX_INFLIGHT || !actor_submit_mp(t->srv->actors, b)) {
            blocked = 1;
            continue;
        }
        t->inflight[a]++;
        t->out[a] = NULL;
    }
    t->paused = blocked;
}

static void net_complete(netthr *t, kv_batch *b);

void netthr_post_done(void *srv, kv_batch *b)
{
    server_t *s = srv;
    netthr *t = &s->net[b->net_id];
    if (s->hosted && b->net_id == b->actor_id) {
        net_complete(t, b); /* a hosted actor's own thread: no hand-back */
        return;
    }
    /* Never full: the ring holds every credit of every actor. */
    while (!mbox_push_mp(&t->done, b)) ck_pr_stall();
    ev_async_send(t->loop, &t->wake_w);
}

static void net_complete(netthr *t, kv_batch *b)
{
    kv_req *r = b->head;
    while (r) {
        kv_req *next = r->next;
        kv_slot *sl = r->owner;
        climit_part_done(r);
        if (--sl->pending == 0) slot_finish(t, sl);
        r = next;
    }
    t->inflight[b->actor_id]--;
    b->next = t->free_batches;
    t->free_batches = b;
}

static int net_idle(const netthr *t)
{
    for (unsigned a = 0; a < t->srv->nactors; a++)
        if (t->inflight[a] || t->out[a]) return 0;
    return 1;
}

/* Closes the connections another thread's CLIENT KILL marked. Network
 * thread t. */
static void net_kill_marked(netthr *t)
{
    atomic_store_explicit(&t->kill_pending, 0, memory_order_relaxed);
    conn *c = t->conns, *n;
    for (; c; c = n) {
        n = c->next;
        uint8_t u = atomic_exchange_explicit(&c->unblock, 0, memory_order_relaxed);
        if (u) block_unblock(t, c, u == 2); /* CLIENT UNBLOCK */
        if (atomic_load_explicit(&c->kill, memory_order_relaxed)) {
            conn_close(t, c); /* freed once its parts are back */
        }
    }
}

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    netthr *t = w->data;
    kv_batch *b;
    (void)revents;
    while ((b = mbox_pop_sc(&t->done)) != NULL) net_complete(t, b);
    block_collect(t); /* clients served by actors */
    monitor_poll(&t->srv->mon, t);
    pubsub_poll(t);
    net_pause_check(t);
    if (atomic_load_explicit(&t->kill_pending, memory_order_acquire)) net_kill_marked(t);
    if (atomic_load(&t->stop) && !t->accept_stopped) {
        t->accept_stopped = 1;
        for (unsigned i = 0; i < NET_MAX_LISTEN; i++) {
            ev_io_stop(loop, &t->accept_w[i]);
            ev_io_stop(loop, &t->tls_accept_w[i]);
        }
        metrics_thread_stop(t);
        while (t->conns) conn_close(t, t->conns);
    }
}

static void net_service_dirty(netthr *t)
{
    conn *c;
    while ((c = t->dirty) != NULL) {
        t->dirty = c->next_dirty;
        c->dirty = 0;
        conn_service(t, c);
    }
}

/* --threads: runs the actor this thread hosts, with the batch this thread
 * built for it (no mailbox, no wake-up, no hand-back) and whatever other
 * threads sent it, then writes the replies; a few rounds while replies
 * make room for more pipelined input. Arms the tick timer, or the idle
 * watcher if the actor wants to run again before the loop blocks. */
static void net_host(netthr *t)
{
    int64_t wait_us = 0;
    for (int round = 0; round < 4; round++) {
        kv_batch *b = t->out[t->id];
        if (b != NULL && b->ordered) {
            net_publish_ordered(t); /* through the mailbox, in the global order */
            b = t->out[t->id];
            if (b != NULL && b->ordered) b = NULL; /* no credit yet: it waits */
        }
        if (b) t->out[t->id] = NULL;
        if (b) t->inflight[t->id]++; /* net_complete counts it back */
        wait_us = actor_host_poll(t->srv->actors, t->id, b);
        net_service_dirty(t);
        if (t->out[t->id] == NULL && wait_us > 0) break;
    }
    if (t->out[t->id] != NULL || wait_us == 0) {
        ev_idle_start(t->loop, &t->more_w);
        return;
    }
    t->tick_w.repeat = (double)wait_us / 1e6;
    ev_timer_again(t->loop, &t->tick_w);
}

static void more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    ev_idle_stop(loop, w); /* the prepare watcher runs the actor next */
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents; /* only wakes the loop */
}

void netthr_wake_actor(void *srv, unsigned id)
{
    server_t *s = srv;
    ev_async_send(s->net[id].loop, &s->net[id].wake_w);
}

/* Stopping: whether the loop may end. A thread that hosts an actor serves
 * the other threads' batches until every thread has nothing in flight. */
static int net_may_exit(netthr *t)
{
    server_t *s = t->srv;
    if (!(atomic_load(&t->stop) && t->conns == NULL && t->dirty == NULL)) return 0;
    actor_pool_net_closed(s->actors, t->id);   /* nobody is left for a parked reply */
    if (!net_idle(t) || t->blk_live) return 0; /* blk_live: a served client's delivery */
    if (!s->hosted) return 1;
    if (!t->done_flag) {
        t->done_flag = 1;
        if (atomic_fetch_add(&s->nnet_done, 1) + 1 == s->nnet)
            for (unsigned i = 0; i < s->nnet; i++) ev_async_send(s->net[i].loop, &s->net[i].wake_w);
    }
    return atomic_load(&s->nnet_done) == s->nnet;
}

/* Connections that stopped parsing while the thread was stalled go on
 * once it is not (credit back, in-flight bytes under the cap). */
static int net_resume_stalled(netthr *t)
{
    if (!t->stalls || net_stalled(t)) return 0;
    t->stalls = 0;
    for (conn *c = t->conns; c; c = c->next)
        if (c->stalled) {
            c->stalled = 0;
            conn_mark_dirty(t, c);
        }
    return 1;
}

/* Writes replies and parses input until no stalled connection may go on:
 * writing replies frees in-flight bytes, which may resume others. Ends:
 * parsing only adds bytes, which come back with completions. */
static void net_service(netthr *t)
{
    if (t->recvq != NULL) net_recv_flush(t); /* io_uring: all reads, one enter */
    do {
        net_service_dirty(t);
        while (net_resume_stalled(t)) net_service_dirty(t);
    } while (t->sendq != NULL && net_send_flush(t)); /* io_uring: all sends, one enter */
}

/* End of a loop iteration: write replies, resume stalled input, publish. */
static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    netthr *t = w->data;
    (void)revents;
    if (t->busy) { /* inside a script of the hosted actor: no actor, no exit */
        net_service(t);
        return;
    }
    obs_net_sync(t);
    if (t->paused) net_publish(t);
    net_resume_stalled(t);
    net_service(t);
    if (t->srv->hosted) {
        net_host(t);
        net_service(t);
        if (t->out[t->id] != NULL) ev_idle_start(loop, &t->more_w); /* run it before blocking */
    }
    net_publish(t);
    if (net_may_exit(t)) ev_break(loop, EVBREAK_ALL);
}

/* ---- busy mode: a long script on the hosted actor ---------------------- */

int netthr_script_busy(netthr *t)
{
    server_t *s = t->srv;
    if (!t->busy) {
        /* libev allows ev_run from a callback: the hook runs inside this
         * thread's flush_cb (net_host) */
        t->busy = 1;
        ev_run(t->loop, EVRUN_NOWAIT);
        t->busy = 0;
    }
    return atomic_load(&s->stop) || atomic_load(&t->stop);
}

/* ---- thread ----------------------------------------------------------- */

int netthr_init(netthr *t, server_t *s, unsigned id)
{
    memset(t, 0, sizeof *t);
    t->srv = s;
    t->id = id;
    t->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)id << 32) ^ (uint64_t)kv_mono_us();
    t->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (t->loop == NULL) return KV_ENOMEM;
    t->out = kv_xcalloc(s->nactors, sizeof *t->out);
    t->inflight = kv_xcalloc(s->nactors, sizeof *t->inflight);
    if (mbox_init(&t->done, s->nactors * NET_MAX_INFLIGHT + 1) != 0) return KV_ENOMEM;
    if (obs_net_init(&t->obs) != 0) return KV_ENOMEM;
    if (pthread_mutex_init(&t->conns_lock, NULL) != 0 || slowlog_ring_init(&t->slow) != 0 ||
        pubsub_thr_init(t) != 0)
        return KV_ENOMEM;
    hist_st(&t->obs.gen, atomic_load(&s->stats_gen));
    /* Every listener (plain and TLS, each bind address) is served by every
     * network thread. */
    for (unsigned i = 0; i < NET_MAX_LISTEN; i++) {
        ev_io_init(&t->accept_w[i], accept_cb, i < s->listen.n ? s->listen.fd[i] : -1, EV_READ);
        t->accept_w[i].data = t;
        if (i < s->listen.n) ev_io_start(t->loop, &t->accept_w[i]);
        ev_io_init(&t->tls_accept_w[i], accept_cb, i < s->tls_listen.n ? s->tls_listen.fd[i] : -1,
                   EV_READ);
        t->tls_accept_w[i].data = t;
        if (i < s->tls_listen.n) ev_io_start(t->loop, &t->tls_accept_w[i]);
    }
    ev_async_init(&t->wake_w, wake_cb);
    t->wake_w.data = t;
    ev_async_start(t->loop, &t->wake_w);
    ev_prepare_init(&t->flush_w, flush_cb);
    t->flush_w.data = t;
    ev_prepare_start(t->loop, &t->flush_w);
    ev_init(&t->tick_w, tick_cb);
    ev_idle_init(&t->more_w, more_cb);
    ev_timer_init(&t->cron_w, climit_cron, 1.0 / CLIMIT_CRON_HZ, 1.0 / CLIMIT_CRON_HZ);
    t->cron_w.data = t;
    ev_timer_start(t->loop, &t->cron_w);
    ev_init(&t->pause_w, pause_cb);
    t->pause_w.data = t;
    if (id == 0) metrics_thread_init(t);
    if (s->uring && (t->ur = net_uring_new()) == NULL) return KV_ENOMEM;
    return 0;
}

void netthr_destroy(netthr *t)
{
    if (t == NULL) return;
    if (t->loop) metrics_thread_stop(t);
    while (t->conns) {
        conn *c = t->conns;
        t->conns = c->next;
        tls_conn_close(c);
        close(c->fd);
        conn_free(t, c);
    }
    slot_cache_free(t);
    kv_batch *b;
    while ((b = t->free_batches) != NULL) {
        t->free_batches = b->next;
        free(b);
    }
    if (t->out)
        for (unsigned a = 0; a < t->srv->nactors; a++) free(t->out[a]);
    free(t->out);
    free(t->inflight);
    mbox_destroy(&t->done);
    obs_net_destroy(&t->obs);
    slowlog_ring_destroy(&t->slow);
    pthread_mutex_destroy(&t->conns_lock);
    pubsub_thr_destroy(t);
    if (t->loop) ev_loop_destroy(t->loop);
    t->loop = NULL;
    net_uring_free(t->ur);
    t->ur = NULL;
}

static void *netthr_main(void *arg)
{
    netthr *t = arg;
    ev_run(t->loop, 0);
    return NULL;
}

int netthr_start(netthr *t)
{
    if (pthread_create(&t->thread, NULL, netthr_main, t) != 0) return KV_ENOMEM;
    t->started = 1;
    char name[16];
    snprintf(name, sizeof name, "net-%u", t->id & 0xffffu);
    pthread_setname_np(t->thread, name);
    return 0;
}

void netthr_stop(netthr *t)
{
    if (!t->started) return;
    atomic_store(&t->stop, 1);
    ev_async_send(t->loop, &t->wake_w);
}

void netthr_join(netthr *t)
{
    if (!t->started) return;
    pthread_join(t->thread, NULL);
    t->started = 0;
}
