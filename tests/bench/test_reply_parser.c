/* test_reply_parser.c - bench/reply_parser.c: RESP and plain-text reply parsing, fed
 * whole, byte by byte, and at every split point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/reply_parser.h"

/* Feeds `in` in chunks of `step` bytes, keeping unconsumed bytes as a real
 * connection would; returns the number of replies, fills kinds/nils. */
static int feed_all(const char *in, size_t step, reply_t *out, int max)
{
    reply_parser p;
    reply_parser_init(&p);
    char buf[4096];
    size_t have = 0, pos = 0, len = strlen(in);
    int n = 0;
    while (pos < len || have) {
        size_t take = len - pos < step ? len - pos : step;
        memcpy(buf + have, in + pos, take);
        have += take, pos += take;
        size_t off = 0;
        for (;;) {
            size_t used;
            reply_t r;
            int rv = reply_resp_feed(&p, buf + off, have - off, &used, &r);
            off += used;
            if (rv == REPLY_BAD) return -1;
            if (rv == REPLY_AGAIN) break;
            if (n < max) out[n] = r;
            n++;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        if (take == 0) break;
    }
    return n;
}

static const char stream[] = "+OK\r\n"
                             "-ERR wrong number of arguments\r\n"
                             ":42\r\n"
                             "$5\r\nhello\r\n"
                             "$-1\r\n"
                             "$0\r\n\r\n"
                             "*3\r\n$1\r\na\r\n$-1\r\n$2\r\nbc\r\n"
                             "*0\r\n"
                             "*-1\r\n"
                             "*2\r\n*2\r\n:1\r\n$-1\r\n+x\r\n";

static void check_stream(const reply_t *r, int n)
{
    assert_int_equal(n, 10);
    assert_int_equal(r[0].kind, REPLY_STATUS);
    assert_int_equal(r[1].kind, REPLY_ERROR);
    assert_int_equal(r[2].kind, REPLY_INT);
    assert_int_equal(r[3].kind, REPLY_BULK);
    assert_int_equal(r[4].kind, REPLY_NIL);
    assert_int_equal(r[5].kind, REPLY_BULK);
    assert_int_equal(r[6].kind, REPLY_ARRAY);
    assert_int_equal(r[6].elems, 3);
    assert_int_equal(r[6].nils, 1);
    assert_int_equal(r[7].kind, REPLY_ARRAY);
    assert_int_equal(r[7].elems, 0);
    assert_int_equal(r[8].kind, REPLY_NIL);
    assert_int_equal(r[9].kind, REPLY_ARRAY);
    assert_int_equal(r[9].elems, 2);
    assert_int_equal(r[9].nils, 1);
}

static void test_resp_whole(void **state)
{
    (void)state;
    reply_t r[16];
    int n = feed_all(stream, sizeof(stream), r, 16);
    check_stream(r, n);
    assert_int_equal(r[1].text_len, strlen("ERR wrong number of arguments"));
}

static void test_resp_every_chunk_size(void **state)
{
    (void)state;
    for (size_t step = 1; step < sizeof(stream); step++) {
        reply_t r[16];
        int n = feed_all(stream, step, r, 16);
        check_stream(r, n);
    }
}

static void test_resp_bad(void **state)
{
    (void)state;
    reply_t r[4];
    assert_int_equal(feed_all("?what\r\n", 100, r, 4), -1);
    assert_int_equal(feed_all("$3\r\nabcXY", 100, r, 4), -1); /* no CRLF after payload */
    assert_int_equal(feed_all(":12a\r\n", 100, r, 4), -1);
    assert_int_equal(feed_all("+OK\n", 100, r, 4), -1); /* bare LF */
    assert_int_equal(feed_all("$-2\r\n", 100, r, 4), -1);
    /* sticky */
    reply_parser p;
    reply_parser_init(&p);
    size_t used;
    reply_t one;
    assert_int_equal(reply_resp_feed(&p, "!\r\n", 3, &used, &one), REPLY_BAD);
    assert_int_equal(reply_resp_feed(&p, "+OK\r\n", 5, &used, &one), REPLY_BAD);
}

static void test_resp_again_keeps_partial_line(void **state)
{
    (void)state;
    reply_parser p;
    reply_parser_init(&p);
    size_t used;
    reply_t r;
    assert_int_equal(reply_resp_feed(&p, "$10\r", 4, &used, &r), REPLY_AGAIN);
    assert_int_equal(used, 0);
    assert_int_equal(reply_resp_feed(&p, "$10\r\n0123", 9, &used, &r), REPLY_AGAIN);
    assert_int_equal(used, 9); /* payload bytes are consumed as they come */
    assert_int_equal(reply_resp_feed(&p, "456789\r\n", 8, &used, &r), REPLY_DONE);
    assert_int_equal(used, 8);
    assert_int_equal(r.kind, REPLY_BULK);
}

static void test_plain(void **state)
{
    (void)state;
    size_t used;
    reply_t r;
    assert_int_equal(reply_plain_feed("OK\nxx", 5, 100, &used, &r), REPLY_DONE);
    assert_int_equal(used, 3);
    assert_int_equal(r.kind, REPLY_STATUS);
    assert_int_equal(reply_plain_feed("(nil)\n", 6, 100, &used, &r), REPLY_DONE);
    assert_int_equal(r.kind, REPLY_NIL);
    assert_int_equal(reply_plain_feed("ERR unknown command\r\n", 21, 100, &used, &r), REPLY_DONE);
    assert_int_equal(r.kind, REPLY_ERROR);
    assert_int_equal(r.text_len, 19);
    assert_int_equal(reply_plain_feed("value1\n", 7, 100, &used, &r), REPLY_DONE);
    assert_int_equal(r.kind, REPLY_BULK);
    assert_int_equal(reply_plain_feed("partial", 7, 100, &used, &r), REPLY_AGAIN);
    assert_int_equal(used, 0);
    assert_int_equal(reply_plain_feed("0123456789", 10, 5, &used, &r), REPLY_BAD);
    uint32_t t, z;
    reply_plain_count("v1 (nil) v3 (nil)", 17, &t, &z);
    assert_int_equal(t, 4);
    assert_int_equal(z, 2);
    reply_plain_count("(nil)", 5, &t, &z);
    assert_int_equal(t, 1);
    assert_int_equal(z, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_whole), cmocka_unit_test(test_resp_every_chunk_size),
        cmocka_unit_test(test_resp_bad),   cmocka_unit_test(test_resp_again_keeps_partial_line),
        cmocka_unit_test(test_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
