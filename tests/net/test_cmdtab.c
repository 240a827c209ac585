/* Tests for net/cmdtab.c and net/plain.c: the table is sorted (lookup is a
 * binary search), every command is found case-insensitively with sane
 * metadata, and RESP replies become the original plain-text lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "net/cmdtab.h"
#include "net/net_internal.h"

static void test_sorted_and_found(void **state)
{
    size_t n = cmdtab_count();
    assert_true(n > 50);
    for (size_t i = 0; i < n; i++) {
        const cmd_def *d = cmdtab_at(i);
        if (i > 0) assert_true(strcmp(cmdtab_at(i - 1)->name, d->name) < 0);
        assert_ptr_equal(cmdtab_lookup(d->name, strlen(d->name)), d);
        char upper[32];
        size_t len = strlen(d->name);
        for (size_t k = 0; k <= len; k++)
            upper[k] =
                (char)(d->name[k] >= 'a' && d->name[k] <= 'z' ? d->name[k] - 32 : d->name[k]);
        assert_ptr_equal(cmdtab_lookup(upper, len), d);
        assert_true(d->arity != 0);
        if (d->route == ROUTE_LOCAL)
            assert_non_null(d->local);
        else if (d->route != ROUTE_MULTI) /* transactions: net/multi.c */
            assert_non_null(d->fn);
        assert_non_null(d->summary);
    }
    assert_null(cmdtab_lookup("nosuchcommand", 13));
    assert_null(cmdtab_lookup("take", 4)); /* internal: not for clients */
    assert_non_null(cmdtab_internal("take"));
    assert_null(cmdtab_lookup("", 0));
}

static void test_arity(void **state)
{
    const cmd_def *get = cmdtab_lookup("get", 3), *set = cmdtab_lookup("set", 3);
    assert_true(cmdtab_arity_ok(get, 2));
    assert_false(cmdtab_arity_ok(get, 1));
    assert_false(cmdtab_arity_ok(get, 3));
    assert_true(cmdtab_arity_ok(set, 3));
    assert_true(cmdtab_arity_ok(set, 7));
    assert_false(cmdtab_arity_ok(set, 2));
}

static void plain_is(const char *cmd, const char *resp, const char *want)
{
    kvbuf out;
    kvbuf_init(&out);
    const cmd_def *d = cmd ? cmdtab_lookup(cmd, strlen(cmd)) : NULL;
    plain_from_resp(d, resp, strlen(resp), &out);
    if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
        fail_msg("plain of %s: got '%.*s' want '%s'", resp, (int)out.len, out.data, want);
    kvbuf_destroy(&out);
}

static void test_plain_replies(void **state)
{
    plain_is("set", "+OK\r\n", "OK\n");
    plain_is("get", "$5\r\nAlice\r\n", "Alice\n");
    plain_is("get", "$-1\r\n", "(nil)\n");
    plain_is("mget", "*3\r\n$1\r\na\r\n$-1\r\n$2\r\nbc\r\n", "a (nil) bc\n");
    plain_is("mget", "*0\r\n", "\n");
    plain_is("del", ":0\r\n", "OK\n");
    plain_is("incr", ":42\r\n", "42\n");
    plain_is("get", "-ERR syntax error\r\n", "ERR syntax error\n");
    plain_is("get", "-WRONGTYPE Operation\r\n", "ERR WRONGTYPE Operation\n");
    plain_is(NULL, "-ERR Protocol error: x\r\n", "ERR Protocol error: x\n");
    plain_is("get", "$0\r\n\r\n", "\n");
}

/* The commands MULTI runs at once instead of queuing are told by their
 * row's flag (route_dispatch), not by their names: exactly these. */
static void test_tx_control(void **state)
{
    (void)state;
    const char *want[] = {"discard", "exec", "multi", "quit", "watch"};
    size_t n = 0;
    for (size_t i = 0; cmdtab_at(i) != NULL; i++) {
        const cmd_def *d = cmdtab_at(i);
        if (!(d->flags & CMD_TX_CONTROL)) continue;
        assert_true(n < sizeof want / sizeof want[0]);
        assert_string_equal(d->name, want[n]);
        n++;
    }
    assert_int_equal(n, sizeof want / sizeof want[0]);
    assert_false(cmdtab_lookup("unwatch", 7)->flags & CMD_TX_CONTROL); /* queued */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_and_found),
        cmocka_unit_test(test_arity),
        cmocka_unit_test(test_plain_replies),
        cmocka_unit_test(test_tx_control),
    };
    return cmocka_run_group_tests_name("net/cmdtab", tests, NULL, NULL);
}
