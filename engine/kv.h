/* kv.h - types and error codes shared by every module of mem-kv.
 *
 * Errors follow one convention everywhere: 0 is success, a negative KV_E*
 * code is failure, and kv_strerror() names it. The table below is the only
 * place a code is defined.
 */
#ifndef MEMKV_KV_H
#define MEMKV_KV_H

#include <stddef.h>
#include <stdint.h>

#define KV_ERRNO_MAP(X)                                                                            \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(AGAIN, -2, "more input needed")                                                              \
    X(PROTO, -3, "protocol error")                                                                 \
    X(INVAL, -4, "invalid argument")                                                               \
    X(RANGE, -5, "value out of range")                                                             \
    X(IO, -6, "input/output error")                                                                \
    X(FULL, -7, "queue full")

enum {
    KV_OK = 0,
#define KV_ERRNO_ENUM(name, code, msg) KV_E##name = (code),
    KV_ERRNO_MAP(KV_ERRNO_ENUM)
#undef KV_ERRNO_ENUM
};

/* Returns a static string naming err; never NULL. Any thread. */
const char *kv_strerror(int err);

/* A byte string that does not own its memory. Binary safe. */
typedef struct kv_str {
    const char *p;
    size_t len;
} kv_str;

/* Allocation helpers: abort with a message on out-of-memory, like Redis's
 * zmalloc. Any thread. */
void *kv_xmalloc(size_t n);
/* kv_xmalloc for a big value: whole pages, page-aligned under jemalloc (see
 * util.c); freed with free(). Any thread. */
void *kv_xmalloc_pages(size_t n);
void *kv_xcalloc(size_t n, size_t size);
void *kv_xrealloc(void *p, size_t n);
char *kv_xstrndup(const char *s, size_t n);

/* Bytes the allocator has handed out, all threads (Redis's used_memory):
 * jemalloc's stats.allocated, glibc's mallinfo2, or ASan's counter in
 * sanitizer builds. Each call refreshes the allocator's statistics, which
 * briefly locks its arenas: call it at most a few times a second. Any
 * thread. */
size_t kv_allocated_bytes(void);
/* The allocator's own figures (Redis's allocator_* fields of INFO memory). */
typedef struct kv_alloc_stats {
    size_t allocated; /* bytes handed out (used_memory) */
    size_t active;    /* bytes of the pages holding them (jemalloc stats.active;
                         glibc: heap and mappings obtained from the kernel) */
    size_t resident;  /* bytes of the allocator's resident pages, metadata
                         included (jemalloc stats.resident; glibc: as active) */
} kv_alloc_stats;
/* Fills st; same cost and threads as kv_allocated_bytes. */
void kv_allocator_stats(kv_alloc_stats *st);
/* Asks for the allocator's dirty pages (freed, still resident) to be given
 * back to the kernel at the next kv_allocator_decay (within 250 ms): a
 * flag, nothing more. jemalloc returns freed pages only as its decay (1 s,
 * net/main.c) advances, and the decay advances only while the process
 * allocates, so after a big free (a FLUSHALL) they stay resident
 * (docs/memory.md, "RSS"). The purge itself (an madvise per run of dirty
 * pages) is left to the main thread so that no actor stalls for it while
 * its clients wait: purging on each of 16 shards' actors made a FLUSHALL of
 * 390 MB block its actors 0.3-2 s instead of 0.04-0.2 s. Any thread. */
void kv_allocator_purge_soon(void);
/* The main thread's allocator tick (every 250 ms): purges every arena
 * when kv_allocator_purge_soon asked for it, else lets the allocator
 * return the dirty pages its decay says are due, by the clock (jemalloc's
 * arena decay: what allocations do as they go, and what an idle process
 * never gets; cheap when nothing is due). Nothing with glibc or ASan.
 * Main thread. */
void kv_allocator_decay(void);
/* Resident set size of the process from /proc/self/statm, 0 if unknown. */
size_t kv_rss_bytes(void);
/* INFO's mem_allocator: "jemalloc-5.3.0", "libc", or "asan" when
 * ASan's allocator replaces the others. */
const char *kv_allocator_name(void);
/* The cgroup memory limit seen under root (normally /sys/fs/cgroup): v2's
 * memory.max, else v1's memory/memory.limit_in_bytes. Returns the bytes,
 * or -1 if there is none ("max", a v1 "unlimited" value, no file). */
long long kv_cgroup_mem_limit(const char *root);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME), and microseconds of a
 * monotonic clock. Any thread. */
int64_t kv_time_ms(void);
int64_t kv_mono_us(void);

/* Parses a whole string as a signed 64-bit integer the way Redis's
 * string2ll does: no spaces, no leading '+', no leading zeros except "0".
 * Returns 0 and stores the value, or KV_EINVAL. */
int kv_parse_i64(const char *p, size_t len, int64_t *out);

/* Parses a whole string as a long double the way Redis's string2ld does
 * (no spaces, not NaN), rounded to x87's 80-bit extended precision on every
 * platform (see kv_ld_add). Returns 0 or KV_EINVAL. */
int kv_parse_ld(const char *p, size_t len, long double *out);

/* a + b as INCRBYFLOAT adds: in x87's 80-bit extended format (Redis on
 * amd64), also where long double is binary128 (aarch64), so that replies are
 * the same on both. a and b come from kv_parse_ld or kv_ld_add. */
long double kv_ld_add(long double a, long double b);

/* Formats v as Redis formats INCRBYFLOAT results ("%.17Lf", then trailing
 * zeros of the fraction and a bare '.' removed, "-0" as "0": 10.6, 5000,
 * 0.000015; never an exponent). Writes at most cap bytes including a NUL;
 * returns the length. 5120 bytes hold any finite long double. */
size_t kv_format_ld(char *buf, size_t cap, long double v);

/* Writes one log line to stderr, Redis-style ("pid:M date time * text").
 * kv_log_warn is never silenced; kv_log is silenced by kv_log_quiet(1)
 * (--loglevel warning), which the start-up thread calls before any other
 * thread runs. Any thread. */
void kv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kv_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kv_log_quiet(int quiet);

#endif
