/* Tests for net/confset.c: CONFIG GET and CONFIG SET over the settings
 * table on a server context built by hand (no threads): every CONFIG SET
 * setting has its hook, GET's patterns and values (Redis's words, live
 * values after SET), SET's checks and Redis's error texts, all-or-nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/config.h"
#include "net/confset.h"
#include "net/net_internal.h"

/* The settings CONFIG SET may change, as server_new sets them. */
static struct server *fake_server(void)
{
    struct server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    config_defaults(&s->cfg);
    assert_int_equal(auth_init(&s->auth, ""), 0);
    atomic_store(&s->limits.samples, s->cfg.maxmemory_samples);
    atomic_store(&s->protected_mode, s->cfg.protected_mode);
    atomic_store(&s->slow.slower_than_us, s->cfg.slowlog_slower_than);
    atomic_store(&s->slow.max_len, s->cfg.slowlog_max_len);
    return s;
}

static void fake_free(struct server *s)
{
    auth_destroy(&s->auth);
    free(s);
}

/* Runs CONFIG with the words of a NULL-ended list; returns the reply (valid
 * until the next call). */
static const char *config(struct server *s, const char *sub, ...)
{
    static char reply[8192];
    kv_str argv[16] = {{"CONFIG", 6}, {sub, strlen(sub)}};
    int argc = 2;
    va_list ap;
    va_start(ap, sub);
    for (const char *w; (w = va_arg(ap, const char *)) != NULL && argc < 16; argc++)
        argv[argc] = (kv_str){w, strlen(w)};
    va_end(ap);
    kvbuf out;
    kvbuf_init(&out);
    if (strcmp(sub, "GET") == 0)
        confset_get(s, argc, argv, &out);
    else
        confset_set(s, argc, argv, &out);
    assert_true(out.len < sizeof reply);
    memcpy(reply, out.data, out.len);
    reply[out.len] = '\0';
    kvbuf_destroy(&out);
    return reply;
}

static void test_every_live_setting_has_a_hook(void **st)
{
    (void)st;
    char err[256];
    if (confset_check_hooks(err, sizeof err) != 0) fail_msg("%s", err);
}

static void test_get_patterns(void **st)
{
    (void)st;
    struct server *s = fake_server();
    assert_string_equal(config(s, "GET", "MAXMEMORY", NULL),
                        "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    assert_string_equal(config(s, "GET", "nonexistent", NULL), "*0\r\n");
    assert_string_equal(config(s, "GET", "dir", NULL), "*0\r\n"); /* not answered, as before */
    assert_string_equal(config(s, "GET", "?ort", "port", "hz", NULL),
                        "*4\r\n$4\r\nport\r\n$4\r\n8080\r\n$2\r\nhz\r\n$2\r\n10\r\n");
    assert_string_equal(config(s, "GET", "append*", NULL),
                        "*4\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n$11\r\nappendfsync\r\n"
                        "$8\r\neverysec\r\n");
    assert_string_equal(config(s, "GET", "save", NULL), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    assert_string_equal(config(s, "GET", "protected-mode", "maxmemory-policy", NULL),
                        "*4\r\n$14\r\nprotected-mode\r\n$3\r\nyes\r\n$16\r\nmaxmemory-policy\r\n"
                        "$10\r\nnoeviction\r\n");
    /* '*': the 12 start-up settings, io-backend, the 10 live ones (client-output-buffer-limit
     * among them) and Redis's 3 names */
    assert_memory_equal(config(s, "GET", "*", NULL), "*50\r\n", 5);
    assert_string_equal(config(s, "GET", NULL), "-ERR wrong number of arguments for 'config|get' "
                                                "command\r\n");
    fake_free(s);
}

static void test_set_then_get(void **st)
{
    (void)st;
    struct server *s = fake_server();
    assert_string_equal(config(s, "SET", "maxmemory", "100mb", "Maxmemory-Policy", "allkeys-lru",
                               "timeout", "7", "requirepass", "a b", "protected-mode", "no", NULL),
                        "+OK\r\n");
    assert_int_equal(atomic_load(&s->limits.maxmemory), 100ll << 20);
    assert_string_equal(config(s, "GET", "maxmemory", NULL),
                        "*2\r\n$9\r\nmaxmemory\r\n$9\r\n104857600\r\n");
    assert_string_equal(config(s, "GET", "maxmemory-policy", NULL),
                        "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n");
    assert_string_equal(config(s, "GET", "timeout", NULL), "*2\r\n$7\r\ntimeout\r\n$1\r\n7\r\n");
    assert_string_equal(config(s, "GET", "requirepass", NULL),
                        "*2\r\n$11\r\nrequirepass\r\n$3\r\na b\r\n");
    assert_string_equal(config(s, "GET", "protected-mode", NULL),
                        "*2\r\n$14\r\nprotected-mode\r\n$2\r\nno\r\n");
    assert_string_equal(s->cfg.requirepass, ""); /* the start-up values stay */
    fake_free(s);
}

static void test_set_errors(void **st)
{
    (void)st;
    struct server *s = fake_server();
    assert_string_equal(config(s, "SET", "maxmemory", "abc", NULL),
                        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - "
                        "argument must be a memory value\r\n");
    assert_string_equal(config(s, "SET", "timeout", "x", NULL),
                        "-ERR CONFIG SET failed (possibly related to argument 'timeout') - "
                        "argument couldn't be parsed into an integer\r\n");
    assert_string_equal(config(s, "SET", "timeout", "-1", NULL),
                        "-ERR CONFIG SET failed (possibly related to argument 'timeout') - "
                        "argument must be between 0 and 2147483647 inclusive\r\n");
    assert_string_equal(config(s, "SET", "slowlog-max-len", "-5", NULL),
                        "-ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - "
                        "invalid value '-5' for 'slowlog-max-len': expected an integer from 0 to "
                        "2147483647\r\n");
    assert_string_equal(config(s, "SET", "Port", "1", NULL),
                        "-ERR CONFIG SET failed (possibly related to argument 'Port') - can't set "
                        "immutable config\r\n");
    assert_string_equal(config(s, "SET", "appendonly", "yes", NULL),
                        "-ERR Unknown option or number of arguments for CONFIG SET - "
                        "'appendonly'\r\n");
    assert_string_equal(config(s, "SET", "timeout", "5", "TIMEOUT", "6", NULL),
                        "-ERR CONFIG SET failed (possibly related to argument 'timeout') - "
                        "duplicate parameter\r\n");
    /* one bad value: nothing applies */
    assert_string_equal(config(s, "SET", "timeout", "9", "maxmemory-samples", "0", NULL),
                        "-ERR CONFIG SET failed (possibly related to argument "
                        "'maxmemory-samples') - argument must be between 1 and 2147483647 "
                        "inclusive\r\n");
    assert_int_equal(atomic_load(&s->timeout), 0);
    assert_string_equal(config(s, "SET", "timeout", NULL),
                        "-ERR wrong number of arguments for 'config|set' command\r\n");
    fake_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_live_setting_has_a_hook),
        cmocka_unit_test(test_get_patterns),
        cmocka_unit_test(test_set_then_get),
        cmocka_unit_test(test_set_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
