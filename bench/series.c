/* series.c - the per-second series, CSV and .hlog writers; see series.h. */
#include "bench/series.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void series_init(series_t *s)
{
    memset(s, 0, sizeof(*s));
}

void series_destroy(series_t *s)
{
    if (!s) return;
    free(s->pt);
    memset(s, 0, sizeof(*s));
}

void series_hist_diff(hist_t *dst, const hist_t *cur, const hist_t *prev)
{
    hist_init(dst);
    uint64_t total = 0;
    int lo = -1, hi = -1;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
        uint64_t c = hist_ld(&cur->counts[i]), p = prev ? hist_ld(&prev->counts[i]) : 0;
        uint64_t d = c > p ? c - p : 0;
        hist_st(&dst->counts[i], d);
        if (!d) continue;
        total += d;
        if (lo < 0) lo = (int)i;
        hi = (int)i;
    }
    hist_st(&dst->total, total);
    if (!total) return;
    uint64_t mx = hist_bucket_high((unsigned)hi), cmax = hist_ld(&cur->max);
    hist_st(&dst->max, mx < cmax ? mx : cmax);
    hist_st(&dst->min, hist_bucket_low((unsigned)lo));
    double sum = atomic_load_explicit(&cur->sum, memory_order_relaxed) -
                 (prev ? atomic_load_explicit(&prev->sum, memory_order_relaxed) : 0.0);
    atomic_store_explicit(&dst->sum, sum > 0 ? sum : 0.0, memory_order_relaxed);
}

int series_add(series_t *s, double t_s, double len_s, const hist_t *h, uint64_t errors)
{
    if (s->n == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 64;
        series_point *p = realloc(s->pt, cap * sizeof(*p));
        if (!p) return -1;
        s->pt = p;
        s->cap = cap;
    }
    series_point *p = &s->pt[s->n++];
    p->t_s = t_s;
    p->len_s = len_s;
    p->count = hist_ld(&h->total);
    p->errors = errors;
    p->p50_ns = hist_value_at(h, 50);
    p->p99_ns = hist_value_at(h, 99);
    p->max_ns = p->count ? hist_ld(&h->max) : 0;
    return 0;
}

static double rate(const series_point *p)
{
    return p->len_s > 0 ? (double)p->count / p->len_s : 0.0;
}

int series_csv(FILE *out, const series_t *s)
{
    fprintf(out, "t_s,interval_s,requests,rate_rps,p50_ms,p99_ms,max_ms,errors\n");
    for (unsigned i = 0; i < s->n; i++) {
        const series_point *p = &s->pt[i];
        fprintf(out, "%.3f,%.3f,%llu,%.1f,%.6f,%.6f,%.6f,%llu\n", p->t_s, p->len_s,
                (unsigned long long)p->count, rate(p), (double)p->p50_ns / 1e6,
                (double)p->p99_ns / 1e6, (double)p->max_ns / 1e6, (unsigned long long)p->errors);
    }
    return ferror(out) ? -1 : 0;
}

int series_json(FILE *out, const series_t *s)
{
    fputc('[', out);
    for (unsigned i = 0; i < s->n; i++) {
        const series_point *p = &s->pt[i];
        fprintf(out,
                "%s\n    {\"t_s\": %.3f, \"interval_s\": %.3f, \"requests\": %llu, \"rate_rps\": "
                "%.1f, \"p50_ms\": %.6f, \"p99_ms\": %.6f, \"max_ms\": %.6f, \"errors\": %llu}",
                i ? "," : "", p->t_s, p->len_s, (unsigned long long)p->count, rate(p),
                (double)p->p50_ns / 1e6, (double)p->p99_ns / 1e6, (double)p->max_ns / 1e6,
                (unsigned long long)p->errors);
    }
    fputs(s->n ? "\n  ]" : "]", out);
    return ferror(out) ? -1 : 0;
}

/* ---- HdrHistogram V2 encoding ------------------------------------------- */

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} buf;

static void buf_put(buf *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_be(buf *b, uint64_t v, int bytes)
{
    unsigned char t[8];
    for (int i = 0; i < bytes; i++) t[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    buf_put(b, t, (size_t)bytes);
}

static void put_be32_at(buf *b, size_t off, uint32_t v)
{
    if (b->oom) return;
    for (int i = 0; i < 4; i++) b->p[off + (size_t)i] = (unsigned char)(v >> (8 * (3 - i)));
}

/* ZigZag, then LEB128 (HdrHistogram's ZigZagEncoding.putLong: the ninth
 * byte, if any, carries 8 bits). */
static void put_zigzag(buf *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    unsigned char t[9];
    int n = 0;
    while (n < 8 && z >= 0x80) {
        t[n++] = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    t[n++] = (unsigned char)z;
    buf_put(b, t, (size_t)n);
}

/* The uncompressed V2 encoding: 40-byte header, then the counts up to the
 * highest non-empty bucket, runs of zeros as negative lengths. */
static void encode_v2(buf *b, const hist_t *h)
{
    int hi = -1;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++)
        if (hist_ld(&h->counts[i])) hi = (int)i;
    put_be(b, 0x1c849313u, 4); /* V2 encoding cookie, word size 8 */
    size_t len_off = b->len;
    put_be(b, 0, 4);                  /* payload length, filled below */
    put_be(b, 0, 4);                  /* normalizing index offset */
    put_be(b, 2, 4);                  /* significant value digits */
    put_be(b, 1, 8);                  /* lowest discernible value */
    put_be(b, HIST_MAX_VALUE, 8);     /* highest trackable value */
    put_be(b, 0x3ff0000000000000, 8); /* integer to double ratio: 1.0 */
    size_t start = b->len;
    for (int i = 0; i <= hi;) {
        uint64_t c = hist_ld(&h->counts[i++]);
        if (c) {
            put_zigzag(b, (int64_t)c);
            continue;
        }
        int64_t zeros = 1;
        while (i <= hi && hist_ld(&h->counts[i]) == 0) zeros++, i++;
        put_zigzag(b, zeros > 1 ? -zeros : 0);
    }
    put_be32_at(b, len_off, (uint32_t)(b->len - start));
}

/* A zlib stream of stored (uncompressed) deflate blocks. */
static void zlib_stored(buf *out, const unsigned char *p, size_t n)
{
    static const unsigned char hdr[2] = {0x78, 0x01};
    buf_put(out, hdr, 2);
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
    }
    size_t off = 0;
    do {
        size_t k = n - off > 65535 ? 65535 : n - off;
        unsigned char bh[5] = {(unsigned char)(off + k == n), (unsigned char)k,
                               (unsigned char)(k >> 8), (unsigned char)~k,
                               (unsigned char)(~k >> 8)};
        buf_put(out, bh, 5);
        buf_put(out, p + off, k);
        off += k;
    } while (off < n);
    put_be(out, ((uint64_t)b << 16) | a, 4);
}

static void put_base64(FILE *out, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        fputc(tab[(v >> 18) & 63], out);
        fputc(tab[(v >> 12) & 63], out);
        fputc(i + 1 < n ? tab[(v >> 6) & 63] : '=', out);
        fputc(i + 2 < n ? tab[v & 63] : '=', out);
    }
}

int series_hlog_header(FILE *out, double start_unix_s)
{
    char when[64];
    time_t t = (time_t)start_unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%a %b %d %H:%M:%S UTC %Y", &tm);
    fprintf(out, "#[Written by mem-kv-bench: one histogram per second, values in ns]\n");
    fprintf(out, "#[Histogram log format version 1.3]\n");
    fprintf(out, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_unix_s, when);
    fprintf(out, "#[BaseTime: %.3f (seconds since epoch)]\n", start_unix_s);
    fprintf(out, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                 "\"Interval_Compressed_Histogram\"\n");
    return ferror(out) ? -1 : 0;
}

int series_hlog_interval(FILE *out, double t_s, double len_s, const hist_t *h)
{
    buf raw = {0}, z = {0};
    encode_v2(&raw, h);
    put_be(&z, 0x1c849314u, 4); /* V2 compressed encoding cookie */
    put_be(&z, 0, 4);
    size_t start = z.len;
    if (!raw.oom) zlib_stored(&z, raw.p, raw.len);
    put_be32_at(&z, 4, (uint32_t)(z.len - start));
    int rv = -1;
    if (!raw.oom && !z.oom) {
        uint64_t mx = hist_ld(&h->total) ? hist_ld(&h->max) : 0;
        fprintf(out, "%.3f,%.3f,%.3f,", t_s, len_s, (double)mx / 1e6);
        put_base64(out, z.p, z.len);
        fputc('\n', out);
        rv = ferror(out) ? -1 : 0;
    }
    free(raw.p);
    free(z.p);
    return rv;
}
