/* libFuzzer target for engine/config.c: the input is used twice, as a
 * config file (written to disk and read with config_load_file) and as a
 * command line (split at NUL bytes into argv for config_parse_args), each
 * on fresh defaults (a command line naming --config, and any input with
 * the word include, are skipped: they would read whatever file they name,
 * /dev/zero too). Each must answer 0 or an error with a message, and a
 * configuration it accepts must hold only in-range values and terminated
 * strings. Any failure aborts. */
#include <stddef.h>
#include <stdint.h>

#include "engine/config.h"
#include "tests/fuzz/fuzz_util.h"
#include "engine/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

static void check_config(const kv_config *c)
{
    CHECK(memchr(c->bind, '\0', sizeof c->bind) != NULL);
    CHECK(memchr(c->dir, '\0', sizeof c->dir) != NULL);
    CHECK(memchr(c->requirepass, '\0', sizeof c->requirepass) != NULL);
    CHECK(c->port >= 0 && c->port <= 65535);
    CHECK(c->shards >= 1);
    CHECK(c->maxclients >= 1);
    CHECK(c->proto_max_bulk_len >= 1);
    CHECK(c->compact_cpu >= 1 && c->compact_cpu <= 100);
    CHECK(memchr(c->warnings, '\0', sizeof c->warnings) != NULL);
}

/* Whether data holds "include" in any case. */
static int names_include(const uint8_t *data, size_t size)
{
    static const char word[] = "include";
    for (size_t i = 0; i + sizeof word - 1 <= size; i++) {
        size_t k = 0;
        while (k < sizeof word - 1 && (data[i + k] | 0x20) == word[k]) k++;
        if (k == sizeof word - 1) return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[KV_CONFIG_ERRLEN];
    kv_config c;

    if (names_include(data, size)) return 0;
    char path[256];
    snprintf(path, sizeof path, "%s/mem-kv.conf", fuzz_dir());
    fuzz_write_file(path, data, size);
    config_defaults(&c);
    err[0] = '\0';
    int rc = config_load_file(&c, path, err, sizeof err);
    CHECK(rc == 0 || err[0] != '\0');
    if (rc == 0) check_config(&c);

    char *copy = malloc(size + 1);
    CHECK(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = "mem-kv-server";
    for (size_t i = 0; i <= size && argc < MAX_ARGS;) {
        argv[argc++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    argv[argc] = NULL;
    for (int i = 1; i < argc; i++)
        if (strstr(argv[i], "config") != NULL) { /* --config FILE reads any path, /dev/zero too */
            free(copy);
            return 0;
        }
    config_defaults(&c);
    err[0] = '\0';
    rc = config_parse_args(&c, argc, argv, err, sizeof err);
    CHECK(rc == 0 || err[0] != '\0');
    if (rc == 0) {
        check_config(&c);
        CHECK(c.threads == 0 || (c.io_threads == 0 && c.actor_threads == 0)); /* config_check */
    }
    free(copy);
    return 0;
}
