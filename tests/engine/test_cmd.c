/* test_cmd.c - command handlers driven through cmd_call, checked byte for
 * byte against the RESP replies of redis-server 7.0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buf.h"
#include "engine/cmd.h"
#include "engine/entry.h"
#include "engine/kv.h"
#include "engine/reply.h"
#include "engine/shard.h"
#include "engine/zobj.h"

#define T0 1700000000000ll

static kv_hash_secret secret = {{42, 1, 2, 3}};

typedef struct fixture {
    shard_t s;
    kvbuf out;
    cmd_res res; /* run_typed: the handler's typed answer */
} fixture;

static int setup(void **state)
{
    fixture *f = kv_xcalloc(1, sizeof *f);
    shard_init(&f->s, 0, &secret);
    f->s.now_ms = T0;
    kvbuf_init(&f->out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cmd_res_clear(&f->res);
    shard_destroy(&f->s);
    kvbuf_destroy(&f->out);
    free(f);
    return 0;
}

/* Runs fn on a command line split at spaces ('' is an empty argument) and
 * returns the reply as a NUL-terminated string, valid until the next run;
 * with res, the typed answer goes there (as the actor asks for it). */
static const char *run_res(fixture *f, cmd_fn *fn, const char *line, cmd_res *res)
{
    static char copy[4096];
    kv_str argv[64];
    int argc = 0;
    snprintf(copy, sizeof copy, "%s", line);
    for (char *p = strtok(copy, " "); p != NULL; p = strtok(NULL, " ")) {
        assert_true(argc < 64);
        argv[argc].p = strcmp(p, "''") == 0 ? "" : p;
        argv[argc].len = strlen(argv[argc].p);
        argc++;
    }
    cmd_call c = {.argc = argc, .argv = argv, .out = &f->out, .res = res};
    kvbuf_reset(&f->out);
    shard_call(&f->s, fn, &c); /* as the actor runs it: counted there */
    kvbuf_append(&f->out, "", 1);
    f->out.len--;
    return f->out.data;
}

static const char *run(fixture *f, cmd_fn *fn, const char *line)
{
    return run_res(f, fn, line, NULL);
}

/* run with the typed answer asked for, in f->res (cleared first). */
static const char *run_typed(fixture *f, cmd_fn *fn, const char *line)
{
    cmd_res_clear(&f->res);
    return run_res(f, fn, line, &f->res);
}

#define EXPECT(fn, line, want) assert_string_equal(run(f, fn, line), want)

static void test_get_set(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_get, "get k", "$-1\r\n");
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nv\r\n");
    EXPECT(cmd_set, "SET k hello", "+OK\r\n");
    EXPECT(cmd_get, "get k", "$5\r\nhello\r\n");
    EXPECT(cmd_set, "set e ''", "+OK\r\n");
    EXPECT(cmd_get, "get e", "$0\r\n\r\n");
    assert_int_equal(f->s.stats.hits, 3);
    assert_int_equal(f->s.stats.misses, 1);
    assert_int_equal(f->s.stats.commands, 7);
}

static void test_set_options(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set k v nx", "+OK\r\n");
    EXPECT(cmd_set, "set k v2 nx", "$-1\r\n");
    EXPECT(cmd_set, "set k v3 xx", "+OK\r\n");
    EXPECT(cmd_set, "set nope v xx", "$-1\r\n");
    EXPECT(cmd_set, "set nope v xx get", "$-1\r\n");
    EXPECT(cmd_get, "get nope", "$-1\r\n");
    EXPECT(cmd_set, "set k v4 get", "$2\r\nv3\r\n");
    EXPECT(cmd_set, "set k v5 nx get", "$2\r\nv4\r\n");
    EXPECT(cmd_get, "get k", "$2\r\nv4\r\n");
    EXPECT(cmd_set, "set k v ex 10", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl k", ":10\r\n");
    EXPECT(cmd_set, "set k v2 keepttl", "+OK\r\n");
    EXPECT(cmd_pttl, "pttl k", ":10000\r\n");
    EXPECT(cmd_set, "set k v3", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    EXPECT(cmd_set, "set k v px 1500", "+OK\r\n");
    EXPECT(cmd_pttl, "pttl k", ":1500\r\n");
    EXPECT(cmd_ttl, "ttl k", ":2\r\n"); /* rounded */
    EXPECT(cmd_set, "set k v exat 1800000000", "+OK\r\n");
    EXPECT(cmd_expiretime, "expiretime k", ":1800000000\r\n");
    EXPECT(cmd_set, "set k v pxat 1800000000123", "+OK\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime k", ":1800000000123\r\n");
    EXPECT(cmd_set, "set k v EX 10 ex 20", "+OK\r\n"); /* repeats: the last wins */
    EXPECT(cmd_ttl, "ttl k", ":20\r\n");
    EXPECT(cmd_set, "set k v NX nx", "$-1\r\n");
    EXPECT(cmd_set, "set k v keepttl keepttl", "+OK\r\n");
    /* a deadline in the past: the key is gone */
    EXPECT(cmd_set, "set k v exat 1", "+OK\r\n");
    EXPECT(cmd_get, "get k", "$-1\r\n");
    EXPECT(cmd_set, "set k v pxat 9223372036854775807", "+OK\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime k", ":9223372036854775807\r\n");
    EXPECT(cmd_expiretime, "expiretime k", ":9223372036854776\r\n");
}

static void test_set_errors(void **state)
{
    fixture *f = *state;
    const char *syntax[] = {
        "set k v nx xx",         "set k v xx nx", "set k v ex 10 px 10", "set k v ex 10 keepttl",
        "set k v keepttl ex 10", "set k v ex",    "set k v foo",         "set k v persist",
        "set k v exat 1 pxat 1", "set k v px",    "set k v ex abc nx xx"};
    for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++)
        EXPECT(cmd_set, syntax[i], "-ERR syntax error\r\n");
    const char *expire[] = {"set k v ex 0",
                            "set k v ex -1",
                            "set k v px 0",
                            "set k v pxat 0",
                            "set k v exat -5",
                            "set k v ex 9223372036854775807",
                            "set k v px 9223372036854775807",
                            "set k v ex 9223372036854776",
                            "set k v ex 9223372036854775"};
    for (size_t i = 0; i < sizeof expire / sizeof expire[0]; i++)
        EXPECT(cmd_set, expire[i], "-ERR invalid expire time in 'set' command\r\n");
    EXPECT(cmd_set, "SET k v EX 0", "-ERR invalid expire time in 'set' command\r\n");
    EXPECT(cmd_set, "set k v ex abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_set, "set k v ex 10 ex abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_set, "set k v ex 1.5", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_get, "get k", "$-1\r\n"); /* nothing was written */
    assert_int_equal(ht_count(&f->s.table), 0);
}

static void test_wrongtype(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set h v", "+OK\r\n");
    /* no other type exists yet: fake one to check the guards */
    kv_entry *e = shard_lookup(&f->s, "h", 1);
    e->type = 7;
    const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    EXPECT(cmd_get, "get h", wt);
    EXPECT(cmd_set, "set h x get", wt);
    EXPECT(cmd_getset, "getset h x", wt);
    EXPECT(cmd_getdel, "getdel h", wt);
    EXPECT(cmd_getex, "getex h persist", wt);
    EXPECT(cmd_append, "append h x", wt);
    EXPECT(cmd_strlen, "strlen h", wt);
    EXPECT(cmd_incr, "incr h", wt);
    EXPECT(cmd_incrbyfloat, "incrbyfloat h 1", wt);
    EXPECT(cmd_getrange, "getrange h 0 1", wt);
    EXPECT(cmd_setrange, "setrange h 0 x", wt);
    EXPECT(cmd_mget_part, "mget h", "$-1\r\n");
    EXPECT(cmd_type, "type h", "+unknown\r\n");
    /* a plain SET replaces any type */
    EXPECT(cmd_set, "set h v", "+OK\r\n");
    EXPECT(cmd_get, "get h", "$1\r\nv\r\n");
}

static void test_setex_getset_getdel(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_setex, "setex k 0 v", "-ERR invalid expire time in 'setex' command\r\n");
    EXPECT(cmd_setex, "setex k -5 v", "-ERR invalid expire time in 'setex' command\r\n");
    EXPECT(cmd_setex, "setex k 9223372036854775 v",
           "-ERR invalid expire time in 'setex' command\r\n");
    EXPECT(cmd_setex, "setex k abc v", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_psetex, "psetex k 0 v", "-ERR invalid expire time in 'psetex' command\r\n");
    EXPECT(cmd_setex, "setex k 100 val", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl k", ":100\r\n");
    EXPECT(cmd_psetex, "psetex k 2500 val", "+OK\r\n");
    EXPECT(cmd_pttl, "pttl k", ":2500\r\n");
    EXPECT(cmd_getset, "getset k newv", "$3\r\nval\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n"); /* GETSET drops the TTL */
    EXPECT(cmd_getset, "getset n val", "$-1\r\n");
    EXPECT(cmd_get, "get n", "$3\r\nval\r\n");
    EXPECT(cmd_getdel, "getdel n", "$3\r\nval\r\n");
    EXPECT(cmd_getdel, "getdel n", "$-1\r\n");
    EXPECT(cmd_setnx, "setnx k x", ":0\r\n");
    EXPECT(cmd_setnx, "setnx k2 x", ":1\r\n");
    EXPECT(cmd_get, "get k2", "$1\r\nx\r\n");
}

static void test_getex(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_getex, "getex k ex 0", "-ERR invalid expire time in 'getex' command\r\n");
    EXPECT(cmd_getex, "getex k ex 10 px 10", "-ERR syntax error\r\n");
    EXPECT(cmd_getex, "getex k persist ex 10", "-ERR syntax error\r\n");
    EXPECT(cmd_getex, "getex k ex", "-ERR syntax error\r\n");
    EXPECT(cmd_getex, "getex k keepttl", "-ERR syntax error\r\n");
    EXPECT(cmd_getex, "getex k nx", "-ERR syntax error\r\n");
    EXPECT(cmd_getex, "getex k get", "-ERR syntax error\r\n");
    EXPECT(cmd_getex, "getex missing ex 10", "$-1\r\n");
    EXPECT(cmd_getex, "getex missing foo", "-ERR syntax error\r\n");
    EXPECT(cmd_getex, "getex missing ex abc", "$-1\r\n"); /* as Redis: no key, no check */
    EXPECT(cmd_getex, "getex k ex abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_getex, "getex k", "$1\r\nv\r\n");
    EXPECT(cmd_getex, "getex k ex 100", "$1\r\nv\r\n");
    EXPECT(cmd_ttl, "ttl k", ":100\r\n");
    EXPECT(cmd_getex, "getex k persist", "$1\r\nv\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    EXPECT(cmd_getex, "getex k px 1234", "$1\r\nv\r\n");
    EXPECT(cmd_pttl, "pttl k", ":1234\r\n");
    EXPECT(cmd_getex, "getex k exat 1800000000", "$1\r\nv\r\n");
    EXPECT(cmd_expiretime, "expiretime k", ":1800000000\r\n");
    EXPECT(cmd_getex, "getex k exat 1", "$1\r\nv\r\n");
    EXPECT(cmd_exists_part, "exists k", ":0\r\n");
}

static void test_append_strlen_range(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_append, "append a hello", ":5\r\n");
    EXPECT(cmd_append, "append a _world", ":11\r\n");
    EXPECT(cmd_get, "get a", "$11\r\nhello_world\r\n");
    EXPECT(cmd_append, "append a ''", ":11\r\n");
    EXPECT(cmd_strlen, "strlen a", ":11\r\n");
    EXPECT(cmd_strlen, "strlen nokey", ":0\r\n");
    /* APPEND keeps the TTL */
    EXPECT(cmd_expire, "expire a 50", ":1\r\n");
    EXPECT(cmd_append, "append a !", ":12\r\n");
    EXPECT(cmd_ttl, "ttl a", ":50\r\n");

    EXPECT(cmd_set, "set s Hello_World", "+OK\r\n");
    EXPECT(cmd_getrange, "getrange s 0 4", "$5\r\nHello\r\n");
    EXPECT(cmd_getrange, "getrange s -5 -1", "$5\r\nWorld\r\n");
    EXPECT(cmd_getrange, "getrange s -1 -5", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "getrange s 5 3", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "getrange s 0 -1", "$11\r\nHello_World\r\n");
    EXPECT(cmd_getrange, "getrange s 0 100", "$11\r\nHello_World\r\n");
    EXPECT(cmd_getrange, "getrange s -100 -90", "$1\r\nH\r\n");
    EXPECT(cmd_getrange, "getrange s -100 2", "$3\r\nHel\r\n");
    EXPECT(cmd_getrange, "getrange s 10 100", "$1\r\nd\r\n");
    EXPECT(cmd_getrange, "getrange s 11 100", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "getrange s -9223372036854775808 9223372036854775807",
           "$11\r\nHello_World\r\n");
    EXPECT(cmd_getrange, "getrange s abc 1", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_getrange, "getrange nokey 0 1", "$0\r\n\r\n");
    EXPECT(cmd_set, "set e ''", "+OK\r\n");
    EXPECT(cmd_getrange, "getrange e 0 0", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "getrange e -1 -1", "$0\r\n\r\n");
}

static void test_setrange(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_setrange, "setrange k -1 x", "-ERR offset is out of range\r\n");
    EXPECT(cmd_setrange, "setrange k 536870912 x",
           "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    EXPECT(cmd_setrange, "setrange k 9223372036854775807 x",
           "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    EXPECT(cmd_setrange, "setrange k 536870911 ''", ":1\r\n");
    EXPECT(cmd_setrange, "setrange k 99999999999999999999 x",
           "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_setrange, "setrange nokey 5 ''", ":0\r\n");
    EXPECT(cmd_exists_part, "exists nokey", ":0\r\n");
    EXPECT(cmd_setrange, "setrange nokey 3 ab", ":5\r\n");
    assert_int_equal(f->out.len, 4);
    run(f, cmd_get, "get nokey");
    assert_int_equal(f->out.len, 11);
    assert_memory_equal(f->out.data, "$5\r\n\0\0\0ab\r\n", 11);
    EXPECT(cmd_setrange, "setrange nokey 1 XYZW", ":5\r\n");
    run(f, cmd_get, "get nokey");
    assert_memory_equal(f->out.data, "$5\r\n\0XYZW\r\n", 11);
    EXPECT(cmd_setrange, "setrange k 0 longervalue", ":11\r\n");
    EXPECT(cmd_get, "get k", "$11\r\nlongervalue\r\n");
    EXPECT(cmd_setrange, "setrange k 6 VAL", ":11\r\n");
    EXPECT(cmd_get, "get k", "$11\r\nlongerVALue\r\n");
}

static void test_incr_family(void **state)
{
    fixture *f = *state;
    const char *notint = "-ERR value is not an integer or out of range\r\n";
    const char *ovf = "-ERR increment or decrement would overflow\r\n";
    EXPECT(cmd_set, "set n 10", "+OK\r\n");
    EXPECT(cmd_incr, "incr n", ":11\r\n");
    EXPECT(cmd_decr, "decr n", ":10\r\n");
    EXPECT(cmd_incrby, "incrby n 5", ":15\r\n");
    EXPECT(cmd_decrby, "decrby n 3", ":12\r\n");
    EXPECT(cmd_get, "get n", "$2\r\n12\r\n");
    EXPECT(cmd_incrby, "incrby n abc", notint);
    EXPECT(cmd_incrby, "incrby n 9223372036854775807", ovf);
    EXPECT(cmd_decrby, "decrby n -9223372036854775808", "-ERR decrement would overflow\r\n");
    EXPECT(cmd_decrby, "decrby n 9223372036854775807", ":-9223372036854775795\r\n");
    EXPECT(cmd_incrby, "incrby n -9223372036854775808", ovf);
    EXPECT(cmd_set, "set n 9223372036854775807", "+OK\r\n");
    EXPECT(cmd_incr, "incr n", ovf);
    EXPECT(cmd_set, "set n -9223372036854775808", "+OK\r\n");
    EXPECT(cmd_decr, "decr n", ovf);
    const char *bad[] = {"abc", "01", "1.5", "-0", "123456789012345678901", "''"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "set n %s", bad[i]);
        EXPECT(cmd_set, line, "+OK\r\n");
        EXPECT(cmd_incr, "incr n", notint);
    }
    EXPECT(cmd_incr, "incr fresh", ":1\r\n");
    EXPECT(cmd_decr, "decr fresh2", ":-1\r\n");
    EXPECT(cmd_incrby, "incrby fresh3 -5", ":-5\r\n");
    /* INCR keeps the TTL */
    EXPECT(cmd_setex, "setex t 100 5", "+OK\r\n");
    EXPECT(cmd_incr, "incr t", ":6\r\n");
    EXPECT(cmd_ttl, "ttl t", ":100\r\n");
}

static void test_incrbyfloat(void **state)
{
    fixture *f = *state;
    const char *notfloat = "-ERR value is not a valid float\r\n";
    const char *naninf = "-ERR increment would produce NaN or Infinity\r\n";
    EXPECT(cmd_set, "set f 10.50", "+OK\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f 0.1", "$4\r\n10.6\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f 5.0e3", "$22\r\n5010.60000000000000009\r\n");
    EXPECT(cmd_set, "set f 3", "+OK\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f -3", "$1\r\n0\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat g 1.5e-5", "$8\r\n0.000015\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat h 0x10", "$2\r\n16\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat q 1e-30", "$1\r\n0\r\n");
    EXPECT(cmd_set, "set f 3.0", "+OK\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f 1.0", "$1\r\n4\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat f inf", naninf);
    EXPECT(cmd_incrbyfloat, "incrbyfloat f nan", notfloat);
    EXPECT(cmd_incrbyfloat, "incrbyfloat f abc", notfloat);
    EXPECT(cmd_incrbyfloat, "incrbyfloat f ''", notfloat);
    EXPECT(cmd_set, "set f 1.7976931348623157e308", "+OK\r\n");
    run(f, cmd_incrbyfloat, "incrbyfloat f 1.7976931348623157e308"); /* fits a long double */
    assert_memory_equal(f->out.data, "$309\r\n3595386269724631", 20);
    EXPECT(cmd_set, "set z abc", "+OK\r\n");
    EXPECT(cmd_incrbyfloat, "incrbyfloat z 1", notfloat);
    EXPECT(cmd_get, "get g", "$8\r\n0.000015\r\n");
}

static void test_mget_mset_del_exists(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_mset_part, "mset a 1 b 2", "+OK\r\n");
    EXPECT(cmd_mset_part, "mset a 1 b", "-ERR wrong number of arguments for 'mset' command\r\n");
    EXPECT(cmd_mget_part, "mget a b nonexist", "$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
    EXPECT(cmd_exists_part, "exists a a b nonexist", ":3\r\n");
    EXPECT(cmd_del_part, "del a a b nonexist", ":2\r\n");
    EXPECT(cmd_exists_part, "exists a b", ":0\r\n");
    EXPECT(cmd_type, "type a", "+none\r\n");
    EXPECT(cmd_set, "set a 1", "+OK\r\n");
    EXPECT(cmd_type, "type a", "+string\r\n");
    /* MSET drops TTLs */
    EXPECT(cmd_expire, "expire a 10", ":1\r\n");
    EXPECT(cmd_mset_part, "mset a 2", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl a", ":-1\r\n");
}

static void test_expire_family(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_expire, "expire k 100 foo", "-ERR Unsupported option foo\r\n");
    EXPECT(cmd_expire, "expire k 100 nx xx",
           "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    EXPECT(cmd_expire, "expire k 100 NX GT",
           "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    EXPECT(cmd_expire, "expire k 100 gt lt",
           "-ERR GT and LT options at the same time are not compatible\r\n");
    EXPECT(cmd_expire, "expire k abc nx xx",
           "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    EXPECT(cmd_expire, "expire k abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_expire, "expire k 9223372036854775",
           "-ERR invalid expire time in 'expire' command\r\n");
    EXPECT(cmd_pexpire, "pexpire k 9223372036854775807",
           "-ERR invalid expire time in 'pexpire' command\r\n");
    EXPECT(cmd_expireat, "expireat k 9223372036854775807",
           "-ERR invalid expire time in 'expireat' command\r\n");
    EXPECT(cmd_expire, "expire k -9223372036854775808",
           "-ERR invalid expire time in 'expire' command\r\n");
    EXPECT(cmd_exists_part, "exists k", ":1\r\n");
    EXPECT(cmd_expire, "expire k 100 xx", ":0\r\n");
    EXPECT(cmd_expire, "expire k 100 gt", ":0\r\n"); /* no TTL counts as infinite */
    EXPECT(cmd_expire, "expire k 100 lt", ":1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":100\r\n");
    EXPECT(cmd_expire, "expire k 200 nx", ":0\r\n");
    EXPECT(cmd_expire, "expire k 50 gt", ":0\r\n");
    EXPECT(cmd_expire, "expire k 300 gt", ":1\r\n");
    EXPECT(cmd_expire, "expire k 400 lt", ":0\r\n");
    EXPECT(cmd_expire, "expire k 30 lt", ":1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":30\r\n");
    EXPECT(cmd_expire, "expire k 31 xx", ":1\r\n");
    EXPECT(cmd_persist, "persist k", ":1\r\n");
    EXPECT(cmd_persist, "persist k", ":0\r\n");
    EXPECT(cmd_persist, "persist nokey", ":0\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
    EXPECT(cmd_pexpire, "pexpire k 5000", ":1\r\n");
    EXPECT(cmd_pttl, "pttl k", ":5000\r\n");
    EXPECT(cmd_pexpireat, "pexpireat k 1800000000500", ":1\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime k", ":1800000000500\r\n");
    EXPECT(cmd_expiretime, "expiretime k", ":1800000001\r\n");
    EXPECT(cmd_expireat, "expireat k 1800000000", ":1\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime k", ":1800000000000\r\n");
    EXPECT(cmd_expire, "expire nokey 10", ":0\r\n");
    EXPECT(cmd_ttl, "ttl nokey", ":-2\r\n");
    EXPECT(cmd_pttl, "pttl nokey", ":-2\r\n");
    EXPECT(cmd_expiretime, "expiretime nokey", ":-2\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime nokey", ":-2\r\n");
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_expiretime, "expiretime k", ":-1\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime k", ":-1\r\n");
    /* deadlines now or in the past delete the key */
    EXPECT(cmd_expire, "expire k 0", ":1\r\n");
    EXPECT(cmd_exists_part, "exists k", ":0\r\n");
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_expire, "expire k -5", ":1\r\n");
    EXPECT(cmd_exists_part, "exists k", ":0\r\n");
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_pexpireat, "pexpireat k 1", ":1\r\n");
    EXPECT(cmd_exists_part, "exists k", ":0\r\n");
    EXPECT(cmd_set, "set k v", "+OK\r\n");
    EXPECT(cmd_expireat, "expireat k 0 xx", ":0\r\n");
    EXPECT(cmd_exists_part, "exists k", ":1\r\n");
    assert_int_equal(f->s.volatile_keys, 0);
}

static void test_lazy_expiry_through_commands(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set k v px 100", "+OK\r\n");
    f->s.now_ms = T0 + 100;
    EXPECT(cmd_pttl, "pttl k", ":0\r\n");
    EXPECT(cmd_get, "get k", "$1\r\nv\r\n");
    f->s.now_ms = T0 + 101;
    EXPECT(cmd_get, "get k", "$-1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-2\r\n");
    assert_int_equal(f->s.stats.expired, 1);
    assert_int_equal(f->s.volatile_keys, 0);
    assert_int_equal(f->s.entry_bytes, 0);
    /* an expired key is absent for every command */
    EXPECT(cmd_set, "set k v px 10", "+OK\r\n");
    f->s.now_ms += 11;
    EXPECT(cmd_setnx, "setnx k w", ":1\r\n");
    EXPECT(cmd_ttl, "ttl k", ":-1\r\n");
}

static void test_rename(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set src v", "+OK\r\n");
    EXPECT(cmd_expire, "expire src 100", ":1\r\n");
    EXPECT(cmd_rename, "rename src dst", "+OK\r\n");
    EXPECT(cmd_ttl, "ttl dst", ":100\r\n");
    EXPECT(cmd_exists_part, "exists src", ":0\r\n");
    EXPECT(cmd_get, "get dst", "$1\r\nv\r\n");
    EXPECT(cmd_rename, "rename src dst", "-ERR no such key\r\n");
    EXPECT(cmd_rename, "rename dst dst", "+OK\r\n");
    EXPECT(cmd_renamenx, "renamenx dst dst", ":0\r\n");
    EXPECT(cmd_renamenx, "renamenx nosuch dst", "-ERR no such key\r\n");
    EXPECT(cmd_rename, "rename nosuch nosuch", "-ERR no such key\r\n");
    EXPECT(cmd_set, "set other o", "+OK\r\n");
    EXPECT(cmd_renamenx, "renamenx dst other", ":0\r\n");
    EXPECT(cmd_rename, "rename dst other", "+OK\r\n");
    EXPECT(cmd_get, "get other", "$1\r\nv\r\n");
    EXPECT(cmd_ttl, "ttl other", ":100\r\n");
    EXPECT(cmd_renamenx, "renamenx other brandnew", ":1\r\n");
    EXPECT(cmd_get, "get brandnew", "$1\r\nv\r\n");
    EXPECT(cmd_dbsize_part, "dbsize", ":1\r\n");
    assert_int_equal(f->s.volatile_keys, 1);
}

static void test_take_put(void **state)
{
    fixture *f = *state;
    /* typed only: without a result to fill it is an internal error */
    EXPECT(cmd_take_part, "take nokey",
           "-ERR internal error: a typed part called without a result\r\n");
    assert_string_equal(run_typed(f, cmd_take_part, "take nokey"), "");
    assert_int_equal(f->res.kind, CMD_RES_ABSENT);
    EXPECT(cmd_set, "set k hello", "+OK\r\n");
    assert_string_equal(run_typed(f, cmd_take_part, "take k"), "hello"); /* the bytes only */
    assert_int_equal(f->res.kind, CMD_RES_TAKE);
    assert_int_equal(f->res.num, -1);
    assert_int_equal(f->res.type, KV_TYPE_STRING);
    EXPECT(cmd_exists_part, "exists k", ":0\r\n");
    EXPECT(cmd_set, "set k -hello pxat 1800000000000", "+OK\r\n");
    assert_string_equal(run_typed(f, cmd_take_part, "take k"), "-hello");
    assert_int_equal(f->res.kind, CMD_RES_TAKE);
    assert_int_equal(f->res.num, 1800000000000ll);
    EXPECT(cmd_put_part, "put d world 1800000000000 0", "+OK\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime d", ":1800000000000\r\n");
    EXPECT(cmd_put_part, "put d world2 -1 0", "+OK\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime d", ":-1\r\n");
    EXPECT(cmd_get, "get d", "$6\r\nworld2\r\n");
    EXPECT(cmd_put_part, "put d x abc 0", "-ERR value is not an integer or out of range\r\n");
    assert_int_equal(f->s.volatile_keys, 0);
}

static void test_keys_dbsize_flush(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_keys_part, "keys *", "*0\r\n");
    EXPECT(cmd_randomkey_part, "randomkey", "$-1\r\n");
    EXPECT(cmd_mset_part, "mset user:1 a user:2 b other c", "+OK\r\n");
    EXPECT(cmd_keys_part, "keys other", "*1\r\n$5\r\nother\r\n");
    run(f, cmd_keys_part, "keys user:*");
    assert_true(strcmp(f->out.data, "*2\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n") == 0 ||
                strcmp(f->out.data, "*2\r\n$6\r\nuser:2\r\n$6\r\nuser:1\r\n") == 0);
    run(f, cmd_keys_part, "keys *");
    assert_memory_equal(f->out.data, "*3\r\n", 4);
    EXPECT(cmd_keys_part, "keys user:[3-9]", "*0\r\n");
    EXPECT(cmd_dbsize_part, "dbsize", ":3\r\n");
    run(f, cmd_randomkey_part, "randomkey");
    assert_memory_equal(f->out.data, "$", 1);
    /* expired keys are not listed */
    EXPECT(cmd_pexpire, "pexpire other 1", ":1\r\n");
    f->s.now_ms += 2;
    run(f, cmd_keys_part, "keys *");
    assert_memory_equal(f->out.data, "*2\r\n", 4);
    EXPECT(cmd_flushall_part, "flushall foo", "-ERR syntax error\r\n");
    EXPECT(cmd_flushall_part, "flushall sync async", "-ERR syntax error\r\n");
    EXPECT(cmd_flushall_part, "flushall ASYNC", "+OK\r\n");
    EXPECT(cmd_dbsize_part, "dbsize", ":0\r\n");
    EXPECT(cmd_flushall_part, "flushdb", "+OK\r\n");
    assert_int_equal(f->s.entry_bytes, 0);
}

static void test_scan(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_scan, "scan 0", "*2\r\n$1\r\n0\r\n*0\r\n");
    EXPECT(cmd_scan, "scan 0 count 0", "-ERR syntax error\r\n");
    EXPECT(cmd_scan, "scan 0 count -1", "-ERR syntax error\r\n");
    EXPECT(cmd_scan, "scan 0 count abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_scan, "scan 0 match", "-ERR syntax error\r\n");
    EXPECT(cmd_scan, "scan 0 foo bar", "-ERR syntax error\r\n");
    EXPECT(cmd_scan, "scan abc", "-ERR invalid cursor\r\n");
    EXPECT(cmd_scan, "scan 18446744073709551616", "-ERR invalid cursor\r\n");
    EXPECT(cmd_set, "set a 1", "+OK\r\n");
    EXPECT(cmd_scan, "scan 0", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");
    EXPECT(cmd_scan, "scan 0 TYPE STRING match a", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");
    EXPECT(cmd_scan, "scan 0 type hash", "*2\r\n$1\r\n0\r\n*0\r\n");
    EXPECT(cmd_scan, "scan 0 match b*", "*2\r\n$1\r\n0\r\n*0\r\n");

    /* a full iteration with small pages returns every key */
    char line[64];
    for (int i = 0; i < 500; i++) {
        snprintf(line, sizeof line, "set key:%d v", i);
        EXPECT(cmd_set, line, "+OK\r\n");
    }
    static unsigned char seen[500];
    memset(seen, 0, sizeof seen);
    unsigned long long cursor = 0;
    int pages = 0;
    do {
        snprintf(line, sizeof line, "scan %llu count 7 match key:*", cursor);
        run(f, cmd_scan, line);
        size_t len = reply_elem_len(f->out.data, f->out.len);
        assert_int_equal(len, f->out.len);
        const char *p = f->out.data;
        assert_memory_equal(p, "*2\r\n$", 5);
        p = strchr(p + 5, '\n') + 1;
        cursor = strtoull(p, NULL, 10);
        p = strchr(p, '\n') + 1;
        assert_int_equal(*p, '*');
        long n = strtol(p + 1, NULL, 10);
        p = strchr(p, '\n') + 1;
        for (long k = 0; k < n; k++) {
            long klen = strtol(p + 1, NULL, 10);
            p = strchr(p, '\n') + 1;
            assert_memory_equal(p, "key:", 4);
            int id = atoi(p + 4);
            assert_true(klen >= 5 && id >= 0 && id < 500);
            seen[id] = 1;
            p += klen + 2;
        }
        pages++;
    } while (cursor != 0);
    assert_true(pages > 10);
    for (int i = 0; i < 500; i++) assert_true(seen[i]);
}

/* The router's hash of argv[1] reaches the shard as a parameter of the
 * call (cmd_call.key_hash): shard_call hands it to shard_hash for that
 * call only, so a wrong one given is used (and misses), and none is left
 * behind in the shard. */
static void test_key_hash_param(void **state)
{
    fixture *f = *state;
    uint32_t h = (uint32_t)kv_hash(&secret, "k", 1);
    kv_str set[3] = {{"set", 3}, {"k", 1}, {"v", 1}};
    cmd_call c = {.argc = 3, .argv = set, .out = &f->out, .key_hash = h, .has_hash = 1};
    kvbuf_reset(&f->out);
    shard_call(&f->s, cmd_set, &c);
    assert_memory_equal(f->out.data, "+OK\r\n", 5);
    assert_null(f->s.call);
    EXPECT(cmd_get, "get k", "$1\r\nv\r\n"); /* hashed by the shard: the same */
    kv_str get[2] = {{"get", 3}, {"k", 1}};
    cmd_call g = {
        .argc = 2, .argv = get, .out = &f->out, .key_hash = h ^ 0x5a5a5a5au, .has_hash = 1};
    kvbuf_reset(&f->out);
    shard_call(&f->s, cmd_get, &g);
    assert_int_equal(f->out.len, 5);
    assert_memory_equal(f->out.data, "$-1\r\n", 5); /* looked up under the hash given */
    g.has_hash = 0;
    kvbuf_reset(&f->out);
    shard_call(&f->s, cmd_get, &g);
    assert_memory_equal(f->out.data, "$1\r\nv\r\n", 7);
}

/* SCAN with a typed answer: the client's keys array in the reply, the
 * shard's next cursor and the page's size in the result (the router makes
 * the client's cursor from them); an error stays a reply. */
static void test_scan_typed(void **state)
{
    fixture *f = *state;
    assert_string_equal(run_typed(f, cmd_scan, "scan 0"), "*0\r\n");
    assert_int_equal(f->res.kind, CMD_RES_SCAN);
    assert_int_equal(f->res.num, 0);
    assert_int_equal(f->res.count, 0);
    EXPECT(cmd_set, "set a 1", "+OK\r\n");
    assert_string_equal(run_typed(f, cmd_scan, "scan 0"), "*1\r\n$1\r\na\r\n");
    assert_int_equal(f->res.kind, CMD_RES_SCAN);
    assert_int_equal(f->res.count, 1);
    assert_string_equal(run_typed(f, cmd_scan, "scan 0 count 0"), "-ERR syntax error\r\n");
    assert_int_equal(f->res.kind, CMD_RES_NONE);
    char line[64];
    for (int i = 0; i < 200; i++) {
        snprintf(line, sizeof line, "set key:%d v", i);
        EXPECT(cmd_set, line, "+OK\r\n");
    }
    int64_t cursor = 0, seen = 0;
    do {
        snprintf(line, sizeof line, "scan %lld count 5", (long long)cursor);
        run_typed(f, cmd_scan, line);
        assert_int_equal(f->res.kind, CMD_RES_SCAN);
        seen += f->res.count;
        cursor = f->res.num;
    } while (cursor != 0);
    assert_true(seen >= 201);
}

/* The DEL, EXISTS and DBSIZE parts answer their count in type too. */
static void test_counts_typed(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set a 1", "+OK\r\n");
    assert_string_equal(run_typed(f, cmd_exists_part, "exists a b a"), ":2\r\n");
    assert_int_equal(f->res.kind, CMD_RES_INT);
    assert_int_equal(f->res.num, 2);
    assert_string_equal(run_typed(f, cmd_dbsize_part, "dbsize"), ":1\r\n");
    assert_int_equal(f->res.num, 1);
    /* KEYS: the bulks only, the count in type; RANDOMKEY: 1 or 0 keys */
    assert_string_equal(run_typed(f, cmd_keys_part, "keys *"), "$1\r\na\r\n");
    assert_int_equal(f->res.kind, CMD_RES_KEYS);
    assert_int_equal(f->res.count, 1);
    assert_string_equal(run_typed(f, cmd_randomkey_part, "randomkey"), "$1\r\na\r\n");
    assert_int_equal(f->res.kind, CMD_RES_KEYS);
    assert_int_equal(f->res.count, 1);
    assert_string_equal(run_typed(f, cmd_del_part, "del a b"), ":1\r\n");
    assert_int_equal(f->res.kind, CMD_RES_INT);
    assert_int_equal(f->res.num, 1);
    assert_string_equal(run_typed(f, cmd_keys_part, "keys *"), "");
    assert_int_equal(f->res.count, 0);
    assert_string_equal(run_typed(f, cmd_randomkey_part, "randomkey"), "$-1\r\n");
    assert_int_equal(f->res.kind, CMD_RES_KEYS);
    assert_int_equal(f->res.count, 0);
}

static void test_info_part(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set a 1 ex 100", "+OK\r\n");
    EXPECT(cmd_set, "set b 2", "+OK\r\n");
    EXPECT(cmd_get, "get a", "$1\r\n1\r\n");
    EXPECT(cmd_get, "get zz", "$-1\r\n");
    assert_string_equal(run_typed(f, cmd_info_part, "info"), ""); /* typed only */
    assert_int_equal(f->res.kind, CMD_RES_FIGURES);
    const cmd_figures *g = f->res.fig;
    /* keys, expires, memory, hits, misses, expired, commands (the INFO part
     * too: shard_call counts every dispatch, before it runs), evicted, the
     * active cycle's stale share, time caps and time (none ran), and the
     * remaining TTLs' sum (a: 100 s, the clock has not moved) */
    int64_t want[CMD_INFO_NFIELDS] = {2, 1,     (int64_t)shard_mem(&f->s), 1, 1, 0, 5, 0, 0, 0,
                                      0, 100000};
    for (int k = 0; k < CMD_INFO_NFIELDS; k++) assert_int_equal(g->v[k], want[k]);
    assert_int_equal(g->ndb, 0);
    /* a key in database 3: its own figures */
    f->s.db = 3;
    EXPECT(cmd_set, "set c 3 px 5000", "+OK\r\n");
    f->s.db = 0;
    run_typed(f, cmd_info_part, "info");
    g = f->res.fig;
    assert_int_equal(g->v[CMD_INFO_KEYS], 3);
    assert_int_equal(g->ndb, 1);
    assert_int_equal(g->db[0].db, 3);
    assert_int_equal(g->db[0].keys, 1);
    assert_int_equal(g->db[0].expires, 1);
    assert_int_equal(g->db[0].ttl_ms, 5000);
}

/* MEMORY USAGE and OBJECT (cmd_object.c): the key is argv[2]; no hit,
 * miss or access is counted; an expired key is gone. */
static void test_object_part(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set n 12345", "+OK\r\n");
    EXPECT(cmd_set, "set w hello", "+OK\r\n");
    EXPECT(cmd_set, "set t v px 10", "+OK\r\n");
    EXPECT(cmd_object, "object encoding n", "$3\r\nint\r\n");
    EXPECT(cmd_object, "object ENCODING w", "$6\r\nembstr\r\n");
    EXPECT(cmd_object, "object encoding nokey", "$-1\r\n");
    EXPECT(cmd_object, "object refcount w", ":1\r\n");
    EXPECT(cmd_object, "object encoding w x",
           "-ERR wrong number of arguments for 'object|encoding' command\r\n");
    f->s.now_ms += 5000;
    EXPECT(cmd_object, "object idletime w", ":5\r\n");
    EXPECT(cmd_object, "object idletime w", ":5\r\n"); /* looking is no access */
    EXPECT(cmd_memory_usage, "memory usage nokey", "$-1\r\n");
    EXPECT(cmd_memory_usage, "memory usage w samples x",
           "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_memory_usage, "memory usage w foo", "-ERR syntax error\r\n");
    EXPECT(cmd_memory_usage, "memory usage t", "$-1\r\n"); /* expired */
    assert_int_equal(f->s.stats.hits + f->s.stats.misses, 0);
    const char *r = run(f, cmd_memory_usage, "memory usage w samples 5");
    assert_true(r[0] == ':' && atoi(r + 1) >= (int)(sizeof(kv_entry) + 6));
}

/* Reads count hits and misses as redis-server 7.0 does; writes do not. */
static void test_hit_miss_stats(void **state)
{
    fixture *f = *state;
    static const struct {
        cmd_fn *fn;
        const char *line;
        int hits, misses;
    } seq[] = {
        {cmd_set, "set a 1", 0, 0},
        {cmd_exists_part, "exists a", 1, 0},
        {cmd_exists_part, "exists b", 1, 1},
        {cmd_ttl, "ttl a", 2, 1},
        {cmd_ttl, "ttl b", 2, 2},
        {cmd_type, "type a", 3, 2},
        {cmd_type, "type b", 3, 3},
        {cmd_getrange, "getrange a 0 1", 4, 3},
        {cmd_strlen, "strlen b", 4, 4},
        {cmd_set, "set a 2 get", 5, 4},
        {cmd_getdel, "getdel b", 5, 5},
        {cmd_getset, "getset a 3", 6, 5},
        {cmd_incr, "incr a", 6, 5},
        {cmd_append, "append a x", 6, 5},
        {cmd_persist, "persist a", 6, 5},
        {cmd_expire, "expire a 100", 6, 5},
        {cmd_rename, "rename a c", 6, 5},
        {cmd_setrange, "setrange c 0 x", 6, 5},
        {cmd_getex, "getex c", 7, 5},
        {cmd_mget_part, "mget c d", 8, 6},
    };
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        run(f, seq[i].fn, seq[i].line);
        if ((int)f->s.stats.hits != seq[i].hits || (int)f->s.stats.misses != seq[i].misses)
            fail_msg("after '%s': hits %d misses %d, want %d %d", seq[i].line, (int)f->s.stats.hits,
                     (int)f->s.stats.misses, seq[i].hits, seq[i].misses);
    }
    assert_int_equal(f->s.stats.commands, sizeof seq / sizeof seq[0]);
}

/* Commands are counted in one place, shard_call (as Redis's call()): a
 * handler run by itself counts nothing, and every dispatch through
 * shard_call counts exactly one, whatever the handler (parts of multi-key
 * commands, the INFO part, errors included). */
static void test_count_once(void **state)
{
    fixture *f = *state;
    static const struct {
        cmd_fn *fn;
        const char *line;
    } cmds[] = {
        {cmd_set, "set a 1"},          {cmd_get, "get a"},
        {cmd_mget_part, "mget a b"},   {cmd_mset_part, "mset c 1 d 2"},
        {cmd_incr, "incr n"},          {cmd_incr, "incr a b"},
        {cmd_expire, "expire a 100"},  {cmd_ttl, "ttl a"},
        {cmd_hset, "hset h f v"},      {cmd_hgetall, "hgetall h"},
        {cmd_lpush, "lpush l x"},      {cmd_lpop, "lpop l"},
        {cmd_sadd, "sadd s x"},        {cmd_zadd, "zadd z 1 m"},
        {cmd_zrange, "zrange z 0 -1"}, {cmd_rename, "rename a b"},
        {cmd_del_part, "del b c d"},   {cmd_dbsize_part, "dbsize"},
        {cmd_info_part, "info"},       {cmd_set, "set x 1 badopt"},
    };
    size_t n = sizeof cmds / sizeof cmds[0];
    for (size_t i = 0; i < n; i++) {
        kv_str argv[8];
        int argc = 0;
        char copy[64];
        snprintf(copy, sizeof copy, "%s", cmds[i].line);
        for (char *p = strtok(copy, " "); p != NULL; p = strtok(NULL, " ")) {
            argv[argc].p = p;
            argv[argc].len = strlen(p);
            argc++;
        }
        cmd_call c = {.argc = argc, .argv = argv, .out = &f->out};
        kvbuf_reset(&f->out);
        cmds[i].fn(&f->s, &c);
        if (f->s.stats.commands != 0)
            fail_msg("'%s' run by itself counted %llu commands", cmds[i].line,
                     (unsigned long long)f->s.stats.commands);
    }
    for (size_t i = 0; i < n; i++) {
        run(f, cmds[i].fn, cmds[i].line);
        if (f->s.stats.commands != i + 1)
            fail_msg("after '%s' through shard_call: %llu commands, want %zu", cmds[i].line,
                     (unsigned long long)f->s.stats.commands, i + 1);
    }
}

static void test_binary_safe(void **state)
{
    fixture *f = *state;
    kv_str set[3] = {{"set", 3}, {"k\0\r\n", 4}, {"v\0\r\nx", 5}};
    cmd_call c = {.argc = 3, .argv = set, .out = &f->out};
    kvbuf_reset(&f->out);
    cmd_set(&f->s, &c);
    kv_str get[2] = {{"get", 3}, {"k\0\r\n", 4}};
    c.argc = 2;
    c.argv = get;
    kvbuf_reset(&f->out);
    cmd_get(&f->s, &c);
    assert_int_equal(f->out.len, 11);
    assert_memory_equal(f->out.data, "$5\r\nv\0\r\nx\r\n", 11);
    kv_str other[2] = {{"get", 3}, {"k\0\r\r", 4}};
    c.argv = other;
    kvbuf_reset(&f->out);
    cmd_get(&f->s, &c);
    assert_memory_equal(f->out.data, "$-1\r\n", 5);
}

static void test_big_append(void **state)
{
    fixture *f = *state;
    /* APPEND and SETRANGE beyond 512 MB: refused */
    EXPECT(cmd_setrange, "setrange big 536870910 ab", ":536870912\r\n");
    EXPECT(cmd_append, "append big x",
           "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    EXPECT(cmd_setrange, "setrange big 536870911 ab",
           "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    EXPECT(cmd_strlen, "strlen big", ":536870912\r\n");
    EXPECT(cmd_del_part, "del big", ":1\r\n");
    /* many appends stay cheap and exact */
    for (int i = 0; i < 20000; i++) run(f, cmd_append, "append a 0123456789");
    EXPECT(cmd_strlen, "strlen a", ":200000\r\n");
    EXPECT(cmd_getrange, "getrange a -3 -1", "$3\r\n789\r\n");
}

/* ---- hashes (replies as redis-server 7.0 gives them) ---- */

#define WT "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

static void test_hash_basic(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_hset, "hset h a 1 b 2", ":2\r\n");
    EXPECT(cmd_hset, "hset h a 3 c 4", ":1\r\n");
    EXPECT(cmd_hset, "hset h a", "-ERR wrong number of arguments for 'hset' command\r\n");
    EXPECT(cmd_hmset, "HMSET h d 5", "+OK\r\n");
    EXPECT(cmd_hmset, "hmset h d 5 e", "-ERR wrong number of arguments for 'hmset' command\r\n");
    EXPECT(cmd_hget, "hget h a", "$1\r\n3\r\n");
    EXPECT(cmd_hget, "hget h zz", "$-1\r\n");
    EXPECT(cmd_hget, "hget nokey a", "$-1\r\n");
    EXPECT(cmd_hmget, "hmget h a zz b", "*3\r\n$1\r\n3\r\n$-1\r\n$1\r\n2\r\n");
    EXPECT(cmd_hmget, "hmget nokey a b", "*2\r\n$-1\r\n$-1\r\n");
    EXPECT(cmd_hgetall, "hgetall h",
           "*8\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n$1\r\nd\r\n$"
           "1\r\n5\r\n");
    EXPECT(cmd_hkeys, "hkeys h", "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n");
    EXPECT(cmd_hvals, "hvals h", "*4\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n4\r\n$1\r\n5\r\n");
    EXPECT(cmd_hgetall, "hgetall nokey", "*0\r\n");
    EXPECT(cmd_hlen, "hlen h", ":4\r\n");
    EXPECT(cmd_hlen, "hlen nokey", ":0\r\n");
    EXPECT(cmd_hexists, "hexists h a", ":1\r\n");
    EXPECT(cmd_hexists, "hexists h q", ":0\r\n");
    EXPECT(cmd_hstrlen, "hstrlen h a", ":1\r\n");
    EXPECT(cmd_hstrlen, "hstrlen h q", ":0\r\n");
    EXPECT(cmd_hsetnx, "hsetnx h a x", ":0\r\n");
    EXPECT(cmd_hsetnx, "hsetnx h z x", ":1\r\n");
    EXPECT(cmd_hsetnx, "hsetnx n z x", ":1\r\n");
    EXPECT(cmd_hdel, "hdel h a zz b", ":2\r\n");
    EXPECT(cmd_hdel, "hdel nokey a", ":0\r\n");
    EXPECT(cmd_type, "type h", "+hash\r\n");
    EXPECT(cmd_hdel, "hdel h c d z", ":3\r\n");
    EXPECT(cmd_exists_part, "exists h", ":0\r\n"); /* the last field took the key */
    EXPECT(cmd_hset, "hset e '' ''", ":1\r\n");
    EXPECT(cmd_hget, "hget e ''", "$0\r\n\r\n");
    EXPECT(cmd_dbsize_part, "dbsize", ":2\r\n");
}

static void test_hash_wrongtype(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set s v", "+OK\r\n");
    EXPECT(cmd_hset, "hset h f v", ":1\r\n");
    EXPECT(cmd_hset, "hset s f v", WT);
    EXPECT(cmd_hmset, "hmset s f v", WT);
    EXPECT(cmd_hsetnx, "hsetnx s f v", WT);
    EXPECT(cmd_hget, "hget s f", WT);
    EXPECT(cmd_hmget, "hmget s f", WT);
    EXPECT(cmd_hgetall, "hgetall s", WT);
    EXPECT(cmd_hkeys, "hkeys s", WT);
    EXPECT(cmd_hvals, "hvals s", WT);
    EXPECT(cmd_hdel, "hdel s f", WT);
    EXPECT(cmd_hlen, "hlen s", WT);
    EXPECT(cmd_hexists, "hexists s f", WT);
    EXPECT(cmd_hstrlen, "hstrlen s f", WT);
    EXPECT(cmd_hincrby, "hincrby s f 1", WT);
    EXPECT(cmd_hincrbyfloat, "hincrbyfloat s f 1", WT);
    EXPECT(cmd_hrandfield, "hrandfield s", WT);
    EXPECT(cmd_hrandfield, "hrandfield s 0", WT);
    EXPECT(cmd_hscan, "hscan s 0", WT);
    EXPECT(cmd_get, "get h", WT);
    EXPECT(cmd_append, "append h x", WT);
    EXPECT(cmd_incr, "incr h", WT);
    EXPECT(cmd_getrange, "getrange h 0 1", WT);
    EXPECT(cmd_setrange, "setrange h 0 x", WT);
    EXPECT(cmd_strlen, "strlen h", WT);
    EXPECT(cmd_getset, "getset h x", WT);
    EXPECT(cmd_getdel, "getdel h", WT);
    EXPECT(cmd_mget_part, "mget h s", "$-1\r\n$1\r\nv\r\n");
    EXPECT(cmd_setnx, "setnx h x", ":0\r\n");
    EXPECT(cmd_set, "set h x", "+OK\r\n"); /* SET replaces a hash */
    EXPECT(cmd_get, "get h", "$1\r\nx\r\n");
    EXPECT(cmd_hset, "hset h f v", WT);
}

static void test_hash_incr(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_hincrby, "hincrby h n 5", ":5\r\n");
    EXPECT(cmd_hincrby, "hincrby h n -7", ":-2\r\n");
    EXPECT(cmd_hincrby, "hincrby h n x", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_hset, "hset h s abc", ":1\r\n");
    EXPECT(cmd_hincrby, "hincrby h s 1", "-ERR hash value is not an integer\r\n");
    EXPECT(cmd_hincrby, "hincrby h m 9223372036854775807", ":9223372036854775807\r\n");
    EXPECT(cmd_hincrby, "hincrby h m 1", "-ERR increment or decrement would overflow\r\n");
    EXPECT(cmd_hincrbyfloat, "hincrbyfloat h x 1.5", "$3\r\n1.5\r\n");
    EXPECT(cmd_hincrbyfloat, "hincrbyfloat h x 5.0e3", "$6\r\n5001.5\r\n");
    EXPECT(cmd_hincrbyfloat, "hincrbyfloat h x abc", "-ERR value is not a valid float\r\n");
    EXPECT(cmd_hincrbyfloat, "hincrbyfloat h s 1", "-ERR hash value is not a float\r\n");
    EXPECT(cmd_hincrbyfloat, "hincrbyfloat h x inf", "-ERR value is NaN or Infinity\r\n");
    EXPECT(cmd_hincrbyfloat, "hincrbyfloat h n 1", "$2\r\n-1\r\n");
    EXPECT(cmd_hget, "hget h x", "$6\r\n5001.5\r\n");
}

static void test_hash_randfield(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_hrandfield, "hrandfield nokey", "$-1\r\n");
    EXPECT(cmd_hrandfield, "hrandfield nokey 3", "*0\r\n");
    EXPECT(cmd_hset, "hset h a 1", ":1\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h", "$1\r\na\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h 0", "*0\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h 5", "*1\r\n$1\r\na\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h -3", "*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h -2 withvalues",
           "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h 1 x", "-ERR syntax error\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h 1 withvalues x", "-ERR syntax error\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h 9223372036854775807 withvalues",
           "-ERR value is out of range\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h -16777217", "-ERR value is out of range\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h -9223372036854775808",
           "-ERR value is out of range, value must between -9223372036854775807 and "
           "9223372036854775807\r\n");
    /* distinct picks from a bigger hash */
    for (int i = 0; i < 300; i++) {
        char line[64];
        snprintf(line, sizeof line, "hset big f%d v%d", i, i);
        run(f, cmd_hset, line);
    }
    const char *r = run(f, cmd_hrandfield, "hrandfield big 250");
    assert_memory_equal(r, "*250\r\n", 6);
    int seen[300] = {0};
    for (const char *p = r; (p = strstr(p, "\r\nf")) != NULL; p += 3) seen[atoi(p + 3)]++;
    int total = 0;
    for (int i = 0; i < 300; i++) {
        assert_true(seen[i] <= 1);
        total += seen[i];
    }
    assert_int_equal(total, 250);
}

static void test_hash_scan(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_hscan, "hscan nokey 0 count 0", "*2\r\n$1\r\n0\r\n*0\r\n");
    EXPECT(cmd_hset, "hset h a 1 b 2 ab 3", ":3\r\n");
    EXPECT(cmd_hscan, "hscan h 0",
           "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$2\r\nab\r\n$"
           "1\r\n3\r\n");
    EXPECT(cmd_hscan, "hscan h 0 match a*",
           "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$2\r\nab\r\n$1\r\n3\r\n");
    EXPECT(cmd_hscan, "hscan h abc", "-ERR invalid cursor\r\n");
    EXPECT(cmd_hscan, "hscan h 0 count 0", "-ERR syntax error\r\n");
    EXPECT(cmd_hscan, "hscan h 0 type hash", "-ERR syntax error\r\n");
    EXPECT(cmd_hscan, "hscan h 0 match", "-ERR syntax error\r\n");
    /* a table: the cursor walks it; every field comes back */
    for (int i = 0; i < 1000; i++) {
        char line[64];
        snprintf(line, sizeof line, "hset t f%d v", i);
        run(f, cmd_hset, line);
    }
    int seen[1000] = {0}, calls = 0;
    char line[64] = "hscan t 0 count 20";
    for (;;) {
        const char *r = run(f, cmd_hscan, line);
        calls++;
        const char *cur = strstr(r, "\r\n$") + 3;
        cur = strstr(cur, "\r\n") + 2;
        unsigned long long c = strtoull(cur, NULL, 10);
        for (const char *p = r; (p = strstr(p, "\r\nf")) != NULL; p += 3) seen[atoi(p + 3)]++;
        if (c == 0) break;
        snprintf(line, sizeof line, "hscan t %llu count 20", c);
    }
    for (int i = 0; i < 1000; i++) assert_true(seen[i] >= 1);
    assert_true(calls > 10);
}

/* entry_bytes follows the hash's real memory through every change. */
static size_t sum_mem;
static void add_mem(void *arg, kv_entry *e)
{
    (void)arg;
    sum_mem += entry_mem(e);
}

static void test_hash_memory_and_rename(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 500; i++) {
        char line[128];
        snprintf(line, sizeof line, "hset h f%d %0*d", i, 10 + i % 50, i);
        run(f, cmd_hset, line);
    }
    sum_mem = 0;
    ht_foreach(&f->s.table, add_mem, NULL);
    assert_int_equal(f->s.entry_bytes, sum_mem);
    assert_true(f->s.entry_bytes > 500 * 20);
    EXPECT(cmd_expire, "expire h 100", ":1\r\n");
    EXPECT(cmd_ttl, "ttl h", ":100\r\n");
    EXPECT(cmd_rename, "rename h hm", "+OK\r\n");
    /* the value moves with its access history (e->lru), as in Redis */
    kv_entry *src = ht_find(&f->s.table, shard_hash(&f->s, "hm", 2), "hm", 2);
    src->lru = 1234;
    assert_int_equal(shard_move(&f->s, src, "h", 1)->lru, 1234);
    EXPECT(cmd_rename, "rename h h2", "+OK\r\n");
    EXPECT(cmd_hlen, "hlen h2", ":500\r\n");
    EXPECT(cmd_ttl, "ttl h2", ":100\r\n");
    EXPECT(cmd_persist, "persist h2", ":1\r\n");
    EXPECT(cmd_hget, "hget h2 f7", "$17\r\n00000000000000007\r\n");
    for (int i = 0; i < 499; i++) {
        char line[64];
        snprintf(line, sizeof line, "hdel h2 f%d", i);
        run(f, cmd_hdel, line);
    }
    sum_mem = 0;
    ht_foreach(&f->s.table, add_mem, NULL);
    assert_int_equal(f->s.entry_bytes, sum_mem);
    /* TAKE/PUT carry the whole hash with its expiry */
    EXPECT(cmd_hset, "hset h2 x y", ":1\r\n");
    EXPECT(cmd_pexpireat, "pexpireat h2 1800000000000", ":1\r\n");
    run_typed(f, cmd_take_part, "take h2");
    assert_int_equal(f->res.kind, CMD_RES_TAKE);
    assert_int_equal(f->res.num, 1800000000000ll);
    assert_int_equal(f->res.type, KV_TYPE_HASH);
    size_t vlen = f->out.len;
    char *copy = malloc(vlen + 1);
    memcpy(copy, f->out.data, vlen); /* the value is the reply's bytes */
    char *val = copy;
    kv_str argv[5] = {{"put", 3}, {"d", 1}, {val, vlen}, {"1800000000000", 13}, {"1", 1}};
    cmd_call c = {.argc = 5, .argv = argv, .out = &f->out};
    kvbuf_reset(&f->out);
    cmd_put_part(&f->s, &c);
    assert_memory_equal(f->out.data, "+OK\r\n", 5);
    free(copy);
    EXPECT(cmd_exists_part, "exists h2", ":0\r\n");
    EXPECT(cmd_hgetall, "hgetall d",
           "*4\r\n$4\r\nf499\r\n$59\r\n"
           "00000000000000000000000000000000000000000000000000000000499\r\n$1\r\nx\r\n$1\r\ny\r\n");
    EXPECT(cmd_pexpiretime, "pexpiretime d", ":1800000000000\r\n");
    EXPECT(cmd_flushall_part, "flushall", "+OK\r\n");
    assert_int_equal(f->s.entry_bytes, 0);
}

/* Member i of the sorted set z is m at score d. */
static void assert_zmember(const zobj_t *z, size_t i, const char *m, double d)
{
    kv_str got;
    double score;
    assert_non_null(z);
    zobj_at(z, i, &got, &score);
    assert_int_equal(got.len, strlen(m));
    assert_memory_equal(got.p, m, got.len);
    assert_true(score == d);
}

/* fn answers line with reply, and in type that n elements were popped. */
static void expect_popped(fixture *f, cmd_fn *fn, const char *line, const char *reply, int64_t n)
{
    assert_string_equal(run_typed(f, fn, line), reply);
    assert_int_equal(f->res.kind, CMD_RES_POPPED);
    assert_int_equal(f->res.num, n);
}

/* SMOVE's order of checks (Redis 7.0): an absent source answers 0 before
 * the destination's type is looked at; a wrong-type destination is refused
 * even when the member is not in the source. */
static void test_smove_checks(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_set, "set str v", "+OK\r\n");
    EXPECT(cmd_sadd, "sadd s a", ":1\r\n");
    EXPECT(cmd_smove, "smove nos str a", ":0\r\n");
    EXPECT(cmd_smove, "smove str s a",
           "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    EXPECT(cmd_smove, "smove s str zz",
           "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    EXPECT(cmd_smove, "smove s s zz", ":0\r\n");
    EXPECT(cmd_smove, "smove s d a", ":1\r\n");
    EXPECT(cmd_smove, "smove s d a", ":0\r\n");
}

/* The parts that feed the sorted-set gather and the cross-shard ZMPOP/LMPOP
 * (net/route.c) answer in type: copies of the sorted sets, the range to
 * store, how many were popped; nothing to parse back from RESP. */
static void test_zset_parts_typed(void **state)
{
    fixture *f = *state;
    EXPECT(cmd_zadd, "zadd z 1 a 2.5 b", ":2\r\n");
    EXPECT(cmd_sadd, "sadd s x", ":1\r\n");
    EXPECT(cmd_set, "set str v", "+OK\r\n");
    assert_string_equal(run_typed(f, cmd_zmembers_part, "zmembers z nokey s z"), "");
    assert_int_equal(f->res.kind, CMD_RES_ZSETS);
    assert_int_equal(f->res.count, 4);
    assert_int_equal(zobj_len(f->res.zsets[0]), 2);
    assert_zmember(f->res.zsets[0], 1, "b", 2.5);
    assert_null(f->res.zsets[1]);
    assert_int_equal(zobj_len(f->res.zsets[2]), 1); /* a set: its members at score 1 */
    assert_zmember(f->res.zsets[2], 0, "x", 1.0);
    assert_ptr_not_equal(f->res.zsets[3], f->res.zsets[0]); /* a copy each */
    assert_int_equal(zobj_len(f->res.zsets[3]), 2);
    assert_string_equal(run_typed(f, cmd_zmembers_part, "zmembers z str"),
                        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_int_equal(f->res.kind, CMD_RES_NONE);
    EXPECT(cmd_zmembers_part, "zmembers z",
           "-ERR internal error: a typed part called without a result\r\n");

    assert_string_equal(run_typed(f, cmd_zrangestore_part, "zrangestore d z 1 -1"), "");
    assert_int_equal(f->res.kind, CMD_RES_ZSETS);
    assert_int_equal(f->res.count, 1);
    assert_int_equal(zobj_len(f->res.zsets[0]), 1);
    assert_zmember(f->res.zsets[0], 0, "b", 2.5);
    assert_string_equal(run_typed(f, cmd_zrangestore_part, "zrangestore d nokey 0 -1"), "");
    assert_int_equal(f->res.kind, CMD_RES_ZSETS);
    assert_null(f->res.zsets[0]); /* empty */
    assert_string_equal(run_typed(f, cmd_zrangestore_part, "zrangestore d z x 1"),
                        "-ERR value is not an integer or out of range\r\n");
    assert_int_equal(f->res.kind, CMD_RES_NONE);
    EXPECT(cmd_exists_part, "exists d", ":0\r\n"); /* the part stores nothing */

    expect_popped(f, cmd_zmpop, "zmpop 2 nokey z max count 5",
                  "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nb\r\n$3\r\n2.5\r\n"
                  "*2\r\n$1\r\na\r\n$1\r\n1\r\n",
                  2);
    expect_popped(f, cmd_zmpop, "zmpop 1 z min", "*-1\r\n", 0);
    EXPECT(cmd_rpush, "rpush l a b c", ":3\r\n");
    expect_popped(f, cmd_lmpop, "lmpop 1 l right count 2",
                  "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n", 2);
    expect_popped(f, cmd_lmpop, "lmpop 1 nol left", "*-1\r\n", 0);
    assert_string_equal(run_typed(f, cmd_lmpop, "lmpop 1 str left"),
                        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_int_equal(f->res.kind, CMD_RES_NONE);
}

/* ---- big arguments kept as stored values (kv_take) ----------------------- */

#define TAKE_N   4
#define TAKE_LEN (ENTRY_SHARE_MIN + 10)

/* Runs fn on argv with the big arguments argv[at[0..n)] offered as the
 * parser's buffers (cmd_call.take); returns how many were kept, and
 * checks that a kept one is now its entry's value (no copy). */
static unsigned run_take(fixture *f, cmd_fn *fn, int argc, kv_str *argv, const int *at, unsigned n,
                         kv_entry **keeps)
{
    char *bigs[TAKE_N];
    for (unsigned k = 0; k < n; k++) bigs[k] = (char *)(uintptr_t)argv[at[k]].p;
    memset(keeps, 0, TAKE_N * sizeof *keeps);
    kv_take t = {bigs, keeps, n};
    cmd_call c = {.argc = argc, .argv = argv, .out = &f->out, .take = &t};
    kvbuf_reset(&f->out);
    shard_call(&f->s, fn, &c);
    unsigned kept = 0;
    for (unsigned k = 0; k < n; k++) {
        if (keeps[k] == NULL) continue;
        assert_ptr_equal(entry_val(keeps[k]), bigs[k]);
        kept++;
    }
    return kept;
}

/* What the sender does once the slot goes: drops the kept entries' pins,
 * frees the buffers nobody took. */
static void take_release(kv_str *argv, const int *at, unsigned n, kv_entry **keeps)
{
    for (unsigned k = 0; k < n; k++) {
        if (keeps[k] != NULL)
            entry_unpin(keeps[k]);
        else
            free((char *)(uintptr_t)argv[at[k]].p);
    }
}

static kv_str take_big(char c)
{
    char *p = malloc(TAKE_LEN);
    assert_non_null(p);
    memset(p, c, TAKE_LEN);
    return (kv_str){p, TAKE_LEN};
}

#define S(x) ((kv_str){x, sizeof x - 1})

/* MSET's part, HSET, HSETNX, SETNX, APPEND of a new key, SETRANGE at 0 and
 * SET NX keep their big arguments; a small one, a second SETNX and an
 * APPEND to an existing value copy or store nothing. */
static void test_take_keeps_buffers(void **state)
{
    fixture *f = *state;
    kv_entry *keeps[TAKE_N];
    kv_str ms[] = {S("mset"), S("a"), take_big('a'), S("b"), S("small"), S("c"), take_big('c')};
    int ms_at[] = {2, 6};
    assert_int_equal(run_take(f, cmd_mset_part, 7, ms, ms_at, 2, keeps), 2);
    assert_int_equal(f->out.len, 5);
    assert_memory_equal(f->out.data, "+OK\r\n", 5);
    take_release(ms, ms_at, 2, keeps);
    EXPECT(cmd_strlen, "strlen c", ":16394\r\n");

    kv_str hs[] = {S("hset"), S("h"), S("f1"), take_big('h'), S("f2"), S("x")};
    int hs_at[] = {3};
    assert_int_equal(run_take(f, cmd_hset, 6, hs, hs_at, 1, keeps), 1);
    take_release(hs, hs_at, 1, keeps);
    EXPECT(cmd_hstrlen, "hstrlen h f1", ":16394\r\n");
    kv_str hn[] = {S("hsetnx"), S("h"), S("f3"), take_big('n')};
    int hn_at[] = {3};
    assert_int_equal(run_take(f, cmd_hsetnx, 4, hn, hn_at, 1, keeps), 1);
    take_release(hn, hn_at, 1, keeps);

    struct {
        cmd_fn *fn;
        const char *name, *key, *pre;
        unsigned kept;
    } one[] = {
        {cmd_setnx, "setnx", "n", NULL, 1},       {cmd_setnx, "setnx", "n", NULL, 0},
        {cmd_append, "append", "ap", NULL, 1},    {cmd_append, "append", "ap", NULL, 0},
        {cmd_setrange, "setrange", "sr", "0", 1}, {cmd_setrange, "setrange", "sr", "0", 1},
        {cmd_set, "set", "sx", NULL, 1},
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        kv_str av[4] = {{one[i].name, strlen(one[i].name)}, {one[i].key, strlen(one[i].key)}};
        int argc = 2, at[1];
        if (one[i].pre) av[argc++] = (kv_str){one[i].pre, strlen(one[i].pre)};
        at[0] = argc;
        av[argc++] = take_big((char)('p' + i));
        unsigned kept = run_take(f, one[i].fn, argc, av, at, 1, keeps);
        assert_int_equal(kept, one[i].kept);
        take_release(av, at, 1, keeps);
    }
    EXPECT(cmd_strlen, "strlen ap", ":32788\r\n");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_get_set),
        T(test_set_options),
        T(test_set_errors),
        T(test_wrongtype),
        T(test_setex_getset_getdel),
        T(test_getex),
        T(test_append_strlen_range),
        T(test_setrange),
        T(test_incr_family),
        T(test_incrbyfloat),
        T(test_mget_mset_del_exists),
        T(test_expire_family),
        T(test_lazy_expiry_through_commands),
        T(test_rename),
        T(test_take_put),
        T(test_take_keeps_buffers),
        T(test_keys_dbsize_flush),
        T(test_scan),
        T(test_info_part),
        T(test_scan_typed),
        T(test_key_hash_param),
        T(test_counts_typed),
        T(test_object_part),
        T(test_hit_miss_stats),
        T(test_count_once),
        T(test_binary_safe),
        T(test_big_append),
        T(test_hash_basic),
        T(test_hash_wrongtype),
        T(test_hash_incr),
        T(test_hash_randfield),
        T(test_hash_scan),
        T(test_hash_memory_and_rename),
        T(test_smove_checks),
        T(test_zset_parts_typed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
