/* config.h - server settings from the command line and a config file.
 *
 * Flags and file keys are the same words: `--port 8080` on the command line
 * is `port 8080` in the file (one `key value` per line, '#' comments,
 * "..." and '...' quoting as redis.conf, `include FILE`). Later settings
 * win; flags given after --config override the file. redis.conf lines that
 * are not mem-kv options are mapped, accepted with a warning, or refused
 * (docs/operations.md, "redis.conf lines"). Start-up thread only.
 */
#ifndef MEMKV_CONFIG_H
#define MEMKV_CONFIG_H

#include <stdio.h>

#define KV_CONFIG_ERRLEN 512

/* Most addresses of --bind (Redis's CONFIG_BINDADDR_MAX). */
#define KV_CONFIG_MAX_BIND 16

typedef struct kv_config {
    char bind[512];               /* --bind: 1 to KV_CONFIG_MAX_BIND words, one space apart */
    int port;                     /* --port */
    int shards;                   /* --shards */
    int actor_threads;            /* --actor-threads, 0 = from the CPU count */
    int io_threads;               /* --io-threads, 0 = from the CPU count */
    int threads;                  /* --threads: hosted actors; 0 = separate pools */
    int io_backend;               /* --io-backend: 0 auto, 1 epoll, 2 uring (net/uring.h) */
    int maxclients;               /* --maxclients */
    int databases;                /* --databases: SELECT 0..N-1 */
    int timeout;                  /* --timeout: idle seconds before a client is closed, 0 = never */
    int tcp_keepalive;            /* --tcp-keepalive: seconds, 0 = off */
    long long proto_max_bulk_len; /* --proto-max-bulk-len */
    long long client_query_buffer_limit; /* --client-query-buffer-limit */
    long long obl_hard;                  /* --client-output-buffer-limit normal HARD ... */
    long long obl_soft;                  /* ... SOFT ... */
    int obl_soft_seconds;                /* ... SECONDS */
    char requirepass[512];               /* --requirepass, "" = none */
    int protected_mode;                  /* --protected-mode yes|no */
    int hz;                              /* --hz: active expiry ticks per second */
    int loglevel;                        /* --loglevel: 0 warning, 1 notice, 2 verbose */
    int metrics_port;                    /* --metrics-port: Prometheus HTTP port, 0 = off */
    char dir[512];                       /* --dir: data directory */
    int persistence;                     /* --persistence on|off */
    int fsync;                           /* --fsync: 0 no, 1 interval, 2 always (enum wal_fsync) */
    int fsync_interval_ms;               /* --fsync-interval-ms */
    int keep_prefix;                     /* --recover-mode keep-prefix */
    long long wal_segment_bytes;         /* --wal-segment-size */
    long long compact_log_bytes;         /* --compact-log-size */
    int compact_cpu;                     /* --compact-cpu: percent of an actor's time */
    int tls_port;                        /* --tls-port, 0 = no TLS */
    char tls_cert_file[512];             /* --tls-cert-file */
    char tls_key_file[512];              /* --tls-key-file */
    char tls_ca_cert_file[512];          /* --tls-ca-cert-file, "" = none */
    int tls_auth_clients;                /* --tls-auth-clients: 0 no, 1 yes, 2 optional */
    char tls_protocols[64];              /* --tls-protocols, "" = TLSv1.2 and TLSv1.3 */
    char tls_ciphers[512];               /* --tls-ciphers, "" = OpenSSL's default */
    char tls_ciphersuites[512];          /* --tls-ciphersuites, "" = OpenSSL's default */
    int tls_hs_timeout_ms;               /* --tls-handshake-timeout-ms */
    long long maxmemory;                 /* --maxmemory: bytes, 0 = no limit */
    int maxmemory_policy;                /* --maxmemory-policy: enum evict_policy */
    int maxmemory_samples;               /* --maxmemory-samples */
    int lua_time_limit;                  /* --lua-time-limit: ms a script may run, 0 = no limit */
    int slowlog_slower_than;             /* --slowlog-log-slower-than: us, < 0 off, 0 all */
    int slowlog_max_len;                 /* --slowlog-max-len: entries kept */
    int latency_threshold;               /* --latency-monitor-threshold: ms, 0 = off */
    int help;                            /* --help was given */
    int version;                         /* --version was given */
    char warnings[4096]; /* set by parsing: lines for the log, one each, '\n'-ended */
} kv_config;

void config_defaults(kv_config *c);

/* Applies argv (argv[0] is the program name). On a bad option, or
 * options that contradict each other (config_check), writes a message to
 * err and returns KV_EINVAL. --config FILE is read in place. A flag takes
 * the arguments after it up to the next one starting with "--". Warnings
 * (ignored redis.conf lines) are added to c->warnings. */
int config_parse_args(kv_config *c, int argc, char **argv, char *err, size_t errlen);

/* Applies one `key value` setting; returns 0 or KV_EINVAL with err set.
 * CONFIG SET parses its values with it too (on a scratch copy). */
/* client-output-buffer-limit: "normal HARD SOFT SECONDS" (classes replica,
 * slave and pubsub are accepted and ignored, as mem-kv has no such
 * clients) or "HARD SOFT SECONDS". */
int config_set(kv_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Reads a config file (and the files it includes); returns 0 or
 * KV_EINVAL/KV_EIO with err set (naming the file and line). Warnings are
 * added to c->warnings. */
int config_load_file(kv_config *c, const char *path, char *err, size_t errlen);

/* Settings that contradict each other (--threads with --io-threads or
 * --actor-threads): KV_EINVAL with err set, else 0. config_parse_args
 * ends with it. */
int config_check(const kv_config *c, char *err, size_t errlen);

/* Fills actor_threads / io_threads left at 0 from the CPU count (on 2 CPUs
 * or fewer with no count given: threads = 1, hosted actors), caps the
 * actors at the shard count, and adds a line to c->warnings when counts
 * that were given ask for more busy threads than ncpu (or were capped). */
void config_resolve_threads(kv_config *c, int ncpu);

/* Formats the client-output-buffer-limit value as CONFIG GET shows it. */
void config_format_obl(const kv_config *c, char *buf, size_t len);

/* Prints the --help text. */
void config_usage(FILE *out, const char *prog);

#endif
