#include "net/server.h"

#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "net/uring.h"
#include "net/scripting.h"
#include "net/tls.h"

/* A listening socket on ai; -1 with errno set. v6only: an IPv6 wildcard
 * takes IPv6 clients only (another address of the list serves IPv4). */
static int listen_one(const struct addrinfo *ai, int v6only)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6 && v6only)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Whether the host cannot have this address at all: skipped, as Redis
 * skips it (an IPv6 address on a host without IPv6). */
static int addr_unsupported(int e)
{
    return e == EAFNOSUPPORT || e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT || e == EPFNOSUPPORT ||
           e == ENOPROTOOPT;
}

static void sockaddr_text(const struct addrinfo *ai, char *buf, size_t len)
{
    char host[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
        strcpy(host, "?");
    snprintf(buf, len, ai->ai_family == AF_INET6 ? "[%s]" : "%s", host);
}

/* Listens on every address of one --bind word ('-' first: optional; '*'
 * and '::*' the IPv4 and IPv6 wildcards; a host name: each address it
 * resolves to, once). Appends to l; returns 0 or -1 with err set. */
static int listen_word(net_listeners *l, const char *word, int port, int v6only, char *err,
                       size_t errlen)
{
    int optional = word[0] == '-';
    const char *host = word + optional;
    if (strcmp(host, "*") == 0) host = "0.0.0.0";
    if (strcmp(host, "::*") == 0) host = "::";
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "invalid bind address '%s': %s", host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int dup = 0;
        for (unsigned i = 0; i < l->n; i++)
            dup |= l->addrlen[i] == ai->ai_addrlen &&
                   memcmp(&l->addr[i], ai->ai_addr, ai->ai_addrlen) == 0;
        if (dup) continue; /* `--bind 127.0.0.1 localhost` */
        char text[NI_MAXHOST + 2];
        sockaddr_text(ai, text, sizeof text);
        if (l->n == NET_MAX_LISTEN) {
            snprintf(err, errlen, "more than %d addresses to listen on (--bind '%s' ...)",
                     NET_MAX_LISTEN, word);
            freeaddrinfo(res);
            return -1;
        }
        int fd = listen_one(ai, v6only);
        if (fd < 0) {
            int e = errno;
            if (addr_unsupported(e) || (optional && e == EADDRNOTAVAIL)) {
                kv_log_warn("Warning: Could not create server TCP listening socket %s:%d: %s "
                            "(skipped)",
                            text, port, strerror(e));
                continue;
            }
            snprintf(err, errlen, "cannot listen on %s:%d%s%s%s: %s", text, port,
                     strcmp(text, host) ? " (" : "", strcmp(text, host) ? host : "",
                     strcmp(text, host) ? ")" : "", strerror(e));
            freeaddrinfo(res);
            return -1;
        }
        l->fd[l->n] = fd;
        memcpy(&l->addr[l->n], ai->ai_addr, ai->ai_addrlen);
        l->addrlen[l->n] = ai->ai_addrlen;
        l->n++;
    }
    freeaddrinfo(res);
    return 0;
}

int net_listen(net_listeners *l, const char *bind_list, int port, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    char words[sizeof((kv_config *)0)->bind];
    snprintf(words, sizeof words, "%s", bind_list);
    int nwords = 0;
    for (const char *p = words; *p;) {
        p += strspn(p, " ");
        nwords += *p != '\0';
        p += strcspn(p, " ");
    }
    char *save = NULL;
    for (char *w = strtok_r(words, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
        if (listen_word(l, w, port, nwords > 1, err, errlen) != 0) {
            net_listeners_close(l);
            return -1;
        }
    if (l->n == 0) {
        snprintf(err, errlen, "no address of --bind '%s' can be listened on (port %d)", bind_list,
                 port);
        return -1;
    }
    return 0;
}

void net_listeners_close(net_listeners *l)
{
    for (unsigned i = 0; i < l->n; i++) close(l->fd[i]);
    l->n = 0;
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

/* In a container with a memory limit and no --maxmemory, the kernel's OOM
 * killer is the only limit: say so at start. MEMKV_CGROUP_DIR replaces
 * /sys/fs/cgroup (for tests). */
static void server_cgroup_warning(const kv_config *cfg)
{
    if (cfg->maxmemory > 0) return;
    const char *root = getenv("MEMKV_CGROUP_DIR");
    long long lim = kv_cgroup_mem_limit(root && *root ? root : "/sys/fs/cgroup");
    if (lim < 0) return;
    kv_log_warn("WARNING: this process has a cgroup memory limit of %lld bytes (%.1f MB) and "
                "no --maxmemory: past the limit the kernel kills the server. Set --maxmemory "
                "below it (e.g. --maxmemory %lldmb, 75%% of it) and a --maxmemory-policy.",
                lim, (double)lim / 1048576.0, lim * 3 / 4 / 1048576);
}

uint64_t server_not_counted(server_t *s)
{
    uint64_t sum = actor_pool_log_buffers(s->actors);
    if (s->net == NULL) return sum;
    for (unsigned i = 0; i < s->nnet; i++) {
        int64_t v = atomic_load_explicit(&s->net[i].inflight_bytes, memory_order_relaxed);
        if (v > 0) sum += (uint64_t)v;
    }
    return sum;
}

/* Memory held outside the shards (connections, logs, allocator headers,
 * start-up), for the per-shard share of --maxmemory: the allocator's total
 * minus the shards' own figures. direct: read the shards themselves (no
 * actor runs yet); else use what the actors last published. */
static int64_t server_overhead(server_t *s, int direct)
{
    int64_t shards = 0;
    for (unsigned i = 0; i < (unsigned)s->cfg.shards; i++) {
        if (direct) {
            shards += (int64_t)shard_mem(actor_pool_shard(s->actors, i));
        } else {
            int64_t f[CMD_INFO_NFIELDS];
            actor_pool_shard_figures(s->actors, i, f);
            shards += f[CMD_INFO_MEMORY];
        }
    }
    /* the log's buffers are not counted, as Redis does not count its AOF
     * buffer (mem_not_counted_for_evict), nor are the arguments of commands
     * in flight (bounded by NET_INFLIGHT_MAX_BYTES a network thread): a
     * burst of big writes, pipelined or waiting for fsync, would otherwise
     * evict the data set to make room for buffers gone a moment later */
    if (!direct) shards += (int64_t)server_not_counted(s);
    return (int64_t)kv_allocated_bytes() - shards;
}

/* How often the overhead is measured, and over how many measures the
 * median is used: the shards' figures are up to 10 ms old (100 ms when
 * idle), so a measure taken while they move a lot (a FLUSHALL, a burst of
 * client buffers) is off, and one such outlier must not move the share. */
#define SERVER_MEASURE_MS   250
#define SERVER_MEASURE_KEEP 5

static void server_measure(server_t *s, int64_t *hist, unsigned *n)
{
    int64_t m = server_overhead(s, 0);
    if (m < 0) return; /* figures older than a mass free: meaningless */
    hist[*n % SERVER_MEASURE_KEEP] = m;
    (*n)++;
    unsigned have = *n < SERVER_MEASURE_KEEP ? *n : SERVER_MEASURE_KEEP;
    int64_t v[SERVER_MEASURE_KEEP];
    memcpy(v, hist, have * sizeof v[0]);
    for (unsigned i = 1; i < have; i++) /* insertion sort of at most 5 */
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    evict_set_overhead(&s->limits, v[have / 2]);
}

/* File descriptors mem-kv needs besides client connections: logs and
 * snapshots of every shard, epoll/eventfd/timer descriptors of each thread,
 * listeners, and Redis's 32 to spare. */
static long reserved_fds(const kv_config *c)
{
    return 32 + 2L * c->shards + 4L * (c->io_threads + c->actor_threads);
}

/* As Redis: raise the soft RLIMIT_NOFILE (up to the hard limit) to fit
 * maxclients, else lower maxclients to fit, with a log line. */
static int adjust_maxclients(kv_config *c, char *err, size_t errlen)
{
    struct rlimit rl;
    long need = c->maxclients + reserved_fds(c);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
        (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur >= need))
        return 0;
    long old = (long)rl.rlim_cur;
    rlim_t want = (rlim_t)need;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) want = rl.rlim_max;
    if (want > rl.rlim_cur) {
        struct rlimit nl = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) rl.rlim_cur = want;
    }
    if ((long)rl.rlim_cur >= need) {
        kv_log("Increased maximum number of open files to %ld (it was originally set to %ld).",
               (long)rl.rlim_cur, old);
        return 0;
    }
    long fit = (long)rl.rlim_cur - reserved_fds(c);
    if (fit < 1) {
        snprintf(err, errlen,
                 "the open file limit (%ld, ulimit -n) leaves no room for clients: %ld descriptors "
                 "are needed for the server itself",
                 (long)rl.rlim_cur, reserved_fds(c));
        return KV_EINVAL;
    }
    kv_log_warn("You requested maxclients of %d requiring at least %ld max file descriptors.",
                c->maxclients, need);
    kv_log_warn("Current maximum open files is %ld. maxclients has been reduced to %ld to "
                "compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
                (long)rl.rlim_cur, fit);
    c->maxclients = (int)fit;
    return 0;
}

/* An actor's latency event (actor_pool_opts.event). Actor threads. */
static void server_latency_event(void *ctx, const char *name, uint64_t us)
{
    latency_add(&((server_t *)ctx)->lat, name, us);
}

server_t *server_new(const kv_config *cfg, tls_ctx *tls, char *err, size_t errlen)
{
    server_t *s = kv_xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    s->tls = tls;
    auth_init(&s->auth, cfg->requirepass);
    atomic_store(&s->protected_mode, cfg->protected_mode);
    atomic_store(&s->timeout, cfg->timeout);
    s->stop_efd = -1;
    pthread_mutex_init(&s->fz_lock, NULL);
    slowlog_conf_init(&s->slow, cfg->slowlog_slower_than, cfg->slowlog_max_len);
    latency_init(&s->lat, cfg->latency_threshold);
    monitor_hub_init(&s->mon);
    s->pubsub = pubsub_hub_new(&s->secret, cfg->obl_pubsub_hard, cfg->obl_pubsub_soft,
                               cfg->obl_pubsub_soft_seconds);
    if (s->pubsub == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    server_watch_update(s);
    s->start_ms = kv_time_ms();
    if (adjust_maxclients(&s->cfg, err, errlen) != 0) goto fail;
        /* glibc raises its mmap threshold whenever a large block is freed (up to
         * 32 MB); from then on the log's and connections' big buffers come from
         * the heap and leave holes that small entries fill, so RSS grows far
         * past used_memory under eviction. A fixed threshold keeps big buffers
         * in mappings of their own, unmapped when freed (measured: RSS 1.65x ->
         * 1.13x of a 32 MB --maxmemory while evicting with persistence on).
         * jemalloc (the default build) keeps large extents in size classes of
         * their own and needs none of this (docs/memory.md#the-allocator). */
#ifndef MEMKV_JEMALLOC
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    evict_limits_init(&s->limits, (uint32_t)cfg->shards, cfg->maxmemory, cfg->maxmemory_policy,
                      cfg->maxmemory_samples);
    server_cgroup_warning(cfg);
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
        .compact_cpu = cfg->compact_cpu,
        .secret = &s->secret,
        .done = netthr_post_done,
        .done_ctx = s,
        .persist = s->persist,
        .fsync_always = cfg->fsync == WAL_FSYNC_ALWAYS,
        .nnet = s->nnet,
        .wake = s->hosted ? netthr_wake_actor : NULL,
        .wake_ctx = s,
        .limits = &s->limits,
        .max_string = cfg->proto_max_bulk_len,
        .databases = cfg->databases,
        .event = server_latency_event,
        .event_ctx = s,
        .event_ms = &s->lat.threshold_ms,
    };
    s->actors = actor_pool_new(&ao);
    if (s->actors == NULL) {
        snprintf(err, errlen, "out of memory creating %u actors", s->nactors);
        goto fail;
    }
    s->scripts = script_env_new(s);
    if (s->persist && server_recover(s, err, errlen) != 0) goto fail;
    /* Only now, after recovery, does the port accept connections. */
    if (cfg->port > 0 && net_listen(&s->listen, cfg->bind, cfg->port, err, errlen) != 0) goto fail;
    if (tls && net_listen(&s->tls_listen, cfg->bind, cfg->tls_port, err, errlen) != 0) goto fail;
    if (cfg->metrics_port > 0 &&
        net_listen(&s->metrics_listen, cfg->bind, cfg->metrics_port, err, errlen) != 0)
        goto fail;
    if (net_uring_resolve(s, err, errlen) != 0) goto fail; /* --io-backend */
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
    int64_t measures[SERVER_MEASURE_KEEP];
    unsigned nmeasures = 1;
    measures[0] = server_overhead(s, 1);
    evict_set_overhead(&s->limits, measures[0]);
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
    struct pollfd pfd = {.fd = s->stop_efd, .events = POLLIN};
    while (!atomic_load(&s->stop)) {
        int r = poll(&pfd, 1, SERVER_MEASURE_MS);
        if (r < 0 && errno != EINTR) break;
        if (r > 0 && read(s->stop_efd, &v, sizeof v) < 0 && errno != EINTR && errno != EAGAIN)
            break;
        if (r == 0) {
            server_measure(s, measures, &nmeasures);
            kv_allocator_decay(); /* freed pages go back in ~1 s even when nothing allocates */
        }
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
    script_env_free(s->scripts); /* the actors' Lua states: after the actors stopped */
    net_listeners_close(&s->listen);
    net_listeners_close(&s->tls_listen);
    tls_ctx_free(s->tls); /* after the network threads closed every connection */
    net_listeners_close(&s->metrics_listen);
    if (s->stop_efd >= 0) close(s->stop_efd);
    auth_destroy(&s->auth);
    evict_limits_destroy(&s->limits);
    pthread_mutex_destroy(&s->fz_lock);
    monitor_hub_destroy(&s->mon);
    pubsub_hub_free(s->pubsub); /* after the network threads closed every connection */
    latency_destroy(&s->lat);
    free(s);
}
