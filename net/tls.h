/* tls.h - TLS on client connections (OpenSSL 3).
 *
 * One tls_ctx, an SSL_CTX built from the --tls-* settings at start-up, is
 * shared read-only by every network thread. A connection accepted on the
 * TLS port gets a tls_conn (c->tls); netloop reads and writes it through
 * tls_read/tls_write, which behave like read(2)/write(2) on a non-blocking
 * socket: bytes, 0 at the peer's EOF, or -1 with errno (EAGAIN: wait for
 * the connection's watcher to fire again).
 *
 * The handshake runs inside those calls (the SSL is in accept state), so
 * it is driven by the connection's own libev watchers on its network
 * thread. When OpenSSL needs the other direction (a read that must first
 * write, a write that must first read), the waiting watcher is switched to
 * that event until the call can be retried. A handshake not finished after
 * --tls-handshake-timeout-ms closes the connection. Errors are counted in
 * the context and logged at --loglevel verbose.
 */
#ifndef MEMKV_TLS_H
#define MEMKV_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/config.h"

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;
struct conn;

/* TLS counters since start; relaxed reads of atomics. */
typedef struct tls_stats {
    uint64_t handshakes;         /* completed */
    uint64_t handshake_errors;   /* failed: protocol, certificate, plain text... */
    uint64_t handshake_timeouts; /* not finished in time */
    uint64_t io_errors;          /* TLS errors after the handshake */
} tls_stats;

/* Start-up thread: the context for cfg's --tls-* settings (cfg->tls_port
 * must be set). NULL with a message in err when a file cannot be used or a
 * setting is invalid. */
tls_ctx *tls_ctx_new(const kv_config *cfg, char *err, size_t errlen);
/* Accepts NULL. After every connection is closed. */
void tls_ctx_free(tls_ctx *x);
/* Any thread. */
void tls_ctx_stats(const tls_ctx *x, tls_stats *out);

/* Network thread of c, right after accept (c->t and c->fd set): makes c a
 * TLS server connection and starts its handshake timer. 0 or KV_ENOMEM. */
int tls_conn_attach(tls_ctx *x, struct conn *c);
/* Network thread of c: like read(2) and write(2) (see above). */
ssize_t tls_read(struct conn *c, void *buf, size_t len);
ssize_t tls_write(struct conn *c, const void *buf, size_t len);
/* Network thread of c: its read watcher was started again; decrypted
 * input OpenSSL already holds is read now (the socket may stay quiet). */
void tls_conn_resume(struct conn *c);
/* Network thread of c, before its socket is closed: sends close_notify
 * (once, without waiting) after a good handshake, frees the TLS state and
 * sets c->tls to NULL. Accepts c->tls == NULL. */
void tls_conn_close(struct conn *c);

#endif
