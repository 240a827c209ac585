/* climit.c - limits and access control of client connections: protected
 * mode, TCP keepalive, the query and output buffer limits, the idle timeout,
 * and the unauthenticated client's limits (NOAUTH, small buffers).
 *
 * Redis's rules, checked against redis-server 7.0.15 (Debian's, which has
 * the CVE-2021-32675 and CVE-2025-21605 fixes): before AUTH a client may
 * send at most 10 arguments of at most 16384 bytes each, keep at most 1 MB of
 * unparsed input, and have at most about 16 KB of replies queued; every
 * command but AUTH, HELLO and QUIT answers NOAUTH. Network thread, except
 * where a comment says otherwise.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "engine/reply.h"
#include "net/route.h"

/* Unparsed input an unauthenticated client may keep (Redis 7.2+: 1 MB). */
#define UNAUTH_QBUF ((size_t)1 << 20)
/* Replies queued for an unauthenticated client before it is closed: Redis
 * closes it once its replies overflow the 16 KB reply buffer by 1 KB. */
#define UNAUTH_OBL ((int64_t)17 << 10)

/* Redis's text with the server's name; CONFIG REWRITE does not exist here. */
static const char denied_msg[] =
    "-DENIED mem-kv is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to mem-kv you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to mem-kv from the same "
    "host the server is running, however MAKE SURE mem-kv is not publicly accessible from "
    "internet if you do so. 2) Alternatively you can just disable the protected mode by editing "
    "the mem-kv configuration file, and setting the protected mode option to 'no', and then "
    "restarting the server. 3) If you started the server manually just for testing, restart it "
    "with the '--protected-mode no' option. 4) Set up an authentication password for the "
    "default user (requirepass). NOTE: You only need to do one of the above things in order "
    "for the server to start accepting connections from the outside.\r\n";

static int64_t loop_ms(netthr *t)
{
    return (int64_t)(ev_now(t->loop) * 1000.0);
}

/* ---- accept: protected mode and socket options ------------------------ */

static int addr_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return ss->ss_family == AF_UNIX;
}

int climit_peer_refused(int peer_rc, const struct sockaddr_storage *ss)
{
    /* An address that cannot be read is not known to be loopback: Redis
     * refuses too (its connIsLocal() answers -1, and only 1 lets in). */
    if (peer_rc != 0) return 1;
    return !addr_is_loopback(ss);
}

int climit_refuse(netthr *t, int fd, int tls)
{
    server_t *s = t->srv;
    if (!atomic_load_explicit(&s->protected_mode, memory_order_relaxed) || auth_required(&s->auth))
        return 0;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int rc = getpeername(fd, (struct sockaddr *)&ss, &len);
    if (!climit_peer_refused(rc, &ss)) return 0;
    /* A new socket's buffer takes the whole text. A TLS client cannot read
     * it before a handshake: it is only closed (as over --maxclients). */
    ssize_t ignored = tls ? 0 : write(fd, denied_msg, sizeof denied_msg - 1);
    (void)ignored;
    atomic_fetch_add_explicit(&t->stats.protected_denied, 1, memory_order_relaxed);
    return 1;
}

/* As Redis: probes after `secs` idle, every secs/3, closed after 3 lost. */
static void set_keepalive(int fd, int secs)
{
    int one = 1, intvl = secs / 3 > 0 ? secs / 3 : 1, cnt = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

/* Whether c is held to the unauthenticated limits now. */
static int conn_restricted(netthr *t, const conn *c)
{
    return !c->authed && auth_required(&t->srv->auth);
}

static void limits_of(netthr *t, int restricted, parse_limits *lim)
{
    parse_limits_default(lim);
    lim->max_bulk = (size_t)t->srv->cfg.proto_max_bulk_len;
    lim->unauth = restricted;
}

/* Applies the parse limits and output budget c's state calls for; between
 * commands only. */
static void conn_apply_limits(netthr *t, conn *c, int init)
{
    int restricted = conn_restricted(t, c);
    parse_limits lim;
    limits_of(t, restricted, &lim);
    if (init)
        parse_init(&c->ps, &lim);
    else
        parse_set_limits(&c->ps, &lim);
    int64_t hard = restricted ? UNAUTH_OBL : (int64_t)t->srv->cfg.obl_hard;
    atomic_store_explicit(&c->obl.hard, hard, memory_order_relaxed);
}

void climit_conn_init(netthr *t, conn *c)
{
    server_t *s = t->srv;
    if (s->cfg.tcp_keepalive > 0) set_keepalive(c->fd, s->cfg.tcp_keepalive);
    /* As Redis: a client that connects while there is no password is
     * authenticated, and stays so if a password is set later. */
    c->authed = !auth_required(&s->auth);
    c->last_ms = loop_ms(t);
    conn_apply_limits(t, c, 1);
}

/* ---- input ------------------------------------------------------------- */

static void log_close(const conn *c, const char *why)
{
    kv_log_warn("Closing client that reached %s: id=%llu addr=%s qbuf=%zu omem=%zu", why,
                (unsigned long long)c->id, c->addr, c->in.len - c->in_off, conn_out_pending(c));
}

int climit_input_over(netthr *t, conn *c)
{
    if (c->closed) return 0;
    c->last_ms = loop_ms(t);
    size_t pending = c->in.len - c->in_off + parse_big_bytes(&c->ps);
    size_t limit =
        conn_restricted(t, c) ? UNAUTH_QBUF : (size_t)t->srv->cfg.client_query_buffer_limit;
    if (pending <= limit) return 0;
    /* As Redis: no reply, the connection is closed and its memory freed. */
    log_close(c, "max query buffer length");
    atomic_fetch_add_explicit(&t->stats.qbuf_limit_closed, 1, memory_order_relaxed);
    conn_close(t, c);
    return 1;
}

/* ---- output ------------------------------------------------------------ */

int climit_output_full(conn *c)
{
    int64_t hard = atomic_load_explicit(&c->obl.hard, memory_order_relaxed);
    return hard > 0 && (int64_t)(conn_out_pending(c)) > hard;
}

int climit_output_check(netthr *t, conn *c)
{
    if (c->closed) return 1;
    if (c->obl_over || atomic_load_explicit(&c->obl.tripped, memory_order_relaxed)) {
        log_close(c, "its output buffer limit");
        atomic_fetch_add_explicit(&t->stats.obl_limit_closed, 1, memory_order_relaxed);
        conn_close(t, c);
        return 1;
    }
    int64_t queued = (int64_t)(conn_out_pending(c));
    if (atomic_load_explicit(&c->obl.queued, memory_order_relaxed) != queued)
        atomic_store_explicit(&c->obl.queued, queued, memory_order_relaxed);
    return 0;
}

void climit_part_done(kv_req *r)
{
    if (r->obl_bytes)
        atomic_fetch_sub_explicit(&r->obl->inflight, (int64_t)r->obl_bytes, memory_order_relaxed);
    r->obl_bytes = 0;
}

/* ---- authentication ---------------------------------------------------- */

int climit_noauth(netthr *t, conn *c, const cmd_def *def)
{
    if (c->authed) return 0;
    if (!auth_required(&t->srv->auth)) {
        /* the password was removed: no client is restricted any more */
        if (c->ps.lim.unauth) conn_apply_limits(t, c, 0);
        return 0;
    }
    if (def->flags & CMD_NO_AUTH) return 0;
    route_error_slot(c, "NOAUTH Authentication required.");
    conn_mark_dirty(t, c);
    return 1;
}

void climit_authed(netthr *t, conn *c)
{
    c->authed = 1;
    conn_apply_limits(t, c, 0);
}

/* ---- once a second ------------------------------------------------------ */

/* Closes c if its replies stayed over the soft limit for the soft seconds;
 * returns 1 if it did. */
static int soft_limit_check(netthr *t, conn *c, int64_t now)
{
    const kv_config *cfg = &t->srv->cfg;
    int64_t queued = (int64_t)(conn_out_pending(c));
    if (cfg->obl_soft <= 0 || queued <= cfg->obl_soft) {
        c->soft_since_ms = 0;
        return 0;
    }
    if (c->soft_since_ms == 0) {
        c->soft_since_ms = now;
        return 0;
    }
    if (now - c->soft_since_ms <= (int64_t)cfg->obl_soft_seconds * 1000) return 0;
    log_close(c, "its output buffer soft limit");
    atomic_fetch_add_explicit(&t->stats.obl_limit_closed, 1, memory_order_relaxed);
    conn_close(t, c);
    return 1;
}

void climit_cron(struct ev_loop *loop, ev_timer *w, int revents)
{
    netthr *t = w->data;
    (void)loop;
    (void)revents;
    int64_t now = loop_ms(t);
    int64_t idle_ms = (int64_t)atomic_load_explicit(&t->srv->timeout, memory_order_relaxed) * 1000;
    /* a slice of the list per tick, resuming where the last one stopped
     * (conn_close moves t->cron_next past a connection it unlinks) */
    int64_t budget =
        atomic_load_explicit(&t->stats.clients, memory_order_relaxed) / CLIMIT_CRON_HZ + 1;
    conn *c = t->cron_next ? t->cron_next : t->conns;
    for (; c != NULL && budget-- > 0; c = t->cron_next) {
        t->cron_next = c->next;
        if (soft_limit_check(t, c, now)) continue;
        /* Idle: nothing read or written, no command waiting for a shard. */
        if (idle_ms > 0 && c->nslots == 0 && now - c->last_ms > idle_ms) {
            atomic_fetch_add_explicit(&t->stats.timeout_closed, 1, memory_order_relaxed);
            conn_close(t, c);
        }
    }
    if (c == NULL) t->cron_next = NULL; /* the end: the next tick starts over */
}
