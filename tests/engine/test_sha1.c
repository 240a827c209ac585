/* test_sha1.c - SHA-1 against the FIPS 180 test vectors, fed whole and in
 * pieces of every size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/sha1.h"

static void test_vectors(void **state)
{
    (void)state;
    char hex[41];
    sha1_hex("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    sha1_hex("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_hex(m, strlen(m), hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    /* "return 1": the SHA Redis answers to SCRIPT LOAD "return 1" */
    sha1_hex("return 1", 8, hex);
    assert_string_equal(hex, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

static void test_million_a_in_pieces(void **state)
{
    (void)state;
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    for (size_t piece = 1; piece <= 130; piece += 7) {
        sha1_ctx c;
        sha1_init(&c);
        for (size_t off = 0; off < 1000000; off += piece)
            sha1_update(&c, a + off, off + piece <= 1000000 ? piece : 1000000 - off);
        uint8_t d[20];
        sha1_final(&c, d);
        static const uint8_t want[20] = {0x34, 0xaa, 0x97, 0x3c, 0xd4, 0xc4, 0xda,
                                         0xa4, 0xf6, 0x1e, 0xeb, 0x2b, 0xdb, 0xad,
                                         0x27, 0x31, 0x65, 0x34, 0x01, 0x6f};
        assert_memory_equal(d, want, 20);
    }
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_million_a_in_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
