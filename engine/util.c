/* util.c - error names, allocation helpers, clocks and number parsing. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>
#include <errno.h>
#include <fenv.h>
#include <float.h>
#include <malloc.h>
#ifdef MEMKV_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/kv.h"

const char *kv_strerror(int err)
{
    switch (err) {
    case KV_OK:
        return "success";
#define KV_ERRNO_CASE(name, code, msg)                                                             \
    case KV_E##name:                                                                               \
        return msg;
        KV_ERRNO_MAP(KV_ERRNO_CASE)
#undef KV_ERRNO_CASE
    default:
        return "unknown error";
    }
}

static void kv_oom(size_t n)
{
    fprintf(stderr, "mem-kv: out of memory allocating %zu bytes\n", n);
    fflush(stderr);
    abort();
}

void *kv_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) kv_oom(n);
    return p;
}

void *kv_xmalloc_pages(size_t n)
{
#ifdef MEMKV_JEMALLOC
    /* page-aligned: jemalloc then puts no random offset in front (its
     * cache-oblivious placement), which would make a 16 KB block touch a
     * fifth page */
    size_t page = 4096, size = (n + page - 1) / page * page;
    void *p = aligned_alloc(page, size ? size : page);
#else
    void *p = malloc(n ? n : 1); /* glibc: alignment would only waste */
#endif
    if (p == NULL) kv_oom(n);
    return p;
}

void *kv_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) kv_oom(n * size);
    return p;
}

void *kv_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) kv_oom(n);
    return q;
}

char *kv_xstrndup(const char *s, size_t n)
{
    char *p = kv_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int64_t kv_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kv_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int kv_parse_i64(const char *p, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;

    if (len == 0) return KV_EINVAL;
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return 0;
    }
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) return KV_EINVAL;
    }
    /* the first digit must be 1-9: no leading zeros, no "-0" */
    if (p[i] < '1' || p[i] > '9') return KV_EINVAL;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return KV_EINVAL;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return KV_EINVAL;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return KV_EINVAL;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return KV_EINVAL;
        *out = (int64_t)v;
    }
    return 0;
}

/* Longest text Redis accepts or prints for a long double. */
#define KV_LD_MAXCHARS 5120

/* INCRBYFLOAT's arithmetic is x87's 80-bit extended format (64-bit
 * significand, 15-bit exponent): what long double is on amd64, where Redis's
 * replies were recorded (10.6 + 5000 prints 5010.60000000000000009). Where
 * long double is IEEE binary128 (aarch64: 113-bit significand, the same
 * exponent range) every result is rounded to that format, so both platforms
 * give the same replies; Redis itself prints 5010.6 on arm64. The rounding
 * is exact, not a double rounding: the binary128 step is done toward zero
 * and made odd when inexact ("round to odd", valid as 113 >= 64 + 2), then
 * rounded to nearest even at 64 bits. docs/arm64.md has the details. */
#if LDBL_MANT_DIG == 64
#define LD_X87_NATIVE 1
#elif LDBL_MANT_DIG == 113 && LDBL_MAX_EXP == 16384 && defined(FE_TOWARDZERO) &&                   \
    defined(FE_UPWARD) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LD_X87_NATIVE 0
#else
#error "kv_parse_ld/kv_ld_add: long double is neither x87 extended nor IEEE binary128"
#endif

#if !LD_X87_NATIVE
/* x is a result truncated toward zero; makes its last significand bit 1
 * when the exact result was not representable (round to odd). */
static long double ld_make_odd(long double x, int inexact)
{
    uint64_t w[2];
    if (!inexact) return x;
    memcpy(w, &x, sizeof w);
    w[0] |= 1; /* little-endian: the low half holds the last significand bit */
    memcpy(&x, w, sizeof w);
    return x;
}

/* Rounds a round-to-odd binary128 value to 64 significand bits, nearest
 * even, with x87's subnormal quantum 2^-16445. Current rounding mode must
 * be to nearest. */
static long double ld_round_x87(long double x)
{
    if (x == 0 || !isfinite(x)) return x;
    int e = ilogbl(x) - 63;
    if (e < -16445) e = -16445;
    return ldexpl(rintl(ldexpl(x, -e)), e);
}
#endif

long double kv_ld_add(long double a, long double b)
{
#if LD_X87_NATIVE
    return a + b;
#else
    /* volatile keeps the addition between the two mode switches */
    volatile long double va = a, vb = b, sum;
    int mode = fegetround();
    fesetround(FE_TOWARDZERO);
    feclearexcept(FE_INEXACT);
    sum = va + vb;
    int inexact = fetestexcept(FE_INEXACT) != 0;
    fesetround(mode);
    return ld_round_x87(ld_make_odd(sum, inexact));
#endif
}

/* strtold, rounded as x87's strtold would round (see kv_ld_add), with its
 * ERANGE for results that become 0 or infinite at x87's precision. */
static long double ld_strto(const char *s, char **end)
{
#if LD_X87_NATIVE
    return strtold(s, end);
#else
    /* glibc's strtold honours the rounding mode: the text is exact in
     * binary128 iff rounding down and up agree */
    int mode = fegetround();
    fesetround(FE_DOWNWARD);
    volatile long double down = strtold(s, end);
    fesetround(FE_UPWARD);
    volatile long double up = strtold(s, end);
    fesetround(mode);
    long double tz = up <= 0 ? up : down; /* toward zero */
    long double v = ld_round_x87(ld_make_odd(tz, up != down));
    if ((v == 0 && (up != 0 || down != 0)) || (isinf(v) && !isinf(tz))) errno = ERANGE;
    return v;
#endif
}

int kv_parse_ld(const char *p, size_t len, long double *out)
{
    char buf[KV_LD_MAXCHARS];
    char *end;
    long double v;

    if (len == 0 || len >= sizeof buf) return KV_EINVAL;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return KV_EINVAL;
    errno = 0;
    v = ld_strto(buf, &end);
    /* unlike Redis, an embedded NUL is trailing junk, not an end */
    if (end != buf + len) return KV_EINVAL;
    if (errno == ERANGE && (isinf(v) || fpclassify(v) == FP_ZERO)) return KV_EINVAL;
    if (errno == EINVAL || isnan(v)) return KV_EINVAL;
    *out = v;
    return 0;
}

size_t kv_format_ld(char *buf, size_t cap, long double v)
{
    int n;
    size_t l;

    if (cap == 0) return 0;
    if (isinf(v)) {
        n = snprintf(buf, cap, "%s", v > 0 ? "inf" : "-inf");
        return (size_t)n < cap ? (size_t)n : cap - 1;
    }
    n = snprintf(buf, cap, "%.17Lf", v);
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    l = (size_t)n < cap ? (size_t)n : cap - 1;
    /* human form: strip trailing zeros of the fraction, then a bare '.' */
    if (memchr(buf, '.', l) != NULL) {
        while (l > 0 && buf[l - 1] == '0') l--;
        if (l > 0 && buf[l - 1] == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return l;
}

/* Set once at start-up, before other threads exist: read-only afterwards. */
static int log_quiet;

void kv_log_quiet(int quiet)
{
    log_quiet = quiet;
}

__attribute__((format(printf, 2, 0))) static void log_v(char mark, const char *fmt, va_list ap)
{
    char ts[40], line[1024];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%d %b %Y %H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ld", now.tv_nsec / 1000000);
    vsnprintf(line, sizeof line, fmt, ap);
    /* one fprintf per line so lines of different threads do not mix */
    fprintf(stderr, "%ld:M %s %c %s\n", (long)getpid(), ts, mark, line);
}

void kv_log(const char *fmt, ...)
{
    if (log_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    log_v('*', fmt, ap);
    va_end(ap);
}

void kv_log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v('#', fmt, ap);
    va_end(ap);
}

#if defined(__SANITIZE_ADDRESS__)
#define MEMKV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMKV_ASAN 1
#endif
#endif
#ifdef MEMKV_ASAN
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which gcc
 * does not install). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#ifdef MEMKV_JEMALLOC
/* One of jemalloc's size_t statistics, 0 if unknown. */
static size_t je_stat(const char *name)
{
    size_t v = 0, len = sizeof v;
    return mallctl(name, &v, &len, NULL, 0) == 0 ? v : 0;
}

/* jemalloc caches its statistics; advancing the epoch refreshes them (a
 * walk of the arenas under their locks: a few times a second at most). */
static void je_refresh(void)
{
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    mallctl("epoch", &epoch, &len, &epoch, len);
}
#endif

void kv_allocator_stats(kv_alloc_stats *st)
{
#if defined(MEMKV_ASAN)
    st->allocated = __sanitizer_get_current_allocated_bytes();
    st->active = st->resident = st->allocated;
#elif defined(MEMKV_JEMALLOC)
    je_refresh();
    st->allocated = je_stat("stats.allocated");
    st->active = je_stat("stats.active");
    st->resident = je_stat("stats.resident");
#else
    struct mallinfo2 mi = mallinfo2();
    st->allocated = mi.uordblks + mi.hblkhd;
    st->active = st->resident = mi.arena + mi.hblkhd; /* heap and mappings obtained */
#endif
}

static atomic_int allocator_purge_wanted;

void kv_allocator_purge_soon(void)
{
    atomic_store_explicit(&allocator_purge_wanted, 1, memory_order_relaxed);
}

void kv_allocator_decay(void)
{
    int purge = atomic_exchange_explicit(&allocator_purge_wanted, 0, memory_order_relaxed);
#if defined(MEMKV_JEMALLOC) && !defined(MEMKV_ASAN)
    char name[64];
    snprintf(name, sizeof name, "arena.%u.%s", (unsigned)MALLCTL_ARENAS_ALL,
             purge ? "purge" : "decay");
    mallctl(name, NULL, NULL, NULL, 0);
#else
    (void)purge;
#endif
}

size_t kv_allocated_bytes(void)
{
    kv_alloc_stats st;
    kv_allocator_stats(&st);
    return st.allocated;
}

const char *kv_allocator_name(void)
{
#if defined(MEMKV_ASAN)
    return "asan";
#elif defined(MEMKV_JEMALLOC)
#define KV_STR2(x) #x
#define KV_STR(x)  KV_STR2(x)
    return "jemalloc-" KV_STR(JEMALLOC_VERSION_MAJOR) "." KV_STR(JEMALLOC_VERSION_MINOR) "." KV_STR(
        JEMALLOC_VERSION_BUGFIX); /* as Redis: jemalloc-5.3.0 */
#else
    return "libc";
#endif
}

size_t kv_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* The first line of root/rel as a number; -1 for "max", garbage or no file. */
static long long read_limit_file(const char *root, const char *rel)
{
    char path[1024], line[64];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -2; /* absent: try the next layout */
    long long v = -1;
    if (fgets(line, sizeof line, f) != NULL) {
        char *end;
        errno = 0;
        long long n = strtoll(line, &end, 10);
        if (errno == 0 && end != line && (*end == '\n' || *end == '\0') && n > 0) v = n;
    }
    fclose(f);
    return v;
}

long long kv_cgroup_mem_limit(const char *root)
{
    long long v = read_limit_file(root, "memory.max");
    if (v == -2) v = read_limit_file(root, "memory/memory.limit_in_bytes");
    /* v1 says "no limit" with a huge page-rounded LLONG_MAX */
    if (v < 0 || v >= (1ll << 62)) return -1;
    return v;
}
