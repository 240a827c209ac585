/* test_crc32c.c - CRC32C: known vectors, hardware and table paths agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"

/* Vectors from RFC 3720 (iSCSI) B.4 and the usual check value. */
static void test_vectors(void **state)
{
    (void)state;
    unsigned char buf[32];
    assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_sw_extend(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c("", 0), 0);
    memset(buf, 0, sizeof buf);
    assert_int_equal(crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)i;
    assert_int_equal(crc32c(buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)(31 - i);
    assert_int_equal(crc32c(buf, 32), 0x113FDB5Cu);
    if (crc32c_hw_available()) {
        assert_int_equal(crc32c_hw_extend(0, "123456789", 9), 0xE3069283u);
        assert_int_equal(crc32c_hw_extend(0, buf, 32), 0x113FDB5Cu);
    }
}

/* Every length and alignment up to 64 plus random large buffers: both
 * paths give the same answer, and extend composes. */
static void test_hw_matches_sw(void **state)
{
    (void)state;
    enum { N = 70000 };
    unsigned char *buf = malloc(N + 16);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < N + 16; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    int hw = crc32c_hw_available();
    for (size_t align = 0; align < 8; align++)
        for (size_t len = 0; len <= 64; len++) {
            uint32_t sw = crc32c_sw_extend(0, buf + align, len);
            assert_int_equal(crc32c(buf + align, len), sw);
            if (hw) assert_int_equal(crc32c_hw_extend(0, buf + align, len), sw);
            /* a non-zero starting crc */
            if (hw) assert_int_equal(crc32c_hw_extend(sw, buf, 13), crc32c_sw_extend(sw, buf, 13));
        }
    for (size_t len = 1000; len < N; len = len * 3 + 7) {
        uint32_t sw = crc32c_sw_extend(0, buf + 3, len);
        assert_int_equal(crc32c(buf + 3, len), sw);
        size_t cut = len / 3;
        assert_int_equal(crc32c_extend(crc32c(buf + 3, cut), buf + 3 + cut, len - cut), sw);
        assert_int_equal(
            crc32c_sw_extend(crc32c_sw_extend(0, buf + 3, cut), buf + 3 + cut, len - cut), sw);
    }
    free(buf);
}

static void test_mask(void **state)
{
    (void)state;
    uint32_t vals[] = {0, 1, 0xE3069283u, 0xffffffffu, 0x80000000u, 0xa282ead8u};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        assert_int_equal(crc32c_unmask(crc32c_mask(vals[i])), vals[i]);
        assert_int_not_equal(crc32c_mask(vals[i]), vals[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_hw_matches_sw),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
