/* tlsc.c - TLS client side of mem-kv-bench; see tlsc.h. */
#include "bench/tlsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

struct tlsc {
    SSL_CTX *ctx; /* ro after tlsc_new */
    int verify;   /* check the server's certificate and name */
};

static const char *tlsc_reason(void)
{
    unsigned long e = ERR_peek_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "unknown error";
}

tlsc_t *tlsc_new(const bench_opts *o, char *err, size_t errlen)
{
    tlsc_t *x = calloc(1, sizeof(*x));
    if (!x || !(x->ctx = SSL_CTX_new(TLS_client_method()))) {
        snprintf(err, errlen, "cannot create a TLS context");
        tlsc_free(x);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(x->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(x->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    x->verify = !o->tls_insecure;
    int ok = o->tls_ca ? SSL_CTX_load_verify_locations(x->ctx, o->tls_ca, NULL)
                       : SSL_CTX_set_default_verify_paths(x->ctx);
    if (ok != 1) {
        snprintf(err, errlen, "cannot load CA certificates %s: %s", o->tls_ca ? o->tls_ca : "",
                 tlsc_reason());
        goto fail;
    }
    if (o->tls_cert && SSL_CTX_use_certificate_chain_file(x->ctx, o->tls_cert) != 1) {
        snprintf(err, errlen, "cannot load certificate %s: %s", o->tls_cert, tlsc_reason());
        goto fail;
    }
    if (o->tls_key && SSL_CTX_use_PrivateKey_file(x->ctx, o->tls_key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "cannot load private key %s: %s", o->tls_key, tlsc_reason());
        goto fail;
    }
    SSL_CTX_set_verify(x->ctx, x->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    return x;
fail:
    tlsc_free(x);
    return NULL;
}

void tlsc_free(tlsc_t *x)
{
    if (!x) return;
    SSL_CTX_free(x->ctx);
    free(x);
}

/* SNI and the name the certificate must carry (an IP address or a DNS name). */
static int tlsc_set_name(SSL *ssl, const char *host, int verify)
{
    unsigned char a[16];
    int ip = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
    if (!ip && SSL_set_tlsext_host_name(ssl, host) != 1) return -1;
    if (!verify) return 0;
    X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
    return (ip ? X509_VERIFY_PARAM_set1_ip_asc(p, host) : SSL_set1_host(ssl, host)) == 1 ? 0 : -1;
}

SSL *tlsc_connect(tlsc_t *x, int fd, const char *host, char *err, size_t errlen)
{
    SSL *ssl = SSL_new(x->ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || tlsc_set_name(ssl, host, x->verify) != 0) {
        snprintf(err, errlen, "TLS set-up: %s", tlsc_reason());
        SSL_free(ssl);
        return NULL;
    }
    struct timeval tv = {.tv_sec = 10}; /* a server that never answers the handshake */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int rc = SSL_connect(ssl);
    tv.tv_sec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (rc != 1) {
        long v = SSL_get_verify_result(ssl);
        int e = errno;
        const char *why = v != X509_V_OK ? X509_verify_cert_error_string(v)
                          : SSL_get_error(ssl, rc) == SSL_ERROR_SYSCALL ? strerror(e ? e : EPIPE)
                                                                        : tlsc_reason();
        snprintf(err, errlen, "TLS handshake: %s", why);
        ERR_clear_error();
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

/* A failed SSL_read/SSL_write as recv/send report it. */
static ssize_t tlsc_fail(SSL *ssl, int is_read)
{
    switch (SSL_get_error(ssl, 0)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        if (is_read) return 0;
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SYSCALL:
        if (errno == 0) errno = ECONNRESET;
        ERR_clear_error();
        return -1;
    default:
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

ssize_t tlsc_recv(SSL *ssl, void *buf, size_t len)
{
    size_t n = 0;
    ERR_clear_error();
    return SSL_read_ex(ssl, buf, len, &n) == 1 ? (ssize_t)n : tlsc_fail(ssl, 1);
}

ssize_t tlsc_send(SSL *ssl, const void *buf, size_t len)
{
    size_t n = 0;
    ERR_clear_error();
    return SSL_write_ex(ssl, buf, len, &n) == 1 ? (ssize_t)n : tlsc_fail(ssl, 0);
}

int tlsc_pending(const SSL *ssl)
{
    return SSL_has_pending(ssl);
}

void tlsc_close(SSL *ssl)
{
    if (!ssl) return;
    ERR_clear_error();
    (void)SSL_shutdown(ssl);
    ERR_clear_error();
    SSL_free(ssl);
}
