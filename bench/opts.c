/* opts.c - command-line parsing; see opts.h. */
#include "bench/opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void opts_defaults(bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 8080;
    o->threads = 1;
    o->clients = 50;
    o->pipeline = 1;
    o->duration = 0;
    o->requests = 0;
    o->ratio[0] = 1, o->ratio[1] = 10, o->ratio[2] = o->ratio[3] = o->ratio[4] = 0;
    o->mget_keys = 10;
    o->fields = 10;
    o->keys = 100000;
    o->pattern = KEYGEN_UNIFORM;
    o->zipf_s = 0.99;
    o->key_prefix = "key:";
    o->vmin = o->vmax = 32;
    o->seed = 1;
    o->timeout = 10;
}

void opts_usage(FILE *out)
{
    fputs(
        "usage: mem-kv-bench [options]\n"
        "       mem-kv-bench <clients> <requests>   (that many clients x SETs, pipeline 1)\n"
        "       mem-kv-bench plot --svg FILE [--log] [--title T] [--command CMD] --label A a.json "
        "...\n"
        "       mem-kv-bench compare A.json B.json   (figures side by side, ratios B/A)\n"
        "\n"
        "target:\n"
        "  -h, --host HOST          server address (127.0.0.1)\n"
        "  -p, --port PORT          server port (8080)\n"
        "  -a, --password PASS      send AUTH PASS on every connection first\n"
        "      --protocol resp|plain  RESP2 (default) or the plain-text line protocol\n"
        "      --tls                connect with TLS (handshakes before the measured run)\n"
        "      --tls-ca-cert-file F  CA certificates that sign the server's (--cacert F;\n"
        "                           default: the system's); the name checked is --host\n"
        "      --tls-cert-file F    client certificate (--cert F), with --tls-key-file F\n"
        "                           (--key F), for servers with tls-auth-clients yes\n"
        "      --insecure           do not verify the server's certificate\n"
        "load shape:\n"
        "  -t, --threads N          threads, one event loop each (1)\n"
        "  -c, --clients N          connections per thread (50)\n"
        "  -P, --pipeline N         requests in flight per connection (1)\n"
        "  -n, --requests N         measured requests per connection\n"
        "  -d, --duration SECONDS   measured time (default 10 s unless --requests)\n"
        "  -w, --warmup SECONDS     run this long first without recording (0)\n"
        "  -R, --rate R             open loop: R requests/s in total, spread over all\n"
        "                           connections; latency counts from intended send times;\n"
        "                           a warning when the achieved rate is > 5 % below R\n"
        "      --strict-rate        with --rate: falling > 5 % short is an error (exit 3)\n"
        "      --timeout SECONDS    wait this long for outstanding replies at the end (10)\n"
        "commands and keys:\n"
        "  -r, --ratio S:G:M[:HS:HM] SET:GET:MGET[:HSET:HMGET] mix (1:10:0)\n"
        "      --mget-keys N        keys per MGET (10)\n"
        "      --fields N           fields per HSET/HMGET (10): f0..f<N-1>, values of -v size\n"
        "  -k, --keys N             key space size (100000)\n"
        "      --key-pattern P      uniform | zipf | sequential (uniform)\n"
        "      --zipf-s S           zipf exponent (0.99)\n"
        "      --key-prefix S       key prefix (\"key:\"); keys are prefix + zero-padded index\n"
        "  -v, --value-size N|A-B   value bytes, fixed or uniform in [A, B] (32)\n"
        "      --ttl SECONDS        SET ... EX SECONDS\n"
        "  -s, --seed N             seed of the key and command streams (1)\n"
        "  -l, --load               SET every key once (pipelined) before the measured run\n"
        "output:\n"
        "      --json FILE          results as JSON (plot reads these)\n"
        "      --hgrm PREFIX        HdrHistogram percentile files PREFIX.{all,set,get,mget}.hgrm\n"
        "      --svg FILE           latency-by-percentile plot\n"
        "      --svg-log FILE       the same with a log latency axis\n"
        "      --svg-time FILE      throughput and p99 of each second against time\n"
        "      --csv FILE           the per-second series (rate, p50, p99, max, errors)\n"
        "      --hlog FILE          HdrHistogram interval log, one histogram per second\n"
        "  -q, --quiet              no progress line\n"
        "      --progress           the per-second progress line (that second's rate,\n"
        "                           p99, max, errors) even when stderr is not a terminal\n"
        "      --help               this text\n"
        "\n"
        "exit status: 0 ok, 1 when any error occurred (error replies, lost connections,\n"
        "unanswered requests, no server answering), 2 for bad usage or an output file\n"
        "that cannot be written (checked before the run), 3 with --strict-rate when the\n"
        "achieved rate fell more than 5 % short of --rate.\n",
        out);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

enum {
    OPT_PROTOCOL = 256,
    OPT_MGET_KEYS,
    OPT_FIELDS,
    OPT_KEY_PATTERN,
    OPT_ZIPF_S,
    OPT_KEY_PREFIX,
    OPT_TTL,
    OPT_JSON,
    OPT_HGRM,
    OPT_SVG,
    OPT_HELP,
    OPT_TIMEOUT,
    OPT_PROGRESS,
    OPT_TLS,
    OPT_TLS_CA,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_INSECURE,
    OPT_CSV,
    OPT_HLOG,
    OPT_SVG_LOG,
    OPT_SVG_TIME,
    OPT_STRICT_RATE,
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, 'h'},
    {"port", required_argument, NULL, 'p'},
    {"password", required_argument, NULL, 'a'},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"tls", no_argument, NULL, OPT_TLS},
    {"tls-ca-cert-file", required_argument, NULL, OPT_TLS_CA},
    {"cacert", required_argument, NULL, OPT_TLS_CA},
    {"tls-cert-file", required_argument, NULL, OPT_TLS_CERT},
    {"cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key-file", required_argument, NULL, OPT_TLS_KEY},
    {"key", required_argument, NULL, OPT_TLS_KEY},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"threads", required_argument, NULL, 't'},
    {"clients", required_argument, NULL, 'c'},
    {"pipeline", required_argument, NULL, 'P'},
    {"requests", required_argument, NULL, 'n'},
    {"duration", required_argument, NULL, 'd'},
    {"warmup", required_argument, NULL, 'w'},
    {"rate", required_argument, NULL, 'R'},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"ratio", required_argument, NULL, 'r'},
    {"mget-keys", required_argument, NULL, OPT_MGET_KEYS},
    {"fields", required_argument, NULL, OPT_FIELDS},
    {"keys", required_argument, NULL, 'k'},
    {"key-pattern", required_argument, NULL, OPT_KEY_PATTERN},
    {"zipf-s", required_argument, NULL, OPT_ZIPF_S},
    {"key-prefix", required_argument, NULL, OPT_KEY_PREFIX},
    {"value-size", required_argument, NULL, 'v'},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"seed", required_argument, NULL, 's'},
    {"load", no_argument, NULL, 'l'},
    {"json", required_argument, NULL, OPT_JSON},
    {"hgrm", required_argument, NULL, OPT_HGRM},
    {"svg", required_argument, NULL, OPT_SVG},
    {"svg-log", required_argument, NULL, OPT_SVG_LOG},
    {"svg-time", required_argument, NULL, OPT_SVG_TIME},
    {"csv", required_argument, NULL, OPT_CSV},
    {"hlog", required_argument, NULL, OPT_HLOG},
    {"strict-rate", no_argument, NULL, OPT_STRICT_RATE},
    {"quiet", no_argument, NULL, 'q'},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* S:G:M or S:G:M:HS:HM (the hash parts default to 0). */
static int parse_ratio(const char *s, unsigned r[5])
{
    uint64_t v[5] = {0, 0, 0, 0, 0}, sum = 0;
    char buf[64];
    int n = 0;
    if (strlen(s) >= sizeof(buf)) return -1;
    strcpy(buf, s);
    char *save = NULL, *tok = strtok_r(buf, ":", &save);
    for (; tok && n < 5; n++) {
        if (parse_u64(tok, 0, 1000000, &v[n])) return -1;
        sum += v[n];
        tok = strtok_r(NULL, ":", &save);
    }
    if (tok || (n != 3 && n != 5) || sum == 0) return -1;
    for (int i = 0; i < 5; i++) r[i] = (unsigned)v[i];
    return 0;
}

static int parse_value_size(const char *s, size_t *lo, size_t *hi)
{
    uint64_t a, b;
    const char *dash = strchr(s, '-');
    char buf[64];
    if (!dash) {
        if (parse_u64(s, 1, 64 << 20, &a)) return -1;
        *lo = *hi = (size_t)a;
        return 0;
    }
    size_t n = (size_t)(dash - s);
    if (n == 0 || n >= sizeof(buf)) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (parse_u64(buf, 1, 64 << 20, &a) || parse_u64(dash + 1, 1, 64 << 20, &b) || a > b) return -1;
    *lo = (size_t)a, *hi = (size_t)b;
    return 0;
}

int opts_parse(bench_opts *o, int argc, char **argv, FILE *out, char *err, size_t errlen)
{
    uint64_t u;
    double d;
    int have_requests = 0, have_duration = 0;
    /* The original form: two bare numbers. */
    if (argc == 2 && argv[0][0] != '-' && argv[1][0] != '-') {
        uint64_t c, n;
        if (parse_u64(argv[0], 1, 100000, &c) || parse_u64(argv[1], 1, UINT64_MAX / 2, &n))
            return fail(err, errlen, "short form is: mem-kv-bench <clients> <requests>");
        o->clients = (unsigned)c;
        o->requests = n;
        o->ratio[0] = 1, o->ratio[1] = o->ratio[2] = o->ratio[3] = o->ratio[4] = 0;
        o->pipeline = 1;
        return 0;
    }
    /* getopt wants argv[0] to be the program name */
    optind = 0;
    opterr = 0;
    int c;
    char **av = argv - 1;
    while ((c = getopt_long(argc + 1, av, ":h:p:a:t:c:P:n:d:w:R:r:k:v:s:lq", long_opts, NULL)) !=
           -1) {
        switch (c) {
        case 'h':
            o->host = optarg;
            break;
        case 'p':
            if (parse_u64(optarg, 1, 65535, &u)) return fail(err, errlen, "--port: 1..65535");
            o->port = (int)u;
            break;
        case 'a':
            o->password = optarg;
            break;
        case OPT_PROTOCOL:
            if (!strcmp(optarg, "resp"))
                o->plain = 0;
            else if (!strcmp(optarg, "plain"))
                o->plain = 1;
            else
                return fail(err, errlen, "--protocol: resp or plain");
            break;
        case 't':
            if (parse_u64(optarg, 1, 1024, &u)) return fail(err, errlen, "--threads: 1..1024");
            o->threads = (unsigned)u;
            break;
        case 'c':
            if (parse_u64(optarg, 1, 100000, &u)) return fail(err, errlen, "--clients: 1..100000");
            o->clients = (unsigned)u;
            break;
        case 'P':
            if (parse_u64(optarg, 1, 100000, &u)) return fail(err, errlen, "--pipeline: 1..100000");
            o->pipeline = (unsigned)u;
            break;
        case 'n':
            if (parse_u64(optarg, 1, UINT64_MAX / 2, &u))
                return fail(err, errlen, "--requests: a positive integer");
            o->requests = u;
            have_requests = 1;
            break;
        case 'd':
            if (parse_double(optarg, 0.001, 1e7, &d))
                return fail(err, errlen, "--duration: seconds > 0");
            o->duration = d;
            have_duration = 1;
            break;
        case 'w':
            if (parse_double(optarg, 0, 1e7, &d))
                return fail(err, errlen, "--warmup: seconds >= 0");
            o->warmup = d;
            break;
        case 'R':
            if (parse_double(optarg, 0.001, 1e9, &d))
                return fail(err, errlen, "--rate: requests per second > 0");
            o->rate = d;
            break;
        case OPT_TIMEOUT:
            if (parse_double(optarg, 0.001, 1e6, &d))
                return fail(err, errlen, "--timeout: seconds > 0");
            o->timeout = d;
            break;
        case 'r':
            if (parse_ratio(optarg, o->ratio))
                return fail(err, errlen,
                            "--ratio: SET:GET:MGET[:HSET:HMGET], e.g. 1:10:0 or 0:0:0:1:10 "
                            "(not all zero)");
            break;
        case OPT_FIELDS:
            if (parse_u64(optarg, 1, 10000, &u)) return fail(err, errlen, "--fields: 1..10000");
            o->fields = (unsigned)u;
            break;
        case OPT_MGET_KEYS:
            if (parse_u64(optarg, 1, 10000, &u)) return fail(err, errlen, "--mget-keys: 1..10000");
            o->mget_keys = (unsigned)u;
            break;
        case 'k':
            if (parse_u64(optarg, 1, UINT64_C(1) << 40, &u))
                return fail(err, errlen, "--keys: a positive integer");
            o->keys = u;
            break;
        case OPT_KEY_PATTERN:
            if (keygen_pattern_parse(optarg, &o->pattern))
                return fail(err, errlen, "--key-pattern: uniform, zipf or sequential");
            break;
        case OPT_ZIPF_S:
            if (parse_double(optarg, 0.0001, 100, &d)) return fail(err, errlen, "--zipf-s: > 0");
            o->zipf_s = d;
            break;
        case OPT_KEY_PREFIX:
            if (strlen(optarg) > 48 || strpbrk(optarg, " \r\n"))
                return fail(err, errlen, "--key-prefix: at most 48 bytes, no spaces or newlines");
            o->key_prefix = optarg;
            break;
        case 'v':
            if (parse_value_size(optarg, &o->vmin, &o->vmax))
                return fail(err, errlen, "--value-size: N or MIN-MAX bytes (1..64 MiB)");
            break;
        case OPT_TTL:
            if (parse_u64(optarg, 1, UINT64_C(1) << 40, &u))
                return fail(err, errlen, "--ttl: seconds > 0");
            o->ttl = u;
            break;
        case 's':
            if (parse_u64(optarg, 0, UINT64_MAX, &u))
                return fail(err, errlen, "--seed: an integer");
            o->seed = u;
            break;
        case 'l':
            o->load = 1;
            break;
        case OPT_JSON:
            o->json = optarg;
            break;
        case OPT_HGRM:
            o->hgrm = optarg;
            break;
        case OPT_SVG:
            o->svg = optarg;
            break;
        case OPT_SVG_LOG:
            o->svg_log = optarg;
            break;
        case OPT_SVG_TIME:
            o->svg_time = optarg;
            break;
        case OPT_CSV:
            o->csv = optarg;
            break;
        case OPT_HLOG:
            o->hlog = optarg;
            break;
        case OPT_STRICT_RATE:
            o->strict_rate = 1;
            break;
        case 'q':
            o->quiet = 1;
            o->progress = -1;
            break;
        case OPT_PROGRESS:
            o->progress = 1;
            break;
        case OPT_TLS:
            o->tls = 1;
            break;
        case OPT_TLS_CA:
            o->tls_ca = optarg;
            break;
        case OPT_TLS_CERT:
            o->tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            o->tls_key = optarg;
            break;
        case OPT_INSECURE:
            o->tls_insecure = 1;
            break;
        case OPT_HELP:
            opts_usage(out);
            return 1;
        case ':':
            return fail(err, errlen, "option %s needs a value", av[optind - 1]);
        default:
            return fail(err, errlen, "unknown option %s (see --help)", av[optind - 1]);
        }
    }
    if (optind + 2 == argc + 1) { /* the original form, after options: <clients> <requests> */
        uint64_t cl, n;
        if (parse_u64(av[optind], 1, 100000, &cl) ||
            parse_u64(av[optind + 1], 1, UINT64_MAX / 2, &n))
            return fail(err, errlen, "short form is: mem-kv-bench [options] <clients> <requests>");
        o->clients = (unsigned)cl;
        o->requests = n;
        o->ratio[0] = 1, o->ratio[1] = o->ratio[2] = o->ratio[3] = o->ratio[4] = 0;
        return have_duration
                   ? fail(err, errlen, "<clients> <requests> and --duration exclude each other")
                   : 0;
    }
    if (optind < argc + 1)
        return fail(err, errlen, "unexpected argument '%s' (see --help)", av[optind]);
    if (have_requests && have_duration)
        return fail(err, errlen, "--requests and --duration exclude each other");
    if (!have_requests && !have_duration) o->duration = 10;
    if (!o->tls && (o->tls_ca || o->tls_cert || o->tls_key || o->tls_insecure))
        return fail(err, errlen,
                    "--tls-ca-cert-file, --tls-cert-file, --tls-key-file and "
                    "--insecure go with --tls");
    if (!o->tls_cert != !o->tls_key)
        return fail(err, errlen, "--tls-cert-file and --tls-key-file go together");
    if (o->strict_rate && o->rate <= 0)
        return fail(err, errlen, "--strict-rate goes with --rate (an open-loop run)");
    if (o->plain && o->password && strpbrk(o->password, " \r\n"))
        return fail(err, errlen, "--password: no spaces or newlines with --protocol plain");
    return 0;
}
