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

/* The routers tell the members of a family by their row's variant fields
 * (net/route.c, net/blocking.c, net/multi.c, net/plain.c), not by names:
 * every row of a shared route has its kind, and the fields match the name. */
static void test_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; cmdtab_at(i) != NULL; i++) {
        const cmd_def *d = cmdtab_at(i);
        const char *n = d->name;
        size_t len = strlen(n);
        int store = len > 5 && strcmp(n + len - 5, "store") == 0;
        switch (d->route) {
        case ROUTE_SETOP:
            if (strcmp(n, "zmpop") == 0 || strcmp(n, "lmpop") == 0) {
                assert_int_equal(d->kind, CMDK_MPOP);
                assert_int_equal(d->zset, n[0] == 'z');
            } else if (strcmp(n, "zrangestore") == 0) {
                assert_int_equal(d->kind, CMDK_ZRANGESTORE);
            } else {
                assert_int_equal(d->kind, n[0] == 'z' ? CMDK_ZSETOP : CMDK_SETOP);
                assert_int_equal(d->store, store);
                int z = n[0] == 'z';
                int op = strstr(n, "intercard") ? (z ? ZSETOP_INTERCARD : SETOP_INTERCARD)
                         : strstr(n, "union")   ? (z ? ZSETOP_UNION : SETOP_UNION)
                         : strstr(n, "diff")    ? (z ? ZSETOP_DIFF : SETOP_DIFF)
                                                : (z ? ZSETOP_INTER : SETOP_INTER);
                assert_int_equal(d->op, op);
            }
            break;
        case ROUTE_BLOCK:
            if (strcmp(n, "blpop") == 0 || strcmp(n, "brpop") == 0)
                assert_int_equal(d->kind, CMDK_BPOP);
            else if (strcmp(n, "blmove") == 0)
                assert_int_equal(d->kind, CMDK_BLMOVE);
            else if (strcmp(n, "brpoplpush") == 0)
                assert_int_equal(d->kind, CMDK_BRPOPLPUSH);
            else if (strncmp(n, "bzpop", 5) == 0)
                assert_int_equal(d->kind, CMDK_BZPOP);
            else
                assert_int_equal(d->kind, CMDK_BMPOP);
            assert_int_equal(d->high, strcmp(n, "bzpopmax") == 0 || strcmp(n, "brpop") == 0);
            assert_int_equal(d->zset, strcmp(n, "bzmpop") == 0);
            break;
        case ROUTE_MULTI: {
            const char *names[] = {"multi", "exec", "discard", "watch", "unwatch"};
            assert_true(d->kind >= CMDK_MULTI && d->kind <= CMDK_UNWATCH);
            assert_string_equal(n, names[d->kind - CMDK_MULTI]);
            break;
        }
        default:
            assert_int_equal(d->kind, CMDK_NONE);
            break;
        }
        if (d->route != ROUTE_SETOP) assert_int_equal(d->store, 0);
        assert_int_equal((d->flags & CMD_PLAIN_OK) != 0, strcmp(n, "del") == 0);
        /* the containers (their summaries say so, and COMMAND), the commands
         * a subscribed RESP2 connection may run */
        assert_int_equal((d->flags & CMD_CONTAINER) != 0,
                         strncmp(d->summary, "A container", 11) == 0 || strcmp(n, "command") == 0);
        const char *sub[] = {"ping",       "quit",         "subscribe",  "unsubscribe",
                             "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"};
        int in_sub = 0;
        for (size_t k = 0; k < sizeof sub / sizeof sub[0]; k++) in_sub |= strcmp(n, sub[k]) == 0;
        assert_int_equal((d->flags & CMD_SUBSCRIBED) != 0, in_sub);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_and_found),
        cmocka_unit_test(test_arity),
        cmocka_unit_test(test_plain_replies),
        cmocka_unit_test(test_tx_control),
        cmocka_unit_test(test_kinds),
    };
    return cmocka_run_group_tests_name("net/cmdtab", tests, NULL, NULL);
}
