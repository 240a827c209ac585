/* Tests for net/auth.c: the password check accepts exactly the password
 * (not a prefix, not a longer string, not the empty string), follows
 * auth_set, and a removed password requires nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "net/auth.h"
#include "engine/kv.h"

static int check(auth_t *a, const char *p)
{
    return auth_check(a, p, strlen(p));
}

static void test_check(void **st)
{
    (void)st;
    auth_t a;
    assert_int_equal(auth_init(&a, "secret"), 0);
    assert_true(auth_required(&a));
    assert_true(check(&a, "secret"));
    assert_false(check(&a, "secre"));
    assert_false(check(&a, "secrets"));
    assert_false(check(&a, "Secret"));
    assert_false(check(&a, ""));
    assert_false(auth_check(&a, "secret\0", 7)); /* binary: length counts */
    char buf[16];
    assert_int_equal(auth_get(&a, buf, sizeof buf), 6);
    assert_string_equal(buf, "secret");
    auth_destroy(&a);
}

static void test_set_and_remove(void **st)
{
    (void)st;
    auth_t a;
    assert_int_equal(auth_init(&a, NULL), 0);
    assert_false(auth_required(&a));
    assert_false(check(&a, "")); /* nothing to match: AUTH handles "no password" */
    assert_int_equal(auth_set(&a, "a\0b", 3), 0);
    assert_true(auth_required(&a));
    assert_true(auth_check(&a, "a\0b", 3));
    assert_false(auth_check(&a, "a\0c", 3));
    char big[AUTH_PASS_MAX + 1];
    memset(big, 'x', sizeof big);
    assert_int_equal(auth_set(&a, big, sizeof big), KV_EINVAL);
    assert_true(auth_check(&a, "a\0b", 3)); /* unchanged */
    assert_int_equal(auth_set(&a, "", 0), 0);
    assert_false(auth_required(&a));
    auth_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_set_and_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
