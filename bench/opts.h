/* opts.h - the command line of mem-kv-bench. */
#ifndef MEMKV_BENCH_OPTS_H
#define MEMKV_BENCH_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/keygen.h"

typedef struct bench_opts {
    const char *host;
    int port;
    const char *password; /* NULL: no AUTH */
    int plain;            /* --protocol plain */
    int tls;              /* --tls */
    const char *tls_ca;   /* --tls-ca-cert-file (--cacert), NULL: system CAs */
    const char *tls_cert; /* --tls-cert-file (--cert): client certificate */
    const char *tls_key;  /* --tls-key-file (--key) */
    int tls_insecure;     /* --insecure: do not verify the server */
    unsigned threads;
    unsigned clients; /* connections per thread */
    unsigned pipeline;
    uint64_t requests; /* per connection; 0 when --duration */
    double duration;   /* seconds; 0 when --requests */
    double warmup;
    unsigned ratio[5]; /* SET:GET:MGET:HSET:HMGET */
    unsigned mget_keys;
    unsigned fields; /* per HSET/HMGET */
    uint64_t keys;
    keygen_pattern pattern;
    double zipf_s;
    const char *key_prefix;
    size_t vmin, vmax;
    uint64_t ttl;
    uint64_t seed;
    int load;
    double rate;    /* 0: closed loop */
    double timeout; /* seconds to wait for outstanding replies at the end */
    const char *json, *hgrm, *svg;
    const char *svg_log;  /* --svg-log: percentile plot, log latency axis */
    const char *svg_time; /* --svg-time: throughput and p99 over time */
    const char *csv;      /* --csv: the per-second series */
    const char *hlog;     /* --hlog: HdrHistogram interval log */
    FILE *hlog_out;       /* --hlog opened by the caller before the run; NULL: none */
    int strict_rate;      /* --strict-rate: falling > 5 % short of --rate is an error */
    int quiet;            /* no progress line */
    int progress;         /* 1 force, 0 auto (terminal only), -1 never */
} bench_opts;

void opts_defaults(bench_opts *o);
/* Parses argv (after the program name) into o. Returns 0; 1 after --help
 * was printed to `out`; -1 with a message in err for bad usage. Accepts the
 * original short form `<clients> <requests>`. */
int opts_parse(bench_opts *o, int argc, char **argv, FILE *out, char *err, size_t errlen);
void opts_usage(FILE *out);

#endif
