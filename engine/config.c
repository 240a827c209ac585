#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "evict.h"
#include "kv.h"

enum opt_kind { OPT_INT, OPT_STR, OPT_LOGLEVEL, OPT_CHOICE, OPT_BYTES, OPT_OBL, OPT_PASS };

/* Words of OPT_CHOICE settings, by value; NULL-terminated. */
static const char *const onoff_words[] = {"off", "on", NULL};
static const char *const fsync_words[] = {"no", "interval", "always", NULL};
static const char *const recover_words[] = {"strict", "keep-prefix", NULL};
static const char *const tls_auth_words[] = {"no", "yes", "optional", NULL};

/* The one table of settings: name, kind, limits, where it lives, help. */
static const struct opt {
    const char *name;
    enum opt_kind kind;
    long long min, max; /* OPT_STR: max is the buffer size */
    size_t off;
    const char *const *words; /* OPT_CHOICE */
    const char *arg;
    const char *help;
} opts[] = {
    {"port", OPT_INT, 0, 65535, offsetof(kv_config, port), NULL, "N",
     "TCP port to listen on (default 8080; 0 = no plain-text port, with --tls-port)"},
    {"bind", OPT_STR, 0, sizeof(((kv_config *)0)->bind), offsetof(kv_config, bind), NULL, "ADDR",
     "IPv4/IPv6 address to listen on (default 127.0.0.1)"},
    {"shards", OPT_INT, 1, 1024, offsetof(kv_config, shards), NULL, "N",
     "number of keyspace shards (default 16)"},
    {"actor-threads", OPT_INT, 0, 256, offsetof(kv_config, actor_threads), NULL, "N",
     "threads that own shards (default: from the CPU count; 0 = auto)"},
    {"io-threads", OPT_INT, 0, 256, offsetof(kv_config, io_threads), NULL, "N",
     "network threads (default: from the CPU count; 0 = auto)"},
    {"threads", OPT_INT, 0, 256, offsetof(kv_config, threads), NULL, "N",
     "N threads that each read sockets AND own shards: a command for a shard of its own "
     "thread runs without a hand-off (replaces --io-threads/--actor-threads; 0 = off, "
     "the default)"},
    {"databases", OPT_INT, 1, 256, offsetof(kv_config, databases), NULL, "N",
     "number of databases, SELECT 0..N-1 (default 16, as Redis)"},
    {"maxclients", OPT_INT, 1, 1000000, offsetof(kv_config, maxclients), NULL, "N",
     "most client connections at once (default 10000)"},
    {"timeout", OPT_INT, 0, INT_MAX, offsetof(kv_config, timeout), NULL, "SECONDS",
     "close a client idle for this many seconds (default 0: never)"},
    {"tcp-keepalive", OPT_INT, 0, INT_MAX, offsetof(kv_config, tcp_keepalive), NULL, "SECONDS",
     "TCP keepalive probes on idle client connections after this many seconds (default 300; "
     "0 = off)"},
    {"proto-max-bulk-len", OPT_BYTES, 1 << 20, 1ll << 40, offsetof(kv_config, proto_max_bulk_len),
     NULL, "BYTES", "longest single argument of a request (default 512mb)"},
    {"client-query-buffer-limit", OPT_BYTES, 1 << 20, 1ll << 40,
     offsetof(kv_config, client_query_buffer_limit), NULL, "BYTES",
     "most unparsed input bytes a client may have buffered, a whole request included "
     "(default 1gb)"},
    {"client-output-buffer-limit", OPT_OBL, 0, 0, 0, NULL, "'normal HARD SOFT SECS'",
     "close a client whose queued replies pass HARD bytes, or stay over SOFT bytes for SECS "
     "seconds (default 'normal 64mb 16mb 60'; 0 = no limit)"},
    {"requirepass", OPT_PASS, 0, sizeof(((kv_config *)0)->requirepass),
     offsetof(kv_config, requirepass), NULL, "PASSWORD",
     "clients must AUTH with this password first (default: none)"},
    {"protected-mode", OPT_CHOICE, 0, 1, offsetof(kv_config, protected_mode), onoff_words, "yes|no",
     "with no requirepass, refuse clients not on the loopback interface (default yes)"},
    {"hz", OPT_INT, 1, 500, offsetof(kv_config, hz), NULL, "N",
     "active expiry cycles per second in each actor (default 10)"},
    {"metrics-port", OPT_INT, 0, 65535, offsetof(kv_config, metrics_port), NULL, "N",
     "serve Prometheus metrics at http://BIND:N/metrics (default 0: off)"},
    {"loglevel", OPT_LOGLEVEL, 0, 2, offsetof(kv_config, loglevel), NULL, "LEVEL",
     "warning, notice (default) or verbose"},
    {"dir", OPT_STR, 0, sizeof(((kv_config *)0)->dir), offsetof(kv_config, dir), NULL, "PATH",
     "data directory for the write-ahead log and snapshots (default ./data)"},
    {"persistence", OPT_CHOICE, 0, 1, offsetof(kv_config, persistence), onoff_words, "on|off",
     "keep data across restarts (default on); off: a pure cache, no files"},
    {"fsync", OPT_CHOICE, 0, 2, offsetof(kv_config, fsync), fsync_words, "always|interval|no",
     "when the log is synced: before each reply, every --fsync-interval-ms (default), or never"},
    {"fsync-interval-ms", OPT_INT, 1, 60000, offsetof(kv_config, fsync_interval_ms), NULL, "MS",
     "with --fsync interval: most milliseconds of acknowledged writes a power loss may lose (100)"},
    {"recover-mode", OPT_CHOICE, 0, 1, offsetof(kv_config, keep_prefix), recover_words,
     "strict|keep-prefix",
     "a corrupt log record stops start-up (strict, default) or start-up keeps what precedes it"},
    {"wal-segment-size", OPT_BYTES, 1 << 20, 1ll << 40, offsetof(kv_config, wal_segment_bytes),
     NULL, "BYTES", "rotate a shard's log segment at this size (default 64mb)"},
    {"compact-log-size", OPT_BYTES, 0, 1ll << 50, offsetof(kv_config, compact_log_bytes), NULL,
     "BYTES",
     "compact when the logs total this much and a shard's log is over twice its snapshot "
     "(default 100mb; 0 = only on COMPACT)"},
    {"compact-cpu", OPT_INT, 1, 100, offsetof(kv_config, compact_cpu), NULL, "PCT",
     "most of an actor's time a compaction's scan may take, in percent (default 5; 100 = "
     "unpaced)"},
#define TLS_STR(f) 0, sizeof(((kv_config *)0)->f), offsetof(kv_config, f), NULL
    {"tls-port", OPT_INT, 0, 65535, offsetof(kv_config, tls_port), NULL, "N",
     "also accept TLS connections on this port (default 0: off); needs --tls-cert-file and "
     "--tls-key-file"},
    {"tls-cert-file", OPT_STR, TLS_STR(tls_cert_file), "PATH",
     "the server's certificate (PEM, may include the chain)"},
    {"tls-key-file", OPT_STR, TLS_STR(tls_key_file), "PATH",
     "the private key of --tls-cert-file (PEM, unencrypted)"},
    {"tls-ca-cert-file", OPT_STR, TLS_STR(tls_ca_cert_file), "PATH",
     "CA certificates (PEM) that client certificates are verified against"},
    {"tls-auth-clients", OPT_CHOICE, 0, 2, offsetof(kv_config, tls_auth_clients), tls_auth_words,
     "yes|no|optional",
     "clients must present a certificate signed by --tls-ca-cert-file (yes, default), need "
     "not (no), or may (optional: verified if sent)"},
    {"tls-protocols", OPT_STR, TLS_STR(tls_protocols), "'LIST'",
     "TLS versions to accept, e.g. 'TLSv1.2 TLSv1.3' (default: both)"},
    {"tls-ciphers", OPT_STR, TLS_STR(tls_ciphers), "LIST",
     "OpenSSL cipher list for TLSv1.2 (default: OpenSSL's)"},
    {"tls-ciphersuites", OPT_STR, TLS_STR(tls_ciphersuites), "LIST",
     "OpenSSL ciphersuites for TLSv1.3 (default: OpenSSL's)"},
    {"tls-handshake-timeout-ms", OPT_INT, 1, 3600000, offsetof(kv_config, tls_hs_timeout_ms), NULL,
     "MS", "close a TLS connection whose handshake is not done after MS (default 10000)"},
#undef TLS_STR
    {"maxmemory", OPT_BYTES, 0, 1ll << 50, offsetof(kv_config, maxmemory), NULL, "BYTES",
     "memory limit for the data (e.g. 1gb; default 0: no limit); see --maxmemory-policy"},
    {"maxmemory-policy", OPT_CHOICE, 0, 7, offsetof(kv_config, maxmemory_policy),
     evict_policy_names, "POLICY",
     "at the limit: noeviction (default: writes get -OOM), allkeys-lru, volatile-lru, "
     "allkeys-lfu, volatile-lfu, allkeys-random, volatile-random or volatile-ttl"},
    {"maxmemory-samples", OPT_INT, 1, INT_MAX, offsetof(kv_config, maxmemory_samples), NULL, "N",
     "keys sampled per eviction by the LRU, LFU and TTL policies (default 5; at most 64 used)"},
};

void config_defaults(kv_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->bind, "127.0.0.1");
    c->port = 8080;
    c->shards = 16;
    c->maxclients = 10000;
    c->databases = 16;
    c->tcp_keepalive = 300;
    c->proto_max_bulk_len = 512ll << 20;
    c->client_query_buffer_limit = 1ll << 30;
    c->obl_hard = 64ll << 20;
    c->obl_soft = 16ll << 20;
    c->obl_soft_seconds = 60;
    c->protected_mode = 1;
    c->hz = 10;
    c->loglevel = 1;
    strcpy(c->dir, "./data");
    c->persistence = 1;
    c->fsync = 1;
    c->fsync_interval_ms = 100;
    c->wal_segment_bytes = 64ll << 20;
    c->compact_log_bytes = 100ll << 20;
    c->compact_cpu = 5;
    c->tls_auth_clients = 1;
    c->tls_hs_timeout_ms = 10000;
    c->maxmemory_policy = EVICT_NOEVICTION;
    c->maxmemory_samples = 5;
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
        }
        if (bare) break;
    }
    c->obl_hard = hard;
    c->obl_soft = soft;
    c->obl_soft_seconds = (int)secs;
    return 0;
}

void config_format_obl(const kv_config *c, char *buf, size_t len)
{
    /* Redis lists every class; the others are Redis's defaults, unused here. */
    snprintf(buf, len, "normal %lld %lld %d slave 268435456 67108864 60 pubsub 33554432 8388608 60",
             c->obl_hard, c->obl_soft, c->obl_soft_seconds);
}

static const struct opt *opt_find(const char *name)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (strcasecmp(opts[i].name, name) == 0) return &opts[i];
    return NULL;
}

int config_set(kv_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const struct opt *o = opt_find(key);
    if (o == NULL) {
        snprintf(err, errlen, "unknown option '%s'", key);
        return KV_EINVAL;
    }
    char *field = (char *)c + o->off;
    switch (o->kind) {
    case OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < o->min || v > o->max) {
            snprintf(err, errlen,
                     "invalid value '%s' for '%s': expected an integer from %lld to %lld", value,
                     o->name, o->min, o->max);
            return KV_EINVAL;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_CHOICE:
        for (int i = 0; o->words[i] != NULL; i++)
            if (strcasecmp(value, o->words[i]) == 0 ||
                (o->words == onoff_words && strcasecmp(value, i ? "yes" : "no") == 0)) {
                *(int *)field = i;
                return 0;
            }
        snprintf(err, errlen, "invalid value '%s' for '%s': expected %s", value, o->name,
                 o->words == evict_policy_names ? "a policy (see --help)" : o->arg);
        return KV_EINVAL;
    case OPT_BYTES: {
        long long v;
        if (parse_bytes(value, &v) != 0 || v < o->min || v > o->max) {
            snprintf(err, errlen,
                     "invalid value '%s' for '%s': expected a size in bytes (e.g. 64mb) from %lld "
                     "to %lld",
                     value, o->name, o->min, o->max);
            return KV_EINVAL;
        }
        *(long long *)field = v;
        return 0;
    }
    case OPT_OBL:
        if (parse_obl(c, value) != 0) {
            snprintf(err, errlen,
                     "invalid value '%s' for '%s': expected 'normal HARD SOFT SECONDS' "
                     "(sizes like 64mb)",
                     value, o->name);
            return KV_EINVAL;
        }
        return 0;
    case OPT_PASS:
        if (strlen(value) >= (size_t)o->max) {
            snprintf(err, errlen, "'%s' is longer than %lld bytes", o->name, o->max - 1);
            return KV_EINVAL;
        }
        strcpy(field, value);
        return 0;
    case OPT_STR:
        if (strlen(value) >= (size_t)o->max || value[0] == '\0') {
            snprintf(err, errlen, "invalid value '%s' for '%s'", value, o->name);
            return KV_EINVAL;
        }
        strcpy(field, value);
        return 0;
    case OPT_LOGLEVEL: {
        static const char *levels[] = {"warning", "notice", "verbose"};
        for (int i = 0; i < 3; i++)
            if (strcasecmp(value, levels[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
        snprintf(err, errlen,
                 "invalid value '%s' for 'loglevel': expected warning, notice or verbose", value);
        return KV_EINVAL;
    }
    }
    return KV_EINVAL;
}

/* Splits one config-file line into key and value; returns 0 for a blank or
 * comment line, 1 for a setting, -1 for a malformed line. */
static int line_split(char *line, char **key, char **value)
{
    char *p = line + strspn(line, " \t\r\n");
    if (*p == '\0' || *p == '#') return 0;
    *key = p;
    p += strcspn(p, " \t\r\n");
    if (*p == '\0') return -1;
    *p++ = '\0';
    p += strspn(p, " \t");
    char *end = p + strlen(p);
    while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    int quoted = *p == '"' && end - p >= 2 && end[-1] == '"';
    if (quoted) {
        *--end = '\0';
        p++;
    }
    if (*p == '\0' && !quoted) return -1; /* `requirepass ""` is an empty value */
    *value = p;
    return 1;
}

int config_load_file(kv_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open config file '%s': %s", path, strerror(errno));
        return KV_EIO;
    }
    char line[1024], sub[KV_CONFIG_ERRLEN];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char *key, *value;
        lineno++;
        int k = line_split(line, &key, &value);
        if (k == 0) continue;
        if (k < 0) {
            snprintf(err, errlen, "%s:%d: expected 'key value'", path, lineno);
            rc = KV_EINVAL;
            break;
        }
        if (strcasecmp(key, "config") == 0) {
            snprintf(err, errlen, "%s:%d: 'config' cannot be nested", path, lineno);
            rc = KV_EINVAL;
            break;
        }
        if (config_set(c, key, value, sub, sizeof sub) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
            rc = KV_EINVAL;
            break;
        }
    }
    fclose(f);
    return rc;
}

int config_parse_args(kv_config *c, int argc, char **argv, char *err, size_t errlen)
{
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
        char name[64];
        const char *value;
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (nlen >= sizeof name) {
            snprintf(err, errlen, "unknown option '%s'", a);
            return KV_EINVAL;
        }
        memcpy(name, a + 2, nlen);
        name[nlen] = '\0';
        if (eq) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc) {
                if (strcmp(name, "config") != 0 && opt_find(name) == NULL)
                    snprintf(err, errlen, "unknown option '--%s'", name);
                else
                    snprintf(err, errlen, "option '--%s' needs a value", name);
                return KV_EINVAL;
            }
            value = argv[++i];
        }
        int rc = strcmp(name, "config") == 0 ? config_load_file(c, value, err, errlen)
                                             : config_set(c, name, value, err, errlen);
        if (rc != 0) return rc;
    }
    return 0;
}

void config_resolve_threads(kv_config *c, int ncpu)
{
    if (ncpu < 1) ncpu = 1;
    if (c->threads > 0) { /* each thread reads sockets and owns shards */
        if (c->threads > c->shards) c->threads = c->shards;
        c->io_threads = c->actor_threads = c->threads;
        return;
    }
    /* Never more busy threads than cores: half the cores read sockets, the
     * rest own shards, at least one of each. Measured defaults come with the
     * performance issue. */
    if (c->io_threads == 0) c->io_threads = ncpu / 2 > 0 ? ncpu / 2 : 1;
    if (c->actor_threads == 0)
        c->actor_threads = ncpu - c->io_threads > 0 ? ncpu - c->io_threads : 1;
    if (c->actor_threads > c->shards) c->actor_threads = c->shards;
}

void config_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [--config FILE] [--OPTION VALUE]...\n"
            "mem-kv: an in-memory key-value cache that speaks RESP2 (redis-cli, redis-benchmark,\n"
            "Redis client libraries) and the mem-kv plain-text protocol (nc).\n\n"
            "Options (each also works as `OPTION VALUE` in the config file):\n",
            prog);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s %s", opts[i].name, opts[i].arg);
        if (strlen(left) > 24)
            fprintf(out, "  %s\n  %-24s %s\n", left, "", opts[i].help);
        else
            fprintf(out, "  %-24s %s\n", left, opts[i].help);
    }
    fprintf(out, "  %-24s %s\n", "--config FILE",
            "read settings from FILE (`key value` lines, # comments)");
    fprintf(out, "  %-24s %s\n", "--help, -h", "print this help and exit");
    fprintf(out, "  %-24s %s\n", "--version, -v", "print the version and exit");
    fprintf(out,
            "\nExit status: 0 on clean shutdown (SIGINT/SIGTERM), 1 on a start-up failure,\n"
            "2 on an unknown or malformed option or unusable TLS settings (certificate, key).\n");
}
