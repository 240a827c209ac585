/* config.h - server settings from the command line and a config file.
 *
 * Flags and file keys are the same words: `--port 8080` on the command line
 * is `port 8080` in the file (one `key value` per line, '#' comments,
 * "..." and '...' quoting as redis.conf, `include FILE`). Later settings
 * win; flags given after --config override the file. redis.conf lines that
 * are not mem-kv options are mapped, accepted with a warning, or refused
 * (docs/operations.md, "redis.conf lines"). Parsing argv and files:
 * start-up thread only; the settings table's functions (config_setting_*)
 * work on the caller's kv_config from any thread.
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
    long long obl_pubsub_hard;           /* --client-output-buffer-limit pubsub HARD ... */
    long long obl_pubsub_soft;           /* ... SOFT ... */
    int obl_pubsub_soft_seconds;         /* ... SECONDS */
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

/* ---- the settings table ---------------------------------------------------
 *
 * One row per setting (config.c, `settings[]`) says everything about it:
 * its name, type, bounds, default, whether CONFIG GET answers it and CONFIG
 * SET may change it, its --help line and Redis's CONFIG SET message for a
 * bad value. The command line, the config file, --help, CONFIG GET and
 * CONFIG SET (net/confset.c) all read it, and a unit test checks the
 * options table of docs/operations.md against it. */

/* How a setting's value is written and stored. */
typedef enum config_type {
    CONFIG_INT,    /* int field, decimal, min..max */
    CONFIG_SIZE,   /* long long field, bytes with redis.conf's units (64mb), min..max */
    CONFIG_BOOL,   /* int field 0/1: yes|no or on|off; CONFIG GET says yes/no */
    CONFIG_ENUM,   /* int field: the index of its word in words (or alt) */
    CONFIG_STRING, /* char[max] field, not empty */
    CONFIG_WORDS,  /* char[max] field, one or more words joined by one space */
    CONFIG_ADDRS,  /* char[max] field: 1 to KV_CONFIG_MAX_BIND addresses or host names */
    CONFIG_SECRET, /* char[max] field, may be empty (requirepass) */
    CONFIG_OBL,    /* client-output-buffer-limit: obl_hard, obl_soft, obl_soft_seconds and
                      the pubsub class's obl_pubsub_* */
    CONFIG_CONST,  /* no field: CONFIG GET answers def (Redis's `save`) */
} config_type;

/* Flags of a row. */
enum {
    CONFIG_GET = 1,  /* CONFIG GET answers it (the value the server started with) */
    CONFIG_LIVE = 2, /* CONFIG SET may change it while running; CONFIG GET answers
                        the live value (net/confset.c keeps both halves) */
    CONFIG_VIEW = 4, /* not an option, only a Redis name that CONFIG GET answers from a
                        field (appendonly from persistence): --help, the config file,
                        CONFIG SET and docs/operations.md skip it */
};

typedef struct config_setting {
    const char *name;
    const char *alias; /* another name accepted for it, or NULL */
    config_type type;
    unsigned flags;     /* CONFIG_GET, CONFIG_LIVE, CONFIG_VIEW */
    long long min, max; /* INT, SIZE: bounds; STRING, WORDS, ADDRS, SECRET: the field's size */
    size_t off;         /* the field in kv_config */
    const char *const *words; /* ENUM, BOOL: the word of each value, NULL-ended; CONFIG GET's */
    const char *const *alt;   /* ENUM, BOOL: another word for each value (NULL: none), or NULL */
    const char *def;          /* the default, written as in a config file; NULL: 0 or empty */
    const char *arg;          /* --help: the value (N, BYTES, yes|no) */
    const char *expect;       /* ENUM: what a bad value's message expects; NULL: arg */
    const char *help;         /* --help: one line */
    const char *set_error;    /* CONFIG SET's message for a bad value (Redis's text); NULL:
                                 the message of config_setting_set */
} config_setting;

/* The rows in table order (the order of --help and CONFIG GET); at(i) is
 * NULL for i >= count. The pointers are static. */
size_t config_setting_count(void);
const config_setting *config_setting_at(size_t i);

/* The option (not a CONFIG_VIEW row) whose name or alias is name, in any
 * case; NULL if none. The pointer is static. */
const config_setting *config_setting_find(const char *name);

/* Parses value as st says and stores it into c; returns 0, or KV_EINVAL
 * with err set and c unchanged. Any thread, on its own c. */
int config_setting_set(kv_config *c, const config_setting *st, const char *value, char *err,
                       size_t errlen);

/* Writes st's value in c as CONFIG GET shows it (Redis's format: numbers in
 * decimal, sizes in bytes, yes/no, the word of an enum). Any thread, on a c
 * no one writes meanwhile. */
void config_setting_format(const kv_config *c, const config_setting *st, char *buf, size_t len);

/* Every setting at its default (each row's def). */
void config_defaults(kv_config *c);

/* Applies argv (argv[0] is the program name). On a bad option, or
 * options that contradict each other (config_check), writes a message to
 * err and returns KV_EINVAL. --config FILE is read in place. A flag takes
 * the arguments after it up to the next one starting with "--". Warnings
 * (ignored redis.conf lines) are added to c->warnings. */
int config_parse_args(kv_config *c, int argc, char **argv, char *err, size_t errlen);

/* Applies one `key value` setting (config_setting_find, then
 * config_setting_set); returns 0 or KV_EINVAL with err set.
 * client-output-buffer-limit: "normal HARD SOFT SECONDS" and/or "pubsub
 * HARD SOFT SECONDS" (the replica/slave class is accepted and ignored, as
 * mem-kv has no replicas), or "HARD SOFT SECONDS" for the normal class. */
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

/* Prints the --help text: one line per option of the settings table. */
void config_usage(FILE *out, const char *prog);

#endif
