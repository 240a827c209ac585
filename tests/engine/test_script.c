/* test_script.c - the Lua VM of engine/script.c with a fake redis.call
 * executor: conversions both ways, errors and their script suffix, the
 * compiled-script cache (NOSCRIPT), shebang flags, the time limit and the
 * kill flag. The byte-for-byte comparison with Redis is
 * tests/integration/test_script.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/script.h"
#include "engine/sha1.h"

/* The fake executor answers the RESP given as the command's first argument
 * ("RESP" then the reply text), records the flags, else echoes argc. */
typedef struct fake {
    unsigned flags;
    int calls;
} fake;

static void fake_call(void *ctx, unsigned flags, int argc, const kv_str *argv, kvbuf *out)
{
    fake *f = ctx;
    f->flags = flags;
    f->calls++;
    if (argc == 2 && argv[0].len == 4 && memcmp(argv[0].p, "RESP", 4) == 0)
        kvbuf_append(out, argv[1].p, argv[1].len);
    else
        kvbuf_printf(out, ":%d\r\n", argc);
}

/* Runs body (cached under its sha) and returns the reply as a string the
 * caller frees. */
static char *run(script_vm *vm, fake *f, const char *body, int64_t limit_ms, _Atomic int *kill)
{
    char sha[41];
    sha1_hex(body, strlen(body), sha);
    kvbuf out;
    kvbuf_init(&out);
    kv_str keys[1] = {{"k1", 2}};
    kv_str args[2] = {{"a1", 2}, {"12", 2}};
    script_run r = {.sha = sha,
                    .body = body,
                    .body_len = strlen(body),
                    .keys = keys,
                    .nkeys = 1,
                    .args = args,
                    .nargs = 2,
                    .call = fake_call,
                    .ctx = f,
                    .time_limit_ms = limit_ms,
                    .kill = kill,
                    .out = &out};
    assert_int_equal(script_vm_run(vm, &r), SCRIPT_OK);
    kvbuf_append(&out, "", 1);
    return out.data;
}

static void expect(script_vm *vm, const char *body, const char *want)
{
    fake f = {0};
    char *got = run(vm, &f, body, 0, NULL);
    assert_string_equal(got, want);
    free(got);
}

static void test_lua_to_resp(void **state)
{
    script_vm *vm = script_vm_new();
    expect(vm, "return 1", ":1\r\n");
    expect(vm, "return -3.99", ":-3\r\n");
    expect(vm, "return 1e300", ":-9223372036854775808\r\n");
    expect(vm, "return 'x'", "$1\r\nx\r\n");
    expect(vm, "return true", ":1\r\n");
    expect(vm, "return false", "$-1\r\n");
    expect(vm, "return nil", "$-1\r\n");
    expect(vm, "return {1, 'a', nil, 3}", "*2\r\n:1\r\n$1\r\na\r\n");
    expect(vm, "return {ok = 'fine'}", "+fine\r\n");
    expect(vm, "return {err = 'E bad\\r\\nx'}", "-E bad  x\r\n");
    expect(vm, "return {double = 0.5}", "$3\r\n0.5\r\n");
    expect(vm, "return {KEYS[1], ARGV[1], ARGV[2], #KEYS, #ARGV}",
           "*5\r\n$2\r\nk1\r\n$2\r\na1\r\n$2\r\n12\r\n:1\r\n:2\r\n");
    script_vm_free(vm);
}

static void test_resp_to_lua(void **state)
{
    script_vm *vm = script_vm_new();
    expect(vm, "return redis.call('RESP', ':42\\r\\n') + 1", ":43\r\n");
    expect(vm, "return redis.call('RESP', '$-1\\r\\n') == false", ":1\r\n");
    expect(vm, "return redis.call('RESP', '*-1\\r\\n') == false", ":1\r\n");
    expect(vm, "return redis.call('RESP', '+OK\\r\\n').ok", "$2\r\nOK\r\n");
    expect(vm, "return redis.call('RESP', '*2\\r\\n$2\\r\\nab\\r\\n*1\\r\\n:7\\r\\n')",
           "*2\r\n$2\r\nab\r\n*1\r\n:7\r\n");
    expect(vm, "return redis.pcall('RESP', '-WRONG thing\\r\\n').err", "$11\r\nWRONG thing\r\n");
    expect(vm, "return redis.pcall('RESP', '-nocode\\r\\n').err", "$10\r\nERR nocode\r\n");
    /* arguments: numbers as %.17g, argc counted */
    expect(vm, "return redis.call('a', 1, 2.5, 'x')", ":4\r\n");
    script_vm_free(vm);
}

static void test_errors(void **state)
{
    script_vm *vm = script_vm_new();
    char sha[41];
    const char *body = "\nreturn redis.call('RESP', '-ERR nope\\r\\n')";
    sha1_hex(body, strlen(body), sha);
    fake f = {0};
    char *got = run(vm, &f, body, 0, NULL);
    char want[200];
    snprintf(want, sizeof want, "-ERR nope script: %s, on @user_script:2.\r\n", sha);
    assert_string_equal(got, want);
    free(got);
    got = run(vm, &f, "return y", 0, NULL);
    assert_non_null(strstr(got, "-ERR user_script:1: Script attempted to access nonexistent "
                                "global variable 'y' script: "));
    free(got);
    got = run(vm, &f, "x = 1", 0, NULL);
    assert_non_null(strstr(got, "Attempt to modify a readonly table"));
    free(got);
    expect(vm, "return (",
           "-ERR Error compiling script (new function): user_script:1: "
           "unexpected symbol near '<eof>'\r\n");
    expect(vm, "return redis.call()",
           "-ERR Please specify at least one argument for this redis lib call script: "
           "0a907e1429221a4d85516cab7fd219a82a9439d8, on @user_script:1.\r\n");
    script_vm_free(vm);
}

static void test_cache_and_flags(void **state)
{
    script_vm *vm = script_vm_new();
    const char *body = "#!lua flags=no-writes\nreturn redis.call('x')";
    fake f = {0};
    free(run(vm, &f, body, 0, NULL));
    assert_true(f.flags & SCRIPT_FLAG_NO_WRITES);
    /* by sha only: compiled already */
    char sha[41];
    sha1_hex(body, strlen(body), sha);
    kvbuf out;
    kvbuf_init(&out);
    script_run r = {.sha = sha, .call = fake_call, .ctx = &f, .out = &out};
    f.flags = 0;
    assert_int_equal(script_vm_run(vm, &r), SCRIPT_OK);
    assert_true(f.flags & SCRIPT_FLAG_NO_WRITES);
    r.sha = "0000000000000000000000000000000000000000";
    kvbuf_reset(&out);
    assert_int_equal(script_vm_run(vm, &r), SCRIPT_NOSCRIPT);
    assert_int_equal(out.len, 0);
    kvbuf_destroy(&out);
    kvbuf err;
    kvbuf_init(&err);
    assert_int_equal(script_compile_check("#!lua flags=nope\nreturn 1", 24, &err), -1);
    kvbuf_append(&err, "", 1);
    assert_string_equal(err.data, "ERR Unexpected flag in script shebang: nope");
    kvbuf_destroy(&err);
    script_vm_free(vm);
}

static void test_time_limit_and_kill(void **state)
{
    script_vm *vm = script_vm_new();
    fake f = {0};
    int64_t t0 = kv_mono_us();
    char *got = run(vm, &f, "while true do pcall(function() while true do end end) end", 50, NULL);
    assert_non_null(strstr(got, "-ERR Script killed: it ran longer than lua-time-limit"));
    assert_true(kv_mono_us() - t0 < 5000000);
    free(got);
    _Atomic int kill = 1;
    got = run(vm, &f, "while true do end", 0, &kill);
    assert_non_null(strstr(got, "-ERR Script killed by user with SCRIPT KILL..."));
    free(got);
    expect(vm, "return 'alive'", "$5\r\nalive\r\n");
    script_vm_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lua_to_resp),
        cmocka_unit_test(test_resp_to_lua),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cache_and_flags),
        cmocka_unit_test(test_time_limit_and_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
