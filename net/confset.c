/* confset.c - CONFIG GET and CONFIG SET (see confset.h). */
#include "net/confset.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/auth.h"
#include "engine/config.h"
#include "engine/glob.h"
#include "net/net_internal.h"
#include "net/pubsub.h"
#include "engine/reply.h"

/* The run-time half of a CONFIG_LIVE setting. */
typedef struct confset_hook {
    const char *name; /* the row of the settings table */
    /* stores parsed's value where the running threads read it */
    void (*apply)(struct server *s, const kv_config *parsed);
    /* reads the running value back into live's field */
    void (*load)(struct server *s, kv_config *live);
    /* NULL, or the reason a value that parses cannot be applied while running */
    const char *(*veto)(struct server *s, const kv_config *parsed);
} confset_hook;

static void apply_maxmemory(struct server *s, const kv_config *c)
{
    atomic_store(&s->limits.maxmemory, (int64_t)c->maxmemory);
}

static void load_maxmemory(struct server *s, kv_config *c)
{
    c->maxmemory = (long long)atomic_load(&s->limits.maxmemory);
}

static void apply_policy(struct server *s, const kv_config *c)
{
    atomic_store(&s->limits.policy, c->maxmemory_policy);
}

static void load_policy(struct server *s, kv_config *c)
{
    c->maxmemory_policy = atomic_load(&s->limits.policy);
}

static void apply_samples(struct server *s, const kv_config *c)
{
    atomic_store(&s->limits.samples, c->maxmemory_samples);
}

static void load_samples(struct server *s, kv_config *c)
{
    c->maxmemory_samples = atomic_load(&s->limits.samples);
}

static void apply_requirepass(struct server *s, const kv_config *c)
{
    auth_set(&s->auth, c->requirepass, strlen(c->requirepass));
}

static void load_requirepass(struct server *s, kv_config *c)
{
    auth_get(&s->auth, c->requirepass, sizeof c->requirepass);
}

static void apply_timeout(struct server *s, const kv_config *c)
{
    atomic_store(&s->timeout, c->timeout);
}

static void load_timeout(struct server *s, kv_config *c)
{
    c->timeout = atomic_load(&s->timeout);
}

static void apply_protected(struct server *s, const kv_config *c)
{
    atomic_store(&s->protected_mode, c->protected_mode);
}

static void load_protected(struct server *s, kv_config *c)
{
    c->protected_mode = atomic_load(&s->protected_mode) != 0;
}

static void apply_slowlog_slower(struct server *s, const kv_config *c)
{
    atomic_store(&s->slow.slower_than_us, c->slowlog_slower_than);
    server_watch_update(s);
}

static void load_slowlog_slower(struct server *s, kv_config *c)
{
    c->slowlog_slower_than = (int)atomic_load(&s->slow.slower_than_us);
}

static void apply_slowlog_len(struct server *s, const kv_config *c)
{
    atomic_store(&s->slow.max_len, c->slowlog_max_len);
}

static void load_slowlog_len(struct server *s, kv_config *c)
{
    c->slowlog_max_len = (int)atomic_load(&s->slow.max_len);
}

static void apply_latency(struct server *s, const kv_config *c)
{
    atomic_store(&s->lat.threshold_ms, c->latency_threshold);
    server_watch_update(s);
}

static void load_latency(struct server *s, kv_config *c)
{
    c->latency_threshold = (int)atomic_load(&s->lat.threshold_ms);
}

/* One per CONFIG_LIVE row (confset_check_hooks, test_confset). */
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
    if (s->pubsub == NULL) return; /* a server without Pub/Sub (unit tests) */
    pubsub_limits_set(s->pubsub, c->obl_pubsub_hard, c->obl_pubsub_soft,
                      c->obl_pubsub_soft_seconds);
}

static void load_obl(struct server *s, kv_config *c)
{
    int64_t hard, soft;
    int secs;
    if (s->pubsub == NULL) return;
    pubsub_limits_get(s->pubsub, &hard, &soft, &secs);
    c->obl_pubsub_hard = hard;
    c->obl_pubsub_soft = soft;
    c->obl_pubsub_soft_seconds = secs;
}

static const confset_hook hooks[] = {
    {"maxmemory", apply_maxmemory, load_maxmemory, NULL},
    {"maxmemory-policy", apply_policy, load_policy, NULL},
    {"maxmemory-samples", apply_samples, load_samples, NULL},
    {"requirepass", apply_requirepass, load_requirepass, NULL},
    {"timeout", apply_timeout, load_timeout, NULL},
    {"protected-mode", apply_protected, load_protected, NULL},
    {"slowlog-log-slower-than", apply_slowlog_slower, load_slowlog_slower, NULL},
    {"slowlog-max-len", apply_slowlog_len, load_slowlog_len, NULL},
    {"latency-monitor-threshold", apply_latency, load_latency, NULL},
    {"client-output-buffer-limit", apply_obl, load_obl, veto_obl},
};
#define NHOOKS (sizeof hooks / sizeof hooks[0])

static const confset_hook *hook_find(const config_setting *st)
{
    for (size_t i = 0; i < NHOOKS; i++)
        if (strcmp(hooks[i].name, st->name) == 0) return &hooks[i];
    return NULL;
}

int confset_check_hooks(char *err, size_t errlen)
{
    for (size_t i = 0; i < config_setting_count(); i++) {
        const config_setting *st = config_setting_at(i);
        if ((st->flags & CONFIG_LIVE) && hook_find(st) == NULL) {
            snprintf(err, errlen, "CONFIG_LIVE setting '%s' has no hook", st->name);
            return -1;
        }
    }
    for (size_t i = 0; i < NHOOKS; i++) {
        const config_setting *st = config_setting_find(hooks[i].name);
        if (st == NULL || !(st->flags & CONFIG_LIVE)) {
            snprintf(err, errlen, "hook '%s' names no CONFIG_LIVE setting", hooks[i].name);
            return -1;
        }
    }
    return 0;
}

/* ---- CONFIG GET ---------------------------------------------------------- */

/* 1 if one of the patterns argv[2..argc) matches name. */
static int any_match(int argc, const kv_str *argv, const char *name)
{
    for (int i = 2; i < argc; i++)
        if (kv_glob_match(argv[i].p, argv[i].len, name, strlen(name), 1)) return 1;
    return 0;
}

/* Appends the pairs of the settings the patterns match (reply != 0), or
 * only counts them; returns the count. A setting with an alias answers
 * under each name that matches, as Redis does. */
static int64_t get_pairs(const kv_config *live, int argc, const kv_str *argv, kvbuf *out, int reply)
{
    char val[1024];
    int64_t count = 0;
    for (size_t i = 0; i < config_setting_count(); i++) {
        const config_setting *st = config_setting_at(i);
        if (!(st->flags & (CONFIG_GET | CONFIG_LIVE | CONFIG_VIEW))) continue;
        const char *names[2] = {st->name, st->alias};
        for (int k = 0; k < 2; k++) {
            if (names[k] == NULL || !any_match(argc, argv, names[k])) continue;
            count++;
            if (!reply) continue;
            config_setting_format(live, st, val, sizeof val);
            reply_bulk_cstr(out, names[k]);
            reply_bulk_cstr(out, val);
        }
    }
    return count;
}

void confset_get(struct server *s, int argc, const kv_str *argv, kvbuf *out)
{
    if (argc < 3) {
        reply_error(out, "ERR wrong number of arguments for 'config|get' command");
        return;
    }
    kv_config live = s->cfg; /* ro after start; the live settings from their atomics */
    for (size_t i = 0; i < NHOOKS; i++) hooks[i].load(s, &live);
    reply_array(out, get_pairs(&live, argc, argv, out, 0) * 2);
    get_pairs(&live, argc, argv, out, 1);
}

/* ---- CONFIG SET ---------------------------------------------------------- */

/* The setting named name (a row name or alias), or NULL. */
static const config_setting *setting_find(const kv_str *name)
{
    char key[64];
    if (name->len >= sizeof key || memchr(name->p, '\0', name->len) != NULL) return NULL;
    memcpy(key, name->p, name->len);
    key[name->len] = '\0';
    return config_setting_find(key);
}

/* Replies the error for a name that is no live setting: a start-up option
 * that cannot change while running, or an unknown one. */
static void confset_refuse(const config_setting *st, const kv_str *name, kvbuf *out)
{
    if (st != NULL) {
        reply_errorf(out,
                     "ERR CONFIG SET failed (possibly related to argument '%.*s') - can't set "
                     "immutable config",
                     (int)name->len, name->p);
        return;
    }
    reply_errorf(out, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                 name->len > 128 ? 128 : (int)name->len, name->p);
}

/* Checks one value into the scratch configuration; replies the error and
 * returns -1 if it is not acceptable. */
static int confset_check(struct server *s, const config_setting *st, const confset_hook *hook,
                         const kv_str *value, kv_config *scratch, kvbuf *out)
{
    char val[512], err[KV_CONFIG_ERRLEN];
    if (value->len < sizeof val && memchr(value->p, '\0', value->len) == NULL) {
        memcpy(val, value->p, value->len);
        val[value->len] = '\0';
        if (config_setting_set(scratch, st, val, err, sizeof err) == 0) {
            const char *veto = hook->veto ? hook->veto(s, scratch) : NULL;
            if (veto == NULL) return 0;
            reply_errorf(out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                         st->name, veto);
            return -1;
        }
    } else {
        snprintf(err, sizeof err, "invalid value");
    }
    int64_t n;
    const char *why = st->set_error ? st->set_error : err;
    if (st->type == CONFIG_INT && kv_parse_i64(value->p, value->len, &n) != 0)
        why = "argument couldn't be parsed into an integer";
    reply_errorf(out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", st->name,
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
    const confset_hook *seen[NHOOKS];
    kv_config scratch = s->cfg;
    for (int i = 0; i < npairs; i++) {
        const config_setting *st = setting_find(&argv[2 + 2 * i]);
        const confset_hook *hook = st && (st->flags & CONFIG_LIVE) ? hook_find(st) : NULL;
        if (hook == NULL) {
            confset_refuse(st, &argv[2 + 2 * i], out);
            return;
        }
        if (confset_check(s, st, hook, &argv[3 + 2 * i], &scratch, out) != 0) return;
        for (int j = 0; j < i && j < (int)NHOOKS; j++)
            if (seen[j] == hook) {
                reply_errorf(out,
                             "ERR CONFIG SET failed (possibly related to argument '%s') - "
                             "duplicate parameter",
                             st->name);
                return;
            }
        if (i < (int)NHOOKS) seen[i] = hook; /* past NHOOKS a repeat was found above */
    }
    for (int i = 0; i < npairs; i++) seen[i]->apply(s, &scratch);
    reply_ok(out);
}
