/* test_crc32c.c - CRC32C: known vectors, hardware and table paths agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

#include "persist/crc32c.h"

/* The RFC 3720 B.4 vectors, and the usual check value: every path gives
 * each of them (crc32c() being whichever path this CPU uses). */
static void check_vectors(const char *name, uint32_t (*f)(uint32_t, const void *, size_t))
{
    unsigned char buf[48];
    print_message("crc32c path: %s\n", name);
    assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(f(0, "", 0), 0);
    memset(buf, 0, 32);
    assert_int_equal(f(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    assert_int_equal(f(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)i;
    assert_int_equal(f(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)(31 - i);
    assert_int_equal(f(0, buf, 32), 0x113FDB5Cu);
    /* B.4's iSCSI read command PDU (48 bytes) */
    static const unsigned char pdu[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    memcpy(buf, pdu, 48);
    assert_int_equal(f(0, buf, 48), 0xD9963A56u);
    /* the same at every alignment */
    unsigned char shifted[48 + 8];
    for (int a = 1; a < 8; a++) {
        memcpy(shifted + a, pdu, 48);
        assert_int_equal(f(0, shifted + a, 48), 0xD9963A56u);
    }
}

static uint32_t dispatch_extend(uint32_t crc, const void *p, size_t n)
{
    return crc32c_extend(crc, p, n);
}

/* Does this CPU have CRC32C instructions, asked independently of crc32c.c? */
static int cpu_has_crc32c(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
#elif defined(__aarch64__) && defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#else
    return 0;
#endif
}

static void test_vectors(void **state)
{
    (void)state;
    check_vectors("table", crc32c_sw_extend);
    if (crc32c_hw_available()) check_vectors(crc32c_hw_name(), crc32c_hw_extend);
    check_vectors("dispatch", dispatch_extend);
}

/* On amd64 and arm64 the build has a hardware path, and uses it when the
 * CPU (or qemu's emulated CPU) has the instructions. */
static void test_hw_path_used(void **state)
{
    (void)state;
#if defined(__x86_64__) || defined(__aarch64__)
    assert_string_not_equal(crc32c_hw_name(), "none");
#endif
    print_message("hardware path %s: cpu has it %d, used %d\n", crc32c_hw_name(), cpu_has_crc32c(),
                  crc32c_hw_available());
    assert_int_equal(crc32c_hw_available(), cpu_has_crc32c());
}

/* Random buffers, offsets, lengths and starting CRCs: the hardware path and
 * the table agree. */
static void test_hw_matches_sw_random(void **state)
{
    (void)state;
    if (!crc32c_hw_available()) skip();
    enum { N = 8192 };
    unsigned char *buf = malloc(N);
    assert_non_null(buf);
    uint64_t x = 0x9E3779B97F4A7C15ull;
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17)
    for (size_t i = 0; i < N; i++) buf[i] = (unsigned char)NEXT();
    for (int i = 0; i < 3000; i++) {
        size_t off = NEXT() % 64;
        size_t len = NEXT() % (i < 2000 ? 80 : N - 64);
        uint32_t start = (uint32_t)NEXT();
        assert_int_equal(crc32c_hw_extend(start, buf + off, len),
                         crc32c_sw_extend(start, buf + off, len));
    }
#undef NEXT
    free(buf);
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
        cmocka_unit_test(test_vectors),       cmocka_unit_test(test_hw_path_used),
        cmocka_unit_test(test_hw_matches_sw), cmocka_unit_test(test_hw_matches_sw_random),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
