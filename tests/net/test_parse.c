/* Tests for net/parse.c: every prefix of a valid request is PARSE_AGAIN and
 * the whole is done; one byte at a time, with the bytes moved between calls,
 * gives the same argv; pipelining; binary payloads; inline vs plain; quotes;
 * each malformed input with Redis 7.0's error text (checked against
 * redis-server 7.0.15) and its stickiness; limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kv.h"
#include "net/parse.h"

#define MAXARGS 8

/* A valid request and what it parses to. Strings carry their length so they
 * may hold NUL. */
typedef struct {
    const char *in;
    size_t n;
    parse_proto proto;
    int argc;
    kv_str argv[MAXARGS];
} req_case;

/* clang-format off */
#define S(s)  {s, sizeof(s) - 1}
#define IN(s) s, sizeof(s) - 1

static const req_case valid[] = {
    {IN("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"), PARSE_RESP, 3,
     {S("SET"), S("k"), S("hello")}},
    {IN("*1\r\n$0\r\n\r\n"), PARSE_RESP, 1, {S("")}},
    {IN("*2\r\n$3\r\nGET\r\n$6\r\na\r\n\0$*\r\n"), PARSE_RESP, 2, {S("GET"), S("a\r\n\0$*")}},
    {IN("*0\r\n"), PARSE_RESP, 0, {{0}}},
    {IN("*-1\r\n"), PARSE_RESP, 0, {{0}}},
    {IN("*1\r\n$4\r\nPINGxy"), PARSE_RESP, 1, {S("PING")}},
    {IN("*1\rx$4\rxPING\r\n"), PARSE_RESP, 1, {S("PING")}},
    {IN("PING\r\n"), PARSE_INLINE, 1, {S("PING")}},
    {IN("PING\n"), PARSE_PLAIN, 1, {S("PING")}},
    {IN("\r\n"), PARSE_INLINE, 0, {{0}}},
    {IN("\n"), PARSE_PLAIN, 0, {{0}}},
    {IN("  \t \r\n"), PARSE_INLINE, 0, {{0}}},
    {IN("SET  k\t v\n"), PARSE_PLAIN, 3, {S("SET"), S("k"), S("v")}},
    {IN("a\rb\n"), PARSE_PLAIN, 2, {S("a"), S("b")}},
    {IN("ECHO \"a\\x41\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n"), PARSE_INLINE, 2,
     {S("ECHO"), S("aA\n\r\t\b\a\\\"q")}},
    {IN("ECHO \"\\x4\" \"\\x4g\" \"\\xfF\"\r\n"), PARSE_INLINE, 4,
     {S("ECHO"), S("x4"), S("x4g"), S("\xff")}},
    {IN("ECHO 'a\\'b' 'c\\nd' 'e\"f'\n"), PARSE_PLAIN, 4,
     {S("ECHO"), S("a'b"), S("c\\nd"), S("e\"f")}},
    {IN("ECHO ab\"c d\"  x'y z'\n"), PARSE_PLAIN, 3, {S("ECHO"), S("abc d"), S("xy z")}},
    {IN("ECHO \"\" ''\r\n"), PARSE_INLINE, 3, {S("ECHO"), S(""), S("")}},
    {IN("ECHO \"a\"\v\r\n"), PARSE_INLINE, 2, {S("ECHO"), S("a")}},
    {IN("\vECHO a\vb\r\n"), PARSE_INLINE, 2, {S("ECHO"), S("a\vb")}},
    {IN("ECHO a\0b \"c\0\"\n"), PARSE_PLAIN, 3, {S("ECHO"), S("a\0b"), S("c\0")}},
};
/* clang-format on */

#define NVALID (sizeof valid / sizeof valid[0])

static void expect_cmd(const parse_state *ps, const req_case *c)
{
    assert_int_equal(ps->proto, c->proto);
    assert_int_equal(ps->argc, c->argc);
    for (int i = 0; i < c->argc; i++) {
        assert_int_equal(ps->argv[i].len, c->argv[i].len);
        assert_memory_equal(ps->argv[i].p, c->argv[i].p, c->argv[i].len);
    }
}

/* A copy of in[0..n) at a fresh address; the caller frees it. */
static char *moved(const char *in, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, in, n);
    return p;
}

static void test_limits_default(void **st)
{
    (void)st;
    parse_limits l;
    parse_limits_default(&l);
    assert_int_equal(l.max_args, 1024 * 1024);
    assert_int_equal(l.max_bulk, 512u * 1024 * 1024);
    assert_int_equal(l.max_inline, 64 * 1024);
}

/* Every proper prefix is PARSE_AGAIN for a fresh parser; the whole is done. */
static void test_every_prefix(void **st)
{
    (void)st;
    for (size_t i = 0; i < NVALID; i++) {
        const req_case *c = &valid[i];
        for (size_t k = 0; k < c->n; k++) {
            parse_state ps;
            parse_init(&ps, NULL);
            char *b = moved(c->in, k);
            assert_int_equal(parse_next(&ps, b, k), PARSE_AGAIN);
            assert_null(ps.err);
            free(b);
            parse_destroy(&ps);
        }
        parse_state ps;
        parse_init(&ps, NULL);
        assert_int_equal(parse_next(&ps, c->in, c->n), (long)c->n);
        expect_cmd(&ps, c);
        parse_destroy(&ps);
    }
}

/* One parser, one more byte per call, the input at a new address each time
 * (the old copy freed, so ASan catches a kept pointer). */
static void test_byte_at_a_time_moving(void **st)
{
    (void)st;
    for (size_t i = 0; i < NVALID; i++) {
        const req_case *c = &valid[i];
        parse_state ps;
        parse_init(&ps, NULL);
        for (size_t k = 0; k < c->n; k++) {
            char *b = moved(c->in, k);
            assert_int_equal(parse_next(&ps, b, k), PARSE_AGAIN);
            free(b);
        }
        char *b = moved(c->in, c->n);
        assert_int_equal(parse_next(&ps, b, c->n), (long)c->n);
        expect_cmd(&ps, c);
        free(b);
        parse_destroy(&ps);
    }
}

/* All valid requests back to back, fed in chunks of every size from 1 to 17:
 * each comes out in order, whatever the split. */
static void test_pipeline(void **st)
{
    (void)st;
    size_t total = 0;
    for (size_t i = 0; i < NVALID; i++) total += valid[i].n;
    char *all = malloc(total);
    assert_non_null(all);
    size_t at = 0;
    for (size_t i = 0; i < NVALID; i++) {
        memcpy(all + at, valid[i].in, valid[i].n);
        at += valid[i].n;
    }
    for (size_t chunk = 1; chunk <= 17; chunk++) {
        parse_state ps;
        parse_init(&ps, NULL);
        size_t start = 0, have = 0, next = 0;
        while (next < NVALID) {
            assert_true(have < total);
            have = have + chunk < total ? have + chunk : total;
            for (;;) {
                char *b = moved(all + start, have - start);
                long r = parse_next(&ps, b, have - start);
                assert_true(r >= 0);
                if (r == PARSE_AGAIN) {
                    free(b);
                    break;
                }
                assert_int_equal(r, (long)valid[next].n);
                expect_cmd(&ps, &valid[next]);
                free(b);
                start += (size_t)r;
                next++;
                if (start == have) break;
            }
        }
        assert_int_equal(start, total);
        parse_destroy(&ps);
    }
    free(all);
}

/* Bulks holding CR, LF, NUL and every byte value, pointing into the input. */
static void test_binary_payload(void **st)
{
    (void)st;
    char in[300];
    char payload[256];
    for (int i = 0; i < 256; i++) payload[i] = (char)i;
    int h = snprintf(in, sizeof in, "*1\r\n$256\r\n");
    memcpy(in + h, payload, 256);
    memcpy(in + h + 256, "\r\n", 2);
    size_t n = (size_t)h + 258;
    parse_state ps;
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, in, n), (long)n);
    assert_int_equal(ps.argc, 1);
    assert_int_equal(ps.argv[0].len, 256);
    assert_ptr_equal(ps.argv[0].p, in + h);
    assert_memory_equal(ps.argv[0].p, payload, 256);
    parse_destroy(&ps);
}

/* A malformed input, the error text, and whether every prefix before the
 * last byte is PARSE_AGAIN. */
typedef struct {
    const char *in;
    size_t n;
    const char *err;
} bad_case;

#define E_MBULK  "ERR Protocol error: invalid multibulk length"
#define E_BULK   "ERR Protocol error: invalid bulk length"
#define E_QUOTES "ERR Protocol error: unbalanced quotes in request"

/* clang-format off */
static const bad_case bad[] = {
    {IN("*abc\r\n"), E_MBULK},
    {IN("*\r\n"), E_MBULK},
    {IN("*-0\r\n"), E_MBULK},
    {IN("*01\r\n"), E_MBULK},
    {IN("*+1\r\n"), E_MBULK},
    {IN("*1 \r\n"), E_MBULK},
    {IN("*1048577\r\n"), E_MBULK},
    {IN("*99999999999999999999\r\n"), E_MBULK},
    {IN("*1\r\n$x\r\n"), E_BULK},
    {IN("*1\r\n$-1\r\n"), E_BULK},
    {IN("*1\r\n$01\r\n"), E_BULK},
    {IN("*1\r\n$+1\r\n"), E_BULK},
    {IN("*1\r\n$\r\n"), E_BULK},
    {IN("*1\r\n$-0\r\n"), E_BULK},
    {IN("*1\r\n$536870913\r\n"), E_BULK},
    {IN("*1\r\n$3\0\r\n"), E_BULK},
    {IN("*2\r\n$1\r\na\r\n$1x\r\n"), E_BULK},
    {IN("*1\r\nf"), "ERR Protocol error: expected '$', got 'f'"},
    {IN("*1\r\n\r"), "ERR Protocol error: expected '$', got ' '"},
    {IN("*1\r\n\n"), "ERR Protocol error: expected '$', got ' '"},
    {IN("*1\r\n\0"), "ERR Protocol error: expected '$', got ' '"},
    {IN("*1\r\n\xff"), "ERR Protocol error: expected '$', got '\xff'"},
    {IN("*2\r\n$1\r\na\r\n*"), "ERR Protocol error: expected '$', got '*'"},
    {IN("ECHO \"abc\"d\r\n"), E_QUOTES},
    {IN("ECHO 'ab'c\n"), E_QUOTES},
    {IN("ECHO \"abc\r\n"), E_QUOTES},
    {IN("ECHO 'abc\n"), E_QUOTES},
    {IN("ECHO \"abc\\\"\n"), E_QUOTES},
    {IN("ECHO 'abc\\'\n"), E_QUOTES},
    {IN("ECHO \"a\"\"b\"\n"), E_QUOTES},
    {IN("GET \"\\\"\r\n"), E_QUOTES},
};

/* clang-format on */

#define NBAD (sizeof bad / sizeof bad[0])

static void expect_bad_sticky(parse_state *ps, const char *err)
{
    assert_non_null(ps->err);
    assert_string_equal(ps->err, err);
    assert_int_equal(ps->argc, 0);
    /* Sticky: a good request afterwards changes nothing. */
    assert_int_equal(parse_next(ps, "PING\r\n", 6), PARSE_BAD);
    assert_int_equal(parse_next(ps, "", 0), PARSE_BAD);
    assert_string_equal(ps->err, err);
}

static void test_bad_inputs(void **st)
{
    (void)st;
    for (size_t i = 0; i < NBAD; i++) {
        const bad_case *c = &bad[i];
        /* Whole. */
        parse_state ps;
        parse_init(&ps, NULL);
        assert_int_equal(parse_next(&ps, c->in, c->n), PARSE_BAD);
        expect_bad_sticky(&ps, c->err);
        parse_destroy(&ps);
        /* One byte at a time: the prefixes wait, the whole fails alike. */
        parse_init(&ps, NULL);
        for (size_t k = 0; k < c->n; k++) {
            char *b = moved(c->in, k);
            assert_int_equal(parse_next(&ps, b, k), PARSE_AGAIN);
            free(b);
        }
        char *b = moved(c->in, c->n);
        assert_int_equal(parse_next(&ps, b, c->n), PARSE_BAD);
        free(b);
        expect_bad_sticky(&ps, c->err);
        parse_destroy(&ps);
    }
}

/* Whole commands of small bulks take a one-pass path (resp_fast); at and
 * past its bounds (9-digit lengths, 64 arguments, missing bytes, headers
 * it leaves to the general path) the results are the general path's, and
 * argument counts that grow between commands are read right. */
static void test_fast_path_edges(void **st)
{
    (void)st;
    parse_state ps;
    parse_limits nobig = {.max_args = 1024, .max_bulk = 1000000000, .max_inline = 65536};
    parse_init(&ps, &nobig);
    assert_int_equal(parse_next(&ps, IN("*1\r\n$999999999\r\n")), PARSE_AGAIN);
    parse_destroy(&ps);
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, IN("*1\r\n$3\r\nabc")), PARSE_AGAIN);
    assert_int_equal(parse_next(&ps, IN("*1\r\n$3\r\nabc\r\n")), 13);
    assert_int_equal(ps.argc, 1);
    assert_memory_equal(ps.argv[0].p, "abc", 3);
    parse_destroy(&ps);
    static const char *const bad_in[] = {"*1\r\n$01\r\na\r\n", "*2\r\n$1\r\na\r\n$-1\r\n",
                                         "*01\r\n", "*1\r\n$1a\r\n", "*1\r\nx"};
    static const char *const bad_err[] = {E_BULK, E_BULK, E_MBULK, E_BULK,
                                          "ERR Protocol error: expected '$', got 'x'"};
    for (size_t i = 0; i < sizeof bad_in / sizeof bad_in[0]; i++) {
        parse_init(&ps, NULL);
        assert_int_equal(parse_next(&ps, bad_in[i], strlen(bad_in[i])), PARSE_BAD);
        assert_string_equal(ps.err, bad_err[i]);
        parse_destroy(&ps);
    }
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, IN("*1000000000\r\n")), PARSE_BAD);
    assert_string_equal(ps.err, E_MBULK);
    parse_destroy(&ps);
    /* 2, 64, 65, 3 arguments in one pipeline: the arrays grow in between */
    static const int counts[] = {2, 64, 65, 3};
    char buf[4096];
    size_t n = 0;
    for (size_t c = 0; c < 4; c++) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "*%d\r\n", counts[c]);
        for (int a = 0; a < counts[c]; a++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "$%d\r\n%.*s\r\n", a % 12, a % 12,
                                  &"abcdefghijklmnopqrstuvwxyz"[a % 13]);
    }
    parse_init(&ps, NULL);
    size_t at = 0;
    for (size_t c = 0; c < 4; c++) {
        long r = parse_next(&ps, buf + at, n - at);
        assert_true(r > 0);
        assert_int_equal(ps.argc, counts[c]);
        assert_int_equal(ps.proto, PARSE_RESP);
        for (int a = 0; a < counts[c]; a++) {
            assert_int_equal(ps.argv[a].len, (size_t)(a % 12));
            assert_memory_equal(ps.argv[a].p, &"abcdefghijklmnopqrstuvwxyz"[a % 13],
                                (size_t)(a % 12));
        }
        at += (size_t)r;
    }
    assert_int_equal(at, n);
    parse_destroy(&ps);
}

/* A good request before a bad one is still returned; the error comes next. */
static void test_error_after_good_command(void **st)
{
    (void)st;
    const char in[] = "PING\r\n*x\r\n";
    parse_state ps;
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, in, sizeof in - 1), 6);
    assert_int_equal(ps.argc, 1);
    assert_int_equal(parse_next(&ps, in + 6, sizeof in - 1 - 6), PARSE_BAD);
    expect_bad_sticky(&ps, E_MBULK);
    parse_destroy(&ps);
}

/* Feeds in[0..n) one byte at a time and expects PARSE_AGAIN throughout. */
static void feed_again(parse_state *ps, const char *in, size_t n)
{
    for (size_t k = 0; k <= n; k++) assert_int_equal(parse_next(ps, in, k), PARSE_AGAIN);
}

static char *filled(size_t n, char c)
{
    char *p = malloc(n + 4);
    assert_non_null(p);
    memset(p, c, n + 4);
    return p;
}

/* Redis's 64 KB bound on header and inline lines, at the exact edge, and the
 * same answer whether the line end has arrived or not. */
static void test_line_limits_default(void **st)
{
    (void)st;
    const size_t max = 64 * 1024;
    char *p = filled(max + 2, '1');
    parse_state ps;

    /* "*" + digits: max bytes without '\r' wait, max + 1 fail. */
    p[0] = '*';
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, p, max), PARSE_AGAIN);
    assert_int_equal(parse_next(&ps, p, max + 1), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: too big mbulk count string");
    parse_destroy(&ps);
    memcpy(p + max + 1, "\r\n", 2); /* a line end does not rescue it */
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, p, max + 3), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: too big mbulk count string");
    parse_destroy(&ps);

    /* A bulk header after "*1\r\n". */
    memset(p, '1', max + 4);
    memcpy(p, "*1\r\n$", 5);
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, p, 4 + max), PARSE_AGAIN);
    assert_int_equal(parse_next(&ps, p, 4 + max + 1), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: too big bulk count string");
    parse_destroy(&ps);
    free(p);

    /* Inline: a line of max bytes plus "\n" is fine, max + 1 is not. */
    p = filled(max + 2, 'A');
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, p, max), PARSE_AGAIN);
    p[max] = '\n';
    assert_int_equal(parse_next(&ps, p, max + 1), (long)max + 1);
    assert_int_equal(ps.argc, 1);
    assert_int_equal(ps.argv[0].len, max);
    assert_int_equal(ps.proto, PARSE_PLAIN);
    p[max] = 'A';
    assert_int_equal(parse_next(&ps, p, max + 1), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: too big inline request");
    parse_destroy(&ps);
    p[max + 1] = '\n';
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, p, max + 2), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: too big inline request");
    parse_destroy(&ps);
    free(p);
}

static void test_count_and_bulk_limits_default(void **st)
{
    (void)st;
    parse_state ps;
    parse_init(&ps, NULL);
    feed_again(&ps, "*1048576\r\n", 10); /* exactly max_args: waits for bulks */
    parse_destroy(&ps);
    parse_init(&ps, NULL);
    feed_again(&ps, "*1\r\n$536870912\r\n", 16); /* exactly 512 MB */
    parse_destroy(&ps);
}

static void test_custom_limits(void **st)
{
    (void)st;
    parse_limits l = {.max_args = 2, .max_bulk = 5, .max_inline = 8};
    parse_state ps;

    parse_init(&ps, &l);
    assert_int_equal(parse_next(&ps, "*3\r\n", 4), PARSE_BAD);
    assert_string_equal(ps.err, E_MBULK);
    parse_destroy(&ps);

    const char two[] = "*2\r\n$5\r\nabcde\r\n$0\r\n\r\n";
    parse_init(&ps, &l);
    assert_int_equal(parse_next(&ps, two, sizeof two - 1), (long)sizeof two - 1);
    assert_int_equal(ps.argc, 2);
    assert_int_equal(parse_next(&ps, "*1\r\n$6\r\n", 8), PARSE_BAD);
    assert_string_equal(ps.err, E_BULK);
    parse_destroy(&ps);

    parse_init(&ps, &l);
    assert_int_equal(parse_next(&ps, "12345678\n", 9), 9);
    assert_int_equal(parse_next(&ps, "123456789", 9), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: too big inline request");
    parse_destroy(&ps);

    parse_init(&ps, &l);
    assert_int_equal(parse_next(&ps, "*1\r\n$12345678", 13), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: too big bulk count string");
    parse_destroy(&ps);

    parse_init(&ps, &l);
    assert_int_equal(parse_next(&ps, "*00000000", 9), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: too big mbulk count string");
    parse_destroy(&ps);
}

/* Before AUTH (lim.unauth): Redis's CVE-2021-32675 limits and texts, in
 * Redis's order; parse_set_limits lifts them between commands. */
static void test_unauth_limits(void **st)
{
    (void)st;
    parse_limits l;
    parse_limits_default(&l);
    l.unauth = 1;
    parse_state ps;

    parse_init(&ps, &l);
    assert_int_equal(parse_next(&ps, "*11\r\n", 5), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: unauthenticated multibulk length");
    parse_destroy(&ps);

    parse_init(&ps, &l); /* over mem-kv's own 1M limit too: still "unauthenticated" */
    assert_int_equal(parse_next(&ps, "*2000000\r\n", 10), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: unauthenticated multibulk length");
    parse_destroy(&ps);

    parse_init(&ps, &l); /* over INT_MAX: invalid, as Redis */
    assert_int_equal(parse_next(&ps, "*3000000000\r\n", 13), PARSE_BAD);
    assert_string_equal(ps.err, E_MBULK);
    parse_destroy(&ps);

    parse_init(&ps, &l);
    assert_int_equal(parse_next(&ps, "*10\r\n$16384\r\n", 14), PARSE_AGAIN);
    parse_destroy(&ps);

    parse_init(&ps, &l);
    assert_int_equal(parse_next(&ps, "*1\r\n$16385\r\n", 13), PARSE_BAD);
    assert_string_equal(ps.err, "ERR Protocol error: unauthenticated bulk length");
    parse_destroy(&ps);

    const char ping[] = "*1\r\n$4\r\nPING\r\n";
    parse_init(&ps, &l);
    assert_int_equal(parse_next(&ps, ping, sizeof ping - 1), (long)sizeof ping - 1);
    l.unauth = 0;
    parse_set_limits(&ps, &l);
    assert_int_equal(parse_next(&ps, "*11\r\n$16385\r\n", 13), PARSE_AGAIN);
    parse_destroy(&ps);
}

/* A request of many arguments fed a few bytes at a time: progress is kept
 * (complete arguments are counted, not re-read), and the argv arrays of a
 * huge command are released before the next one. */
static void test_large_multibulk_resumes(void **st)
{
    (void)st;
    enum { N = 20000 };
    size_t cap = 16 + (size_t)N * 16;
    char *in = malloc(cap);
    assert_non_null(in);
    size_t n = (size_t)snprintf(in, cap, "*%d\r\n", N);
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(in + n, cap - n, "$5\r\nk%04d\r\n", i % 10000);
    parse_state ps;
    parse_init(&ps, NULL);
    size_t have = 0, calls = 0;
    long r = PARSE_AGAIN;
    while (r == PARSE_AGAIN) {
        have = have + 7 < n ? have + 7 : n;
        /* Moving every call would be quadratic copying; now and then is enough. */
        int move = ++calls % 1000 == 0 || have == n;
        char *b = move ? moved(in, have) : in;
        r = parse_next(&ps, b, have);
        if (r == PARSE_AGAIN) {
            /* Every complete argument is already recorded. */
            size_t head = (size_t)snprintf(NULL, 0, "*%d\r\n", N);
            if (have >= head) assert_int_equal(ps.nargs, (have - head) / 11);
        } else {
            assert_int_equal(r, (long)n);
            assert_int_equal(ps.argc, N);
            assert_memory_equal(ps.argv[N - 1].p, "k9999", 5);
            assert_ptr_equal(ps.argv[0].p, b + (n - (size_t)N * 11) + 4);
        }
        if (move) free(b);
    }
    assert_true(ps.cap >= N);
    assert_int_equal(parse_next(&ps, "PING\r\n", 6), 6);
    assert_true(ps.cap < N);
    assert_memory_equal(ps.argv[0].p, "PING", 4);
    parse_destroy(&ps);
    free(in);
}

/* The state starts clean after each command: a pipelined mix of forms on one
 * parser, including argc 0 requests. */
static void test_mixed_forms_one_parser(void **st)
{
    (void)st;
    const char in[] = "*0\r\nGET a\n\r\n*1\r\n$4\r\nPING\r\nSET 'x y' z\r\n";
    const long want[] = {4, 6, 2, 14, 13};
    const int argc[] = {0, 2, 0, 1, 3};
    const parse_proto proto[] = {PARSE_RESP, PARSE_PLAIN, PARSE_INLINE, PARSE_RESP, PARSE_INLINE};
    parse_state ps;
    parse_init(&ps, NULL);
    size_t at = 0;
    for (int i = 0; i < 5; i++) {
        long r = parse_next(&ps, in + at, sizeof in - 1 - at);
        assert_int_equal(r, want[i]);
        assert_int_equal(ps.argc, argc[i]);
        assert_int_equal(ps.proto, proto[i]);
        at += (size_t)r;
    }
    assert_int_equal(at, sizeof in - 1);
    assert_int_equal(ps.argv[1].len, 3);
    assert_memory_equal(ps.argv[1].p, "x y", 3);
    assert_int_equal(parse_next(&ps, in, 0), PARSE_AGAIN);
    parse_destroy(&ps);
}

static void test_destroy_null_and_twice(void **st)
{
    (void)st;
    parse_destroy(NULL);
    parse_state ps;
    memset(&ps, 0, sizeof ps);
    parse_destroy(&ps);
    parse_init(&ps, NULL);
    assert_int_equal(parse_next(&ps, "a b\n", 4), 4);
    parse_destroy(&ps);
    parse_destroy(&ps);
}

/* A byte buffer with room enough, for test_big_bulk_direct. */
struct tbuf {
    char *data;
    size_t len;
};

static void tbuf_add(struct tbuf *b, const void *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* A big bulk (>= lim.big_bulk): its bytes come partly through the caller's
 * buffer and partly through parse_direct; the argument is taken, with its
 * length (no NUL after it), and what follows parses as usual. Untaken
 * buffers are freed (ASan: a read past the payload is caught). */
static void test_big_bulk_direct(void **st)
{
    (void)st;
    size_t n = PARSE_BIG_BULK + 5;
    char *val = malloc(n);
    assert_non_null(val);
    for (size_t i = 0; i < n; i++) val[i] = (char)(i * 7);
    char head[64];
    int hl = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", n);
    for (size_t first = 0; first <= 100; first += 50) {
        parse_state ps;
        parse_init(&ps, NULL);
        struct tbuf in = {malloc((size_t)hl + n + 32), 0};
        assert_non_null(in.data);
        tbuf_add(&in, head, (size_t)hl);
        tbuf_add(&in, val, first); /* the first read's share of the payload */
        assert_int_equal(parse_next(&ps, in.data, in.len), PARSE_AGAIN);
        size_t room = 0;
        char *d = parse_direct(&ps, in.len, &room);
        assert_non_null(d);
        assert_int_equal(room, n - first);
        assert_null(parse_direct(&ps, in.len + 1, &room)); /* bytes it has not seen */
        memcpy(d, val + first, 10);
        parse_direct_done(&ps, 10);
        assert_int_equal(parse_next(&ps, in.data, in.len), PARSE_AGAIN);
        d = parse_direct(&ps, in.len, &room);
        assert_int_equal(room, n - first - 10);
        memcpy(d, val + first + 10, room);
        parse_direct_done(&ps, room);
        assert_int_equal(parse_next(&ps, in.data, in.len), PARSE_AGAIN); /* the CRLF */
        /* parse_big_copied: only the bytes that came through the buffer */
        assert_int_equal(parse_big_copied(&ps), first);
        assert_int_equal(parse_big_copied(&ps), 0); /* reset by the call */
        tbuf_add(&in, "\r\n*1\r\n$4\r\nPING\r\n", 16);
        long r = parse_next(&ps, in.data, in.len);
        assert_int_equal(r, hl + (long)first + 2);
        assert_int_equal(ps.argc, 3);
        assert_int_equal(ps.argv[2].len, n);
        assert_memory_equal(ps.argv[2].p, val, n);
        assert_int_equal(parse_nbig(&ps), 1);
        if (first == 50) {
            int arg;
            char *b = parse_take_big(&ps, 0, &arg);
            assert_int_equal(arg, 2);
            free(b);
        } /* else left to the next parse_next */
        assert_int_equal(parse_next(&ps, in.data + r, in.len - (size_t)r), 14);
        assert_int_equal(ps.argc, 1);
        assert_int_equal(parse_nbig(&ps), 0);
        free(in.data);
        parse_destroy(&ps);
    }
    /* fed in one piece through the buffer: the same argument */
    parse_state ps;
    parse_init(&ps, NULL);
    struct tbuf in = {malloc((size_t)hl + n + 32), 0};
    assert_non_null(in.data);
    tbuf_add(&in, head, (size_t)hl);
    tbuf_add(&in, val, n);
    tbuf_add(&in, "\r\n", 2);
    assert_int_equal(parse_next(&ps, in.data, in.len), (long)in.len);
    assert_memory_equal(ps.argv[2].p, val, n);
    assert_int_equal(parse_big_copied(&ps), n);
    free(in.data);
    parse_destroy(&ps); /* frees the untaken buffer */
    free(val);
}

/* With the default limits, a bulk of ENTRY_SHARE_MIN (16 KB) bytes gets a
 * buffer of its own (a SET's value that size is stored apart, and takes
 * the buffer as it is), one byte less does not; the buffer is page aligned
 * under jemalloc (the layout of kv_xmalloc_pages). */
static void test_big_bulk_threshold(void **st)
{
    (void)st;
    size_t sizes[] = {16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1};
    for (size_t i = 0; i < 3; i++) {
        size_t n = sizes[i];
        char head[64];
        int hl = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", n);
        struct tbuf in = {malloc((size_t)hl + n + 2), 0};
        assert_non_null(in.data);
        tbuf_add(&in, head, (size_t)hl);
        memset(in.data + in.len, 'v', n);
        in.len += n;
        tbuf_add(&in, "\r\n", 2);
        parse_state ps;
        parse_init(&ps, NULL);
        assert_int_equal(parse_next(&ps, in.data, in.len), (long)in.len);
        assert_int_equal(ps.argv[2].len, n);
        assert_int_equal(parse_nbig(&ps), n >= 16 * 1024 ? 1 : 0);
        if (n >= 16 * 1024) {
            int arg;
            char *b = parse_take_big(&ps, 0, &arg);
            assert_int_equal(arg, 2);
#ifdef MEMKV_JEMALLOC
            assert_int_equal((uintptr_t)b % 4096, 0);
#endif
            free(b);
        }
        parse_destroy(&ps);
        free(in.data);
    }
}

/* A bulk announced far larger than what arrives (CVE-2021-41099 with a high
 * proto-max-bulk-len): the parser's buffer stays within PARSE_BIG_AHEAD of
 * the bytes that came, or twice them, whichever is more; a value larger than
 * PARSE_BIG_AHEAD fed in uneven pieces, through the caller's buffer and
 * through parse_direct, comes out whole in a buffer of its exact size. */
static void test_big_bulk_bounded(void **st)
{
    (void)st;
    parse_limits lim;
    parse_limits_default(&lim);
    lim.max_bulk = (size_t)1 << 41;
    parse_state ps;
    parse_init(&ps, &lim);
    char head[80];
    int hl = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n",
                      ((size_t)1 << 40) - 1);
    assert_int_equal(parse_next(&ps, head, (size_t)hl), PARSE_AGAIN);
    size_t room = 0;
    char *d = parse_direct(&ps, (size_t)hl, &room);
    assert_non_null(d);
    assert_int_equal(room, PARSE_BIG_AHEAD);
    assert_int_equal(parse_big_bytes(&ps), 0);
    /* fill it: the next buffer is at most twice the bytes that came */
    memset(d, 'x', room);
    parse_direct_done(&ps, room);
    assert_int_equal(parse_next(&ps, head, (size_t)hl), PARSE_AGAIN);
    d = parse_direct(&ps, (size_t)hl, &room);
    assert_non_null(d);
    assert_int_equal(room, PARSE_BIG_AHEAD);
    assert_int_equal(parse_big_bytes(&ps), PARSE_BIG_AHEAD);
    parse_destroy(&ps);

    size_t n = 3 * PARSE_BIG_AHEAD + 12345;
    char *val = malloc(n);
    assert_non_null(val);
    for (size_t i = 0; i < n; i++) val[i] = (char)(i * 13 + (i >> 11));
    hl = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", n);
    parse_init(&ps, &lim);
    struct tbuf in = {malloc((size_t)hl + n + 32), 0};
    assert_non_null(in.data);
    tbuf_add(&in, head, (size_t)hl);
    size_t sent = 0, step = 1;
    int via = 0;
    while (sent < n) {
        size_t k = step < n - sent ? step : n - sent;
        if (via++ % 2 == 0) {
            tbuf_add(&in, val + sent, k); /* through the caller's buffer */
            assert_int_equal(parse_next(&ps, in.data, in.len), PARSE_AGAIN);
        } else {
            d = parse_direct(&ps, in.len, &room); /* straight in */
            assert_non_null(d);
            if (k > room) k = room;
            memcpy(d, val + sent, k);
            parse_direct_done(&ps, k);
            assert_int_equal(parse_next(&ps, in.data, in.len), PARSE_AGAIN);
        }
        sent += k;
        assert_int_equal(parse_big_bytes(&ps), sent);
        size_t ahead = sent > PARSE_BIG_AHEAD ? sent : PARSE_BIG_AHEAD;
        assert_true(ps.big_cap <= sent + ahead);
        step = step * 3 + 7;
    }
    assert_null(parse_direct(&ps, in.len, &room)); /* only the CRLF is missing */
    tbuf_add(&in, "\r\n", 2);
    assert_int_equal(parse_next(&ps, in.data, in.len), (long)in.len);
    assert_int_equal(ps.argc, 3);
    assert_int_equal(ps.argv[2].len, n);
    assert_memory_equal(ps.argv[2].p, val, n);
    int arg;
    char *b = parse_take_big(&ps, 0, &arg);
    assert_int_equal(arg, 2);
    free(b);
    free(in.data);
    parse_destroy(&ps);
    free(val);
}

/* Before AUTH no bulk gets a buffer of its own, even with a low big_bulk. */
static void test_big_bulk_not_unauth(void **st)
{
    (void)st;
    parse_limits lim;
    parse_limits_default(&lim);
    lim.unauth = 1;
    lim.big_bulk = 16;
    parse_state ps;
    parse_init(&ps, &lim);
    const char *req = "*2\r\n$4\r\nAUTH\r\n$100\r\n";
    assert_int_equal(parse_next(&ps, req, strlen(req)), PARSE_AGAIN);
    size_t room = 0;
    assert_null(parse_direct(&ps, strlen(req), &room));
    parse_destroy(&ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_default),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_byte_at_a_time_moving),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_binary_payload),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_fast_path_edges),
        cmocka_unit_test(test_error_after_good_command),
        cmocka_unit_test(test_line_limits_default),
        cmocka_unit_test(test_count_and_bulk_limits_default),
        cmocka_unit_test(test_custom_limits),
        cmocka_unit_test(test_unauth_limits),
        cmocka_unit_test(test_large_multibulk_resumes),
        cmocka_unit_test(test_mixed_forms_one_parser),
        cmocka_unit_test(test_destroy_null_and_twice),
        cmocka_unit_test(test_big_bulk_direct),
        cmocka_unit_test(test_big_bulk_bounded),
        cmocka_unit_test(test_big_bulk_threshold),
        cmocka_unit_test(test_big_bulk_not_unauth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
