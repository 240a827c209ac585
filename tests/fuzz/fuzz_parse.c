/* libFuzzer target for net/parse.c. The first two input bytes pick the
 * limits and the way the rest is split; the rest is a stream of requests.
 * The stream is parsed once whole and once fed in random pieces (each call
 * with the bytes at a new address), and both must give the same commands,
 * argv and final answer. Each answer is also checked on its own: consumed
 * byte counts in range, the form matching the bytes, argv inside the input
 * or the parser's scratch, errors sticky, and a command's every-byte-but-last
 * prefix answering PARSE_AGAIN. Any failure aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* What a run produced, serialized so two runs compare with memcmp. */
typedef struct {
    char *p;
    size_t len, cap;
} log_buf;

static void log_add(log_buf *l, const void *p, size_t n)
{
    if (l->len + n > l->cap) {
        size_t ncap = (l->len + n) * 2 + 64;
        char *q = realloc(l->p, ncap);
        CHECK(q != NULL);
        l->p = q;
        l->cap = ncap;
    }
    memcpy(l->p + l->len, p, n);
    l->len += n;
}

static void log_num(log_buf *l, long long v)
{
    log_add(l, &v, sizeof v);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int inside(const char *p, size_t n, const char *base, size_t cap)
{
    return p >= base && n <= cap && (size_t)(p - base) <= cap - n;
}

/* Checks a parse_next that returned r > 0 on buf[0..avail). */
static void check_done(const parse_state *ps, const char *buf, size_t avail, long r)
{
    size_t n = (size_t)r;
    CHECK(n <= avail);
    CHECK(ps->argc >= 0 && ps->err == NULL);
    if (buf[0] == '*') {
        CHECK(ps->proto == PARSE_RESP);
        CHECK((size_t)ps->argc <= ps->lim.max_args);
    } else {
        CHECK(buf[n - 1] == '\n');
        CHECK(memchr(buf, '\n', n - 1) == NULL);
        CHECK(n - 1 <= ps->lim.max_inline);
        int crlf = n >= 2 && buf[n - 2] == '\r';
        CHECK(ps->proto == (crlf ? PARSE_INLINE : PARSE_PLAIN));
    }
    for (int i = 0; i < ps->argc; i++) {
        const kv_str *a = &ps->argv[i];
        if (ps->proto == PARSE_RESP) {
            CHECK(inside(a->p, a->len, buf, n));
            CHECK(a->len <= ps->lim.max_bulk);
        } else {
            CHECK(inside(a->p, a->len, ps->scratch, ps->scratch_cap));
            CHECK(a->len < n);
        }
    }
}

static void log_done(log_buf *l, const parse_state *ps, long r)
{
    log_num(l, r);
    log_num(l, ps->proto);
    log_num(l, ps->argc);
    for (int i = 0; i < ps->argc; i++) {
        log_num(l, (long long)ps->argv[i].len);
        log_add(l, ps->argv[i].p, ps->argv[i].len);
    }
}

/* A complete command's prefix without its last byte must wait. */
static void check_prefix_waits(const parse_limits *lim, const char *buf, size_t n)
{
    parse_state ps;
    parse_init(&ps, lim);
    char *b = malloc(n);
    CHECK(b != NULL);
    memcpy(b, buf, n - 1);
    CHECK(parse_next(&ps, b, n - 1) == PARSE_AGAIN);
    free(b);
    parse_destroy(&ps);
}

/* Parses in[0..n), revealing it in pieces: all at once if rng is NULL. */
static void run(const parse_limits *lim, const char *in, size_t n, uint64_t *rng, log_buf *l)
{
    parse_state ps;
    parse_init(&ps, lim);
    size_t start = 0, have = 0;
    for (;;) {
        if (rng == NULL) {
            have = n;
        } else {
            uint64_t x = rng_next(rng);
            size_t step = x % 4 == 0 ? (size_t)(x >> 8) % 300 : (size_t)(x >> 8) % 4;
            have = n - have < step ? n : have + step;
        }
        long r;
        do {
            size_t avail = have - start;
            char *b = malloc(avail ? avail : 1);
            CHECK(b != NULL);
            memcpy(b, in + start, avail);
            r = parse_next(&ps, b, avail);
            if (r > 0) {
                check_done(&ps, b, avail, r);
                log_done(l, &ps, r);
                if (rng == NULL) check_prefix_waits(lim, b, (size_t)r);
                start += (size_t)r;
            } else if (r == PARSE_BAD) {
                CHECK(ps.err != NULL && strncmp(ps.err, "ERR ", 4) == 0);
                CHECK(parse_next(&ps, b, avail) == PARSE_BAD);
            } else {
                CHECK(r == PARSE_AGAIN && ps.err == NULL);
            }
            free(b);
        } while (r > 0);
        if (r == PARSE_BAD) {
            log_num(l, PARSE_BAD);
            log_add(l, ps.err, strlen(ps.err));
            break;
        }
        if (have == n) {
            log_num(l, PARSE_AGAIN);
            log_num(l, (long long)(n - start));
            break;
        }
    }
    parse_destroy(&ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    parse_limits lim;
    parse_limits_default(&lim);
    if (data[0] & 1) lim.max_args = 3;
    if (data[0] & 2) lim.max_bulk = 10;
    if (data[0] & 4) lim.max_inline = 16;
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ ((uint64_t)data[1] << 8 | data[0]);
    const char *in = (const char *)data + 2;
    size_t n = size - 2;

    log_buf whole = {0}, split = {0};
    run(&lim, in, n, NULL, &whole);
    run(&lim, in, n, &seed, &split);
    CHECK(whole.len == split.len && memcmp(whole.p, split.p, whole.len) == 0);
    free(whole.p);
    free(split.p);
    return 0;
}
