/* local_mem.c - MEMORY and OBJECT subcommands answered by the network
 * thread (HELP, STATS, DOCTOR, MALLOC-STATS, PURGE), from the allocator's
 * figures and the shards' published ones (actor_pool_shard_figures). The
 * subcommands that name a key run on its shard (engine/cmd_object.c).
 * Network thread only.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef MEMKV_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "net/local.h"
#include "net/net_internal.h"
#include "engine/reply.h"

static int sub_is(const kv_str *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

static void reply_lines(kvbuf *out, const char *const *lines, size_t n)
{
    reply_array(out, (int64_t)n);
    for (size_t i = 0; i < n; i++) reply_status(out, lines[i]);
}

static void sub_arity(kvbuf *out, const char *cmd, const kv_str *sub)
{
    char name[40];
    size_t n = sub->len < sizeof name - 1 ? sub->len : sizeof name - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = sub->p[i];
        name[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    name[n] = '\0';
    reply_errorf(out, "ERR wrong number of arguments for '%s|%s' command", cmd, name);
}

static void sub_unknown(kvbuf *out, const char *cmd, const kv_str *sub)
{
    reply_errorf(out, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                 (int)(sub->len > 128 ? 128 : sub->len), sub->p, cmd);
}

/* ---- the figures MEMORY STATS and DOCTOR read ---------------------------- */

typedef struct mem_figures {
    kv_alloc_stats alloc;
    size_t rss;
    int64_t keys, dataset; /* the shards' published sums */
    int64_t outside;       /* bytes held outside the shards (evict_set_overhead) */
    uint64_t log_buffers;  /* the shards' WAL buffers */
    int64_t maxmemory;
    int failing_shards;
} mem_figures;

static void mem_gather(server_t *s, mem_figures *m)
{
    memset(m, 0, sizeof *m);
    kv_allocator_stats(&m->alloc);
    m->rss = kv_rss_bytes();
    for (unsigned sh = 0; sh < (unsigned)s->cfg.shards; sh++) {
        int64_t f[CMD_INFO_NFIELDS];
        actor_pool_shard_figures(s->actors, sh, f);
        m->keys += f[CMD_INFO_KEYS];
        m->dataset += f[CMD_INFO_MEMORY];
    }
    m->outside = atomic_load(&s->limits.overhead);
    m->log_buffers = actor_pool_log_buffers(s->actors);
    m->maxmemory = atomic_load(&s->limits.maxmemory);
    if (s->persist) {
        persist_stats ps;
        persist_get_stats(s->persist, &ps);
        m->failing_shards = ps.failing_shards;
    }
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0.0;
}

static void stat_int(kvbuf *out, const char *name, long long v)
{
    reply_bulk_cstr(out, name);
    reply_int(out, v);
}

static void stat_double(kvbuf *out, const char *name, double v)
{
    char num[64];
    reply_bulk_cstr(out, name);
    reply_bulk(out, num, (size_t)snprintf(num, sizeof num, "%.17g", v));
}

/* MEMORY STATS: Redis's field names where the figure exists here. */
static void memory_stats(server_t *s, kvbuf *out)
{
    mem_figures m;
    mem_gather(s, &m);
    long long total = (long long)m.alloc.allocated;
    long long overhead = total > m.dataset ? total - (long long)m.dataset : 0;
    double active = (double)m.alloc.active, resident = (double)m.alloc.resident;
    reply_array(out, 2 * 20);
    stat_int(out, "total.allocated", total);
    stat_int(out, "aof.buffer", (long long)m.log_buffers);
    stat_int(out, "overhead.total", overhead);
    stat_int(out, "keys.count", (long long)m.keys);
    /* Redis: (total - startup) / keys; start-up memory is not measured
     * here, and the shards' own bytes are the per-key cost */
    stat_int(out, "keys.bytes-per-key", m.keys ? (long long)m.dataset / m.keys : 0);
    stat_int(out, "dataset.bytes", (long long)m.dataset);
    stat_double(out, "dataset.percentage", 100.0 * ratio((double)m.dataset, (double)total));
    stat_int(out, "allocator.allocated", (long long)m.alloc.allocated);
    stat_int(out, "allocator.active", (long long)m.alloc.active);
    stat_int(out, "allocator.resident", (long long)m.alloc.resident);
    stat_double(out, "allocator-fragmentation.ratio", ratio(active, (double)m.alloc.allocated));
    stat_int(out, "allocator-fragmentation.bytes",
             (long long)m.alloc.active - (long long)m.alloc.allocated);
    stat_double(out, "allocator-rss.ratio", ratio(resident, active));
    stat_int(out, "allocator-rss.bytes", (long long)m.alloc.resident - (long long)m.alloc.active);
    stat_double(out, "rss-overhead.ratio", ratio((double)m.rss, resident));
    stat_int(out, "rss-overhead.bytes", (long long)m.rss - (long long)m.alloc.resident);
    stat_double(out, "fragmentation", ratio((double)m.rss, (double)total));
    stat_int(out, "fragmentation.bytes", (long long)m.rss - total);
    /* mem-kv's own: what eviction counts outside the shards, and the limit */
    stat_int(out, "memkv.outside-shards.bytes", (long long)m.outside);
    stat_int(out, "memkv.maxmemory", (long long)m.maxmemory);
}

/* MEMORY DOCTOR: a short report of what looks wrong, or that nothing does. */
static void memory_doctor(server_t *s, kvbuf *out)
{
    mem_figures m;
    mem_gather(s, &m);
    kvbuf b;
    kvbuf_init(&b);
    if (m.alloc.allocated < 5u << 20) {
        kvbuf_printf(&b,
                     "This instance holds little memory (%zu bytes allocated): too little "
                     "for the checks below to mean anything.\n",
                     m.alloc.allocated);
    } else {
        double frag = ratio((double)m.rss, (double)m.alloc.allocated);
        if (frag > 1.4 && m.rss > m.alloc.allocated + (10u << 20))
            kvbuf_printf(&b,
                         "* High fragmentation: the resident set (%zu bytes) is %.2f times what "
                         "is allocated (%zu bytes). Pages freed by deleted or expired keys are "
                         "not all back with the kernel; MEMORY PURGE asks the allocator to "
                         "return them.\n",
                         m.rss, frag, m.alloc.allocated);
        if (m.maxmemory > 0 && (double)m.alloc.allocated > 0.9 * (double)m.maxmemory)
            kvbuf_printf(&b,
                         "* Near the limit: %zu bytes allocated of maxmemory %lld. Writes will "
                         "evict keys or be refused (-OOM) by the maxmemory-policy.\n",
                         m.alloc.allocated, (long long)m.maxmemory);
        if (m.outside > 0 && m.dataset > 0 && m.outside > 2 * m.dataset)
            kvbuf_printf(&b,
                         "* Most memory is outside the keyspace: %lld bytes (client buffers, "
                         "in-flight requests, start-up) against %lld bytes of keys.\n",
                         (long long)m.outside, (long long)m.dataset);
    }
    if (m.failing_shards > 0)
        kvbuf_printf(&b,
                     "* %d shard(s) fail to write their log: writes to them get -MISCONF "
                     "(INFO persistence, wal_last_error).\n",
                     m.failing_shards);
    if (b.len == 0)
        kvbuf_printf(&b, "No memory problem found: fragmentation, the memory limit and the "
                         "keyspace's share of memory look normal.\n");
    reply_bulk(out, b.data, b.len);
    kvbuf_destroy(&b);
}

#ifdef MEMKV_JEMALLOC
static void malloc_stats_cb(void *arg, const char *text)
{
    kvbuf_append((kvbuf *)arg, text, strlen(text));
}
#endif

static void memory_malloc_stats(kvbuf *out)
{
#ifdef MEMKV_JEMALLOC
    kvbuf b;
    kvbuf_init(&b);
    malloc_stats_print(malloc_stats_cb, &b, NULL);
    reply_bulk(out, b.data, b.len);
    kvbuf_destroy(&b);
#else
    reply_bulk_cstr(out, "Stats not supported for the current allocator");
#endif
}

/* MEMORY PURGE: gives the allocator's unused dirty pages back to the kernel. */
static void memory_purge(kvbuf *out)
{
#ifdef MEMKV_JEMALLOC
    char name[64];
    snprintf(name, sizeof name, "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    mallctl(name, NULL, NULL, NULL, 0);
#elif defined(__GLIBC__)
    malloc_trim(0);
#endif
    reply_ok(out);
}

void local_memory(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    (void)c;
    const kv_str *sub = &argv[1];
    static const char *const help[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a report of memory problems found, if any.",
        "MALLOC-STATS",
        "    Return the allocator's internal statistics (jemalloc builds).",
        "PURGE",
        "    Give the allocator's unused pages back to the kernel.",
        "STATS",
        "    Return the memory figures of the server (Redis's field names where they apply).",
        "USAGE <key> [SAMPLES <count>]",
        "    Return the bytes a key and its value hold here: the allocation as the",
        "    allocator sizes it, its share of the table and its expiry slot. SAMPLES",
        "    is accepted and unused: the figure is exact.",
        "HELP",
        "    Print this help.",
    };
    int usage = sub_is(sub, "usage");
    if (usage && argc >= 3) {
        /* only inside a script: clients' MEMORY USAGE runs on the key's shard */
        reply_error(out, "ERR 'memory|usage' is not supported in mem-kv scripts");
        return;
    }
    if (!usage && !sub_is(sub, "help") && !sub_is(sub, "stats") && !sub_is(sub, "doctor") &&
        !sub_is(sub, "malloc-stats") && !sub_is(sub, "purge")) {
        sub_unknown(out, "MEMORY", sub);
        return;
    }
    if (usage || argc != 2) {
        sub_arity(out, "memory", sub);
        return;
    }
    if (sub_is(sub, "help"))
        reply_lines(out, help, sizeof help / sizeof help[0]);
    else if (sub_is(sub, "stats"))
        memory_stats(t->srv, out);
    else if (sub_is(sub, "doctor"))
        memory_doctor(t->srv, out);
    else if (sub_is(sub, "malloc-stats"))
        memory_malloc_stats(out);
    else
        memory_purge(out);
}

void local_object(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    (void)t;
    (void)c;
    const kv_str *sub = &argv[1];
    static const char *const help[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>: int, embstr or raw for strings (the names Redis",
        "    would use for the value), listpack or hashtable for hashes.",
        "FREQ <key>",
        "    Return the access frequency index of the <key> (an LFU maxmemory-policy only).",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, in seconds (not under an LFU policy).",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>: always 1, values are never shared.",
        "HELP",
        "    Print this help.",
    };
    int keyed = sub_is(sub, "encoding") || sub_is(sub, "freq") || sub_is(sub, "idletime") ||
                sub_is(sub, "refcount");
    if (!keyed && !sub_is(sub, "help")) {
        sub_unknown(out, "OBJECT", sub);
        return;
    }
    if (keyed && argc == 3) {
        reply_errorf(out, "ERR 'object|%.*s' is not supported in mem-kv scripts", (int)sub->len,
                     sub->p);
        return;
    }
    if (keyed || argc != 2) {
        sub_arity(out, "object", sub);
        return;
    }
    reply_lines(out, help, sizeof help / sizeof help[0]);
}
