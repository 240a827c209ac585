/* Tests for engine/config.c: the config file's words (quotes and escapes
 * as Redis's sdssplitargs), errors naming file and line, one value per
 * setting, the command line's values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kv.h"

static char conf_path[64];

/* Writes text (len bytes) to a fresh temporary file; returns its path. */
static const char *write_conf_len(const char *text, size_t len)
{
    strcpy(conf_path, "/tmp/memkv-test-config-XXXXXX");
    int fd = mkstemp(conf_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return conf_path;
}

/* Loads text as a config file on fresh defaults; returns the result, with
 * the message in err. */
static int load_len(kv_config *c, const char *text, size_t len, char *err)
{
    config_defaults(c);
    err[0] = '\0';
    const char *path = write_conf_len(text, len);
    int rc = config_load_file(c, path, err, KV_CONFIG_ERRLEN);
    unlink(path);
    return rc;
}

static int load(kv_config *c, const char *text, char *err)
{
    return load_len(c, text, strlen(text), err);
}

/* The error names the temporary file and line `line`, and says `what`. */
static void assert_error_at(int rc, const char *err, int line, const char *what)
{
    char where[96];
    assert_int_not_equal(rc, 0);
    snprintf(where, sizeof where, "%s:%d: ", conf_path, line);
    if (strncmp(err, where, strlen(where)) != 0 || strstr(err, what) == NULL)
        fail_msg("error '%s' should start with '%s' and say '%s'", err, where, what);
}

static void test_unbalanced_quotes(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    const char *bad[] = {
        "requirepass \"unterminated\n", "requirepass 'unterminated\n",
        "requirepass \"a\"b\n", /* a closing quote must end the word */
        "requirepass 'a'b\n",           "requirepass \"ends with a backslash\\\"\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = load(&c, bad[i], err);
        assert_error_at(rc, err, 1, "Unbalanced quotes in configuration line");
        assert_string_equal(c.requirepass, "");
    }
    int rc = load(&c, "port 7000\n\n# comment\nrequirepass \"x\n", err);
    assert_error_at(rc, err, 4, "Unbalanced quotes");
}

static void test_quotes_and_escapes(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"requirepass \"a b\"\n", "a b"},
        {"requirepass \"\"\n", ""},
        {"requirepass ''\n", ""},
        {"requirepass \"q\\\"x\"\n", "q\"x"},
        {"requirepass \"\\x41\\x7a\\n\\t\\\\\"\n", "Az\n\t\\"},
        {"requirepass \"\\xZZ\"\n", "xZZ"}, /* not hex: \x is x */
        {"requirepass 'it\\'s'\n", "it's"},
        {"requirepass 'no \\n escape'\n", "no \\n escape"},
        {"requirepass ab\"c d\"\n", "abc d"}, /* a quote inside a word opens a quoted part */
        {"requirepass pa#ss\n", "pa#ss"},
        {"  requirepass\tsecret  \r\n", "secret"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (load(&c, cases[i].line, err) != 0) fail_msg("%s: %s", cases[i].line, err);
        assert_string_equal(c.requirepass, cases[i].want);
    }
}

static void test_one_value_per_setting(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    /* the old parser took the rest of the line: a password "a b" */
    int rc = load(&c, "requirepass a b\n", err);
    assert_error_at(rc, err, 1, "'requirepass' takes one value");
    rc = load(&c, "dir /tmp/a b\n", err);
    assert_error_at(rc, err, 1, "'dir' takes one value");
    rc = load(&c, "port\n", err);
    assert_error_at(rc, err, 1, "'port' needs a value");
    rc = load(&c, "port 7000 # the port\n", err);
    assert_error_at(rc, err, 1, "takes one value");
    /* settings made of words */
    assert_int_equal(load(&c, "tls-protocols TLSv1.2 TLSv1.3\n", err), 0);
    assert_string_equal(c.tls_protocols, "TLSv1.2 TLSv1.3");
    assert_int_equal(load(&c, "tls-protocols \"TLSv1.3\"\n", err), 0);
    assert_string_equal(c.tls_protocols, "TLSv1.3");
    assert_int_equal(load(&c, "client-output-buffer-limit normal 1mb 512kb 5\n", err), 0);
    assert_int_equal(c.obl_hard, 1 << 20);
    assert_int_equal(c.obl_soft, 512 << 10);
    assert_int_equal(c.obl_soft_seconds, 5);
    assert_int_equal(c.obl_pubsub_hard, 32 << 20); /* Redis's pubsub default, untouched */
    assert_int_equal(load(&c, "client-output-buffer-limit pubsub 2mb 1mb 7 normal 0 0 0\n", err),
                     0);
    assert_int_equal(c.obl_pubsub_hard, 2 << 20);
    assert_int_equal(c.obl_pubsub_soft, 1 << 20);
    assert_int_equal(c.obl_pubsub_soft_seconds, 7);
    assert_int_equal(c.obl_hard, 0);
}

static void test_nul_bytes(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    int rc = load(&c, "port 7000\nrequirepass \"a\\x00b\"\n", err);
    assert_error_at(rc, err, 2, "NUL");
    static const char raw[] = "requirepass a\0b\n";
    rc = load_len(&c, raw, sizeof raw - 1, err);
    assert_error_at(rc, err, 1, "NUL");
}

/* Lines longer than any buffer: the old reader cut them into pieces. */
static void test_long_lines(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    size_t n = 5000;
    char *text = malloc(n + 64);
    assert_non_null(text);
    text[0] = '#';
    memset(text + 1, 'x', n);
    strcpy(text + 1 + n, "\nport 7001\n");
    assert_int_equal(load(&c, text, err), 0);
    assert_int_equal(c.port, 7001);
    /* a password longer than the limit is refused, not cut */
    strcpy(text, "requirepass ");
    memset(text + 12, 'p', 600);
    strcpy(text + 612, "\n");
    assert_error_at(load(&c, text, err), err, 1, "longer than");
    free(text);
}

static void test_errors_name_file_and_line(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    assert_error_at(load(&c, "# x\nport 7000\nno-such-thing 1\n", err), err, 3,
                    "unknown option 'no-such-thing'");
    assert_error_at(load(&c, "port 99999\n", err), err, 1, "invalid value '99999' for 'port'");
    assert_error_at(load(&c, "config other.conf\n", err), err, 1, "cannot be nested");
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/mem-kv.conf", err, sizeof err), KV_EIO);
    assert_non_null(strstr(err, "/nonexistent/mem-kv.conf"));
}

static int parse(kv_config *c, char *err, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "mem-kv-server";
    for (int i = 1; i < argc; i++) argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;
    config_defaults(c);
    err[0] = '\0';
    return config_parse_args(c, argc, argv, err, KV_CONFIG_ERRLEN);
}

static void test_command_line_values(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    assert_int_equal(parse(&c, err, 3, "--requirepass", ""), 0);
    assert_string_equal(c.requirepass, "");
    assert_int_equal(parse(&c, err, 3, "--requirepass", "a b"), 0);
    assert_string_equal(c.requirepass, "a b");
    assert_int_equal(parse(&c, err, 2, "--requirepass=x"), 0);
    assert_string_equal(c.requirepass, "x");
    assert_int_not_equal(parse(&c, err, 4, "--requirepass", "a", "b"), 0);
    assert_non_null(strstr(err, "'requirepass' takes one value"));
    assert_int_not_equal(parse(&c, err, 4, "--port", "7000", "extra"), 0);
    assert_int_equal(parse(&c, err, 5, "--tls-protocols", "TLSv1.2", "TLSv1.3", "--hz=20"), 0);
    assert_string_equal(c.tls_protocols, "TLSv1.2 TLSv1.3");
    assert_int_equal(c.hz, 20);
    assert_int_equal(parse(&c, err, 6, "--client-output-buffer-limit", "normal", "0", "0", "0"), 0);
    assert_int_equal(c.obl_hard, 0);
    assert_int_not_equal(parse(&c, err, 2, "--port"), 0);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_not_equal(parse(&c, err, 3, "--nope", "1"), 0);
    assert_non_null(strstr(err, "unknown option 'nope'"));
    assert_int_not_equal(parse(&c, err, 2, "extra"), 0);
}

static void test_thread_options_contradict(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    assert_int_equal(
        parse(&c, err, 7, "--threads", "2", "--io-threads", "1", "--actor-threads", "3"),
        KV_EINVAL);
    assert_non_null(strstr(err, "--threads 2 cannot be combined with --io-threads 1"));
    assert_int_equal(parse(&c, err, 5, "--actor-threads", "2", "--threads", "2"), KV_EINVAL);
    assert_int_equal(parse(&c, err, 5, "--threads", "2", "--io-threads", "0"), 0);
    assert_int_equal(parse(&c, err, 5, "--io-threads", "1", "--actor-threads", "3"), 0);
    /* from a file too: the check runs once everything is read */
    config_defaults(&c);
    const char *path = write_conf_len("threads 2\n", 10);
    char *argv[] = {"mem-kv-server", "--config", (char *)conf_path, "--io-threads", "2", NULL};
    assert_int_equal(config_parse_args(&c, 5, argv, err, sizeof err), KV_EINVAL);
    unlink(path);
}

static void test_threads_over_cpus_warn(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    assert_int_equal(parse(&c, err, 5, "--io-threads", "64", "--actor-threads", "64"), 0);
    config_resolve_threads(&c, 2);
    assert_int_equal(c.io_threads, 64);
    assert_int_equal(c.actor_threads, 16); /* one shard per actor at least */
    assert_non_null(strstr(c.warnings, "80 busy threads (64 network + 16 actor) on 2 CPUs"));
    assert_non_null(strstr(c.warnings, "64 actor threads asked for, but only 16 are used"));
    assert_int_equal(parse(&c, err, 3, "--threads", "4"), 0);
    config_resolve_threads(&c, 2);
    assert_non_null(strstr(c.warnings, "--threads 4 on 2 CPUs"));
    /* fits, or chosen here: no warning */
    assert_int_equal(parse(&c, err, 5, "--io-threads", "1", "--actor-threads", "1"), 0);
    config_resolve_threads(&c, 2);
    assert_string_equal(c.warnings, "");
    config_defaults(&c);
    config_resolve_threads(&c, 1); /* one hosted thread on one CPU */
    assert_int_equal(c.threads, 1);
    assert_string_equal(c.warnings, "");
    config_defaults(&c);
    config_resolve_threads(&c, 8);
    assert_int_equal(c.io_threads + c.actor_threads, 8);
    assert_int_equal(c.threads, 0);
    assert_string_equal(c.warnings, "");
}

/* Issue 14: on 2 CPUs or fewer, with no count given, one thread reads the
 * sockets and owns every shard (hosted, as --threads 1); any count given
 * keeps its layout. */
static void test_threads_default_small_cpu(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    config_defaults(&c);
    config_resolve_threads(&c, 2);
    assert_int_equal(c.threads, 1);
    assert_int_equal(c.io_threads, 1);
    assert_int_equal(c.actor_threads, 1);
    assert_int_equal(parse(&c, err, 3, "--io-threads", "1"), 0);
    config_resolve_threads(&c, 2);
    assert_int_equal(c.threads, 0); /* separate pools, as asked */
    assert_int_equal(c.actor_threads, 1);
    assert_int_equal(parse(&c, err, 3, "--threads", "2"), 0);
    config_resolve_threads(&c, 2);
    assert_int_equal(c.threads, 2);
    config_defaults(&c);
    config_resolve_threads(&c, 4);
    assert_int_equal(c.threads, 0);
    assert_int_equal(c.io_threads, 2);
    assert_int_equal(c.actor_threads, 2);
}

static void test_bind_lists(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    assert_int_equal(load(&c, "bind 127.0.0.1   -::1\n", err), 0);
    assert_string_equal(c.bind, "127.0.0.1 -::1");
    assert_int_equal(load(&c, "bind localhost\n", err), 0);
    assert_string_equal(c.bind, "localhost");
    assert_int_equal(load(&c, "bind * -::*\n", err), 0);
    assert_string_equal(c.bind, "* -::*");
    assert_error_at(load(&c, "bind \"\"\n", err), err, 1, "expected 1 to 16 addresses");
    assert_error_at(load(&c, "bind 127.0.0.1 -\n", err), err, 1, "invalid value");
    assert_error_at(load(&c, "bind a/b\n", err), err, 1, "invalid value");
    const char *many = "bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n";
    assert_error_at(load(&c, many, err), err, 1, "expected 1 to 16 addresses");
    assert_int_equal(parse(&c, err, 5, "--bind", "127.0.0.1", "::1", "--hz=11"), 0);
    assert_string_equal(c.bind, "127.0.0.1 ::1");
    assert_int_equal(c.hz, 11);
    assert_int_equal(parse(&c, err, 3, "--bind", "0.0.0.0"), 0);
    assert_string_equal(c.bind, "0.0.0.0");
}

static void test_redis_conf_mapped(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    assert_int_equal(load(&c, "appendfsync always\n", err), 0);
    assert_int_equal(c.fsync, 2);
    assert_int_equal(load(&c, "appendfsync everysec\n", err), 0);
    assert_int_equal(c.fsync, 1);
    assert_int_equal(c.fsync_interval_ms, 100); /* not Redis's 1 s: mem-kv's stronger default */
    assert_int_equal(load(&c, "appendfsync no\n", err), 0);
    assert_int_equal(c.fsync, 0);
    assert_error_at(load(&c, "appendfsync sometimes\n", err), err, 1, "expected always, everysec");
    assert_int_equal(load(&c, "persistence off\nappendonly yes\n", err), 0);
    assert_int_equal(c.persistence, 1);
    assert_string_equal(c.warnings, "");
    assert_int_equal(load(&c, "dir /srv/cache\nloglevel debug\n", err), 0);
    assert_string_equal(c.dir, "/srv/cache");
    assert_int_equal(c.loglevel, 2);
    /* what mem-kv does anyway: accepted without a word */
    assert_int_equal(load(&c,
                          "daemonize no\nlogfile \"\"\nsupervised no\ndatabases 1\n"
                          "cluster-enabled no\nsyslog-enabled no\n",
                          err),
                     0);
    assert_string_equal(c.warnings, "");
}

static void test_redis_conf_warned(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    /* appendonly no keeps the log: a pasted default redis.conf must not
     * turn persistence off (its Redis persisted with RDB) */
    assert_int_equal(load(&c, "appendonly no\n", err), 0);
    assert_int_equal(c.persistence, 1);
    assert_non_null(strstr(c.warnings, ":1: 'appendonly no' has no effect"));
    assert_int_equal(load(&c, "save \"\"\nsave 900 1\nsave 300 10 60 10000\n", err), 0);
    assert_non_null(strstr(c.warnings, ":1: 'save' has no effect: mem-kv has no RDB"));
    assert_null(strstr(c.warnings, ":2:")); /* one warning per directive */
    assert_error_at(load(&c, "save 900\n", err), err, 1, "invalid 'save' parameters");
    assert_error_at(load(&c, "save 900 x\n", err), err, 1, "invalid 'save' parameters");
    /* databases is a mem-kv option now (SELECT 0..N-1) */
    assert_int_equal(load(&c, "databases 16\n", err), 0);
    assert_int_equal(c.databases, 16);
    assert_null(strstr(c.warnings, "databases"));
    assert_int_not_equal(load(&c, "databases 0\n", err), 0);
    assert_int_equal(load(&c, "supervised systemd\npidfile /run/redis.pid\n", err), 0);
    assert_non_null(strstr(c.warnings, "Type=simple"));
    assert_non_null(strstr(c.warnings, ":2: 'pidfile' has no effect"));
    assert_int_equal(load(&c,
                          "tcp-backlog 511\nlazyfree-lazy-eviction no\nhz 10\n"
                          "hash-max-listpack-entries 128\ntcp-backlog 1\n",
                          err),
                     0);
    assert_non_null(strstr(c.warnings, "Redis settings ignored (no effect in mem-kv): "
                                       "tcp-backlog, lazyfree-lazy-eviction, "
                                       "hash-max-listpack-entries\n"));
    assert_int_equal(load(&c, "client-output-buffer-limit replica 256mb 64mb 60\n", err), 0);
}

static void test_redis_conf_refused(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    assert_error_at(load(&c, "port 7000\ndaemonize yes\n", err), err, 2,
                    "mem-kv runs in the foreground only");
    assert_error_at(load(&c, "logfile /var/log/redis.log\n", err), err, 1,
                    "mem-kv logs to stderr only");
    assert_error_at(load(&c, "syslog-enabled yes\n", err), err, 1, "stderr only");
    assert_error_at(load(&c, "cluster-enabled yes\n", err), err, 1, "no Redis Cluster");
    assert_error_at(load(&c, "replicaof 10.0.0.1 6379\n", err), err, 1,
                    "'replicaof' is not supported: mem-kv has no replication");
    assert_error_at(load(&c, "rename-command CONFIG \"\"\n", err), err, 1, "not supported");
    assert_error_at(load(&c, "unixsocket /tmp/redis.sock\n", err), err, 1, "TCP only");
    assert_error_at(load(&c, "daemonise no\n", err), err, 1, "unknown option 'daemonise'");
    assert_error_at(load(&c, "appendonly\n", err), err, 1, "'appendonly' needs a value");
    assert_error_at(load(&c, "appendonly maybe\n", err), err, 1, "expected yes or no");
}

static void test_include(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN], dir[] = "/tmp/memkv-test-include-XXXXXX", path[128], sub[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/main.conf", dir);
    snprintf(sub, sizeof sub, "%s/part.conf", dir);
    FILE *f = fopen(sub, "w");
    fputs("hz 33\nsave 60 1\n", f);
    fclose(f);
    f = fopen(path, "w");
    fputs("port 7002\ninclude part.conf\nmaxclients 77\n", f); /* relative: next to main */
    fclose(f);
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof err), 0);
    assert_int_equal(c.port, 7002);
    assert_int_equal(c.hz, 33);
    assert_int_equal(c.maxclients, 77);
    assert_non_null(strstr(c.warnings, "part.conf:2: 'save'"));
    /* an error inside names the included file and its line */
    f = fopen(sub, "w");
    fputs("hz 33\nhz 0\n", f);
    fclose(f);
    config_defaults(&c);
    assert_int_not_equal(config_load_file(&c, path, err, sizeof err), 0);
    assert_non_null(strstr(err, "part.conf:2: invalid value '0' for 'hz'"));
    /* missing, and including itself */
    f = fopen(path, "w");
    fputs("include nothere.conf\n", f);
    fclose(f);
    assert_int_not_equal(config_load_file(&c, path, err, sizeof err), 0);
    assert_non_null(strstr(err, "main.conf:1: cannot open included file"));
    assert_non_null(strstr(err, "nothere.conf"));
    f = fopen(path, "w");
    fputs("include main.conf\n", f);
    fclose(f);
    assert_int_not_equal(config_load_file(&c, path, err, sizeof err), 0);
    assert_non_null(strstr(err, "nested more than 8 deep"));
    unlink(sub);
    unlink(path);
    rmdir(dir);
}

static void test_redis_conf_command_line(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    /* what the harness passes to redis-server works on mem-kv too */
    assert_int_equal(parse(&c, err, 11, "--save", "", "--appendonly", "no", "--daemonize", "no",
                           "--logfile", "", "--appendfsync", "always"),
                     0);
    assert_int_equal(c.fsync, 2);
    assert_non_null(strstr(c.warnings, "--save has no effect"));
    assert_int_equal(parse(&c, err, 4, "--save", "900", "1"), 0);
    assert_int_equal(parse(&c, err, 3, "--daemonize", "yes"), KV_EINVAL);
    assert_non_null(strstr(err, "foreground"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unbalanced_quotes),
        cmocka_unit_test(test_quotes_and_escapes),
        cmocka_unit_test(test_one_value_per_setting),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_command_line_values),
        cmocka_unit_test(test_thread_options_contradict),
        cmocka_unit_test(test_threads_over_cpus_warn),
        cmocka_unit_test(test_threads_default_small_cpu),
        cmocka_unit_test(test_bind_lists),
        cmocka_unit_test(test_redis_conf_mapped),
        cmocka_unit_test(test_redis_conf_warned),
        cmocka_unit_test(test_redis_conf_refused),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_redis_conf_command_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
