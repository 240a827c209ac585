/* latency.c - the latency monitor (see latency.h). */
#include "net/latency.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/kv.h"
#include "engine/reply.h"

int latency_init(latency_mon *m, int64_t threshold_ms)
{
    memset(m->ev, 0, sizeof m->ev);
    m->nev = 0;
    atomic_init(&m->threshold_ms, threshold_ms);
    return pthread_mutex_init(&m->lock, NULL) ? KV_ENOMEM : 0;
}

void latency_destroy(latency_mon *m)
{
    if (m) pthread_mutex_destroy(&m->lock);
}

static latency_event *event_find_locked(latency_mon *m, const char *name, size_t len, int create)
{
    for (unsigned i = 0; i < m->nev; i++)
        if (strlen(m->ev[i].name) == len && strncasecmp(m->ev[i].name, name, len) == 0)
            return &m->ev[i];
    if (!create || m->nev == LATENCY_MAX_EVENTS || len >= sizeof m->ev[0].name) return NULL;
    latency_event *e = &m->ev[m->nev++];
    memset(e, 0, sizeof *e);
    memcpy(e->name, name, len);
    return e;
}

static const latency_sample *event_latest(const latency_event *e)
{
    return &e->hist[(e->idx + LATENCY_HISTORY - 1) % LATENCY_HISTORY];
}

void latency_add(latency_mon *m, const char *event, uint64_t us)
{
    if (!latency_wanted(m, us)) return;
    uint64_t ms64 = us / 1000;
    uint32_t ms = ms64 > UINT32_MAX ? UINT32_MAX : (uint32_t)ms64;
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&m->lock);
    latency_event *e = event_find_locked(m, event, strlen(event), 1);
    if (e) {
        latency_sample *last = &e->hist[(e->idx + LATENCY_HISTORY - 1) % LATENCY_HISTORY];
        if (last->unix_s == now) {
            if (ms > last->ms) last->ms = ms;
        } else {
            e->hist[e->idx].unix_s = now;
            e->hist[e->idx].ms = ms;
            e->idx = (e->idx + 1) % LATENCY_HISTORY;
        }
        if (ms > e->max_ms) e->max_ms = ms;
    }
    pthread_mutex_unlock(&m->lock);
}

void latency_prometheus(latency_mon *m, kvbuf *b)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"memkv_latency_spike_last_seconds", "gauge",
         "LATENCY LATEST: the latest spike of each event (over latency-monitor-threshold)."},
        {"memkv_latency_spike_max_seconds", "gauge",
         "LATENCY LATEST: the highest spike of each event since the last LATENCY RESET."},
        {"memkv_latency_spike_samples", "gauge",
         "LATENCY HISTORY: seconds with a spike kept for each event (at most 160)."},
    };
    pthread_mutex_lock(&m->lock);
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        kvbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name,
                     fam[f].type);
        for (unsigned i = 0; i < m->nev; i++) {
            const latency_event *e = &m->ev[i];
            unsigned n = 0;
            for (unsigned k = 0; k < LATENCY_HISTORY; k++) n += e->hist[k].unix_s != 0;
            double v = f == 0 ? event_latest(e)->ms / 1000.0 : f == 1 ? e->max_ms / 1000.0 : n;
            kvbuf_printf(b, "%s{event=\"%s\"} %.3f\n", fam[f].name, e->name, v);
        }
    }
    pthread_mutex_unlock(&m->lock);
}

static int arg_is(const kv_str *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

static void reply_latest_locked(latency_mon *m, kvbuf *out)
{
    reply_array(out, m->nev);
    for (unsigned i = 0; i < m->nev; i++) {
        const latency_sample *s = event_latest(&m->ev[i]);
        reply_array(out, 4);
        reply_bulk_cstr(out, m->ev[i].name);
        reply_int(out, s->unix_s);
        reply_int(out, s->ms);
        reply_int(out, m->ev[i].max_ms);
    }
}

static void reply_history_locked(latency_mon *m, const kv_str *name, kvbuf *out)
{
    latency_event *e = event_find_locked(m, name->p, name->len, 0);
    if (e == NULL) {
        reply_array(out, 0);
        return;
    }
    unsigned n = 0;
    for (unsigned k = 0; k < LATENCY_HISTORY; k++) n += e->hist[k].unix_s != 0;
    reply_array(out, n);
    for (unsigned k = 0; k < LATENCY_HISTORY; k++) { /* oldest first */
        const latency_sample *s = &e->hist[(e->idx + k) % LATENCY_HISTORY];
        if (s->unix_s == 0) continue;
        reply_array(out, 2);
        reply_int(out, s->unix_s);
        reply_int(out, s->ms);
    }
}

/* The events a name may have and what causes them, for DOCTOR. */
static const char *event_cause(const char *name)
{
    static const struct {
        const char *name, *why;
    } causes[] = {
        {"command", "a command that is not O(1) (KEYS, SCAN with a large COUNT, MGET/MSET of many "
                    "keys, FLUSHALL, EVAL) ran long, or waited behind one on its connection or "
                    "actor: see SLOWLOG GET"},
        {"fast-command", "an O(1) command (GET, SET, ...) took this long end to end: it waited in "
                         "an actor's mailbox behind slow work (a big command, a compaction "
                         "slice, an fsync) or the machine is overloaded"},
        {"expire-cycle", "an actor's active expiry cycle removed many keys at once"},
        {"eviction-cycle", "an actor evicted many keys to get back under --maxmemory"},
        {"aof-fsync-always", "an fdatasync of the log with --fsync always: the disk is slow"},
        {"aof-write", "writing the log took long: the disk or page cache is under pressure"},
        {"compaction-slice", "a compaction slice (snapshot writing) ran longer than planned"},
    };
    for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++)
        if (strcmp(causes[i].name, name) == 0) return causes[i].why;
    return "no explanation known for this event";
}

static void reply_doctor_locked(latency_mon *m, kvbuf *out)
{
    kvbuf t;
    kvbuf_init(&t);
    int64_t th = atomic_load(&m->threshold_ms);
    if (th <= 0)
        kvbuf_printf(&t, "The latency monitor is off: CONFIG SET latency-monitor-threshold <ms> "
                         "turns it on (events that take at least that many milliseconds are "
                         "recorded).\n");
    else
        kvbuf_printf(&t, "latency-monitor-threshold is %lld ms.\n", (long long)th);
    if (m->nev == 0) kvbuf_printf(&t, "No latency event was recorded.\n");
    for (unsigned i = 0; i < m->nev; i++) {
        latency_event *e = &m->ev[i];
        unsigned n = 0;
        uint64_t sum = 0;
        for (unsigned k = 0; k < LATENCY_HISTORY; k++)
            if (e->hist[k].unix_s) n++, sum += e->hist[k].ms;
        kvbuf_printf(&t,
                     "%u. %s: %u latency spikes (average %llu ms, latest %u ms, max %u ms). "
                     "Likely cause: %s.\n",
                     i + 1, e->name, n, n ? (unsigned long long)(sum / n) : 0ull,
                     event_latest(e)->ms, e->max_ms, event_cause(e->name));
    }
    reply_bulk(out, t.data, t.len);
    kvbuf_destroy(&t);
}

static void reply_help(kvbuf *out)
{
    static const char *help[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HELP",
        "    Prints this help.",
    };
    reply_array(out, sizeof help / sizeof help[0]);
    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) reply_status(out, help[i]);
}

static unsigned reset_locked(latency_mon *m, int argc, const kv_str *argv)
{
    if (argc == 2) {
        unsigned n = m->nev;
        m->nev = 0;
        return n;
    }
    unsigned n = 0;
    for (int i = 2; i < argc; i++) {
        latency_event *e = event_find_locked(m, argv[i].p, argv[i].len, 0);
        if (e == NULL) continue;
        *e = m->ev[--m->nev];
        n++;
    }
    return n;
}

void latency_command(latency_mon *m, int argc, const kv_str *argv, kvbuf *out)
{
    const kv_str *sub = &argv[1];
    pthread_mutex_lock(&m->lock);
    if (arg_is(sub, "latest") && argc == 2)
        reply_latest_locked(m, out);
    else if (arg_is(sub, "history") && argc == 3)
        reply_history_locked(m, &argv[2], out);
    else if (arg_is(sub, "reset"))
        reply_int(out, reset_locked(m, argc, argv));
    else if (arg_is(sub, "doctor") && argc == 2)
        reply_doctor_locked(m, out);
    else if (arg_is(sub, "help") && argc == 2)
        reply_help(out);
    else if (arg_is(sub, "latest") || arg_is(sub, "history") || arg_is(sub, "doctor") ||
             arg_is(sub, "help")) {
        char name[8];
        for (size_t i = 0; i < sub->len && i < sizeof name - 1; i++)
            name[i] = (char)tolower((unsigned char)sub->p[i]);
        name[sub->len < sizeof name - 1 ? sub->len : sizeof name - 1] = '\0';
        reply_errorf(out, "ERR wrong number of arguments for 'latency|%s' command", name);
    } else
        reply_errorf(out, "ERR unknown subcommand '%.*s'. Try LATENCY HELP.",
                     (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    pthread_mutex_unlock(&m->lock);
}
