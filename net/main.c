/* main.c - mem-kv-server: parse options, start the server, stop on
 * SIGINT/SIGTERM; SIGHUP is ignored (as Redis does: a closed terminal or a
 * supervisor's reload signal must not stop the server). */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/config.h"
#include "engine/kv.h"
#include "net/server.h"
#include "net/tls.h"

#ifdef MEMKV_JEMALLOC
/* jemalloc's options, read when it starts (MALLOC_CONF in the environment
 * still adds to them). One arena: an actor allocates each GET's reply and
 * the network thread frees it; with an arena per thread (jemalloc's default
 * of 4 per CPU) the freed extents decayed in the actor's arena and every
 * 1 MB reply was faulted in again (measured: 35-120 page faults and 2-3.8 ms
 * of server CPU per 1 MB GET, against 0 and 0.55 ms with one arena; small
 * allocations go through the per-thread caches, so the one arena's lock is
 * not taken for them). Dirty pages (freed, still resident) decay in 1 s,
 * not jemalloc's 10 s: with 10 s, RSS right after a fill past maxmemory held
 * up to 7 MB of them at a 32 MB limit (anonymous RSS 117 %, 105 % with 1 s).
 * docs/memory.md#the-allocator. */
const char *malloc_conf = "narenas:1,dirty_decay_ms:1000";
#endif

/* The signals only signal_thread takes; main blocks them in every thread. */
static void handled_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

/* Waits for a termination signal, then stops the server. SIGHUP is logged
 * and ignored. Its own thread. */
static void *signal_thread(void *arg)
{
    server_t *s = arg;
    sigset_t set;
    handled_signals(&set);
    int sig = 0;
    for (;;) {
        if (sigwait(&set, &sig) != 0) continue;
        if (sig != SIGHUP) break;
        kv_log("Received SIGHUP, ignored.");
    }
    kv_log("Received %s, shutting down.", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server_stop(s);
    return NULL;
}

/* Logs what parsing the options left to say (ignored redis.conf lines,
 * ...), one warning per line. */
static void log_config_warnings(const kv_config *cfg)
{
    const char *p = cfg->warnings;
    while (*p) {
        size_t n = strcspn(p, "\n");
        kv_log_warn("WARNING: %.*s", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

int main(int argc, char **argv)
{
    kv_config cfg;
    char err[KV_CONFIG_ERRLEN];
    config_defaults(&cfg);
    if (config_parse_args(&cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "mem-kv-server: %s\nTry '%s --help' for the options.\n", err, argv[0]);
        return 2;
    }
    if (cfg.help) {
        config_usage(stdout, argv[0]);
        return 0;
    }
    if (cfg.version) {
        printf("mem-kv-server 0.1.0 (Redis protocol compatibility 7.0)\n");
        return 0;
    }
    kv_log_quiet(cfg.loglevel == 0);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    config_resolve_threads(&cfg, (int)ncpu);
    log_config_warnings(&cfg);

    /* Every thread inherits this mask; only signal_thread takes the signals. */
    sigset_t set;
    handled_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (cfg.port == 0 && cfg.tls_port == 0) {
        fprintf(stderr, "mem-kv-server: --port 0 needs a --tls-port: nothing to listen on\n");
        return 2;
    }
    tls_ctx *tls = NULL;
    if (cfg.tls_port > 0 && (tls = tls_ctx_new(&cfg, err, sizeof err)) == NULL) {
        fprintf(stderr, "mem-kv-server: %s\n", err);
        return 2;
    }
    server_t *s = server_new(&cfg, tls, err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "mem-kv-server: %s\n", err);
        return 1;
    }
    pthread_t sig;
    pthread_create(&sig, NULL, signal_thread, s);
    pthread_detach(sig);
    char line[sizeof cfg.bind + 200], tlsport[32] = "";
    if (cfg.tls_port > 0) snprintf(tlsport, sizeof tlsport, " (TLS port %d)", cfg.tls_port);
    /* one address: ADDR:PORT as before; a list: "A B port PORT" */
    snprintf(line, sizeof line, "%s%s%d%s, %d shards, %d actor threads, %d io threads", cfg.bind,
             strchr(cfg.bind, ' ') ? " port " : ":", cfg.port, tlsport, cfg.shards,
             cfg.actor_threads, cfg.io_threads);
    kv_log("mem-kv ready to accept connections on %s", line);
    int rc = server_run(s, err, sizeof err);
    if (rc != 0) fprintf(stderr, "mem-kv-server: %s\n", err);
    server_free(s);
    kv_log("%s", "mem-kv is now ready to exit, bye bye...");
    return rc != 0 ? 1 : 0;
}
