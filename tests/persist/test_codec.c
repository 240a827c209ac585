/* test_codec.c - persist/codec.h: fixed-width little-endian fields and
 * LEB128 varints, including the encodings the decoder must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "persist/codec.h"

static void test_fixed_little_endian(void **state)
{
    (void)state;
    char b[8];
    codec_put16(b, 0x0102);
    assert_memory_equal(b, "\x02\x01", 2);
    assert_int_equal(codec_get16(b), 0x0102);
    codec_put32(b, 0x01020304u);
    assert_memory_equal(b, "\x04\x03\x02\x01", 4);
    assert_int_equal(codec_get32(b), 0x01020304u);
    codec_put64(b, 0x0102030405060708ull);
    assert_memory_equal(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_true(codec_get64(b) == 0x0102030405060708ull);
    codec_put64(b, UINT64_MAX);
    assert_true(codec_get64(b) == UINT64_MAX);
    codec_put32(b, UINT32_MAX);
    assert_true(codec_get32(b) == UINT32_MAX);
}

static void test_varint_round_trip(void **state)
{
    (void)state;
    static const uint64_t vals[] = {
        0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, 1ull << 62, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char b[VARINT_MAX + 1];
        char *end = varint_put(b, vals[i]);
        size_t n = (size_t)(end - b);
        assert_int_equal(n, varint_len(vals[i]));
        assert_true(n >= 1 && n <= VARINT_MAX);
        size_t off = 0;
        uint64_t v = 0;
        assert_int_equal(varint_get((const char *)b, n, &off, &v), 0);
        assert_int_equal(off, n);
        assert_true(v == vals[i]);
        /* every shorter buffer ends inside it */
        for (size_t k = 0; k < n; k++) {
            off = 0;
            assert_int_equal(varint_get((const char *)b, k, &off, &v), -1);
        }
    }
    assert_int_equal(varint_len(127), 1);
    assert_int_equal(varint_len(128), 2);
    assert_int_equal(varint_len(UINT64_MAX), 10);
}

static void test_varint_refused(void **state)
{
    (void)state;
    size_t off;
    uint64_t v;
    /* non-canonical: a trailing zero byte (0 written as 0x80 0x00) */
    off = 0;
    assert_int_equal(varint_get("\x80\x00", 2, &off, &v), -1);
    /* over 64 bits: the tenth byte may only be 0 or 1 */
    const unsigned char big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    off = 0;
    assert_int_equal(varint_get((const char *)big, sizeof big, &off, &v), -1);
    /* over-long: eleven bytes */
    const unsigned char lng[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    off = 0;
    assert_int_equal(varint_get((const char *)lng, sizeof lng, &off, &v), -1);
    /* reads from *off, and moves it past the value only */
    const unsigned char two[] = {0x05, 0xac, 0x02, 0x07};
    off = 1;
    assert_int_equal(varint_get((const char *)two, sizeof two, &off, &v), 0);
    assert_int_equal(v, 300);
    assert_int_equal(off, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_little_endian),
        cmocka_unit_test(test_varint_round_trip),
        cmocka_unit_test(test_varint_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
