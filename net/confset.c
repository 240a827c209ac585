/* confset.c - the CONFIG SET table (see confset.h). */
#include "confset.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "evict.h"
#include "net_internal.h"
#include "pubsub.h"
#include "reply.h"

typedef struct confset_row {
    const char *name;
    const char *bad; /* Redis's message for a bad value; NULL: config_set's */
    int integer;     /* a value that is no integer gets Redis's parse message */
    void (*apply)(struct server *s, const kv_config *parsed);
    void (*show)(struct server *s, char *buf, size_t len);
} confset_row;

static void apply_maxmemory(struct server *s, const kv_config *c)
{
    atomic_store(&s->limits.maxmemory, (int64_t)c->maxmemory);
}

static void show_maxmemory(struct server *s, char *buf, size_t len)
{
    snprintf(buf, len, "%lld", (long long)atomic_load(&s->limits.maxmemory));
}

static void apply_policy(struct server *s, const kv_config *c)
{
    atomic_store(&s->limits.policy, c->maxmemory_policy);
}

static void show_policy(struct server *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s", evict_policy_names[atomic_load(&s->limits.policy)]);
}

static void apply_samples(struct server *s, const kv_config *c)
{
    atomic_store(&s->limits.samples, c->maxmemory_samples);
}

static void show_samples(struct server *s, char *buf, size_t len)
{
    snprintf(buf, len, "%d", atomic_load(&s->limits.samples));
}

static void apply_requirepass(struct server *s, const kv_config *c)
{
    auth_set(&s->auth, c->requirepass, strlen(c->requirepass));
}

static void show_requirepass(struct server *s, char *buf, size_t len)
{
    auth_get(&s->auth, buf, len);
}

static void apply_timeout(struct server *s, const kv_config *c)
{
    atomic_store(&s->timeout, c->timeout);
}

static void show_timeout(struct server *s, char *buf, size_t len)
{
    snprintf(buf, len, "%d", atomic_load(&s->timeout));
}

static void apply_protected(struct server *s, const kv_config *c)
{
    atomic_store(&s->protected_mode, c->protected_mode);
}

static void show_protected(struct server *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s", atomic_load(&s->protected_mode) ? "yes" : "no");
}

static void apply_slowlog_slower(struct server *s, const kv_config *c)
{
    atomic_store(&s->slow.slower_than_us, c->slowlog_slower_than);
    server_watch_update(s);
}

static void show_slowlog_slower(struct server *s, char *buf, size_t len)
{
    snprintf(buf, len, "%lld", (long long)atomic_load(&s->slow.slower_than_us));
}

static void apply_slowlog_len(struct server *s, const kv_config *c)
{
    atomic_store(&s->slow.max_len, c->slowlog_max_len);
}

static void show_slowlog_len(struct server *s, char *buf, size_t len)
{
    snprintf(buf, len, "%lld", (long long)atomic_load(&s->slow.max_len));
}

static void apply_latency(struct server *s, const kv_config *c)
{
    atomic_store(&s->lat.threshold_ms, c->latency_threshold);
    server_watch_update(s);
}

static void show_latency(struct server *s, char *buf, size_t len)
{
    snprintf(buf, len, "%lld", (long long)atomic_load(&s->lat.threshold_ms));
}

/* client-output-buffer-limit: the pubsub class changes while running; the
 * normal class is read by connections as they are set up, so it may only
 * be given again with its current values. */
static const char *veto_obl(struct server *s, const kv_config *c)
{
    if (c->obl_hard != s->cfg.obl_hard || c->obl_soft != s->cfg.obl_soft ||
        c->obl_soft_seconds != s->cfg.obl_soft_seconds)
        return "only the pubsub class can change while running";
    return NULL;
}

static void apply_obl(struct server *s, const kv_config *c)
{
    pubsub_limits_set(s->pubsub, c->obl_pubsub_hard, c->obl_pubsub_soft,
                      c->obl_pubsub_soft_seconds);
}

static void show_obl(struct server *s, char *buf, size_t len)
{
    kv_config c = s->cfg;
    int64_t hard, soft;
    int secs;
    pubsub_limits_get(s->pubsub, &hard, &soft, &secs);
    c.obl_pubsub_hard = hard;
    c.obl_pubsub_soft = soft;
    c.obl_pubsub_soft_seconds = secs;
    config_format_obl(&c, buf, len);
}

static const confset_row rows[] = {
    {"maxmemory", "argument must be a memory value", 0, apply_maxmemory, show_maxmemory},
    {"maxmemory-policy",
     "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, "
     "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
     0, apply_policy, show_policy},
    {"maxmemory-samples", "argument must be between 1 and 2147483647 inclusive", 1, apply_samples,
     show_samples},
    {"requirepass", NULL, 0, apply_requirepass, show_requirepass},
    {"timeout", "argument must be between 0 and 2147483647 inclusive", 1, apply_timeout,
     show_timeout},
    {"protected-mode", "argument must be 'yes' or 'no'", 0, apply_protected, show_protected},
    {"slowlog-log-slower-than", NULL, 1, apply_slowlog_slower, show_slowlog_slower},
    {"slowlog-max-len", NULL, 1, apply_slowlog_len, show_slowlog_len},
    {"latency-monitor-threshold", NULL, 1, apply_latency, show_latency},
    {"client-output-buffer-limit",
     "Error in hard, soft or soft_seconds setting in buffer limit configuration.", 0, apply_obl,
     show_obl},
};
#define NROWS (sizeof rows / sizeof rows[0])

size_t confset_count(void)
{
    return NROWS;
}

const char *confset_get(struct server *s, size_t i, char *buf, size_t len)
{
    rows[i].show(s, buf, len);
    return rows[i].name;
}

static const confset_row *row_find(const kv_str *name)
{
    for (size_t i = 0; i < NROWS; i++)
        if (strlen(rows[i].name) == name->len && strncasecmp(rows[i].name, name->p, name->len) == 0)
            return &rows[i];
    return NULL;
}

/* Replies the error for a name that is no live setting: a start-up option
 * that cannot change while running, or an unknown one. */
static void confset_unknown(struct server *s, const kv_str *name, kvbuf *out)
{
    char key[64], err[KV_CONFIG_ERRLEN];
    if (name->len < sizeof key && memchr(name->p, '\0', name->len) == NULL) {
        memcpy(key, name->p, name->len);
        key[name->len] = '\0';
        kv_config probe = s->cfg;
        if (config_set(&probe, key, "", err, sizeof err) != 0 &&
            strncmp(err, "unknown option", 14) != 0) {
            reply_errorf(out,
                         "ERR CONFIG SET failed (possibly related to argument '%s') - can't set "
                         "immutable config",
                         key);
            return;
        }
    }
    reply_errorf(out, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                 name->len > 128 ? 128 : (int)name->len, name->p);
}

/* Checks one value into the scratch configuration; replies the error and
 * returns -1 if it is not acceptable. */
static int confset_check(struct server *s, const confset_row *row, const kv_str *value,
                         kv_config *scratch, kvbuf *out)
{
    char val[512], err[KV_CONFIG_ERRLEN];
    if (value->len < sizeof val && memchr(value->p, '\0', value->len) == NULL) {
        memcpy(val, value->p, value->len);
        val[value->len] = '\0';
        if (config_set(scratch, row->name, val, err, sizeof err) == 0) {
            /* a value that parses but cannot be applied while running */
            const char *veto = row->apply == apply_obl ? veto_obl(s, scratch) : NULL;
            if (veto == NULL) return 0;
            reply_errorf(out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                         row->name, veto);
            return -1;
        }
    } else {
        snprintf(err, sizeof err, "invalid value");
    }
    int64_t n;
    const char *why = row->bad ? row->bad : err;
    if (row->integer && kv_parse_i64(value->p, value->len, &n) != 0)
        why = "argument couldn't be parsed into an integer";
    reply_errorf(out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", row->name,
                 why);
    return -1;
}

void confset_set(struct server *s, int argc, const kv_str *argv, kvbuf *out)
{
    if (argc < 4 || (argc - 2) % 2 != 0) {
        reply_error(out, "ERR wrong number of arguments for 'config|set' command");
        return;
    }
    int npairs = (argc - 2) / 2;
    const confset_row *seen[NROWS];
    kv_config scratch = s->cfg;
    for (int i = 0; i < npairs; i++) {
        const confset_row *row = row_find(&argv[2 + 2 * i]);
        if (row == NULL) {
            confset_unknown(s, &argv[2 + 2 * i], out);
            return;
        }
        if (confset_check(s, row, &argv[3 + 2 * i], &scratch, out) != 0) return;
        for (int j = 0; j < i && j < (int)NROWS; j++)
            if (seen[j] == row) {
                reply_errorf(out,
                             "ERR CONFIG SET failed (possibly related to argument '%s') - "
                             "duplicate parameter",
                             row->name);
                return;
            }
        if (i < (int)NROWS) seen[i] = row; /* past NROWS a repeat was found above */
    }
    for (int i = 0; i < npairs; i++) seen[i]->apply(s, &scratch);
    reply_ok(out);
}
