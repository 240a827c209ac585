/* tlsc.h - TLS client side of mem-kv-bench (OpenSSL 3).
 *
 * One tlsc_t (an SSL_CTX from --tls-ca-cert-file, --tls-cert-file,
 * --tls-key-file, --insecure) is made by the main thread and shared
 * read-only by the worker threads. Each connection's handshake runs on its
 * still-blocking socket right after connect (set-up is not measured);
 * afterwards tlsc_recv/tlsc_send behave like recv(2)/send(2) on the
 * non-blocking socket (-1 with errno EAGAIN: wait for epoll).
 */
#ifndef MEMKV_BENCH_TLSC_H
#define MEMKV_BENCH_TLSC_H

#include <stddef.h>
#include <sys/types.h>

#include "bench/opts.h"

typedef struct tlsc tlsc_t;
struct ssl_st; /* OpenSSL's SSL */

/* Main thread: NULL with a message in err. */
tlsc_t *tlsc_new(const bench_opts *o, char *err, size_t errlen);
/* Accepts NULL. */
void tlsc_free(tlsc_t *x);
/* Worker thread: TLS handshake on connected, blocking fd (server name
 * host, for SNI and, unless --insecure, the certificate check). The SSL,
 * or NULL with a message in err. */
struct ssl_st *tlsc_connect(tlsc_t *x, int fd, const char *host, char *err, size_t errlen);
/* Worker thread of ssl: like recv(2)/send(2); 0 = closed by the server. */
ssize_t tlsc_recv(struct ssl_st *ssl, void *buf, size_t len);
ssize_t tlsc_send(struct ssl_st *ssl, const void *buf, size_t len);
/* Decrypted bytes OpenSSL holds that recv has not returned yet. */
int tlsc_pending(const struct ssl_st *ssl);
/* Sends close_notify (without waiting) and frees ssl; accepts NULL. */
void tlsc_close(struct ssl_st *ssl);

#endif
