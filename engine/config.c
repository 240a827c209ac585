#include "engine/config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "engine/evict.h"
#include "engine/kv.h"

/* Words of the CONFIG_BOOL and CONFIG_ENUM settings, by value; NULL-ended.
 * An alt list gives another word for the value of the same index. */
static const char *const bool_words[] = {"no", "yes", NULL};
static const char *const bool_alt[] = {"off", "on", NULL};
static const char *const fsync_words[] = {"no", "interval", "always", NULL};
static const char *const recover_words[] = {"strict", "keep-prefix", NULL};
static const char *const tls_auth_words[] = {"no", "yes", "optional", NULL};
static const char *const loglevel_words[] = {"warning", "notice", "verbose", NULL};
static const char *const loglevel_alt[] = {NULL, NULL, "debug", NULL}; /* Redis's level */
/* appendfsync: Redis's words for the --fsync policies (enum wal_fsync) */
static const char *const appendfsync_words[] = {"no", "everysec", "always", NULL};
/* --io-backend (enum net_io_backend, net/uring.h) */
static const char *const io_backend_words[] = {"auto", "epoll", "uring", NULL};

/* The start of a row of each type: name, field of kv_config, bounds, default. */
#define FIELD(f) .off = offsetof(kv_config, f)
#define ROW_INT(n, f, lo, hi, d)                                                                   \
    .name = n, .type = CONFIG_INT, FIELD(f), .min = lo, .max = hi, .def = d
#define ROW_SIZE(n, f, lo, hi, d)                                                                  \
    .name = n, .type = CONFIG_SIZE, FIELD(f), .min = lo, .max = hi, .def = d
#define ROW_BOOL(n, f, d)                                                                          \
    .name = n, .type = CONFIG_BOOL, FIELD(f), .words = bool_words, .alt = bool_alt, .def = d
#define ROW_ENUM(n, f, w, d) .name = n, .type = CONFIG_ENUM, FIELD(f), .words = w, .def = d
#define ROW_STR(n, t, f, d)                                                                        \
    .name = n, .type = t, FIELD(f), .max = sizeof(((kv_config *)0)->f), .def = d

/* The settings table: every setting of mem-kv, one row each (see
 * config_setting in config.h for the fields).
 *
 * Adding a setting is one row here, plus the kv_config field that the code
 * using it reads. For example
 *
 *   {ROW_ENUM("io-backend", io_backend, io_backend_words, "epoll"),
 *    .arg = "epoll|uring", .help = "how the network threads wait (default epoll)"},
 *
 * gives --io-backend, `io-backend` in a config file, its --help line and its
 * default in config_defaults. Add .flags = CONFIG_GET for CONFIG GET to
 * answer it; CONFIG_LIVE (and a hook in net/confset.c's hooks[], which
 * stores the value where the running threads read it) for CONFIG SET.
 * test_config checks that docs/operations.md's options table has a line
 * for it with its default. The row's place is its place in --help and in
 * CONFIG GET's reply. */
static const config_setting settings[] = {
    {ROW_INT("port", port, 0, 65535, "8080"), .flags = CONFIG_GET, .arg = "N",
     .help = "TCP port to listen on (default 8080; 0 = no plain-text port, with --tls-port)"},
    {ROW_STR("bind", CONFIG_ADDRS, bind, "127.0.0.1"), .flags = CONFIG_GET, .arg = "ADDR...",
     .help = "addresses or host names to listen on, up to 16 (default 127.0.0.1); '-ADDR': "
             "skipped if the host lacks it; '*' = 0.0.0.0, '::*' = ::"},
    {ROW_INT("shards", shards, 1, 1024, "16"), .flags = CONFIG_GET, .arg = "N",
     .help = "number of keyspace shards (default 16)"},
    {ROW_INT("actor-threads", actor_threads, 0, 256, "0"), .flags = CONFIG_GET, .arg = "N",
     .help = "threads that own shards (default: from the CPU count, none of their own on 2 CPUs "
             "or fewer: see --threads; 0 = auto)"},
    {ROW_INT("io-threads", io_threads, 0, 256, "0"), .flags = CONFIG_GET, .arg = "N",
     .help = "network threads (default: from the CPU count; 0 = auto)"},
    {ROW_INT("threads", threads, 0, 256, "0"), .arg = "N",
     .help = "N threads that each read sockets AND own shards: a command for a shard of its own "
             "thread runs without a hand-off (replaces --io-threads/--actor-threads; 0 = auto, "
             "the default: 1 on 2 CPUs or fewer if neither of those is given, else off)"},
    {ROW_ENUM("io-backend", io_backend, io_backend_words, "auto"), .flags = CONFIG_GET,
     .arg = "auto|epoll|uring",
     .help = "how network threads read and send: uring = all reads of a loop iteration in one "
             "io_uring_enter, all replies in another; epoll = read/write per connection; auto "
             "(default) = uring if this build and the kernel allow it, else epoll (TLS "
             "connections always use read/write); CONFIG GET shows the one in use"},
    {ROW_INT("databases", databases, 1, 256, "16"), .flags = CONFIG_GET, .arg = "N",
     .help = "number of databases, SELECT 0..N-1 (default 16, as Redis)"},
    {ROW_INT("maxclients", maxclients, 1, 1000000, "10000"), .flags = CONFIG_GET, .arg = "N",
     .help = "most client connections at once (default 10000)"},
    {ROW_INT("timeout", timeout, 0, INT_MAX, "0"), .flags = CONFIG_LIVE, .arg = "SECONDS",
     .help = "close a client idle for this many seconds (default 0: never)",
     .set_error = "argument must be between 0 and 2147483647 inclusive"},
    {ROW_INT("tcp-keepalive", tcp_keepalive, 0, INT_MAX, "300"), .flags = CONFIG_GET,
     .arg = "SECONDS",
     .help = "TCP keepalive probes on idle client connections after this many seconds (default "
             "300; 0 = off)"},
    {ROW_SIZE("proto-max-bulk-len", proto_max_bulk_len, 1 << 20, 1ll << 40, "512mb"),
     .flags = CONFIG_GET, .arg = "BYTES",
     .help = "longest single argument of a request (default 512mb)"},
    {ROW_SIZE("client-query-buffer-limit", client_query_buffer_limit, 1 << 20, 1ll << 40, "1gb"),
     .flags = CONFIG_GET, .arg = "BYTES",
     .help = "most unparsed input bytes a client may have buffered, a whole request included "
             "(default 1gb)"},
    {.name = "client-output-buffer-limit",
     .type = CONFIG_OBL,
     .def = "normal 64mb 16mb 60 pubsub 32mb 8mb 60",
     .flags = CONFIG_GET | CONFIG_LIVE,
     .arg = "'normal|pubsub HARD SOFT SECS'",
     .set_error = "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
     .help = "close a client whose queued replies pass HARD bytes, or stay over SOFT bytes for "
             "SECS seconds (default 'normal 64mb 16mb 60 pubsub 32mb 8mb 60'; 0 = no limit)"},
    {ROW_STR("requirepass", CONFIG_SECRET, requirepass, ""), .flags = CONFIG_LIVE,
     .arg = "PASSWORD", .help = "clients must AUTH with this password first (default: none)"},
    {ROW_BOOL("protected-mode", protected_mode, "yes"), .flags = CONFIG_LIVE, .arg = "yes|no",
     .help = "with no requirepass, refuse clients not on the loopback interface (default yes)",
     .set_error = "argument must be 'yes' or 'no'"},
    {ROW_INT("hz", hz, 1, 500, "10"), .flags = CONFIG_GET, .arg = "N",
     .help = "active expiry cycles per second in each actor (default 10)"},
    {ROW_INT("metrics-port", metrics_port, 0, 65535, "0"), .arg = "N",
     .help = "serve Prometheus metrics at http://BIND:N/metrics (default 0: off)"},
    {ROW_ENUM("loglevel", loglevel, loglevel_words, "notice"), .alt = loglevel_alt, .arg = "LEVEL",
     .expect = "warning, notice or verbose", .help = "warning, notice (default) or verbose"},
    {ROW_STR("dir", CONFIG_STRING, dir, "./data"), .arg = "PATH",
     .help = "data directory for the write-ahead log and snapshots (default ./data)"},
    {ROW_BOOL("persistence", persistence, "on"), .arg = "on|off",
     .help = "keep data across restarts (default on); off: a pure cache, no files"},
    {ROW_ENUM("fsync", fsync, fsync_words, "interval"), .arg = "always|interval|no",
     .help = "when the log is synced: before each reply, every --fsync-interval-ms (default), or "
             "never"},
    {ROW_INT("fsync-interval-ms", fsync_interval_ms, 1, 60000, "100"), .arg = "MS",
     .help = "with --fsync interval: most milliseconds of acknowledged writes a power loss may "
             "lose (100)"},
    {ROW_ENUM("recover-mode", keep_prefix, recover_words, "strict"), .arg = "strict|keep-prefix",
     .help = "a corrupt log record stops start-up (strict, default) or start-up keeps what "
             "precedes it"},
    {ROW_SIZE("wal-segment-size", wal_segment_bytes, 1 << 20, 1ll << 40, "64mb"), .arg = "BYTES",
     .help = "rotate a shard's log segment at this size (default 64mb)"},
    {ROW_SIZE("compact-log-size", compact_log_bytes, 0, 1ll << 50, "100mb"), .arg = "BYTES",
     .help = "compact when the logs total this much and a shard's log is over twice its "
             "snapshot (default 100mb; 0 = only on COMPACT)"},
    {ROW_INT("compact-cpu", compact_cpu, 1, 100, "5"), .arg = "PCT",
     .help = "most of an actor's time a compaction's scan may take, in percent (default 5; 100 "
             "= unpaced)"},
    {ROW_INT("tls-port", tls_port, 0, 65535, "0"), .arg = "N",
     .help = "also accept TLS connections on this port (default 0: off); needs --tls-cert-file "
             "and --tls-key-file"},
    {ROW_STR("tls-cert-file", CONFIG_STRING, tls_cert_file, NULL), .arg = "PATH",
     .help = "the server's certificate (PEM, may include the chain)"},
    {ROW_STR("tls-key-file", CONFIG_STRING, tls_key_file, NULL), .arg = "PATH",
     .help = "the private key of --tls-cert-file (PEM, unencrypted)"},
    {ROW_STR("tls-ca-cert-file", CONFIG_STRING, tls_ca_cert_file, NULL), .arg = "PATH",
     .help = "CA certificates (PEM) that client certificates are verified against"},
    {ROW_ENUM("tls-auth-clients", tls_auth_clients, tls_auth_words, "yes"),
     .arg = "yes|no|optional",
     .help = "clients must present a certificate signed by --tls-ca-cert-file (yes, default), "
             "need not (no), or may (optional: verified if sent)"},
    {ROW_STR("tls-protocols", CONFIG_WORDS, tls_protocols, NULL), .arg = "'LIST'",
     .help = "TLS versions to accept, e.g. 'TLSv1.2 TLSv1.3' (default: both)"},
    {ROW_STR("tls-ciphers", CONFIG_STRING, tls_ciphers, NULL), .arg = "LIST",
     .help = "OpenSSL cipher list for TLSv1.2 (default: OpenSSL's)"},
    {ROW_STR("tls-ciphersuites", CONFIG_STRING, tls_ciphersuites, NULL), .arg = "LIST",
     .help = "OpenSSL ciphersuites for TLSv1.3 (default: OpenSSL's)"},
    {ROW_INT("tls-handshake-timeout-ms", tls_hs_timeout_ms, 1, 3600000, "10000"), .arg = "MS",
     .help = "close a TLS connection whose handshake is not done after MS (default 10000)"},
    {ROW_SIZE("maxmemory", maxmemory, 0, 1ll << 50, "0"), .flags = CONFIG_LIVE, .arg = "BYTES",
     .help = "memory limit for the data (e.g. 1gb; default 0: no limit); see --maxmemory-policy",
     .set_error = "argument must be a memory value"},
    {ROW_ENUM("maxmemory-policy", maxmemory_policy, evict_policy_names, "noeviction"),
     .flags = CONFIG_LIVE, .arg = "POLICY", .expect = "a policy (see --help)",
     .help = "at the limit: noeviction (default: writes get -OOM), allkeys-lru, volatile-lru, "
             "allkeys-lfu, volatile-lfu, allkeys-random, volatile-random or volatile-ttl",
     .set_error = "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
                  "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
                  "noeviction"},
    {ROW_INT("maxmemory-samples", maxmemory_samples, 1, INT_MAX, "5"), .flags = CONFIG_LIVE,
     .arg = "N",
     .help = "keys sampled per eviction by the LRU, LFU and TTL policies (default 5; at most 64 "
             "used)",
     .set_error = "argument must be between 1 and 2147483647 inclusive"},
    {ROW_INT("lua-time-limit", lua_time_limit, 0, INT_MAX, "5000"), .arg = "MS",
     .help = "stop a Lua script (EVAL) with an error after it ran this long (default 5000; 0 = "
             "never)"},
    {ROW_INT("slowlog-log-slower-than", slowlog_slower_than, INT_MIN, INT_MAX, "10000"),
     .flags = CONFIG_LIVE, .arg = "US",
     .help = "SLOWLOG keeps commands that took at least this many microseconds (default 10000; "
             "0 = every command, negative = none)"},
    {ROW_INT("slowlog-max-len", slowlog_max_len, 0, INT_MAX, "128"), .flags = CONFIG_LIVE,
     .arg = "N", .help = "entries SLOWLOG keeps (default 128)"},
    {ROW_INT("latency-monitor-threshold", latency_threshold, 0, INT_MAX, "0"), .flags = CONFIG_LIVE,
     .arg = "MS",
     .help = "LATENCY records events that took at least this many milliseconds (default 0: off)"},
    /* Redis's names that clients ask CONFIG GET for; not options (the config
     * file maps them, see compat[] below) */
    {.name = "save", .type = CONFIG_CONST, .def = "", .flags = CONFIG_VIEW},
    /* as INFO's aof_enabled (redis-benchmark prints "appendonly: yes/no") */
    {ROW_BOOL("appendonly", persistence, NULL), .flags = CONFIG_VIEW},
    {ROW_ENUM("appendfsync", fsync, appendfsync_words, NULL), .flags = CONFIG_VIEW},
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

#undef ROW_STR
#undef ROW_ENUM
#undef ROW_BOOL
#undef ROW_SIZE
#undef ROW_INT
#undef FIELD

size_t config_setting_count(void)
{
    return NSETTINGS;
}

const config_setting *config_setting_at(size_t i)
{
    assert(i < NSETTINGS);
    return i < NSETTINGS ? &settings[i] : NULL;
}

const config_setting *config_setting_find(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const config_setting *st = &settings[i];
        if (st->flags & CONFIG_VIEW) continue;
        if (strcasecmp(st->name, name) == 0 || (st->alias && strcasecmp(st->alias, name) == 0))
            return st;
    }
    return NULL;
}

void config_defaults(kv_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const config_setting *st = &settings[i];
        char err[KV_CONFIG_ERRLEN];
        if ((st->flags & CONFIG_VIEW) || st->def == NULL || st->def[0] == '\0') continue;
        int rc = config_setting_set(c, st, st->def, err, sizeof err);
        assert(rc == 0 && "a default that its own row refuses");
        (void)rc;
    }
}

/* Parses a size as redis.conf does: "123", "64k" (1000s), "64kb" (1024s),
 * m/mb, g/gb. Returns 0 or -1. */
static int parse_bytes(const char *v, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || n < 0) return -1;
    static const struct {
        const char *suffix;
        long long mul;
    } units[] = {{"", 1},        {"b", 1},          {"k", 1000},       {"kb", 1024},
                 {"m", 1000000}, {"mb", 1ll << 20}, {"g", 1000000000}, {"gb", 1ll << 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (n > LLONG_MAX / units[i].mul) return -1;
            *out = n * units[i].mul;
            return 0;
        }
    return -1;
}

/* Parses "normal HARD SOFT SECS [replica ...] [pubsub ...]" or "HARD SOFT
 * SECS" into c. Returns 0 or -1 with c unchanged. */
static int parse_obl(kv_config *c, const char *value)
{
    char buf[256], *save = NULL, *w[16];
    int n = 0;
    if (strlen(value) >= sizeof buf) return -1;
    strcpy(buf, value);
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == 16) return -1;
        w[n++] = tok;
    }
    long long hard = c->obl_hard, soft = c->obl_soft, secs = c->obl_soft_seconds;
    long long phard = c->obl_pubsub_hard, psoft = c->obl_pubsub_soft;
    long long psecs = c->obl_pubsub_soft_seconds;
    int bare = n == 3;
    if (!bare && (n == 0 || n % 4 != 0)) return -1;
    for (int i = 0; i < n; i += 4) {
        int normal = bare || strcasecmp(w[i], "normal") == 0;
        if (!bare && !normal && strcasecmp(w[i], "replica") != 0 &&
            strcasecmp(w[i], "slave") != 0 && strcasecmp(w[i], "pubsub") != 0)
            return -1;
        int k = bare ? 0 : i + 1;
        long long h, s, sec;
        char *end;
        if (parse_bytes(w[k], &h) != 0 || parse_bytes(w[k + 1], &s) != 0) return -1;
        errno = 0;
        sec = strtoll(w[k + 2], &end, 10);
        if (errno || *end != '\0' || sec < 0 || sec > INT_MAX) return -1;
        if (normal) {
            hard = h;
            soft = s;
            secs = sec;
        } else if (strcasecmp(w[i], "pubsub") == 0) {
            phard = h;
            psoft = s;
            psecs = sec;
        }
        if (bare) break;
    }
    c->obl_hard = hard;
    c->obl_soft = soft;
    c->obl_soft_seconds = (int)secs;
    c->obl_pubsub_hard = phard;
    c->obl_pubsub_soft = psoft;
    c->obl_pubsub_soft_seconds = (int)psecs;
    return 0;
}

/* Checks a list of addresses (blank-separated words: 1 to
 * KV_CONFIG_MAX_BIND, each a plausible host name or address, optionally
 * after '-') and stores it with single spaces in out. Returns 0 or -1 with
 * out unchanged. */
static int parse_addrs(char *out, size_t len, const char *value)
{
    char buf[1024];
    size_t used = 0;
    int n = 0;
    for (const char *p = value;;) {
        p += strspn(p, " \t");
        if (*p == '\0') break;
        size_t w = strcspn(p, " \t");
        if (++n > KV_CONFIG_MAX_BIND || w > 255 || used + w + 2 > sizeof buf) return -1;
        for (size_t i = 0; i < w; i++) /* names, IPv4/IPv6 text, '-', '*', '%scope' */
            if (p[i] <= ' ' || p[i] == '"' || p[i] == '\'' || p[i] == '/' || p[i] == '\\' ||
                p[i] == 127)
                return -1;
        if (w == 1 && p[0] == '-') return -1;
        if (used) buf[used++] = ' ';
        memcpy(buf + used, p, w);
        used += w;
        p += w;
    }
    buf[used] = '\0';
    if (n == 0 || used >= len) return -1;
    memcpy(out, buf, used + 1);
    return 0;
}

/* Redis lists every class; slave's are Redis's defaults, unused here. */
static void format_obl(const kv_config *c, char *buf, size_t len)
{
    snprintf(buf, len, "normal %lld %lld %d slave 268435456 67108864 60 pubsub %lld %lld %d",
             c->obl_hard, c->obl_soft, c->obl_soft_seconds, c->obl_pubsub_hard, c->obl_pubsub_soft,
             c->obl_pubsub_soft_seconds);
}

/* The value of word for an enum or bool row, or -1. */
static int enum_value(const config_setting *st, const char *word)
{
    for (int i = 0; st->words[i] != NULL; i++)
        if (strcasecmp(word, st->words[i]) == 0 ||
            (st->alt && st->alt[i] && strcasecmp(word, st->alt[i]) == 0))
            return i;
    return -1;
}

static int set_int(const config_setting *st, void *field, const char *value, char *err,
                   size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || v < st->min || v > st->max) {
        snprintf(err, errlen, "invalid value '%s' for '%s': expected an integer from %lld to %lld",
                 value, st->name, st->min, st->max);
        return KV_EINVAL;
    }
    *(int *)field = (int)v;
    return 0;
}

static int set_size(const config_setting *st, void *field, const char *value, char *err,
                    size_t errlen)
{
    long long v;
    if (parse_bytes(value, &v) != 0 || v < st->min || v > st->max) {
        snprintf(err, errlen,
                 "invalid value '%s' for '%s': expected a size in bytes (e.g. 64mb) from %lld to "
                 "%lld",
                 value, st->name, st->min, st->max);
        return KV_EINVAL;
    }
    *(long long *)field = v;
    return 0;
}

/* CONFIG_STRING, CONFIG_WORDS, CONFIG_SECRET and CONFIG_ADDRS. */
static int set_text(const config_setting *st, char *field, const char *value, char *err,
                    size_t errlen)
{
    switch (st->type) {
    case CONFIG_SECRET:
        if (strlen(value) >= (size_t)st->max) {
            snprintf(err, errlen, "'%s' is longer than %lld bytes", st->name, st->max - 1);
            return KV_EINVAL;
        }
        strcpy(field, value);
        return 0;
    case CONFIG_ADDRS:
        if (parse_addrs(field, (size_t)st->max, value) != 0) {
            snprintf(err, errlen,
                     "invalid value '%s' for '%s': expected 1 to %d addresses or host names", value,
                     st->name, KV_CONFIG_MAX_BIND);
            return KV_EINVAL;
        }
        return 0;
    default: /* CONFIG_STRING, CONFIG_WORDS */
        if (strlen(value) >= (size_t)st->max || value[0] == '\0') {
            snprintf(err, errlen, "invalid value '%s' for '%s'", value, st->name);
            return KV_EINVAL;
        }
        strcpy(field, value);
        return 0;
    }
}

int config_setting_set(kv_config *c, const config_setting *st, const char *value, char *err,
                       size_t errlen)
{
    char *field = (char *)c + st->off;
    switch (st->type) {
    case CONFIG_INT:
        return set_int(st, field, value, err, errlen);
    case CONFIG_SIZE:
        return set_size(st, field, value, err, errlen);
    case CONFIG_BOOL:
    case CONFIG_ENUM: {
        int v = enum_value(st, value);
        if (v < 0) {
            snprintf(err, errlen, "invalid value '%s' for '%s': expected %s", value, st->name,
                     st->expect ? st->expect : st->arg);
            return KV_EINVAL;
        }
        *(int *)field = v;
        return 0;
    }
    case CONFIG_OBL:
        if (parse_obl(c, value) != 0) {
            snprintf(err, errlen,
                     "invalid value '%s' for '%s': expected 'normal HARD SOFT SECONDS' "
                     "(sizes like 64mb)",
                     value, st->name);
            return KV_EINVAL;
        }
        return 0;
    case CONFIG_STRING:
    case CONFIG_WORDS:
    case CONFIG_ADDRS:
    case CONFIG_SECRET:
        return set_text(st, field, value, err, errlen);
    case CONFIG_CONST:
        break;
    }
    snprintf(err, errlen, "'%s' cannot be set", st->name);
    return KV_EINVAL;
}

void config_setting_format(const kv_config *c, const config_setting *st, char *buf, size_t len)
{
    const char *field = (const char *)c + st->off;
    assert(len > 0);
    switch (st->type) {
    case CONFIG_INT:
        snprintf(buf, len, "%d", *(const int *)field);
        return;
    case CONFIG_SIZE:
        snprintf(buf, len, "%lld", *(const long long *)field);
        return;
    case CONFIG_BOOL:
    case CONFIG_ENUM: {
        int v = *(const int *)field, n = 0;
        while (st->words[n] != NULL) n++;
        snprintf(buf, len, "%s", v >= 0 && v < n ? st->words[v] : "");
        return;
    }
    case CONFIG_OBL:
        format_obl(c, buf, len);
        return;
    case CONFIG_STRING:
    case CONFIG_WORDS:
    case CONFIG_ADDRS:
    case CONFIG_SECRET:
        snprintf(buf, len, "%s", field);
        return;
    case CONFIG_CONST:
        snprintf(buf, len, "%s", st->def ? st->def : "");
        return;
    }
    buf[0] = '\0';
}

int config_set(kv_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const config_setting *st = config_setting_find(key);
    if (st == NULL) {
        snprintf(err, errlen, "unknown option '%s'", key);
        return KV_EINVAL;
    }
    return config_setting_set(c, st, value, err, errlen);
}

/* ---- directives: the config file and the command line ---------------- */

/* Most words in one directive (bind's 16 addresses, save's pairs). */
#define CFG_MAX_WORDS 64
/* Deepest `include` nesting: a file that includes itself stops here. */
#define CFG_MAX_DEPTH 8

/* State of one config_parse_args or config_load_file call. */
typedef struct cfg_ctx {
    kv_config *c;
    const char *path;          /* the file being read; NULL on the command line */
    int line;                  /* its current line */
    int depth;                 /* include nesting, 0 at the top */
    unsigned char warned[128]; /* warned[i]: compat[i] has had its warning */
    char tuned[400];           /* COMPAT_TUNE names seen, for one warning at the end */
} cfg_ctx;

static void cfg_ctx_init(cfg_ctx *x, kv_config *c)
{
    memset(x, 0, sizeof *x);
    x->c = c;
}

/* Takes back what reading a nested file learnt (warnings given, settings
 * listed), keeping x's own place. */
static void cfg_ctx_merge(cfg_ctx *x, const cfg_ctx *inner)
{
    const char *path = x->path;
    int line = x->line, depth = x->depth;
    *x = *inner;
    x->path = path;
    x->line = line;
    x->depth = depth;
}

/* Formats an error about the current directive into err (file and line
 * first when it comes from a file); returns KV_EINVAL. */
static int cfg_fail(const cfg_ctx *x, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cfg_fail(const cfg_ctx *x, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[KV_CONFIG_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (x->path)
        snprintf(err, errlen, "%s:%d: %s", x->path, x->line, msg);
    else
        snprintf(err, errlen, "%s", msg);
    return KV_EINVAL;
}

/* Adds a line to c->warnings (what was truncated is lost). */
static void cfg_warn_line(kv_config *c, const char *text)
{
    size_t used = strlen(c->warnings);
    if (used + 2 >= sizeof c->warnings) return;
    snprintf(c->warnings + used, sizeof c->warnings - used, "%s\n", text);
}

/* Warns about the directive `name` at the current place. */
static void cfg_warn(const cfg_ctx *x, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cfg_warn(const cfg_ctx *x, const char *name, const char *fmt, ...)
{
    char msg[KV_CONFIG_ERRLEN], line[KV_CONFIG_ERRLEN + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (x->path)
        snprintf(line, sizeof line, "%s:%d: '%s' %s", x->path, x->line, name, msg);
    else
        snprintf(line, sizeof line, "--%s %s", name, msg);
    cfg_warn_line(x->c, line);
}

static int is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int hex_val(char ch)
{
    return ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Splits a config line into words as Redis's sdssplitargs does: blanks
 * separate words; inside "..." the escapes \n \r \t \b \a \xHH and \<any>
 * apply; inside '...' only \'; a closing quote must be followed by a blank
 * or the end of the line. The words are copied into out (room for
 * strlen(line) + 1 bytes: a word is never longer than its source) and
 * argv[i] points at each, lens[i] its length (a \x00 makes a NUL inside a
 * word). Returns the number of words, -1 for unbalanced quotes, -2 for
 * more than max words. */
static int split_words(const char *line, char *out, char **argv, size_t *lens, int max)
{
    const char *p = line;
    int n = 0;
    for (;;) {
        while (*p && is_blank(*p)) p++;
        if (*p == '\0') return n;
        if (n == max) return -2;
        char *w = out;
        int dq = 0, sq = 0, done = 0;
        while (!done) {
            if (dq) {
                if (p[0] == '\\' && p[1] == 'x' && is_hex(p[2]) && is_hex(p[3])) {
                    *out++ = (char)(hex_val(p[2]) * 16 + hex_val(p[3]));
                    p += 3;
                } else if (p[0] == '\\' && p[1]) {
                    static const char from[] = "nrtba", to[] = "\n\r\t\b\a";
                    const char *e = strchr(from, *++p);
                    *out++ = e ? to[e - from] : *p;
                } else if (*p == '"') {
                    if (p[1] && !is_blank(p[1])) return -1;
                    done = 1;
                } else if (*p == '\0') {
                    return -1;
                } else {
                    *out++ = *p;
                }
            } else if (sq) {
                if (p[0] == '\\' && p[1] == '\'') {
                    *out++ = *++p;
                } else if (*p == '\'') {
                    if (p[1] && !is_blank(p[1])) return -1;
                    done = 1;
                } else if (*p == '\0') {
                    return -1;
                } else {
                    *out++ = *p;
                }
            } else if (*p == '\0' || is_blank(*p)) {
                done = 1;
            } else if (*p == '"') {
                dq = 1;
            } else if (*p == '\'') {
                sq = 1;
            } else {
                *out++ = *p;
            }
            if (*p) p++;
        }
        argv[n] = w;
        lens[n] = (size_t)(out - w);
        *out++ = '\0';
        n++;
    }
}

static int cfg_apply(cfg_ctx *x, int argc, char **argv, char *err, size_t errlen);

/* Joins argv[from..argc) with single spaces into buf; -1 if too long. */
static int join_words(char *buf, size_t len, int argc, char **argv, int from)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = from; i < argc; i++) {
        size_t w = strlen(argv[i]);
        if (used + w + (i > from) >= len) return -1;
        if (i > from) buf[used++] = ' ';
        memcpy(buf + used, argv[i], w + 1);
        used += w;
    }
    return 0;
}

/* Settings whose value is a list of words (a config line `bind a b`, or
 * several arguments after the flag); the others take exactly one value. */
static int opt_takes_words(const config_setting *st)
{
    return st->type == CONFIG_OBL || st->type == CONFIG_WORDS || st->type == CONFIG_ADDRS;
}

/* A mem-kv setting from a directive. */
static int cfg_native(cfg_ctx *x, const config_setting *o, int argc, char **argv, char *err,
                      size_t errlen)
{
    char joined[1024], sub[KV_CONFIG_ERRLEN];
    const char *value = argv[1];
    if (argc > 2 && !opt_takes_words(o))
        return cfg_fail(x, err, errlen,
                        "'%s' takes one value, got %d (put a value with blanks in quotes: "
                        "\"a b\")",
                        o->name, argc - 1);
    if (argc > 2) {
        if (join_words(joined, sizeof joined, argc, argv, 1) != 0)
            return cfg_fail(x, err, errlen, "the value of '%s' is too long", o->name);
        value = joined;
    }
    if (config_setting_set(x->c, o, value, sub, sizeof sub) != 0)
        return cfg_fail(x, err, errlen, "%s", sub);
    return 0;
}

/* ---- redis.conf lines ----------------------------------------------------
 *
 * Directives of redis.conf (Redis 7.0) that are not mem-kv options, so that
 * a pasted redis.conf either works or says exactly what it cannot do. The
 * table in docs/operations.md ("redis.conf lines") lists the same. */

enum compat_action {
    COMPAT_MAP,    /* compat_map() turns it into mem-kv settings, or refuses a value */
    COMPAT_WARN,   /* accepted without effect, with a warning of its own (why) */
    COMPAT_TUNE,   /* accepted without effect: a Redis tuning knob, in one list warning */
    COMPAT_REFUSE, /* cannot be honoured: an error saying why */
};

static const struct compat {
    const char *name; /* ending in '*': a prefix */
    enum compat_action action;
    const char *why;
} compat[] = {
    /* mapped, or depending on the value (compat_map) */
    {"appendonly", COMPAT_MAP, NULL},
    {"appendfsync", COMPAT_MAP, NULL},
    {"daemonize", COMPAT_MAP, NULL},
    {"logfile", COMPAT_MAP, NULL},
    {"syslog-enabled", COMPAT_MAP, NULL},
    {"supervised", COMPAT_MAP, NULL},
    {"save", COMPAT_MAP, NULL},
    {"cluster-enabled", COMPAT_MAP, NULL},
    /* accepted, with a warning of their own */
    {"dbfilename", COMPAT_WARN,
     "has no effect: mem-kv writes no RDB file; its log and snapshots live in --dir"},
    {"appendfilename", COMPAT_WARN,
     "has no effect: mem-kv's write-ahead log has its own file names in --dir"},
    {"appenddirname", COMPAT_WARN,
     "has no effect: mem-kv's write-ahead log has its own file names in --dir"},
    {"pidfile", COMPAT_WARN,
     "has no effect: mem-kv writes no pid file (it runs in the foreground: the service "
     "manager knows its pid)"},
    {"notify-keyspace-events", COMPAT_WARN,
     "has no effect: mem-kv has no keyspace notifications (no pub/sub)"},
    /* cannot be honoured */
    {"replicaof", COMPAT_REFUSE, "mem-kv has no replication"},
    {"slaveof", COMPAT_REFUSE, "mem-kv has no replication"},
    {"rename-command", COMPAT_REFUSE,
     "mem-kv cannot rename or disable commands; remove the line (and keep the port private, "
     "with requirepass)"},
    {"user", COMPAT_REFUSE, "mem-kv has no ACL users: one password, requirepass"},
    {"aclfile", COMPAT_REFUSE, "mem-kv has no ACL users: one password, requirepass"},
    {"loadmodule", COMPAT_REFUSE, "mem-kv does not load Redis modules"},
    {"unixsocket", COMPAT_REFUSE, "mem-kv listens on TCP only (--port, --bind)"},
    {"tls-key-file-pass", COMPAT_REFUSE,
     "mem-kv reads unencrypted private keys only (decrypt it with openssl pkey)"},
    {"tls-ca-cert-dir", COMPAT_REFUSE, "use tls-ca-cert-file (one PEM file of CA certificates)"},
    /* Redis tuning and features that do not exist here: no effect */
    {"tcp-backlog", COMPAT_TUNE, NULL},
    {"unixsocketperm", COMPAT_TUNE, NULL},
    {"always-show-logo", COMPAT_TUNE, NULL},
    {"set-proc-title", COMPAT_TUNE, NULL},
    {"proc-title-template", COMPAT_TUNE, NULL},
    {"syslog-ident", COMPAT_TUNE, NULL},
    {"syslog-facility", COMPAT_TUNE, NULL},
    {"crash-log-enabled", COMPAT_TUNE, NULL},
    {"crash-memcheck-enabled", COMPAT_TUNE, NULL},
    {"stop-writes-on-bgsave-error", COMPAT_TUNE, NULL},
    {"rdbcompression", COMPAT_TUNE, NULL},
    {"rdbchecksum", COMPAT_TUNE, NULL},
    {"rdb-del-sync-files", COMPAT_TUNE, NULL},
    {"rdb-save-incremental-fsync", COMPAT_TUNE, NULL},
    {"sanitize-dump-payload", COMPAT_TUNE, NULL},
    {"no-appendfsync-on-rewrite", COMPAT_TUNE, NULL},
    {"auto-aof-rewrite-percentage", COMPAT_TUNE, NULL},
    {"auto-aof-rewrite-min-size", COMPAT_TUNE, NULL},
    {"aof-load-truncated", COMPAT_TUNE, NULL},
    {"aof-use-rdb-preamble", COMPAT_TUNE, NULL},
    {"aof-timestamp-enabled", COMPAT_TUNE, NULL},
    {"aof-rewrite-incremental-fsync", COMPAT_TUNE, NULL},
    {"masterauth", COMPAT_TUNE, NULL},
    {"masteruser", COMPAT_TUNE, NULL},
    {"replica-*", COMPAT_TUNE, NULL},
    {"repl-*", COMPAT_TUNE, NULL},
    {"min-replicas-*", COMPAT_TUNE, NULL},
    {"cluster-*", COMPAT_TUNE, NULL},
    {"acllog-max-len", COMPAT_TUNE, NULL},
    {"lazyfree-*", COMPAT_TUNE, NULL},
    {"oom-score-adj", COMPAT_TUNE, NULL},
    {"oom-score-adj-values", COMPAT_TUNE, NULL},
    {"disable-thp", COMPAT_TUNE, NULL},
    {"jemalloc-bg-thread", COMPAT_TUNE, NULL},
    {"activedefrag", COMPAT_TUNE, NULL},
    {"active-defrag-*", COMPAT_TUNE, NULL},
    {"activerehashing", COMPAT_TUNE, NULL},
    {"dynamic-hz", COMPAT_TUNE, NULL},
    {"active-expire-effort", COMPAT_TUNE, NULL},
    {"lfu-log-factor", COMPAT_TUNE, NULL},
    {"lfu-decay-time", COMPAT_TUNE, NULL},
    {"maxmemory-eviction-tenacity", COMPAT_TUNE, NULL},
    {"maxmemory-clients", COMPAT_TUNE, NULL},
    {"io-threads-do-reads", COMPAT_TUNE, NULL},
    {"latency-tracking", COMPAT_TUNE, NULL},
    {"latency-tracking-info-percentiles", COMPAT_TUNE, NULL},
    {"busy-reply-threshold", COMPAT_TUNE, NULL},
    {"hash-max-*", COMPAT_TUNE, NULL},
    {"list-max-*", COMPAT_TUNE, NULL},
    {"list-compress-depth", COMPAT_TUNE, NULL},
    {"set-max-*", COMPAT_TUNE, NULL},
    {"zset-max-*", COMPAT_TUNE, NULL},
    {"hll-sparse-max-bytes", COMPAT_TUNE, NULL},
    {"stream-node-max-*", COMPAT_TUNE, NULL},
    {"tracking-table-max-keys", COMPAT_TUNE, NULL},
    {"enable-protected-configs", COMPAT_TUNE, NULL},
    {"enable-debug-command", COMPAT_TUNE, NULL},
    {"enable-module-command", COMPAT_TUNE, NULL},
    {"shutdown-timeout", COMPAT_TUNE, NULL},
    {"shutdown-on-sigint", COMPAT_TUNE, NULL},
    {"shutdown-on-sigterm", COMPAT_TUNE, NULL},
    {"ignore-warnings", COMPAT_TUNE, NULL},
    {"tls-session-*", COMPAT_TUNE, NULL},
    {"tls-prefer-server-ciphers", COMPAT_TUNE, NULL},
    {"tls-dh-params-file", COMPAT_TUNE, NULL},
    {"tls-replication", COMPAT_TUNE, NULL},
    {"tls-cluster", COMPAT_TUNE, NULL},
    {"tls-client-*", COMPAT_TUNE, NULL},
};

#define NCOMPAT (sizeof compat / sizeof compat[0])
_Static_assert(NCOMPAT <= sizeof((cfg_ctx *)0)->warned, "cfg_ctx.warned too small");

static const struct compat *compat_find(const char *name)
{
    for (size_t i = 0; i < NCOMPAT; i++) {
        size_t n = strlen(compat[i].name);
        if (compat[i].name[n - 1] == '*' ? strncasecmp(name, compat[i].name, n - 1) == 0
                                         : strcasecmp(name, compat[i].name) == 0)
            return &compat[i];
    }
    return NULL;
}

/* Warns about k once per parse (three `save` lines: one warning). */
static void compat_warn(cfg_ctx *x, const struct compat *k, const char *name, const char *why)
{
    size_t i = (size_t)(k - compat);
    if (x->warned[i]) return;
    x->warned[i] = 1;
    cfg_warn(x, name, "%s", why);
}

static void cfg_finish(cfg_ctx *x);

/* Adds name to the list of ignored tuning settings (once); a full list
 * becomes a warning line of its own. */
static void compat_tune(cfg_ctx *x, const char *name)
{
    char item[80]; /* x->tuned is " a, b, c," */
    int n = snprintf(item, sizeof item, " %s,", name);
    if (n <= 0 || (size_t)n >= sizeof item || strstr(x->tuned, item) != NULL) return;
    if (strlen(x->tuned) + (size_t)n >= sizeof x->tuned) cfg_finish(x);
    strcat(x->tuned, item);
}

/* The value of a yes/no directive: 1, 0, or -1. */
static int yes_no(const char *v)
{
    if (strcasecmp(v, "yes") == 0) return 1;
    if (strcasecmp(v, "no") == 0) return 0;
    return -1;
}

/* `save ""`, `save 900 1`, `save 900 1 300 10`: Redis's syntax, checked. */
static int save_valid(int argc, char **argv)
{
    if (argc == 2 && argv[1][0] == '\0') return 1;
    if ((argc - 1) % 2 != 0) return 0;
    for (int i = 1; i < argc; i++) {
        char *end;
        errno = 0;
        long long v = strtoll(argv[i], &end, 10);
        if (errno || end == argv[i] || *end != '\0' || v < 0) return 0;
    }
    return 1;
}

/* The COMPAT_MAP directives. */
static int compat_map(cfg_ctx *x, const struct compat *k, int argc, char **argv, char *err,
                      size_t errlen)
{
    const char *name = k->name, *v = argv[1];
    char sub[KV_CONFIG_ERRLEN];
    if (strcmp(name, "save") == 0) {
        if (!save_valid(argc, argv))
            return cfg_fail(x, err, errlen,
                            "invalid 'save' parameters: expected \"\" or "
                            "SECONDS CHANGES pairs");
        compat_warn(x, k, name,
                    "has no effect: mem-kv has no RDB snapshots; every write goes to its "
                    "write-ahead log (--persistence, --fsync)");
        return 0;
    }
    if (argc != 2) return cfg_fail(x, err, errlen, "'%s' takes one value", name);
    if (strcmp(name, "appendfsync") == 0) {
        static const char *const from[] = {"always", "everysec", "no"};
        static const char *const to[] = {"always", "interval", "no"};
        for (int i = 0; i < 3; i++)
            if (strcasecmp(v, from[i]) == 0) {
                if (config_set(x->c, "fsync", to[i], sub, sizeof sub) != 0)
                    return cfg_fail(x, err, errlen, "%s", sub);
                return 0;
            }
        return cfg_fail(x, err, errlen,
                        "invalid value '%s' for 'appendfsync': expected always, everysec or no", v);
    }
    int yn = yes_no(v);
    if (strcmp(name, "appendonly") == 0) {
        if (yn < 0)
            return cfg_fail(x, err, errlen,
                            "invalid value '%s' for 'appendonly': expected yes or "
                            "no",
                            v);
        if (yn == 1) {
            x->c->persistence = 1;
            return 0;
        }
        compat_warn(x, k, "appendonly no",
                    "has no effect: the write-ahead log is mem-kv's only persistence and "
                    "stays as --persistence says (on by default); for a cache without files set "
                    "'persistence off'");
        return 0;
    }
    if (strcmp(name, "daemonize") == 0) {
        if (yn == 0) return 0; /* what mem-kv does */
        return cfg_fail(x, err, errlen,
                        "'daemonize %s': mem-kv runs in the foreground only; remove the line (or "
                        "say no) and let the service manager (systemd, Docker) run it in the "
                        "background",
                        v);
    }
    if (strcmp(name, "logfile") == 0) {
        if (v[0] == '\0') return 0; /* stderr: what mem-kv does */
        return cfg_fail(x, err, errlen,
                        "'logfile %s': mem-kv logs to stderr only; remove the line and redirect "
                        "stderr (2>>FILE) or use the service manager's log",
                        v);
    }
    if (strcmp(name, "syslog-enabled") == 0) {
        if (yn == 0) return 0;
        return cfg_fail(x, err, errlen,
                        "'syslog-enabled %s': mem-kv logs to stderr only (journald and Docker "
                        "collect it)",
                        v);
    }
    if (strcmp(name, "cluster-enabled") == 0) {
        if (yn == 0) return 0;
        return cfg_fail(x, err, errlen,
                        "'cluster-enabled %s': mem-kv has no Redis Cluster; several servers go "
                        "behind twemproxy (docs/scale-out.md)",
                        v);
    }
    if (strcmp(name, "supervised") == 0) {
        static const char *const modes[] = {"no", "auto", "systemd", "upstart"};
        int m = -1;
        for (int i = 0; i < 4; i++)
            if (strcasecmp(v, modes[i]) == 0) m = i;
        if (m < 0)
            return cfg_fail(x, err, errlen,
                            "invalid value '%s' for 'supervised': expected no, "
                            "auto, systemd or upstart",
                            v);
        if (m > 0)
            compat_warn(x, k, name,
                        "has no effect: mem-kv does not notify the supervisor; run it as a "
                        "simple service (systemd Type=simple or exec, not notify)");
        return 0;
    }
    return cfg_fail(x, err, errlen, "unknown option '%s'", argv[0]);
}

/* A redis.conf directive that is not a mem-kv option. */
static int compat_apply(cfg_ctx *x, const struct compat *k, int argc, char **argv, char *err,
                        size_t errlen)
{
    switch (k->action) {
    case COMPAT_MAP:
        return compat_map(x, k, argc, argv, err, errlen);
    case COMPAT_WARN:
        compat_warn(x, k, k->name, k->why);
        return 0;
    case COMPAT_TUNE:
        compat_tune(x, argv[0]);
        return 0;
    case COMPAT_REFUSE:
        return cfg_fail(x, err, errlen, "'%s' is not supported: %s", argv[0], k->why);
    }
    return cfg_fail(x, err, errlen, "unknown option '%s'", argv[0]);
}

/* Reads one config file at include depth x->depth. */
static int cfg_load(cfg_ctx *x, const char *path, char *err, size_t errlen);

/* `include FILE`: a relative FILE is found next to the including file (on
 * the command line: in the working directory). */
static int cfg_include(cfg_ctx *x, int argc, char **argv, char *err, size_t errlen)
{
    if (argc != 2) return cfg_fail(x, err, errlen, "'include' takes one file name");
    if (x->depth >= CFG_MAX_DEPTH)
        return cfg_fail(x, err, errlen,
                        "'include' nested more than %d deep (does a file include itself?)",
                        CFG_MAX_DEPTH);
    char path[1024];
    const char *slash = x->path ? strrchr(x->path, '/') : NULL;
    if (argv[1][0] != '/' && slash != NULL) {
        int dirlen = (int)(slash - x->path);
        if (snprintf(path, sizeof path, "%.*s/%s", dirlen, x->path, argv[1]) >= (int)sizeof path)
            return cfg_fail(x, err, errlen, "'include' path too long");
    } else if (snprintf(path, sizeof path, "%s", argv[1]) >= (int)sizeof path) {
        return cfg_fail(x, err, errlen, "'include' path too long");
    }
    cfg_ctx inner = *x;
    inner.depth = x->depth + 1;
    int rc = cfg_load(&inner, path, err, errlen);
    cfg_ctx_merge(x, &inner);
    return rc;
}

/* Applies one directive: argv[0] is its name, then its values. */
static int cfg_apply(cfg_ctx *x, int argc, char **argv, char *err, size_t errlen)
{
    const config_setting *o = config_setting_find(argv[0]);
    const struct compat *k = o ? NULL : compat_find(argv[0]);
    if (o == NULL && k == NULL && strcasecmp(argv[0], "include") != 0)
        return cfg_fail(x, err, errlen, "unknown option '%s'", argv[0]);
    if (argc < 2) return cfg_fail(x, err, errlen, "'%s' needs a value", argv[0]);
    if (o != NULL) return cfg_native(x, o, argc, argv, err, errlen);
    if (k != NULL) return compat_apply(x, k, argc, argv, err, errlen);
    return cfg_include(x, argc, argv, err, errlen);
}

/* Applies one line of a config file. */
static int cfg_line(cfg_ctx *x, const char *line, size_t len, char *err, size_t errlen)
{
    if (memchr(line, '\0', len) != NULL)
        return cfg_fail(x, err, errlen, "a NUL byte in the line (not a text file?)");
    char *words = malloc(len + 1);
    char *argv[CFG_MAX_WORDS];
    size_t lens[CFG_MAX_WORDS];
    if (words == NULL) return cfg_fail(x, err, errlen, "out of memory");
    int rc = 0, argc = split_words(line, words, argv, lens, CFG_MAX_WORDS);
    if (argc == -1)
        rc = cfg_fail(x, err, errlen, "Unbalanced quotes in configuration line");
    else if (argc == -2)
        rc = cfg_fail(x, err, errlen, "more than %d words in one line", CFG_MAX_WORDS);
    for (int i = 0; rc == 0 && i < argc; i++)
        if (lens[i] != strlen(argv[i]))
            rc = cfg_fail(x, err, errlen, "a value may not hold a NUL byte (\\x00)");
    if (rc == 0 && argc > 0 && strcasecmp(argv[0], "config") == 0)
        rc = cfg_fail(x, err, errlen, "'config' cannot be nested: use 'include FILE'");
    if (rc == 0 && argc > 0) rc = cfg_apply(x, argc, argv, err, errlen);
    free(words);
    return rc;
}

static int cfg_load(cfg_ctx *x, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        if (x->path)
            return cfg_fail(x, err, errlen, "cannot open included file '%s': %s", path,
                            strerror(e));
        snprintf(err, errlen, "cannot open config file '%s': %s", path, strerror(e));
        return KV_EIO;
    }
    cfg_ctx here = *x;
    here.path = path;
    here.line = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        here.line++;
        /* as Redis: the line without surrounding blanks; '#' first: a comment */
        size_t len = (size_t)n;
        while (len > 0 && is_blank(line[len - 1])) line[--len] = '\0';
        size_t lead = 0;
        while (lead < len && is_blank(line[lead])) lead++;
        if (lead == len || line[lead] == '#') continue;
        rc = cfg_line(&here, line + lead, len - lead, err, errlen);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "cannot read config file '%s': %s", path, strerror(errno));
        rc = KV_EIO;
    }
    free(line);
    fclose(f);
    cfg_ctx_merge(x, &here);
    return rc;
}

/* The warning that lists the Redis tuning settings that were ignored. */
static void cfg_finish(cfg_ctx *x)
{
    size_t len = strlen(x->tuned);
    if (len < 2) return;
    char line[sizeof x->tuned + 64];
    snprintf(line, sizeof line, "Redis settings ignored (no effect in mem-kv): %.*s",
             (int)(len - 2), x->tuned + 1);
    cfg_warn_line(x->c, line);
    x->tuned[0] = '\0';
}

int config_load_file(kv_config *c, const char *path, char *err, size_t errlen)
{
    cfg_ctx x;
    cfg_ctx_init(&x, c);
    int rc = cfg_load(&x, path, err, errlen);
    if (rc == 0) cfg_finish(&x);
    return rc;
}

/* --name VALUE [VALUE...] and --name=VALUE: the values are the next
 * argument and those after it that do not start with "--", as Redis's
 * command line. Returns the index of the last argument used, or -1. */
static int arg_directive(cfg_ctx *x, int argc, char **argv, int i, char *err, size_t errlen)
{
    char *a = argv[i], name[64];
    char *words[CFG_MAX_WORDS];
    int n = 0;
    char *eq = strchr(a + 2, '=');
    size_t nlen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
    if (nlen >= sizeof name) {
        snprintf(err, errlen, "unknown option '%s'", a);
        return -1;
    }
    memcpy(name, a + 2, nlen);
    name[nlen] = '\0';
    words[n++] = name;
    if (eq) {
        words[n++] = eq + 1;
    } else if (i + 1 < argc) {
        words[n++] = argv[++i];
    } else {
        if (strcmp(name, "config") != 0 && strcmp(name, "include") != 0 &&
            config_setting_find(name) == NULL && compat_find(name) == NULL)
            snprintf(err, errlen, "unknown option '--%s'", name);
        else
            snprintf(err, errlen, "option '--%s' needs a value", name);
        return -1;
    }
    while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
        if (n == CFG_MAX_WORDS) {
            snprintf(err, errlen, "too many values for '--%s'", name);
            return -1;
        }
        words[n++] = argv[++i];
    }
    int rc;
    if (strcmp(name, "config") == 0) {
        rc = n == 2 ? cfg_load(x, words[1], err, errlen)
                    : cfg_fail(x, err, errlen, "'--config' takes one file name");
    } else {
        rc = cfg_apply(x, n, words, err, errlen);
    }
    return rc == 0 ? i : -1;
}

int config_parse_args(kv_config *c, int argc, char **argv, char *err, size_t errlen)
{
    cfg_ctx x;
    cfg_ctx_init(&x, c);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->help = 1;
            continue;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            c->version = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            snprintf(err, errlen, "unexpected argument '%s' (options start with --)", a);
            return KV_EINVAL;
        }
        i = arg_directive(&x, argc, argv, i, err, errlen);
        if (i < 0) return KV_EINVAL;
    }
    cfg_finish(&x);
    return config_check(c, err, errlen);
}

int config_check(const kv_config *c, char *err, size_t errlen)
{
    if (c->threads > 0 && (c->io_threads > 0 || c->actor_threads > 0)) {
        snprintf(err, errlen,
                 "--threads %d cannot be combined with --io-threads %d / --actor-threads %d: "
                 "--threads N makes N threads that each read sockets and own shards; give "
                 "either --threads, or --io-threads and --actor-threads",
                 c->threads, c->io_threads, c->actor_threads);
        return KV_EINVAL;
    }
    return 0;
}

/* Warns (c->warnings) about thread counts that ask for more busy threads
 * than there are CPUs; explicit: the counts were given, not chosen here. */
static void threads_warning(kv_config *c, int ncpu, int explicit_counts, int asked_actors)
{
    char line[KV_CONFIG_ERRLEN];
    if (asked_actors > c->actor_threads) {
        snprintf(line, sizeof line,
                 "%d actor threads asked for, but only %d are used: a shard belongs to one "
                 "actor and there are %d shards (--shards)",
                 asked_actors, c->actor_threads, c->shards);
        cfg_warn_line(c, line);
    }
    int busy = c->threads > 0 ? c->threads : c->io_threads + c->actor_threads;
    if (!explicit_counts || busy <= ncpu) return;
    if (c->threads > 0)
        snprintf(line, sizeof line,
                 "--threads %d on %d CPU%s: more busy threads than CPUs lose time to spinning "
                 "and context switches; use --threads %d or fewer",
                 c->threads, ncpu, ncpu == 1 ? "" : "s", ncpu);
    else
        snprintf(line, sizeof line,
                 "%d busy threads (%d network + %d actor) on %d CPU%s: more busy threads than "
                 "CPUs lose time to spinning and context switches; use at most %d in all (e.g. "
                 "--threads %d, or --io-threads and --actor-threads adding up to %d)",
                 busy, c->io_threads, c->actor_threads, ncpu, ncpu == 1 ? "" : "s", ncpu, ncpu,
                 ncpu);
    cfg_warn_line(c, line);
}

void config_resolve_threads(kv_config *c, int ncpu)
{
    if (ncpu < 1) ncpu = 1;
    int explicit_counts = c->threads > 0 || c->io_threads > 0 || c->actor_threads > 0;
    int asked_actors = c->threads > 0 ? c->threads : c->actor_threads;
    if (c->threads > 0) { /* each thread reads sockets and owns shards */
        if (c->threads > c->shards) c->threads = c->shards;
        c->io_threads = c->actor_threads = c->threads;
        threads_warning(c, ncpu, explicit_counts, asked_actors);
        return;
    }
    /* Two CPUs or fewer, nothing asked for: one thread that reads sockets
     * and owns every shard (--threads 1). A request then costs no mailbox
     * hand-off and no cross-thread wake-up (a futex wake of the actor and an
     * eventfd write back, each a context switch when the peer slept), and
     * the other CPU stays free for the clients and the kernel's network
     * work; measured in docs/benchmarks.md (issue 14). */
    if (!explicit_counts && ncpu <= 2) {
        c->threads = c->io_threads = c->actor_threads = 1;
        return;
    }
    /* Never more busy threads than cores: half the cores read sockets, the
     * rest own shards, at least one of each. Measured defaults come with the
     * performance issue. */
    if (c->io_threads == 0) c->io_threads = ncpu / 2 > 0 ? ncpu / 2 : 1;
    if (c->actor_threads == 0)
        c->actor_threads = ncpu - c->io_threads > 0 ? ncpu - c->io_threads : 1;
    if (c->actor_threads > c->shards) c->actor_threads = c->shards;
    threads_warning(c, ncpu, explicit_counts, asked_actors);
}

void config_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [--config FILE] [--OPTION VALUE]...\n"
            "mem-kv: an in-memory key-value cache that speaks RESP2 (redis-cli, redis-benchmark,\n"
            "Redis client libraries) and the mem-kv plain-text protocol (nc).\n\n"
            "Options (each also works as `OPTION VALUE` in the config file):\n",
            prog);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const config_setting *st = &settings[i];
        char left[64];
        if (st->flags & CONFIG_VIEW) continue;
        snprintf(left, sizeof left, "--%s %s", st->name, st->arg);
        if (strlen(left) > 24)
            fprintf(out, "  %s\n  %-24s %s\n", left, "", st->help);
        else
            fprintf(out, "  %-24s %s\n", left, st->help);
    }
    fprintf(out, "  %-24s %s\n", "--config FILE",
            "read settings from FILE (`key value` lines, # comments)");
    fprintf(out, "  %-24s %s\n", "--help, -h", "print this help and exit");
    fprintf(out, "  %-24s %s\n", "--version, -v", "print the version and exit");
    fprintf(out,
            "\nExit status: 0 on clean shutdown (SIGINT/SIGTERM), 1 on a start-up failure,\n"
            "2 on an unknown or malformed option or unusable TLS settings (certificate, key).\n");
}
