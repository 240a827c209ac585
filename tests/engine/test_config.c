/* Tests for engine/config.c: the config file's words (quotes and escapes
 * as Redis's sdssplitargs), errors naming file and line, one value per
 * setting, the command line's values; the settings table (its rows, the
 * defaults, CONFIG GET's format, --help) and docs/operations.md's options
 * table against it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/config.h"
#include "engine/evict.h"
#include "engine/kv.h"

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

/* ---- the settings table ------------------------------------------------ */

/* The row called name, CONFIG_VIEW rows included. */
static const config_setting *row_named(const char *name)
{
    for (size_t i = 0; i < config_setting_count(); i++)
        if (strcmp(config_setting_at(i)->name, name) == 0) return config_setting_at(i);
    fail_msg("no row '%s'", name);
    return NULL;
}

/* CONFIG GET's text of the setting name in c. */
static const char *shown(const kv_config *c, const char *name)
{
    static char buf[1024];
    config_setting_format(c, row_named(name), buf, sizeof buf);
    return buf;
}

static void test_settings_rows(void **st)
{
    (void)st;
    size_t n = config_setting_count();
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        const config_setting *r = config_setting_at(i);
        assert_non_null(r->name);
        for (size_t j = 0; j < i; j++) {
            const config_setting *o = config_setting_at(j);
            if (strcmp(o->name, r->name) == 0 || (o->alias && strcmp(o->alias, r->name) == 0) ||
                (r->alias && strcmp(o->name, r->alias) == 0))
                fail_msg("two rows named '%s'", r->name);
        }
        if (r->type == CONFIG_ENUM || r->type == CONFIG_BOOL) assert_non_null(r->words);
        if (r->flags & CONFIG_VIEW) { /* not an option: the config file maps these names */
            assert_null(config_setting_find(r->name));
            assert_false(r->flags & CONFIG_LIVE);
            continue;
        }
        assert_ptr_equal(config_setting_find(r->name), r);
        if (r->alias) assert_ptr_equal(config_setting_find(r->alias), r);
        if (r->arg == NULL || r->help == NULL) fail_msg("'%s' has no --help text", r->name);
        if (r->def == NULL || r->def[0] == '\0') continue;
        /* the default is accepted by its own row, and --help names it */
        kv_config c, d;
        char err[KV_CONFIG_ERRLEN], a[1024], b[1024];
        config_defaults(&c);
        config_defaults(&d);
        if (config_setting_set(&c, r, r->def, err, sizeof err) != 0)
            fail_msg("default of '%s': %s", r->name, err);
        config_setting_format(&c, r, a, sizeof a);
        config_setting_format(&d, r, b, sizeof b);
        assert_string_equal(a, b);
        if (strstr(r->help, r->def) == NULL)
            fail_msg("--help of '%s' does not say its default %s", r->name, r->def);
    }
}

/* The defaults that config_defaults set one by one before the table. */
static void test_settings_defaults(void **st)
{
    (void)st;
    kv_config c;
    memset(&c, 0x5a, sizeof c);
    config_defaults(&c);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.shards, 16);
    assert_int_equal(c.actor_threads + c.io_threads + c.threads, 0);
    assert_int_equal(c.maxclients, 10000);
    assert_int_equal(c.databases, 16);
    assert_int_equal(c.timeout, 0);
    assert_int_equal(c.tcp_keepalive, 300);
    assert_int_equal(c.proto_max_bulk_len, 512ll << 20);
    assert_int_equal(c.client_query_buffer_limit, 1ll << 30);
    assert_int_equal(c.obl_hard, 64ll << 20);
    assert_int_equal(c.obl_soft, 16ll << 20);
    assert_int_equal(c.obl_soft_seconds, 60);
    assert_string_equal(c.requirepass, "");
    assert_int_equal(c.protected_mode, 1);
    assert_int_equal(c.hz, 10);
    assert_int_equal(c.loglevel, 1);
    assert_int_equal(c.metrics_port, 0);
    assert_string_equal(c.dir, "./data");
    assert_int_equal(c.persistence, 1);
    assert_int_equal(c.fsync, 1);
    assert_int_equal(c.fsync_interval_ms, 100);
    assert_int_equal(c.keep_prefix, 0);
    assert_int_equal(c.wal_segment_bytes, 64ll << 20);
    assert_int_equal(c.compact_log_bytes, 100ll << 20);
    assert_int_equal(c.compact_cpu, 5);
    assert_int_equal(c.tls_port, 0);
    assert_string_equal(c.tls_cert_file, "");
    assert_string_equal(c.tls_key_file, "");
    assert_string_equal(c.tls_ca_cert_file, "");
    assert_int_equal(c.tls_auth_clients, 1);
    assert_string_equal(c.tls_protocols, "");
    assert_string_equal(c.tls_ciphers, "");
    assert_string_equal(c.tls_ciphersuites, "");
    assert_int_equal(c.tls_hs_timeout_ms, 10000);
    assert_int_equal(c.maxmemory, 0);
    assert_int_equal(c.maxmemory_policy, EVICT_NOEVICTION);
    assert_int_equal(c.maxmemory_samples, 5);
    assert_int_equal(c.lua_time_limit, 5000);
    assert_int_equal(c.slowlog_slower_than, 10000);
    assert_int_equal(c.slowlog_max_len, 128);
    assert_int_equal(c.latency_threshold, 0);
    assert_int_equal(c.help + c.version, 0);
    assert_string_equal(c.warnings, "");
}

/* CONFIG GET's words: Redis's (sizes in bytes, yes/no, the enum's word). */
static void test_settings_format(void **st)
{
    (void)st;
    kv_config c;
    char err[KV_CONFIG_ERRLEN];
    config_defaults(&c);
    assert_string_equal(shown(&c, "port"), "8080");
    assert_string_equal(shown(&c, "proto-max-bulk-len"), "536870912");
    assert_string_equal(shown(&c, "protected-mode"), "yes");
    assert_string_equal(shown(&c, "maxmemory-policy"), "noeviction");
    assert_string_equal(shown(&c, "loglevel"), "notice");
    assert_string_equal(shown(&c, "client-output-buffer-limit"),
                        "normal 67108864 16777216 60 slave 268435456 67108864 60 pubsub "
                        "33554432 8388608 60");
    assert_string_equal(shown(&c, "save"), "");
    assert_string_equal(shown(&c, "appendonly"), "yes");
    assert_string_equal(shown(&c, "appendfsync"), "everysec");
    assert_int_equal(config_set(&c, "persistence", "OFF", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "fsync", "always", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "Protected-Mode", "off", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "loglevel", "debug", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "maxmemory", "1gb", err, sizeof err), 0);
    assert_string_equal(shown(&c, "appendonly"), "no");
    assert_string_equal(shown(&c, "appendfsync"), "always");
    assert_string_equal(shown(&c, "protected-mode"), "no");
    assert_string_equal(shown(&c, "loglevel"), "verbose");
    assert_string_equal(shown(&c, "maxmemory"), "1073741824");
    /* Redis's names CONFIG GET answers are not options */
    assert_int_equal(config_set(&c, "appendfsync", "no", err, sizeof err), KV_EINVAL);
    assert_string_equal(err, "unknown option 'appendfsync'");
    /* the messages of a bad value, as before the table */
    assert_int_equal(config_set(&c, "protected-mode", "maybe", err, sizeof err), KV_EINVAL);
    assert_string_equal(err, "invalid value 'maybe' for 'protected-mode': expected yes|no");
    assert_int_equal(config_set(&c, "maxmemory-policy", "lru", err, sizeof err), KV_EINVAL);
    assert_string_equal(err, "invalid value 'lru' for 'maxmemory-policy': expected a policy (see "
                             "--help)");
    assert_int_equal(config_set(&c, "loglevel", "loud", err, sizeof err), KV_EINVAL);
    assert_string_equal(err,
                        "invalid value 'loud' for 'loglevel': expected warning, notice or verbose");
    assert_int_equal(config_set(&c, "hz", "501", err, sizeof err), KV_EINVAL);
    assert_string_equal(err, "invalid value '501' for 'hz': expected an integer from 1 to 500");
}

/* --help: a line for every option, none for Redis's CONFIG GET names. */
static void test_settings_help(void **st)
{
    (void)st;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    config_usage(f, "mem-kv-server");
    fclose(f);
    for (size_t i = 0; i < config_setting_count(); i++) {
        const config_setting *r = config_setting_at(i);
        char want[128];
        snprintf(want, sizeof want, "  --%s %s", r->name, r->arg ? r->arg : "");
        if ((strstr(text, want) != NULL) != !(r->flags & CONFIG_VIEW))
            fail_msg("--help and '%s' disagree", r->name);
    }
    free(text);
}

/* Splits a markdown table row into its cells (a '|' after '\' is text);
 * returns the number of cells, each trimmed, in cells[]. */
static int md_cells(char *row, char **cells, int max)
{
    int n = 0;
    char *p = row + 1; /* after the leading '|' */
    while (*p && n < max) {
        char *end = p;
        while (*end && !(*end == '|' && end[-1] != '\\')) end++;
        if (*end == '\0') break;
        *end = '\0';
        while (*p == ' ') p++;
        for (char *q = end - 1; q >= p && *q == ' '; q--) *q = '\0';
        cells[n++] = p;
        p = end + 1;
    }
    return n;
}

/* A default cell says def: the same words, or the same words then " ..."
 * ("0 = never"); backticks do not count. */
static int doc_default_ok(const char *cell, const char *def)
{
    char plain[512];
    size_t k = 0;
    for (const char *p = cell; *p && k + 1 < sizeof plain; p++)
        if (*p != '`') plain[k++] = *p;
    plain[k] = '\0';
    size_t n = strlen(def);
    return strncmp(plain, def, n) == 0 && (plain[n] == '\0' || plain[n] == ' ');
}

/* Checks one line of the options table; marks the settings it names. */
static void doc_row(char *line, unsigned char *seen)
{
    char *cells[8];
    if (md_cells(line, cells, 8) != 4) fail_msg("not 4 cells: %s", line);
    int names = 0;
    for (const char *p = cells[0]; (p = strstr(p, "`--")) != NULL; names++) {
        char name[64];
        p += 3;
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        if (!strcmp(name, "config") || !strcmp(name, "help") || !strcmp(name, "version")) continue;
        const config_setting *r = config_setting_find(name);
        if (r == NULL) fail_msg("docs/operations.md lists --%s: no such setting", name);
        size_t i = 0;
        while (config_setting_at(i) != r) i++;
        if (seen[i]++) fail_msg("docs/operations.md lists --%s twice", name);
        if (r->def && r->def[0] && !doc_default_ok(cells[1], r->def))
            fail_msg("docs/operations.md: --%s's default is %s, not '%s'", name, r->def, cells[1]);
        const char *want = (r->flags & CONFIG_LIVE)  ? "GET, SET"
                           : (r->flags & CONFIG_GET) ? "GET"
                                                     : "";
        if (strcmp(cells[2], want) != 0)
            fail_msg("docs/operations.md: --%s's CONFIG column is '%s', not '%s'", name, cells[2],
                     want);
    }
    if (names == 0) fail_msg("a line without an option: %s", line);
}

/* Checks one line of the "redis.conf lines" table: a name that is a mem-kv
 * option is one (`dir`) or is mapped (`loglevel debug`), never "ignored". */
static void doc_compat_row(char *line)
{
    char *cells[4];
    if (md_cells(line, cells, 4) != 2) fail_msg("not 2 cells: %s", line);
    if (strstr(cells[1], "mem-kv option") || strstr(cells[1], "mapped to")) return;
    for (const char *p = cells[0]; (p = strchr(p, '`')) != NULL; p++) {
        char name[64];
        size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz0123456789-");
        snprintf(name, sizeof name, "%.*s", (int)n, p + 1);
        if (n > 0 && config_setting_find(name) != NULL)
            fail_msg("docs/operations.md's redis.conf lines say '%s' is not an option: %s", name,
                     cells[1]);
        p = strchr(p + 1, '`'); /* the closing backtick */
        if (p == NULL) break;
    }
}

/* Reads docs/operations.md; calls row() on each line of the table whose
 * header line is header. Returns the number of lines. */
static int doc_table(const char *header, void (*row)(char *line, unsigned char *seen),
                     unsigned char *seen)
{
    FILE *f = fopen(MEMKV_DOCS_DIR "/operations.md", "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int in_table = 0, rows = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n') line[--len] = '\0';
        if (strcmp(line, header) == 0) {
            in_table = 1;
            continue;
        }
        if (!in_table) continue;
        if (line[0] != '|') break;
        if (strncmp(line, "| ---", 5) != 0) {
            row(line, seen);
            rows++;
        }
    }
    free(line);
    fclose(f);
    return rows;
}

static void compat_row(char *line, unsigned char *seen)
{
    (void)seen;
    doc_compat_row(line);
}

/* The redis.conf lines that mem-kv ignores or refuses are no options of its
 * own (lua-time-limit was listed as ignored, but is one). */
static void test_docs_redis_conf_lines(void **st)
{
    (void)st;
    assert_true(doc_table("| line | what mem-kv does |", compat_row, NULL) > 10);
}

/* docs/operations.md's options table: one line for every option of the
 * table (and for nothing else but --config, --help, --version), with its
 * default and what CONFIG GET/SET do with it. */
static void test_docs_options_table(void **st)
{
    (void)st;
    unsigned char seen[256] = {0};
    assert_true(config_setting_count() <= sizeof seen);
    assert_true(doc_table("| option | default | `CONFIG` | meaning |", doc_row, seen) > 0);
    for (size_t i = 0; i < config_setting_count(); i++) {
        const config_setting *r = config_setting_at(i);
        if (!(r->flags & CONFIG_VIEW) && !seen[i])
            fail_msg("docs/operations.md's options table lacks --%s", r->name);
    }
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
        cmocka_unit_test(test_settings_rows),
        cmocka_unit_test(test_settings_defaults),
        cmocka_unit_test(test_settings_format),
        cmocka_unit_test(test_settings_help),
        cmocka_unit_test(test_docs_options_table),
        cmocka_unit_test(test_docs_redis_conf_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
