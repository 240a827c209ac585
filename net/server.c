#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_internal.h"
#include "tls.h"

int listen_socket(const char *bind_addr, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    int rc = getaddrinfo(bind_addr, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "invalid bind address '%s': %s", bind_addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 511) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", bind_addr, port, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Loads every shard from the data directory, then attaches the logs. */
static int server_recover(server_t *s, char *err, size_t errlen)
{
    persist_recovery r;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int rc = persist_recover(s->persist, actor_pool_shard(s->actors, 0),
                             (unsigned)(ncpu > 0 ? ncpu : 1), &r, err, errlen);
    if (rc != 0) return rc;
    kv_log("DB loaded from %s: %llu keys in %.3f seconds (%llu snapshot entries, %llu log "
           "records replayed%s)",
           s->cfg.dir, (unsigned long long)r.keys, (double)r.elapsed_us / 1e6,
           (unsigned long long)r.snap_entries, (unsigned long long)r.records,
           r.cut_bytes ? ", torn tail cut" : "");
    rc = persist_attach(s->persist, actor_pool_shard(s->actors, 0), err, errlen);
    if (rc == 0) rc = persist_start(s->persist);
    return rc;
}

server_t *server_new(const kv_config *cfg, tls_ctx *tls, char *err, size_t errlen)
{
    server_t *s = kv_xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    s->tls = tls;
    s->listen_fd = -1;
    s->tls_listen_fd = -1;
    s->metrics_fd = -1;
    s->stop_efd = -1;
    s->start_ms = kv_time_ms();
    if (cfg->persistence) {
        /* The data directory owns the hash secret: keys stay in their shard. */
        persist_opts po = {.dir = cfg->dir,
                           .fsync = (enum wal_fsync)cfg->fsync,
                           .fsync_interval_ms = cfg->fsync_interval_ms,
                           .segment_max = (uint64_t)cfg->wal_segment_bytes,
                           .compact_log_bytes = (uint64_t)cfg->compact_log_bytes,
                           .keep_prefix = cfg->keep_prefix};
        s->persist = persist_open(&po, (uint32_t)cfg->shards, &s->secret, err, errlen);
        if (s->persist == NULL) goto fail;
    } else if (kv_hash_secret_random(&s->secret) != 0) {
        snprintf(err, errlen, "cannot read random bytes for the hash secret");
        goto fail;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 40; i++) s->run_id[i] = hex[s->secret.k[i % 16] >> (i & 1 ? 0 : 4) & 15];
    s->run_id[40] = '\0';
    s->hosted = cfg->threads > 0;
    s->nactors = (unsigned)cfg->actor_threads; /* = io_threads = threads when hosted */
    s->nnet = (unsigned)cfg->io_threads;
    s->stop_efd = eventfd(0, EFD_CLOEXEC);
    if (s->stop_efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }

    actor_pool_opts ao = {
        .nactors = s->nactors,
        .nshards = (unsigned)cfg->shards,
        .mailbox_capacity = s->nnet * NET_MAX_INFLIGHT + 1,
        .hz = cfg->hz,
        .spin_us = 20,
        .secret = &s->secret,
        .done = netthr_post_done,
        .done_ctx = s,
        .persist = s->persist,
        .wake = s->hosted ? netthr_wake_actor : NULL,
        .wake_ctx = s,
    };
    s->actors = actor_pool_new(&ao);
    if (s->actors == NULL) {
        snprintf(err, errlen, "out of memory creating %u actors", s->nactors);
        goto fail;
    }
    if (s->persist && server_recover(s, err, errlen) != 0) goto fail;
    /* Only now, after recovery, does the port accept connections. */
    if (cfg->port > 0) {
        s->listen_fd = listen_socket(cfg->bind, cfg->port, err, errlen);
        if (s->listen_fd < 0) goto fail;
    }
    if (tls) {
        s->tls_listen_fd = listen_socket(cfg->bind, cfg->tls_port, err, errlen);
        if (s->tls_listen_fd < 0) goto fail;
    }
    if (cfg->metrics_port > 0) {
        s->metrics_fd = listen_socket(cfg->bind, cfg->metrics_port, err, errlen);
        if (s->metrics_fd < 0) goto fail;
    }
    s->net = kv_xcalloc(s->nnet, sizeof *s->net);
    for (unsigned i = 0; i < s->nnet; i++)
        if (netthr_init(&s->net[i], s, i) != 0) {
            snprintf(err, errlen, "cannot create network thread %u", i);
            goto fail;
        }
    return s;
fail:
    server_free(s);
    return NULL;
}

int server_run(server_t *s, char *err, size_t errlen)
{
    if (actor_pool_start(s->actors) != 0) {
        snprintf(err, errlen, "cannot start actor threads");
        return KV_ENOMEM;
    }
    for (unsigned i = 0; i < s->nnet; i++)
        if (netthr_start(&s->net[i]) != 0) {
            snprintf(err, errlen, "cannot start network thread %u", i);
            server_stop(s);
            break;
        }
    uint64_t v;
    while (!atomic_load(&s->stop)) {
        ssize_t n = read(s->stop_efd, &v, sizeof v);
        if (n < 0 && errno != EINTR) break;
    }
    /* Network threads first: they close connections and wait for their
     * in-flight batches, so no actor holds a batch when actors stop. */
    for (unsigned i = 0; i < s->nnet; i++) netthr_stop(&s->net[i]);
    for (unsigned i = 0; i < s->nnet; i++) netthr_join(&s->net[i]);
    actor_pool_stop(s->actors);
    /* Every acknowledged write is in the log; sync it before exiting. */
    persist_close(s->persist);
    s->persist = NULL;
    return 0;
}

void server_stop(server_t *s)
{
    atomic_store(&s->stop, 1);
    uint64_t one = 1;
    ssize_t ignored = write(s->stop_efd, &one, sizeof one);
    (void)ignored;
}

void server_free(server_t *s)
{
    if (s == NULL) return;
    if (s->net)
        for (unsigned i = 0; i < s->nnet; i++) netthr_destroy(&s->net[i]);
    free(s->net);
    persist_close(s->persist);
    actor_pool_free(s->actors);
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (s->tls_listen_fd >= 0) close(s->tls_listen_fd);
    tls_ctx_free(s->tls); /* after the network threads closed every connection */
    if (s->metrics_fd >= 0) close(s->metrics_fd);
    if (s->stop_efd >= 0) close(s->stop_efd);
    free(s);
}
