/* tls.c - TLS on client connections: the shared SSL_CTX, and reads and
 * writes that drive non-blocking handshakes from the connection's libev
 * watchers. See tls.h.
 */
#include "net/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/net_internal.h"

struct tls_ctx {
    SSL_CTX *ssl_ctx;  /* ro after start: shared by every network thread */
    int verbose;       /* ro: --loglevel verbose logs each TLS error */
    double hs_timeout; /* ro: seconds */
    _Atomic uint64_t handshakes, handshake_errors, handshake_timeouts, io_errors;
};

struct tls_conn {
    tls_ctx *x;
    SSL *ssl;
    ev_timer hs_timer; /* private: handshake deadline */
    uint8_t done;      /* handshake finished */
    uint8_t failed;    /* fatal error or timeout: no close_notify, reads fail */
};

/* ---- the context -------------------------------------------------------- */

/* The OpenSSL reason of the latest error, or fallback. Clears the queue. */
static const char *tls_reason(const char *fallback)
{
    unsigned long e = ERR_peek_error(); /* the first: the cause, not "PEM lib" */
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : fallback;
}

/* Maps "TLSv1.2 TLSv1.3" to the lowest and highest version listed. */
static int tls_parse_protocols(const char *list, int *min, int *max)
{
    static const struct {
        const char *name;
        int v;
    } known[] = {{"TLSv1", TLS1_VERSION},
                 {"TLSv1.1", TLS1_1_VERSION},
                 {"TLSv1.2", TLS1_2_VERSION},
                 {"TLSv1.3", TLS1_3_VERSION}};
    char buf[64], *save = NULL;
    *min = *max = 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *w = strtok_r(buf, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcasecmp(w, known[i].name) != 0) i++;
        if (i == sizeof known / sizeof known[0]) return -1;
        if (*min == 0 || known[i].v < *min) *min = known[i].v;
        if (known[i].v > *max) *max = known[i].v;
    }
    return *min ? 0 : -1;
}

/* Loads certificate, key and CA; 0 or -1 with err set. */
static int tls_load_files(SSL_CTX *ctx, const kv_config *cfg, char *err, size_t errlen)
{
    const char *what = NULL, *path = NULL;
    if (access(cfg->tls_cert_file, R_OK) != 0)
        what = "certificate", path = cfg->tls_cert_file;
    else if (access(cfg->tls_key_file, R_OK) != 0)
        what = "private key", path = cfg->tls_key_file;
    else if (cfg->tls_ca_cert_file[0] && access(cfg->tls_ca_cert_file, R_OK) != 0)
        what = "CA certificate", path = cfg->tls_ca_cert_file;
    if (what) {
        snprintf(err, errlen, "cannot read TLS %s file '%s': %s", what, path, strerror(errno));
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
        snprintf(err, errlen, "cannot load TLS certificate file '%s': %s", cfg->tls_cert_file,
                 tls_reason("not a PEM certificate"));
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "cannot load TLS private key file '%s': %s", cfg->tls_key_file,
                 tls_reason("not an unencrypted PEM private key"));
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "TLS private key '%s' does not match certificate '%s': %s",
                 cfg->tls_key_file, cfg->tls_cert_file, tls_reason("mismatch"));
        return -1;
    }
    if (cfg->tls_ca_cert_file[0] &&
        SSL_CTX_load_verify_locations(ctx, cfg->tls_ca_cert_file, NULL) != 1) {
        snprintf(err, errlen, "cannot load TLS CA certificate file '%s': %s", cfg->tls_ca_cert_file,
                 tls_reason("no PEM certificate"));
        return -1;
    }
    return 0;
}

/* Protocol versions, ciphers and client verification; 0 or -1. */
static int tls_set_policy(SSL_CTX *ctx, const kv_config *cfg, char *err, size_t errlen)
{
    int min = TLS1_2_VERSION, max = TLS1_3_VERSION;
    if (cfg->tls_protocols[0] && tls_parse_protocols(cfg->tls_protocols, &min, &max) != 0) {
        snprintf(err, errlen, "invalid tls-protocols '%s': expected TLSv1.2 and/or TLSv1.3",
                 cfg->tls_protocols);
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    if (cfg->tls_ciphers[0] && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
        snprintf(err, errlen, "invalid tls-ciphers '%s': %s", cfg->tls_ciphers,
                 tls_reason("no cipher"));
        return -1;
    }
    if (cfg->tls_ciphersuites[0] && SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1) {
        snprintf(err, errlen, "invalid tls-ciphersuites '%s': %s", cfg->tls_ciphersuites,
                 tls_reason("no ciphersuite"));
        return -1;
    }
    if (cfg->tls_auth_clients != 0 && cfg->tls_ca_cert_file[0] == '\0') {
        snprintf(err, errlen,
                 "tls-ca-cert-file must be specified when tls-auth-clients is yes or optional "
                 "(or set --tls-auth-clients no)");
        return -1;
    }
    int mode = cfg->tls_auth_clients == 1   ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
               : cfg->tls_auth_clients == 2 ? SSL_VERIFY_PEER
                                            : SSL_VERIFY_NONE;
    SSL_CTX_set_verify(ctx, mode, NULL);
    return 0;
}

tls_ctx *tls_ctx_new(const kv_config *cfg, char *err, size_t errlen)
{
    if (cfg->tls_cert_file[0] == '\0' || cfg->tls_key_file[0] == '\0') {
        snprintf(err, errlen, "--tls-port needs --tls-cert-file and --tls-key-file");
        return NULL;
    }
    tls_ctx *x = kv_xcalloc(1, sizeof *x);
    x->verbose = cfg->loglevel >= 2;
    x->hs_timeout = cfg->tls_hs_timeout_ms / 1000.0;
    x->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (x->ssl_ctx == NULL) {
        snprintf(err, errlen, "cannot create the TLS context: %s", tls_reason("OpenSSL"));
        goto fail;
    }
    SSL_CTX *ctx = x->ssl_ctx;
    /* No renegotiation (TLS 1.2); EOF without close_notify is a plain EOF
     * (a client that just closes its socket, as redis-cli may). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Partial writes: a big reply leaves record by record; the output
     * buffer may move (realloc) between a WANT_WRITE and its retry; idle
     * connections give their record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    static const unsigned char sid[] = "mem-kv";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    if (tls_load_files(ctx, cfg, err, errlen) != 0) goto fail;
    if (tls_set_policy(ctx, cfg, err, errlen) != 0) goto fail;
    return x;
fail:
    tls_ctx_free(x);
    return NULL;
}

void tls_ctx_free(tls_ctx *x)
{
    if (x == NULL) return;
    SSL_CTX_free(x->ssl_ctx);
    free(x);
}

void tls_ctx_stats(const tls_ctx *x, tls_stats *out)
{
    memset(out, 0, sizeof *out);
    if (x == NULL) return;
    out->handshakes = atomic_load_explicit(&x->handshakes, memory_order_relaxed);
    out->handshake_errors = atomic_load_explicit(&x->handshake_errors, memory_order_relaxed);
    out->handshake_timeouts = atomic_load_explicit(&x->handshake_timeouts, memory_order_relaxed);
    out->io_errors = atomic_load_explicit(&x->io_errors, memory_order_relaxed);
}

static void tls_count(_Atomic uint64_t *n)
{
    atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
}

/* ---- connections ---------------------------------------------------------- */

/* Sets w to wait for events (EV_READ or EV_WRITE), keeping it started or
 * stopped as it was. */
static void tls_watch(struct ev_loop *loop, ev_io *w, int events)
{
    if ((w->events & (EV_READ | EV_WRITE)) == events) return;
    int active = ev_is_active(w);
    if (active) ev_io_stop(loop, w);
    ev_io_set(w, w->fd, events);
    if (active) ev_io_start(loop, w);
}

static void tls_hs_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    conn *c = w->data;
    tls_conn *tc = c->tls;
    (void)revents;
    tls_count(&tc->x->handshake_timeouts);
    if (tc->x->verbose) kv_log("TLS handshake timeout, closing client %s", c->addr);
    tc->failed = 1;
    /* The read callback sees the failure and closes c the usual way. */
    ev_feed_event(loop, &c->rw, EV_READ);
}

int tls_conn_attach(tls_ctx *x, conn *c)
{
    tls_conn *tc = calloc(1, sizeof *tc);
    if (tc == NULL) return KV_ENOMEM;
    tc->x = x;
    tc->ssl = SSL_new(x->ssl_ctx);
    if (tc->ssl == NULL || SSL_set_fd(tc->ssl, c->fd) != 1) {
        SSL_free(tc->ssl);
        free(tc);
        ERR_clear_error();
        return KV_ENOMEM;
    }
    SSL_set_accept_state(tc->ssl);
    ev_timer_init(&tc->hs_timer, tls_hs_timeout_cb, x->hs_timeout, 0.);
    tc->hs_timer.data = c;
    ev_timer_start(c->t->loop, &tc->hs_timer);
    c->tls = tc;
    return 0;
}

static void tls_handshake_done(conn *c)
{
    tls_conn *tc = c->tls;
    tc->done = 1;
    ev_timer_stop(c->t->loop, &tc->hs_timer);
    tls_count(&tc->x->handshakes);
}

/* A failed SSL call on c, made from watcher w (c->rw or c->ww): for
 * WANT_READ/WANT_WRITE, w waits for that event and -1/EAGAIN is returned;
 * otherwise 0 (the peer's close_notify or EOF, on a read) or -1 with a hard
 * errno, the error counted and logged. */
static ssize_t tls_fail(conn *c, ev_io *w, int err)
{
    tls_conn *tc = c->tls;
    struct ev_loop *loop = c->t->loop;
    switch (err) {
    case SSL_ERROR_WANT_READ:
        tls_watch(loop, w, EV_READ);
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        tls_watch(loop, w, EV_WRITE);
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
        if (w == &c->rw) return 0;
        errno = EPIPE;
        return -1;
    default:
        break;
    }
    int saved = errno;
    tc->failed = 1;
    tls_count(tc->done ? &tc->x->io_errors : &tc->x->handshake_errors);
    if (tc->x->verbose)
        kv_log("TLS %s error with client %s: %s", tc->done ? "I/O" : "handshake", c->addr,
               err == SSL_ERROR_SYSCALL ? strerror(saved) : tls_reason("protocol error"));
    ERR_clear_error();
    errno = err == SSL_ERROR_SYSCALL && saved ? saved : EPROTO;
    return -1;
}

/* After progress in one direction, retry the other one if it waits for
 * the event just handled (both watchers share the socket, so the one
 * that fired may have consumed what the other was waiting for). */
static void tls_kick(conn *c, ev_io *other, int events)
{
    if (ev_is_active(other) && (other->events & (EV_READ | EV_WRITE)) == events)
        ev_feed_event(c->t->loop, other, other == &c->rw ? EV_READ : EV_WRITE);
}

ssize_t tls_read(conn *c, void *buf, size_t len)
{
    tls_conn *tc = c->tls;
    if (tc->failed) {
        errno = ECONNRESET;
        return -1;
    }
    size_t n = 0;
    ERR_clear_error();
    int ok = SSL_read_ex(tc->ssl, buf, len, &n);
    int err = ok ? SSL_ERROR_NONE : SSL_get_error(tc->ssl, 0);
    if (!tc->done && SSL_is_init_finished(tc->ssl)) tls_handshake_done(c);
    tls_kick(c, &c->ww, EV_READ);
    if (!ok) return tls_fail(c, &c->rw, err);
    tls_watch(c->t->loop, &c->rw, EV_READ);
    /* A record may hold more than len: read the rest without a socket event. */
    if (SSL_has_pending(tc->ssl) && ev_is_active(&c->rw))
        ev_feed_event(c->t->loop, &c->rw, EV_READ);
    return (ssize_t)n;
}

ssize_t tls_write(conn *c, const void *buf, size_t len)
{
    tls_conn *tc = c->tls;
    if (tc->failed) {
        errno = ECONNRESET;
        return -1;
    }
    size_t n = 0;
    ERR_clear_error();
    int ok = SSL_write_ex(tc->ssl, buf, len, &n);
    int err = ok ? SSL_ERROR_NONE : SSL_get_error(tc->ssl, 0);
    if (!tc->done && SSL_is_init_finished(tc->ssl)) tls_handshake_done(c);
    tls_kick(c, &c->rw, EV_WRITE);
    if (!ok) return tls_fail(c, &c->ww, err);
    tls_watch(c->t->loop, &c->ww, EV_WRITE);
    return (ssize_t)n;
}

void tls_conn_resume(conn *c)
{
    if (c->tls && !c->tls->failed && SSL_has_pending(c->tls->ssl))
        ev_feed_event(c->t->loop, &c->rw, EV_READ);
}

void tls_conn_close(conn *c)
{
    tls_conn *tc = c->tls;
    if (tc == NULL) return;
    ev_timer_stop(c->t->loop, &tc->hs_timer);
    if (tc->done && !tc->failed) {
        ERR_clear_error();
        (void)SSL_shutdown(tc->ssl); /* close_notify if the socket takes it now */
    }
    ERR_clear_error();
    SSL_free(tc->ssl);
    free(tc);
    c->tls = NULL;
}
