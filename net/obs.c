/* obs.c - per-thread command statistics, merged for INFO, STATS and the
 * Prometheus page; CONFIG RESETSTAT. See obs.h. */
#include "net/obs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/join.h"
#include "net/net_internal.h"
#include "net/scripting.h"

/* Percentiles reported in STATS (and their JSON names). */
static const double stat_pcts[] = {50, 95, 99, 99.9};
static const char *const stat_pct_names[] = {"p50", "p95", "p99", "p99.9"};
#define NSTAT_PCTS (sizeof stat_pcts / sizeof stat_pcts[0])

/* Prometheus histogram bucket bounds, in seconds (1 us .. 10 s). */
static const double prom_le[] = {1e-6, 2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4,
                                 5e-4, 1e-3,   2.5e-3, 5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,
                                 0.25, 0.5,    1,      2.5,  5,      10};
#define NPROM_LE (sizeof prom_le / sizeof prom_le[0])

int obs_net_init(obs_net *o)
{
    size_t n = cmdtab_count() + 1; /* + one for anything not in the table */
    o->cmds = calloc(n, sizeof *o->cmds);
    if (o->cmds == NULL) return KV_ENOMEM;
    hist_st(&o->gen, 0);
    return 0;
}

obs_cmd *obs_cmd_first(obs_net *o, size_t i)
{
    obs_cmd *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    /* calloc's zeroes are an empty histogram but for min; leaving the
     * buckets untouched keeps a command's unused pages unmapped. */
    hist_st(&c->lat.min, UINT64_MAX);
    atomic_store_explicit(&o->cmds[i], c, memory_order_release); /* readers see it whole */
    return c;
}

/* Command i's figures in o for a reader on any thread; NULL: never called. */
static const obs_cmd *obs_cmd_peek(const obs_net *o, size_t i)
{
    return atomic_load_explicit(&o->cmds[i], memory_order_acquire);
}

uint64_t obs_net_calls(const obs_net *o)
{
    uint64_t n = 0;
    for (size_t i = 0; i < cmdtab_count() + 1; i++) {
        const obs_cmd *c = obs_cmd_peek(o, i);
        if (c != NULL) n += hist_ld(&c->lat.total);
    }
    return n;
}

void obs_net_destroy(obs_net *o)
{
    if (o == NULL || o->cmds == NULL) return;
    size_t n = cmdtab_count() + 1;
    for (size_t i = 0; i < n; i++) free(atomic_load_explicit(&o->cmds[i], memory_order_relaxed));
    free(o->cmds);
    o->cmds = NULL;
}

/* Clears o's command figures. Owner thread. */
static void obs_cmds_clear(obs_net *o)
{
    size_t n = cmdtab_count() + 1;
    for (size_t i = 0; i < n; i++) {
        obs_cmd *c = atomic_load_explicit(&o->cmds[i], memory_order_relaxed);
        if (c == NULL) continue;
        if (hist_ld(&c->lat.total) == 0 && hist_ld(&c->rejected) == 0) continue;
        hist_init(&c->lat);
        hist_st(&c->failed, 0);
        hist_st(&c->rejected, 0);
    }
}

void obs_net_sync_cmds(obs_net *o, uint64_t gen)
{
    if (gen == hist_ld(&o->gen)) return;
    obs_cmds_clear(o);
    atomic_store_explicit(&o->gen, gen, memory_order_release);
}

void obs_net_sync(netthr *t)
{
    uint64_t gen = atomic_load_explicit(&t->srv->stats_gen, memory_order_relaxed);
    obs_net *o = &t->obs;
    if (gen == hist_ld(&o->gen)) return;
    obs_cmds_clear(o);
    /* the figures Redis's RESETSTAT clears (not the open-connection gauge) */
    hist_st(&t->stats.commands, 0);
    hist_st(&t->stats.connections, 0);
    hist_st(&t->stats.rejected, 0);
    hist_st(&t->stats.net_in, 0);
    hist_st(&t->stats.net_out, 0);
    hist_st(&t->stats.unknown_commands, 0);
    for (unsigned i = 0; i < atomic_load_explicit(&o->nerrs, memory_order_relaxed); i++)
        hist_st(&o->errs[i].count, 0);
    hist_st(&o->errors, 0);
    atomic_store_explicit(&o->gen, gen, memory_order_release);
}

void obs_reset(netthr *t)
{
    server_t *s = t->srv;
    atomic_fetch_add(&s->stats_gen, 1);
    actor_pool_reset_stats(s->actors);
    obs_net_sync(t);
    /* Idle threads would reset only at their next event: wake them. */
    for (unsigned i = 0; i < s->nnet; i++)
        if (&s->net[i] != t && s->net[i].loop) ev_async_send(s->net[i].loop, &s->net[i].wake_w);
}

void obs_error(obs_net *o, const char *reply, size_t len)
{
    char name[OBS_ERR_NAME];
    size_t n = 0;
    for (size_t i = 1; i < len && n < sizeof name - 1; i++) {
        char ch = reply[i];
        if (ch == ' ' || ch == '\r' || ch == '\n') break;
        name[n++] = ch;
    }
    name[n] = '\0';
    hist_add(&o->errors, 1);
    unsigned k = atomic_load_explicit(&o->nerrs, memory_order_relaxed);
    for (unsigned i = 0; i < k; i++)
        if (strcmp(o->errs[i].name, name) == 0) {
            hist_add(&o->errs[i].count, 1);
            return;
        }
    if (k == OBS_ERR_KINDS) return; /* counted in the total only */
    memcpy(o->errs[k].name, name, n + 1);
    hist_st(&o->errs[k].count, 1);
    atomic_store_explicit(&o->nerrs, k + 1, memory_order_release);
}

/* Adds thread o's error figures into m. */
static void summary_errors(obs_summary *m, obs_net *o)
{
    m->errors += hist_ld(&o->errors);
    unsigned k = atomic_load_explicit(&o->nerrs, memory_order_acquire);
    for (unsigned i = 0; i < k; i++) {
        uint64_t c = hist_ld(&o->errs[i].count);
        size_t j = 0;
        while (j < m->nerrs && strcmp(m->errs[j].name, o->errs[i].name) != 0) j++;
        if (j == m->nerrs) {
            if (j == sizeof m->errs / sizeof m->errs[0]) continue;
            memcpy(m->errs[j].name, o->errs[i].name, OBS_ERR_NAME);
            m->errs[j].count = 0;
            m->nerrs++;
        }
        m->errs[j].count += c;
    }
}

static int err_cmp(const void *a, const void *b)
{
    return strcmp(((const obs_err *)a)->name, ((const obs_err *)b)->name);
}

/* ---- merging -------------------------------------------------------------- */

static hist_t *hist_new(void)
{
    hist_t *h = malloc(sizeof *h);
    if (h) hist_init(h);
    return h;
}

void obs_summary_free(obs_summary *m)
{
    if (m == NULL) return;
    for (size_t i = 0; i < m->ncmd; i++) free(m->cmd[i].lat);
    free(m->cmd);
    free(m);
}

/* Adds command i of o into sum unless o has not applied reset gen (then
 * it counts as zero). 0, or -1 on OOM. */
static int summary_add_cmd(obs_cmd_sum *sum, const obs_net *o, size_t i, uint64_t gen)
{
    if (atomic_load_explicit(&o->gen, memory_order_acquire) != gen) return 0;
    const obs_cmd *c = obs_cmd_peek(o, i);
    if (c == NULL) return 0;
    uint64_t calls = hist_ld(&c->lat.total), rej = hist_ld(&c->rejected);
    if (calls == 0 && rej == 0) return 0;
    if (sum->lat == NULL && (sum->lat = hist_new()) == NULL) return -1;
    hist_merge(sum->lat, &c->lat);
    sum->failed += hist_ld(&c->failed);
    sum->rejected += rej;
    return 0;
}

obs_summary *obs_summary_new(server_t *s)
{
    obs_summary *m = calloc(1, sizeof *m);
    if (m == NULL) return NULL;
    hist_init(&m->all);
    hist_init(&m->service);
    size_t n = cmdtab_count() + 1;
    m->cmd = calloc(n, sizeof *m->cmd);
    if (m->cmd == NULL) goto fail;
    uint64_t gen = atomic_load(&s->stats_gen);
    for (size_t i = 0; i < n; i++) {
        obs_cmd_sum sum = {.def = cmdtab_at(i)};
        for (unsigned k = 0; k < s->nnet; k++)
            if (summary_add_cmd(&sum, &s->net[k].obs, i, gen) != 0) goto fail;
        /* the commands scripts ran (redis.call), counted by their actors */
        for (unsigned a = 0; s->scripts && a < s->nactors; a++)
            if (summary_add_cmd(&sum, script_env_obs(s->scripts, a), i, gen) != 0) goto fail;
        if (sum.lat == NULL) continue;
        if (sum.def == NULL) { /* not a table command: counted in the total only */
            hist_merge(&m->all, sum.lat);
            free(sum.lat);
            continue;
        }
        sum.calls = hist_ld(&sum.lat->total);
        hist_merge(&m->all, sum.lat);
        m->cmd[m->ncmd++] = sum;
    }
    for (unsigned k = 0; k < s->nnet; k++) {
        netthr *t = &s->net[k];
        if (atomic_load_explicit(&t->obs.gen, memory_order_acquire) != gen) continue;
        summary_errors(m, &t->obs);
        m->unknown += hist_ld(&t->stats.unknown_commands);
    }
    qsort(m->errs, m->nerrs, sizeof m->errs[0], err_cmp); /* by name, as Redis lists them */
    m->rejected = m->unknown;
    for (size_t i = 0; i < m->ncmd; i++) m->rejected += m->cmd[i].rejected;
    actor_pool_stats(s->actors, &m->batch, &m->service);
    return m;
fail:
    obs_summary_free(m);
    return NULL;
}

/* ---- INFO ------------------------------------------------------------------ */

static double usec_of(uint64_t ns)
{
    return (double)ns / 1000.0;
}

void obs_info_commandstats(kvbuf *b, const obs_summary *m)
{
    kvbuf_printf(b, "# Commandstats\r\n");
    for (size_t i = 0; i < m->ncmd; i++) {
        const obs_cmd_sum *c = &m->cmd[i];
        double usec = atomic_load_explicit(&c->lat->sum, memory_order_relaxed) / 1000.0;
        kvbuf_printf(b,
                     "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                     "failed_calls=%llu\r\n",
                     c->def->name, (unsigned long long)c->calls, (unsigned long long)usec,
                     c->calls ? usec / (double)c->calls : 0.0, (unsigned long long)c->rejected,
                     (unsigned long long)c->failed);
    }
    kvbuf_printf(b, "\r\n");
}

void obs_info_latencystats(kvbuf *b, const obs_summary *m)
{
    kvbuf_printf(b, "# Latencystats\r\n");
    for (size_t i = 0; i < m->ncmd; i++) {
        const obs_cmd_sum *c = &m->cmd[i];
        if (c->calls == 0) continue;
        kvbuf_printf(b, "latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n",
                     c->def->name, usec_of(hist_value_at(c->lat, 50)),
                     usec_of(hist_value_at(c->lat, 99)), usec_of(hist_value_at(c->lat, 99.9)));
    }
    kvbuf_printf(b, "\r\n");
}

void obs_info_errorstats(kvbuf *b, const obs_summary *m)
{
    kvbuf_printf(b, "# Errorstats\r\n");
    for (size_t i = 0; i < m->nerrs; i++)
        if (m->errs[i].count > 0)
            kvbuf_printf(b, "errorstat_%s:count=%llu\r\n", m->errs[i].name,
                         (unsigned long long)m->errs[i].count);
    kvbuf_printf(b, "\r\n");
}

/* ---- STATS JSON -------------------------------------------------------------- */

static void json_latency(kvbuf *b, const hist_t *h)
{
    uint64_t n = hist_ld(&h->total);
    kvbuf_printf(b, "{\"count\":%llu,\"mean\":%.3f", (unsigned long long)n,
                 usec_of((uint64_t)hist_mean(h)));
    for (size_t i = 0; i < NSTAT_PCTS; i++)
        kvbuf_printf(b, ",\"%s\":%.3f", stat_pct_names[i], usec_of(hist_value_at(h, stat_pcts[i])));
    kvbuf_printf(b, ",\"max\":%.3f}", usec_of(n ? hist_ld(&h->max) : 0));
}

void obs_stats_json(kvbuf *b, server_t *s, const kv_slot *sl)
{
    obs_summary *m = obs_summary_new(s);
    if (m == NULL) return; /* out of memory: the base figures still go out */
    kvbuf_printf(b, ",\"latency_us\":");
    json_latency(b, &m->all);
    kvbuf_printf(b, ",\"command_stats\":{");
    for (size_t i = 0; i < m->ncmd; i++) {
        const obs_cmd_sum *c = &m->cmd[i];
        double usec = atomic_load_explicit(&c->lat->sum, memory_order_relaxed) / 1000.0;
        kvbuf_printf(b,
                     "%s\"%s\":{\"calls\":%llu,\"failed\":%llu,\"rejected\":%llu,\"usec\":%.0f,"
                     "\"latency_us\":",
                     i ? "," : "", c->def->name, (unsigned long long)c->calls,
                     (unsigned long long)c->failed, (unsigned long long)c->rejected, usec);
        json_latency(b, c->lat);
        kvbuf_printf(b, "}");
    }
    kvbuf_printf(b, "}");
    kvbuf_printf(b,
                 ",\"error_replies\":%llu,\"unknown_commands\":%llu,\"rejected_commands\":%llu,"
                 "\"errorstats\":{",
                 (unsigned long long)m->errors, (unsigned long long)m->unknown,
                 (unsigned long long)m->rejected);
    for (size_t i = 0, n = 0; i < m->nerrs; i++)
        if (m->errs[i].count > 0)
            kvbuf_printf(b, "%s\"%s\":%llu", n++ ? "," : "", m->errs[i].name,
                         (unsigned long long)m->errs[i].count);
    kvbuf_printf(b, "}");
    /* the shard parts, one per shard in shard order */
    static const struct {
        const char *name;
        int field;
    } per_shard[] = {{"shard_keys", CMD_INFO_KEYS}, {"shard_expires", CMD_INFO_EXPIRES}};
    for (size_t f = 0; f < sizeof per_shard / sizeof per_shard[0]; f++) {
        kvbuf_printf(b, ",\"%s\":[", per_shard[f].name);
        for (unsigned i = 0; i < sl->nsub; i++) {
            int64_t v[CMD_INFO_NFIELDS];
            if (join_sum_fields(&sl->subs[i], 1, v) != 0) v[per_shard[f].field] = -1;
            kvbuf_printf(b, "%s%lld", i ? "," : "", (long long)v[per_shard[f].field]);
        }
        kvbuf_printf(b, "]");
    }
    const actor_batch_stats *bs = &m->batch;
    kvbuf_printf(b,
                 ",\"batches\":{\"count\":%llu,\"requests\":%llu,\"mean_size\":%.2f,"
                 "\"max_size\":%llu,\"mailbox_batches\":%llu,\"service_us\":",
                 (unsigned long long)bs->rounds, (unsigned long long)bs->requests,
                 bs->rounds ? (double)bs->requests / (double)bs->rounds : 0.0,
                 (unsigned long long)bs->max_requests, (unsigned long long)bs->batches);
    json_latency(b, &m->service);
    kvbuf_printf(b, "}");
    obs_summary_free(m);
}

/* ---- Prometheus --------------------------------------------------------------- */

static void prom_head(kvbuf *b, const char *name, const char *type, const char *help)
{
    kvbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's _bucket/_sum/_count lines; labels is `cmd="get"` or "". */
static void prom_hist(kvbuf *b, const char *name, const char *labels, const hist_t *h)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t total = hist_ld(&h->total);
    for (size_t i = 0; i < NPROM_LE; i++) {
        uint64_t le_ns = (uint64_t)(prom_le[i] * 1e9 + 0.5);
        kvbuf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, prom_le[i],
                     (unsigned long long)hist_count_le(h, le_ns));
    }
    kvbuf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                 (unsigned long long)total);
    double sum = atomic_load_explicit(&h->sum, memory_order_relaxed) / 1e9;
    if (labels[0]) {
        kvbuf_printf(b, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", name, labels, sum, name, labels,
                     (unsigned long long)total);
    } else {
        kvbuf_printf(b, "%s_sum %.9f\n%s_count %llu\n", name, sum, name, (unsigned long long)total);
    }
}

static size_t prom_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

void obs_prometheus(kvbuf *b, server_t *s)
{
    obs_summary *m = obs_summary_new(s);
    uint64_t commands = 0, conns = 0, rejected = 0, net_in = 0, net_out = 0;
    commands += script_env_calls(s->scripts, atomic_load(&s->stats_gen)); /* redis.call */
    for (unsigned i = 0; i < s->nnet; i++) {
        net_stats *ns = &s->net[i].stats;
        commands += hist_ld(&ns->commands);
        conns += hist_ld(&ns->connections);
        rejected += hist_ld(&ns->rejected);
        net_in += hist_ld(&ns->net_in);
        net_out += hist_ld(&ns->net_out);
    }
    int64_t tot[CMD_INFO_NFIELDS] = {0};
    unsigned nshards = (unsigned)s->cfg.shards;
    int64_t(*fig)[CMD_INFO_NFIELDS] = calloc(nshards, sizeof *fig);
    for (unsigned sh = 0; fig && sh < nshards; sh++) {
        actor_pool_shard_figures(s->actors, sh, fig[sh]);
        for (int f = 0; f < CMD_INFO_NFIELDS; f++) tot[f] += fig[sh][f];
    }

    prom_head(b, "memkv_uptime_seconds", "gauge", "Seconds since the server started.");
    kvbuf_printf(b, "memkv_uptime_seconds %.3f\n", (double)(kv_time_ms() - s->start_ms) / 1000.0);
    prom_head(b, "memkv_connected_clients", "gauge", "Client connections open now.");
    kvbuf_printf(b, "memkv_connected_clients %lld\n",
                 (long long)atomic_load_explicit(&s->clients, memory_order_relaxed));
    prom_head(b, "memkv_connections_received_total", "counter", "Client connections accepted.");
    kvbuf_printf(b, "memkv_connections_received_total %llu\n", (unsigned long long)conns);
    prom_head(b, "memkv_rejected_connections_total", "counter",
              "Connections refused because of maxclients.");
    kvbuf_printf(b, "memkv_rejected_connections_total %llu\n", (unsigned long long)rejected);
    prom_head(b, "memkv_commands_processed_total", "counter", "Commands parsed, all types.");
    kvbuf_printf(b, "memkv_commands_processed_total %llu\n", (unsigned long long)commands);
    prom_head(b, "memkv_net_input_bytes_total", "counter", "Bytes read from clients.");
    kvbuf_printf(b, "memkv_net_input_bytes_total %llu\n", (unsigned long long)net_in);
    prom_head(b, "memkv_net_output_bytes_total", "counter", "Bytes written to clients.");
    kvbuf_printf(b, "memkv_net_output_bytes_total %llu\n", (unsigned long long)net_out);

    static const struct {
        const char *name, *type, *help;
        int field;
    } shard_metrics[] = {
        {"memkv_keys", "gauge", "Keys, per shard.", CMD_INFO_KEYS},
        {"memkv_keys_with_ttl", "gauge", "Keys that have a TTL, per shard.", CMD_INFO_EXPIRES},
        {"memkv_dataset_bytes", "gauge", "Bytes held by keys and values, per shard.",
         CMD_INFO_MEMORY},
        {"memkv_keyspace_hits_total", "counter", "Reads that found a key, per shard.",
         CMD_INFO_HITS},
        {"memkv_keyspace_misses_total", "counter", "Reads that found no key, per shard.",
         CMD_INFO_MISSES},
        {"memkv_expired_keys_total", "counter", "Keys removed because their TTL passed, per shard.",
         CMD_INFO_EXPIRED},
        {"memkv_evicted_keys_total", "counter", "Keys removed by eviction, per shard.",
         CMD_INFO_EVICTED},
    };
    for (size_t k = 0; fig && k < sizeof shard_metrics / sizeof shard_metrics[0]; k++) {
        prom_head(b, shard_metrics[k].name, shard_metrics[k].type, shard_metrics[k].help);
        for (unsigned sh = 0; sh < nshards; sh++)
            kvbuf_printf(b, "%s{shard=\"%u\"} %lld\n", shard_metrics[k].name, sh,
                         (long long)fig[sh][shard_metrics[k].field]);
    }
    free(fig);
    prom_head(b, "memkv_resident_memory_bytes", "gauge", "Resident set size of the process.");
    kvbuf_printf(b, "memkv_resident_memory_bytes %zu\n", prom_rss());
    if (s->persist) {
        persist_stats ps;
        persist_get_stats(s->persist, &ps);
        prom_head(b, "memkv_wal_failing_shards", "gauge",
                  "Shards whose write-ahead log fails now: their writes get -MISCONF.");
        kvbuf_printf(b, "memkv_wal_failing_shards %d\n", ps.failing_shards);
        prom_head(b, "memkv_wal_failures_total", "counter", "Failed WAL writes and fsyncs.");
        kvbuf_printf(b, "memkv_wal_failures_total %llu\n", (unsigned long long)ps.failures);
        prom_head(b, "memkv_wal_log_bytes", "gauge", "Bytes in live WAL segments, all shards.");
        kvbuf_printf(b, "memkv_wal_log_bytes %llu\n", (unsigned long long)ps.log_bytes);
        prom_head(b, "memkv_wal_compactions_total", "counter", "Shard compactions completed.");
        kvbuf_printf(b, "memkv_wal_compactions_total %llu\n", (unsigned long long)ps.compactions);
    }

    if (m) {
        prom_head(b, "memkv_command_calls_total", "counter", "Commands answered, per command.");
        for (size_t i = 0; i < m->ncmd; i++)
            kvbuf_printf(b, "memkv_command_calls_total{cmd=\"%s\"} %llu\n", m->cmd[i].def->name,
                         (unsigned long long)m->cmd[i].calls);
        prom_head(b, "memkv_command_failed_calls_total", "counter",
                  "Commands answered with an error, per command.");
        for (size_t i = 0; i < m->ncmd; i++)
            kvbuf_printf(b, "memkv_command_failed_calls_total{cmd=\"%s\"} %llu\n",
                         m->cmd[i].def->name, (unsigned long long)m->cmd[i].failed);
        prom_head(b, "memkv_command_rejected_calls_total", "counter",
                  "Commands refused before running (wrong number of arguments), per command.");
        for (size_t i = 0; i < m->ncmd; i++)
            kvbuf_printf(b, "memkv_command_rejected_calls_total{cmd=\"%s\"} %llu\n",
                         m->cmd[i].def->name, (unsigned long long)m->cmd[i].rejected);
        prom_head(b, "memkv_unknown_commands_total", "counter",
                  "Commands refused because no such command exists.");
        kvbuf_printf(b, "memkv_unknown_commands_total %llu\n", (unsigned long long)m->unknown);
        prom_head(b, "memkv_rejected_commands_total", "counter",
                  "Commands refused before running: unknown, wrong number of arguments, OOM.");
        kvbuf_printf(b, "memkv_rejected_commands_total %llu\n", (unsigned long long)m->rejected);
        prom_head(b, "memkv_error_replies_total", "counter",
                  "Error replies, by their first word (Redis's errorstats).");
        for (size_t i = 0; i < m->nerrs; i++)
            kvbuf_printf(b, "memkv_error_replies_total{prefix=\"%s\"} %llu\n", m->errs[i].name,
                         (unsigned long long)m->errs[i].count);
        prom_head(b, "memkv_command_latency_seconds", "histogram",
                  "Time from parsing a command to writing its reply, per command.");
        for (size_t i = 0; i < m->ncmd; i++) {
            if (m->cmd[i].calls == 0) continue;
            char labels[64];
            snprintf(labels, sizeof labels, "cmd=\"%s\"", m->cmd[i].def->name);
            prom_hist(b, "memkv_command_latency_seconds", labels, m->cmd[i].lat);
        }
        prom_head(b, "memkv_actor_batch_seconds", "histogram",
                  "Actor drain rounds: run, commit and hand back one round of batches.");
        prom_hist(b, "memkv_actor_batch_seconds", "", &m->service);
        prom_head(b, "memkv_actor_batch_requests_total", "counter",
                  "Requests run by the actors (shard parts).");
        kvbuf_printf(b, "memkv_actor_batch_requests_total %llu\n",
                     (unsigned long long)m->batch.requests);
        prom_head(b, "memkv_actor_batch_max_requests", "gauge",
                  "Most requests in one actor drain round.");
        kvbuf_printf(b, "memkv_actor_batch_max_requests %llu\n",
                     (unsigned long long)m->batch.max_requests);
        prom_head(b, "memkv_actor_mailbox_batches_total", "counter",
                  "Network-thread batches received by the actors.");
        kvbuf_printf(b, "memkv_actor_mailbox_batches_total %llu\n",
                     (unsigned long long)m->batch.batches);
    }
    obs_summary_free(m);
}
