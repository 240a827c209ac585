/* local.c - connection and server commands answered on the network thread,
 * and the INFO/STATS gatherers that add server-wide figures to the shards'. */
#include "net/local.h"

#include <ctype.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "net/confset.h"
#include "net/cpustat.h"
#include "engine/glob.h"
#include "actors/join.h"
#include "net/net_internal.h"
#include "net/scripting.h"
#include "net/uring.h"
#include "engine/reply.h"
#include "net/tls.h"

#define MEMKV_VERSION "0.1.0"
/* The Redis version whose commands and replies we follow; clients read it. */
#define MEMKV_REDIS_COMPAT "7.0.15"

static int arg_is(const kv_str *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

void local_ping(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    if (argc > 2)
        reply_error_arity(out, "ping", 4);
    else if (argc == 2)
        reply_bulk(out, argv[1].p, argv[1].len);
    else
        reply_status(out, "PONG");
}

void local_echo(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    reply_bulk(out, argv[1].p, argv[1].len);
}

void local_quit(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    reply_ok(out);
    c->closing = 1;
}

void local_compact(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    /* Scheduled: each actor starts its shards' compaction between batches;
     * STATS shows progress. With --persistence off there is nothing to do. */
    persist_compact_all(t->srv->persist);
    reply_ok(out);
}

void local_shutdown(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    for (int i = 1; i < argc; i++)
        if (!arg_is(&argv[i], "nosave") && !arg_is(&argv[i], "save") && !arg_is(&argv[i], "now") &&
            !arg_is(&argv[i], "force")) {
            reply_error(out, KV_ERR_SYNTAX);
            return;
        }
    /* As Redis: no reply on success; the connection closes as the server
     * stops (in-flight batches finish first). */
    server_stop(t->srv);
    c->closing = 1;
}

void local_select(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    int64_t db;
    if (kv_parse_i64(argv[1].p, argv[1].len, &db) != 0)
        reply_error(out, KV_ERR_NOTINT);
    else if (db < INT32_MIN || db > INT32_MAX)
        reply_error(out, "ERR value is out of range, value must between -2147483648 and "
                         "2147483647");
    else if (db < 0 || db >= t->srv->cfg.databases)
        reply_error(out, KV_ERR_DBINDEX);
    else {
        __atomic_store_n(&c->db, (uint8_t)db, __ATOMIC_RELAXED); /* CLIENT LIST reads it */
        reply_ok(out);
    }
}

void local_time(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    reply_array(out, 2);
    reply_bulk_i64(out, tv.tv_sec);
    reply_bulk_i64(out, tv.tv_usec);
}

#define ERR_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

/* AUTH [user] password and HELLO's AUTH option: 1 if accepted (then c is
 * authenticated), 0 if not (counted as an auth failure). user may be NULL
 * (the default user). There is one user, "default", as in Redis without
 * ACLs: with no password it takes any password. */
static int auth_try(netthr *t, conn *c, const kv_str *user, const kv_str *pass)
{
    auth_t *a = &t->srv->auth;
    int ok = user == NULL || arg_is(user, "default");
    if (ok && auth_required(a)) ok = auth_check(a, pass->p, pass->len);
    if (ok) {
        climit_authed(t, c);
        return 1;
    }
    atomic_fetch_add_explicit(&t->stats.auth_failures, 1, memory_order_relaxed);
    return 0;
}

void local_auth(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    if (argc > 3) {
        reply_error(out, KV_ERR_SYNTAX);
    } else if (argc == 2 && !auth_required(&t->srv->auth)) {
        reply_error(out, "ERR AUTH <password> called without any password configured for the "
                         "default user. Are you sure your configuration is correct?");
    } else if (auth_try(t, c, argc == 3 ? &argv[1] : NULL, &argv[argc - 1])) {
        reply_ok(out);
    } else {
        reply_error(out, ERR_WRONGPASS);
    }
}

/* Client names: no spaces or special characters, as Redis checks. */
static int name_ok(const kv_str *n)
{
    for (size_t i = 0; i < n->len; i++)
        if (n->p[i] < '!' || n->p[i] > '~') return 0;
    return 1;
}

/* One CLIENT LIST / CLIENT INFO line for x. own: x belongs to the calling
 * thread (its buffers may be read); otherwise the caller holds x's
 * thread's conns_lock and only fields safe to read from another thread are
 * shown (qbuf and omem as 0). */
static void client_info_line(const conn *x, int own, kvbuf *out, int64_t now_ms)
{
    char flags[6];
    int nf = 0;
    if (__atomic_load_n(&x->mon, __ATOMIC_RELAXED)) flags[nf++] = 'O';
    if (__atomic_load_n(&x->no_evict, __ATOMIC_RELAXED)) flags[nf++] = 'e';
    if (pubsub_conn_nsub(x) + pubsub_conn_npsub(x) + pubsub_conn_nssub(x)) flags[nf++] = 'P';
    if (atomic_load_explicit(&x->blocked, memory_order_relaxed)) flags[nf++] = 'b';
    if (nf == 0) flags[nf++] = 'N';
    flags[nf] = '\0';
    kvbuf_printf(out,
                 "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=0 flags=%s db=%u "
                 "sub=%u psub=%u ssub=%u multi=-1 qbuf=%zu qbuf-free=0 argv-mem=0 "
                 "multi-mem=0 obl=0 oll=0 omem=%zu tot-mem=0 events=r cmd=client "
                 "user=default redir=-1 resp=2\n",
                 (unsigned long long)x->id, x->addr, x->laddr, x->fd, x->name,
                 (long long)((now_ms - x->created_ms) / 1000), flags,
                 (unsigned)__atomic_load_n(&x->db, __ATOMIC_RELAXED), pubsub_conn_nsub(x),
                 pubsub_conn_npsub(x), pubsub_conn_nssub(x), own ? x->in.len - x->in_off : 0,
                 own ? conn_out_pending(x) : 0);
}

/* CLIENT LIST [ID id ...]: the connections of every network thread. */
static void client_list(netthr *t, int argc, const kv_str *argv, kvbuf *out)
{
    int64_t ids[64];
    int nids = 0;
    if (argc > 2) {
        if (!arg_is(&argv[2], "id") || argc < 4 || argc - 3 > 64) {
            reply_error(out, KV_ERR_SYNTAX);
            return;
        }
        for (int i = 3; i < argc; i++)
            if (kv_parse_i64(argv[i].p, argv[i].len, &ids[nids++]) != 0 || ids[nids - 1] <= 0) {
                reply_error(out, "ERR Invalid client ID");
                return;
            }
    }
    kvbuf lines;
    kvbuf_init(&lines);
    int64_t now = kv_time_ms();
    server_t *s = t->srv;
    for (unsigned i = 0; i < s->nnet; i++) {
        netthr *o = &s->net[i];
        pthread_mutex_lock(&o->conns_lock);
        for (conn *x = o->conns; x; x = x->next) {
            int want = nids == 0;
            for (int k = 0; k < nids && !want; k++) want = (uint64_t)ids[k] == x->id;
            if (want) client_info_line(x, o == t, &lines, now);
        }
        pthread_mutex_unlock(&o->conns_lock);
    }
    reply_bulk(out, lines.data, lines.len);
    kvbuf_destroy(&lines);
}

/* "host:port" a client gave, compared with a connection's address. */
static int addr_is(const kv_str *a, const char *addr)
{
    return a->len == strlen(addr) && memcmp(a->p, addr, a->len) == 0;
}

typedef struct kill_filter {
    int64_t id;          /* 0: any */
    const kv_str *addr;  /* NULL: any */
    const kv_str *laddr; /* NULL: any */
    int skipme;          /* the calling connection is not killed */
    int user_other;      /* USER names a user no connection has */
} kill_filter;

/* CLIENT KILL's filters (new form, from argv[2]); 0 or -1 with the error
 * replied. */
static int kill_parse(int argc, const kv_str *argv, kill_filter *f, kvbuf *out)
{
    memset(f, 0, sizeof *f);
    f->skipme = 1;
    if ((argc - 2) % 2 != 0) {
        reply_error(out, KV_ERR_SYNTAX);
        return -1;
    }
    for (int i = 2; i < argc; i += 2) {
        const kv_str *k = &argv[i], *v = &argv[i + 1];
        if (arg_is(k, "id")) {
            if (kv_parse_i64(v->p, v->len, &f->id) != 0 || f->id <= 0) {
                reply_error(out, "ERR client-id should be greater than 0");
                return -1;
            }
        } else if (arg_is(k, "addr")) {
            f->addr = v;
        } else if (arg_is(k, "laddr")) {
            f->laddr = v;
        } else if (arg_is(k, "user")) {
            if (!arg_is(v, "default")) {
                reply_errorf(out, "ERR No such user '%.*s'", (int)(v->len > 128 ? 128 : v->len),
                             v->p);
                return -1;
            }
        } else if (arg_is(k, "skipme")) {
            if (arg_is(v, "yes"))
                f->skipme = 1;
            else if (arg_is(v, "no"))
                f->skipme = 0;
            else {
                reply_error(out, KV_ERR_SYNTAX);
                return -1;
            }
        } else {
            reply_error(out, KV_ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* Marks the connections f matches (on every thread) for closing; returns
 * how many. The calling connection c closes after this reply. */
static int64_t kill_apply(netthr *t, conn *c, const kill_filter *f)
{
    server_t *s = t->srv;
    int64_t n = 0;
    for (unsigned i = 0; i < s->nnet; i++) {
        netthr *o = &s->net[i];
        int marked = 0;
        pthread_mutex_lock(&o->conns_lock);
        for (conn *x = o->conns; x; x = x->next) {
            if (f->id && (uint64_t)f->id != x->id) continue;
            if (f->addr && !addr_is(f->addr, x->addr)) continue;
            if (f->laddr && !addr_is(f->laddr, x->laddr)) continue;
            if (x == c && f->skipme) continue;
            n++;
            if (x == c) {
                c->closing = 1; /* after this reply, as QUIT */
                continue;
            }
            atomic_store_explicit(&x->kill, 1, memory_order_relaxed);
            marked = 1;
        }
        pthread_mutex_unlock(&o->conns_lock);
        if (marked) {
            atomic_store_explicit(&o->kill_pending, 1, memory_order_release);
            ev_async_send(o->loop, &o->wake_w);
        }
    }
    return n;
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if the client waits in a blocking
 * command (its thread ends the wait at its next wake-up), else 0. */
static void client_unblock(netthr *t, int argc, const kv_str *argv, kvbuf *out)
{
    int64_t id;
    uint8_t how = 1;
    if (kv_parse_i64(argv[2].p, argv[2].len, &id) != 0) {
        reply_error(out, KV_ERR_NOTINT);
        return;
    }
    if (argc == 4) {
        if (arg_is(&argv[3], "error"))
            how = 2;
        else if (!arg_is(&argv[3], "timeout")) {
            reply_error(out, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    server_t *s = t->srv;
    int found = 0;
    for (unsigned i = 0; i < s->nnet && !found; i++) {
        netthr *o = &s->net[i];
        pthread_mutex_lock(&o->conns_lock);
        for (conn *x = o->conns; x; x = x->next) {
            if (x->id != (uint64_t)id) continue;
            if (atomic_load_explicit(&x->blocked, memory_order_relaxed)) {
                atomic_store_explicit(&x->unblock, how, memory_order_relaxed);
                found = 1;
            }
            break;
        }
        pthread_mutex_unlock(&o->conns_lock);
        if (found) {
            atomic_store_explicit(&o->kill_pending, 1, memory_order_release);
            ev_async_send(o->loop, &o->wake_w);
        }
    }
    reply_int(out, found);
}

static void client_kill(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    kill_filter f;
    if (argc == 3) { /* old form: CLIENT KILL addr:port */
        memset(&f, 0, sizeof f);
        f.addr = &argv[2];
        if (kill_apply(t, c, &f) == 0)
            reply_error(out, "ERR No such client");
        else
            reply_ok(out);
        return;
    }
    if (kill_parse(argc, argv, &f, out) != 0) return;
    reply_int(out, kill_apply(t, c, &f));
}

/* CLIENT PAUSE timeout [WRITE|ALL] */
static void client_pause(netthr *t, int argc, const kv_str *argv, kvbuf *out)
{
    int64_t ms;
    if (argc < 3 || argc > 4) {
        reply_error(out, "ERR wrong number of arguments for 'client|pause' command");
        return;
    }
    if (kv_parse_i64(argv[2].p, argv[2].len, &ms) != 0) {
        reply_error(out, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        reply_error(out, "ERR timeout is negative");
        return;
    }
    int writes = 0;
    if (argc == 4) {
        if (arg_is(&argv[3], "write"))
            writes = 1;
        else if (!arg_is(&argv[3], "all")) {
            reply_error(out, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    server_pause(t->srv, kv_time_ms() + ms, writes);
    reply_ok(out);
}

/* CLIENT REPLY ON|OFF|SKIP: applied to the slots from this command on
 * (conn_process_input tags them). */
static void client_reply(conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    if (argc != 3) {
        reply_error(out, "ERR wrong number of arguments for 'client|reply' command");
    } else if (arg_is(&argv[2], "on")) {
        c->reply_off = 0;
        c->reply_skip = 0;
        reply_ok(out);
    } else if (arg_is(&argv[2], "off")) {
        c->reply_off = 1;
        reply_ok(out); /* dropped: this slot is tagged muted */
    } else if (arg_is(&argv[2], "skip")) {
        if (!c->reply_off) c->reply_skip = 2; /* this command's reply and the next one's */
        reply_ok(out);
    } else {
        reply_error(out, KV_ERR_SYNTAX);
    }
}

void local_client(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    const kv_str *sub = &argv[1];
    if (arg_is(sub, "setname")) {
        if (argc != 3) {
            reply_error(out, "ERR wrong number of arguments for 'client|setname' command");
        } else if (!name_ok(&argv[2])) {
            reply_error(out, "ERR Client names cannot contain spaces, newlines or special "
                             "characters.");
        } else {
            size_t n = argv[2].len < sizeof c->name - 1 ? argv[2].len : sizeof c->name - 1;
            pthread_mutex_lock(&t->conns_lock); /* CLIENT LIST on other threads reads it */
            memcpy(c->name, argv[2].p, n);
            c->name[n] = '\0';
            pthread_mutex_unlock(&t->conns_lock);
            reply_ok(out);
        }
    } else if (arg_is(sub, "getname")) {
        if (argc != 2)
            reply_error(out, "ERR wrong number of arguments for 'client|getname' command");
        else if (c->name[0])
            reply_bulk_cstr(out, c->name);
        else
            reply_nil(out);
    } else if (arg_is(sub, "id")) {
        if (argc != 2)
            reply_error(out, "ERR wrong number of arguments for 'client|id' command");
        else
            reply_int(out, (int64_t)c->id);
    } else if (arg_is(sub, "setinfo")) {
        if (argc != 4)
            reply_error(out, "ERR wrong number of arguments for 'client|setinfo' command");
        else if (arg_is(&argv[2], "lib-name") || arg_is(&argv[2], "lib-ver"))
            reply_ok(out);
        else
            reply_errorf(out, "ERR Unrecognized option '%.*s'", (int)argv[2].len, argv[2].p);
    } else if (arg_is(sub, "info")) {
        kvbuf line;
        kvbuf_init(&line);
        client_info_line(c, 1, &line, kv_time_ms());
        reply_bulk(out, line.data, line.len);
        kvbuf_destroy(&line);
    } else if (arg_is(sub, "list")) {
        client_list(t, argc, argv, out);
    } else if (arg_is(sub, "kill")) {
        if (argc < 3)
            reply_error(out, "ERR wrong number of arguments for 'client|kill' command");
        else
            client_kill(t, c, argc, argv, out);
    } else if (arg_is(sub, "unblock")) {
        if (argc != 3 && argc != 4)
            reply_error(out, "ERR wrong number of arguments for 'client|unblock' command");
        else
            client_unblock(t, argc, argv, out);
    } else if (arg_is(sub, "pause")) {
        client_pause(t, argc, argv, out);
    } else if (arg_is(sub, "unpause")) {
        if (argc != 2) {
            reply_error(out, "ERR wrong number of arguments for 'client|unpause' command");
        } else {
            server_pause(t->srv, 0, 0);
            reply_ok(out);
        }
    } else if (arg_is(sub, "no-evict")) {
        if (argc != 3)
            reply_error(out, "ERR wrong number of arguments for 'client|no-evict' command");
        else if (arg_is(&argv[2], "on") || arg_is(&argv[2], "off")) {
            __atomic_store_n(&c->no_evict, (uint8_t)arg_is(&argv[2], "on"), __ATOMIC_RELAXED);
            reply_ok(out);
        } else
            reply_error(out, KV_ERR_SYNTAX);
    } else if (arg_is(sub, "reply")) {
        client_reply(c, argc, argv, out);
    } else if (arg_is(sub, "help")) {
        static const char *help[] = {
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [ID <client-id> ...]",
            "    Return information about client connections (of every network thread).",
            "NO-EVICT (ON|OFF)",
            "    Protect the current client connection from eviction (a flag only: mem-kv",
            "    never evicts clients).",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr (lib-name, lib-ver).",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
        };
        reply_array(out, sizeof help / sizeof help[0]);
        for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) reply_status(out, help[i]);
    } else {
        reply_errorf(out, "ERR unknown subcommand '%.*s'. Try CLIENT HELP.",
                     (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    }
}

void local_hello(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    int i = 1;
    if (argc >= 2) {
        int64_t ver;
        if (kv_parse_i64(argv[1].p, argv[1].len, &ver) != 0) {
            reply_error(out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver != 2) {
            /* RESP3 is not spoken yet; clients fall back to RESP2 on this. */
            reply_error(out, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    const kv_str *name = NULL;
    for (; i < argc; i++) {
        if (arg_is(&argv[i], "auth") && i + 2 < argc) {
            if (!auth_try(t, c, &argv[i + 1], &argv[i + 2])) {
                reply_error(out, ERR_WRONGPASS);
                return;
            }
            i += 2;
        } else if (arg_is(&argv[i], "setname") && i + 1 < argc) {
            if (!name_ok(&argv[i + 1])) {
                reply_error(out, "ERR Client names cannot contain spaces, newlines or special "
                                 "characters.");
                return;
            }
            name = &argv[++i];
        } else {
            reply_errorf(out, "ERR Syntax error in HELLO option '%.*s'", (int)argv[i].len,
                         argv[i].p);
            return;
        }
    }
    if (!c->authed && auth_required(&t->srv->auth)) {
        reply_error(out, "NOAUTH HELLO must be called with the client already authenticated, "
                         "otherwise the HELLO AUTH <user> <pass> option can be used to "
                         "authenticate the client and select the RESP protocol version at the "
                         "same time");
        return;
    }
    if (name != NULL) {
        size_t n = name->len < sizeof c->name - 1 ? name->len : sizeof c->name - 1;
        pthread_mutex_lock(&t->conns_lock);
        memcpy(c->name, name->p, n);
        c->name[n] = '\0';
        pthread_mutex_unlock(&t->conns_lock);
    }
    reply_array(out, 14);
    reply_bulk_cstr(out, "server");
    reply_bulk_cstr(out, "redis");
    reply_bulk_cstr(out, "version");
    reply_bulk_cstr(out, MEMKV_REDIS_COMPAT);
    reply_bulk_cstr(out, "proto");
    reply_int(out, 2);
    reply_bulk_cstr(out, "id");
    reply_int(out, (int64_t)c->id);
    reply_bulk_cstr(out, "mode");
    reply_bulk_cstr(out, "standalone");
    reply_bulk_cstr(out, "role");
    reply_bulk_cstr(out, "master");
    reply_bulk_cstr(out, "modules");
    reply_array(out, 0);
}

/* ---- SLOWLOG, LATENCY, MONITOR ------------------------------------------ */

void server_watch_update(server_t *s)
{
    int64_t slow = atomic_load(&s->slow.slower_than_us);
    int64_t lat = atomic_load(&s->lat.threshold_ms);
    uint64_t ns = UINT64_MAX;
    if (slow >= 0) ns = (uint64_t)slow * 1000;
    if (lat > 0 && (uint64_t)lat * 1000000 < ns) ns = (uint64_t)lat * 1000000;
    atomic_store_explicit(&s->watch_ns, ns, memory_order_relaxed);
}

void local_slow(conn *c, const kv_slot *sl, uint64_t ns)
{
    server_t *s = c->t->srv;
    int64_t us = (int64_t)(ns / 1000);
    if (slowlog_wanted(&s->slow, us) && sl->argc > 0)
        slowlog_add(&s->slow, &c->t->slow, sl->argc, sl->argv, us, (int64_t)time(NULL), c->addr,
                    c->name);
    latency_add(&s->lat, sl->def->flags & CMD_FAST ? "fast-command" : "command", ns / 1000);
}

/* The network threads' SLOWLOG rings, for slowlog.c. */
static slowlog_ring **slow_rings(server_t *s)
{
    slowlog_ring **r = kv_xcalloc(s->nnet, sizeof *r);
    for (unsigned i = 0; i < s->nnet; i++) r[i] = &s->net[i].slow;
    return r;
}

void local_slowlog(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    server_t *s = t->srv;
    const kv_str *sub = &argv[1];
    slowlog_ring **rings = slow_rings(s);
    if (arg_is(sub, "get") && argc <= 3) {
        int64_t count = 10;
        if (argc == 3 && (kv_parse_i64(argv[2].p, argv[2].len, &count) != 0 || count < -1))
            reply_error(out, "ERR count should be greater than or equal to -1");
        else
            slowlog_reply_get(&s->slow, rings, s->nnet, count, out);
    } else if (arg_is(sub, "len") && argc == 2) {
        reply_int(out, slowlog_len(&s->slow, rings, s->nnet));
    } else if (arg_is(sub, "reset") && argc == 2) {
        slowlog_reset(rings, s->nnet);
        reply_ok(out);
    } else if (arg_is(sub, "help") && argc == 2) {
        static const char *help[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        };
        reply_array(out, sizeof help / sizeof help[0]);
        for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) reply_status(out, help[i]);
    } else if (arg_is(sub, "get") || arg_is(sub, "len") || arg_is(sub, "reset") ||
               arg_is(sub, "help")) {
        char name[8];
        size_t n = sub->len < sizeof name - 1 ? sub->len : sizeof name - 1;
        for (size_t i = 0; i < n; i++) name[i] = (char)tolower((unsigned char)sub->p[i]);
        name[n] = '\0';
        reply_errorf(out, "ERR wrong number of arguments for 'slowlog|%s' command", name);
    } else {
        reply_errorf(out, "ERR unknown subcommand '%.*s'. Try SLOWLOG HELP.",
                     (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    }
    free(rings);
}

void local_latency(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    latency_command(&t->srv->lat, argc, argv, out);
}

void local_monitor(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    monitor_add(&t->srv->mon, c);
    reply_ok(out);
}

/* ---- COMMAND ---------------------------------------------------------- */

static void command_entry(const cmd_def *d, kvbuf *out)
{
    static const struct {
        unsigned flag;
        const char *name;
    } flags[] = {{CMD_WRITE, "write"}, {CMD_READONLY, "readonly"}, {CMD_DENYOOM, "denyoom"},
                 {CMD_FAST, "fast"},   {CMD_NOSCRIPT, "noscript"}, {CMD_LOADING, "loading"},
                 {CMD_STALE, "stale"}, {CMD_NO_AUTH, "no_auth"}};
    reply_array(out, 10);
    reply_bulk_cstr(out, d->name);
    reply_int(out, d->arity);
    int n = 0;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        n += (d->flags & flags[i].flag) != 0;
    reply_array(out, n);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (d->flags & flags[i].flag) reply_status(out, flags[i].name);
    reply_int(out, d->first_key);
    reply_int(out, d->last_key);
    reply_int(out, d->key_step);
    char cat[40];
    snprintf(cat, sizeof cat, "@%s", d->group);
    reply_array(out, 1);
    reply_status(out, cat);
    reply_array(out, 0); /* tips */
    reply_array(out, 0); /* key specs */
    reply_array(out, 0); /* subcommands */
}

static void command_docs(const cmd_def *d, kvbuf *out)
{
    reply_bulk_cstr(out, d->name);
    reply_array(out, 6);
    reply_bulk_cstr(out, "summary");
    reply_bulk_cstr(out, d->summary);
    reply_bulk_cstr(out, "since");
    reply_bulk_cstr(out, d->since);
    reply_bulk_cstr(out, "group");
    reply_bulk_cstr(out, d->group);
}

void local_command(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    size_t n = cmdtab_count();
    if (argc == 1) {
        reply_array(out, (int64_t)n);
        for (size_t i = 0; i < n; i++) command_entry(cmdtab_at(i), out);
        return;
    }
    const kv_str *sub = &argv[1];
    if (arg_is(sub, "count") && argc == 2) {
        reply_int(out, (int64_t)n);
    } else if (arg_is(sub, "list") && argc == 2) {
        reply_array(out, (int64_t)n);
        for (size_t i = 0; i < n; i++) reply_bulk_cstr(out, cmdtab_at(i)->name);
    } else if (arg_is(sub, "info")) {
        reply_array(out, argc - 2);
        for (int i = 2; i < argc; i++) {
            const cmd_def *d = cmdtab_lookup(argv[i].p, argv[i].len);
            if (d)
                command_entry(d, out);
            else
                reply_nil_array(out);
        }
    } else if (arg_is(sub, "docs")) {
        if (argc == 2) {
            reply_array(out, (int64_t)n * 2);
            for (size_t i = 0; i < n; i++) command_docs(cmdtab_at(i), out);
            return;
        }
        int found = 0;
        for (int i = 2; i < argc; i++) found += cmdtab_lookup(argv[i].p, argv[i].len) != NULL;
        reply_array(out, found * 2);
        for (int i = 2; i < argc; i++) {
            const cmd_def *d = cmdtab_lookup(argv[i].p, argv[i].len);
            if (d) command_docs(d, out);
        }
    } else if (arg_is(sub, "count") || arg_is(sub, "list")) {
        reply_errorf(out, "ERR wrong number of arguments for 'command|%.*s' command", (int)sub->len,
                     sub->p);
    } else {
        reply_errorf(out, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
                     (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    }
}

/* ---- CONFIG ------------------------------------------------------------ */

void local_config(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    const kv_str *sub = &argv[1];
    if (arg_is(sub, "resetstat")) {
        if (argc != 2) {
            reply_error(out, "ERR wrong number of arguments for 'config|resetstat' command");
            return;
        }
        obs_reset(t); /* every thread clears its own figures; no setting changes */
        reply_ok(out);
        return;
    }
    if (arg_is(sub, "set")) {
        confset_set(t->srv, argc, argv, out);
        return;
    }
    if (arg_is(sub, "get")) {
        confset_get(t->srv, argc, argv, out);
        return;
    }
    reply_errorf(out, "ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
                 (int)(sub->len > 128 ? 128 : sub->len), sub->p);
}

/* ---- INFO and STATS ---------------------------------------------------- */

typedef struct server_figures {
    int64_t shard[CMD_INFO_NFIELDS];
    uint64_t commands, connections, rejected, net_in, net_out;
    uint64_t qbuf_closed, obl_closed, timeout_closed, auth_failures, protected_denied;
    int64_t clients;
    size_t rss;
    size_t allocated;     /* bytes malloc has handed out, all threads */
    kv_alloc_stats alloc; /* the allocator's own figures (alloc.allocated == allocated) */
} server_figures;

static int gather_figures(netthr *t, kv_slot *sl, server_figures *f)
{
    memset(f, 0, sizeof *f);
    if (join_sum_fields(sl->subs, sl->nsub, f->shard) != 0) return -1;
    server_t *s = t->srv;
    uint64_t gen = atomic_load(&s->stats_gen);
    f->commands = script_env_calls(s->scripts, gen); /* redis.call, as Redis counts them */
    for (unsigned i = 0; i < s->nnet; i++) {
        net_stats *ns = &s->net[i].stats;
        /* a thread that has not applied the last CONFIG RESETSTAT counts as
         * zero, as in obs_summary_new */
        if (atomic_load_explicit(&s->net[i].obs.gen, memory_order_acquire) != gen) continue;
        f->commands += atomic_load_explicit(&ns->commands, memory_order_relaxed);
        f->connections += atomic_load_explicit(&ns->connections, memory_order_relaxed);
        f->rejected += atomic_load_explicit(&ns->rejected, memory_order_relaxed);
        f->net_in += atomic_load_explicit(&ns->net_in, memory_order_relaxed);
        f->net_out += atomic_load_explicit(&ns->net_out, memory_order_relaxed);
        f->qbuf_closed += atomic_load_explicit(&ns->qbuf_limit_closed, memory_order_relaxed);
        f->obl_closed += atomic_load_explicit(&ns->obl_limit_closed, memory_order_relaxed);
        f->timeout_closed += atomic_load_explicit(&ns->timeout_closed, memory_order_relaxed);
        f->auth_failures += atomic_load_explicit(&ns->auth_failures, memory_order_relaxed);
        f->protected_denied += atomic_load_explicit(&ns->protected_denied, memory_order_relaxed);
    }
    f->clients = atomic_load_explicit(&s->clients, memory_order_relaxed);
    f->rss = kv_rss_bytes();
    kv_allocator_stats(&f->alloc);
    f->allocated = f->alloc.allocated;
    return 0;
}

/* Bytes one shard may hold now, 0 with no limit. */
static long long share_figure(server_t *s)
{
    size_t share = evict_share(&s->limits);
    return share == SIZE_MAX ? 0 : (long long)share;
}

static void human_bytes(char *buf, size_t len, double n)
{
    const char *units = "BKMGTP";
    int u = 0;
    while (n >= 1024 && u < 5) {
        n /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%.0fB", n);
    else
        snprintf(buf, len, "%.2f%c", n, units[u]);
}

/* Which sections INFO asked for. */
/* INFO stats: the TLS counters, with --tls-port only. */
static void info_tls(kvbuf *b, const server_t *s)
{
    if (s->tls == NULL) return;
    tls_stats ts;
    tls_ctx_stats(s->tls, &ts);
    kvbuf_printf(b,
                 "tls_handshakes:%llu\r\ntls_handshake_errors:%llu\r\n"
                 "tls_handshake_timeouts:%llu\r\ntls_io_errors:%llu\r\n",
                 (unsigned long long)ts.handshakes, (unsigned long long)ts.handshake_errors,
                 (unsigned long long)ts.handshake_timeouts, (unsigned long long)ts.io_errors);
}

static int info_wants(const kv_slot *sl, const char *section, int in_default)
{
    if (sl->argc < 2) return in_default;
    for (int i = 1; i < sl->argc; i++) {
        const kv_str *a = &sl->argv[i];
        if (arg_is(a, "all") || arg_is(a, "everything") || arg_is(a, section)) return 1;
        if (arg_is(a, "default") && in_default) return 1;
    }
    return 0;
}

/* INFO cpu: Redis's process-wide fields, then the same per thread of
 * ours (used_cpu_sys_net_0, used_cpu_user_actor_1, ...; the main thread,
 * which only starts and stops the others, as used_cpu_*_main_thread). */
static void info_cpu(kvbuf *b)
{
    cpustat st;
    cpustat_read(&st);
    kvbuf_printf(b,
                 "# CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\n"
                 "used_cpu_sys_children:%.6f\r\nused_cpu_user_children:%.6f\r\n",
                 st.sys, st.user, st.sys_children, st.user_children);
    const char *main_name = "";
    for (size_t i = 0; i < st.nthreads; i++)
        if (st.thread[i].main) main_name = st.thread[i].name;
    /* threads without a name of their own (they keep the process's: the
     * WAL flusher, ...) are summed as other_threads */
    double other_sys = 0, other_user = 0;
    for (size_t i = 0; i < st.nthreads; i++) {
        const cpustat_thread *th = &st.thread[i];
        char name[sizeof th->name];
        if (th->main) {
            snprintf(name, sizeof name, "main_thread");
        } else if (strcmp(th->name, main_name) == 0) {
            other_sys += th->sys;
            other_user += th->user;
            continue;
        } else { /* a field name: letters, digits and '_' */
            for (size_t k = 0; k < sizeof name; k++) {
                char ch = th->name[k];
                int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                         (ch >= '0' && ch <= '9') || ch == '\0';
                name[k] = ok ? ch : '_';
            }
        }
        kvbuf_printf(b, "used_cpu_sys_%s:%.6f\r\nused_cpu_user_%s:%.6f\r\n", name, th->sys, name,
                     th->user);
    }
    kvbuf_printf(b, "used_cpu_sys_other_threads:%.6f\r\nused_cpu_user_other_threads:%.6f\r\n\r\n",
                 other_sys, other_user);
}

/* avg_ttl of a database: the mean remaining TTL in ms of its keys with a
 * TTL (0 when none, as Redis). */
static long long info_avg_ttl(int64_t ttl_ms_sum, int64_t volatile_keys)
{
    return volatile_keys > 0 && ttl_ms_sum > 0 ? (long long)(ttl_ms_sum / volatile_keys) : 0;
}

/* INFO keyspace: a dbN line per database with keys (database 0's figures
 * are the totals less the other databases'). */
static void info_keyspace(kvbuf *b, const kv_slot *sl, const server_figures *f)
{
    int64_t(*dbs)[3] = kv_xcalloc(KV_MAX_DBS, sizeof *dbs);
    kvbuf_printf(b, "# Keyspace\r\n");
    if (join_info_dbs(sl->subs, sl->nsub, dbs, KV_MAX_DBS) == 0) {
        dbs[0][0] = f->shard[CMD_INFO_KEYS];
        dbs[0][1] = f->shard[CMD_INFO_EXPIRES];
        dbs[0][2] = f->shard[CMD_INFO_TTL_MS];
        for (unsigned db = 1; db < KV_MAX_DBS; db++) {
            dbs[0][0] -= dbs[db][0];
            dbs[0][1] -= dbs[db][1];
            dbs[0][2] -= dbs[db][2];
        }
    }
    for (unsigned db = 0; db < KV_MAX_DBS; db++)
        if (dbs[db][0] > 0)
            kvbuf_printf(b, "db%u:keys=%lld,expires=%lld,avg_ttl=%lld\r\n", db,
                         (long long)dbs[db][0], (long long)dbs[db][1],
                         info_avg_ttl(dbs[db][2], dbs[db][1]));
    free(dbs);
}

void local_info_join(netthr *t, kv_slot *sl)
{
    server_figures f;
    kvbuf *out = &sl->reply;
    if (join_first_error(out, sl->subs, sl->nsub)) return;
    if (gather_figures(t, sl, &f) != 0) {
        reply_error(out, "ERR internal error gathering INFO");
        return;
    }
    server_t *s = t->srv;
    int64_t now = kv_time_ms();
    kvbuf b;
    kvbuf_init(&b);
    if (info_wants(sl, "server", 1)) {
        struct utsname un;
        uname(&un);
        kvbuf_printf(&b,
                     "# Server\r\nredis_version:%s\r\nmemkv_version:%s\r\nredis_mode:standalone\r\n"
                     "os:%s %s %s\r\narch_bits:%d\r\nmultiplexing_api:epoll\r\n"
                     "process_id:%ld\r\nrun_id:%s\r\ntcp_port:%d\r\nuptime_in_seconds:%lld\r\n"
                     "uptime_in_days:%lld\r\nhz:%d\r\nshards:%d\r\nactor_threads:%d\r\n"
                     "io_threads:%d\r\nhosted_threads:%d\r\nio_backend:%s\r\n\r\n",
                     MEMKV_REDIS_COMPAT, MEMKV_VERSION, un.sysname, un.release, un.machine,
                     (int)(8 * sizeof(void *)), (long)getpid(), s->run_id, s->cfg.port,
                     (long long)((now - s->start_ms) / 1000),
                     (long long)((now - s->start_ms) / 86400000), s->cfg.hz, s->cfg.shards,
                     s->cfg.actor_threads, s->cfg.io_threads, s->cfg.threads,
                     net_io_backend_name(s));
    }
    if (info_wants(sl, "clients", 1)) {
        kvbuf_printf(
            &b,
            "# Clients\r\nconnected_clients:%lld\r\nmaxclients:%d\r\nblocked_clients:%lld\r\n"
            "tracking_clients:0\r\n\r\n",
            (long long)f.clients, s->cfg.maxclients,
            (long long)atomic_load_explicit(&s->blocked, memory_order_relaxed));
    }
    if (info_wants(sl, "memory", 1)) {
        char used_h[32], rss_h[32];
        size_t used = f.allocated;
        human_bytes(used_h, sizeof used_h, (double)used);
        human_bytes(rss_h, sizeof rss_h, (double)f.rss);
        long long maxmem = (long long)atomic_load(&s->limits.maxmemory);
        char max_h[32];
        human_bytes(max_h, sizeof max_h, (double)maxmem);
        kvbuf_printf(
            &b,
            "# Memory\r\nused_memory:%zu\r\nused_memory_human:%s\r\nused_memory_rss:%zu\r\n"
            "used_memory_rss_human:%s\r\nused_memory_dataset:%lld\r\n"
            "maxmemory:%lld\r\nmaxmemory_human:%s\r\nmaxmemory_policy:%s\r\n"
            "memkv_maxmemory_shard_share:%lld\r\nmemkv_mem_outside_shards:%lld\r\n"
            "mem_not_counted_for_evict:%llu\r\n"
            "allocator_allocated:%zu\r\nallocator_active:%zu\r\nallocator_resident:%zu\r\n"
            "allocator_frag_ratio:%.2f\r\n"
            "mem_fragmentation_ratio:%.2f\r\nmem_allocator:%s\r\n\r\n",
            used, used_h, f.rss, rss_h, (long long)f.shard[CMD_INFO_MEMORY], maxmem, max_h,
            evict_policy_names[atomic_load(&s->limits.policy)], share_figure(s),
            (long long)atomic_load(&s->limits.overhead), (unsigned long long)server_not_counted(s),
            f.alloc.allocated, f.alloc.active, f.alloc.resident,
            f.alloc.allocated ? (double)f.alloc.active / (double)f.alloc.allocated : 0.0,
            used ? (double)f.rss / (double)used : 0.0, kv_allocator_name());
    }
    if (info_wants(sl, "persistence", 1)) {
        persist_stats ps;
        persist_get_stats(s->persist, &ps);
        kvbuf_printf(
            &b,
            "# Persistence\r\nloading:0\r\naof_enabled:%d\r\naof_rewrite_in_progress:%d\r\n"
            "aof_last_write_status:%s\r\nrdb_bgsave_in_progress:0\r\n"
            "rdb_changes_since_last_save:0\r\nwal_fsync:%s\r\nwal_bytes_written:%llu\r\n"
            "wal_log_bytes:%llu\r\nwal_snapshot_bytes:%llu\r\nwal_fsyncs:%llu\r\n"
            "wal_failures:%llu\r\nwal_failing_shards:%d\r\nwal_failing_seconds:%lld\r\n"
            "wal_last_error:%s\r\ncompactions:%llu\r\ncompacting_shards:%llu\r\n\r\n",
            s->persist != NULL, ps.compacting > 0, ps.failing_shards ? "err" : "ok",
            s->persist == NULL                 ? "off"
            : s->cfg.fsync == WAL_FSYNC_ALWAYS ? "always"
            : s->cfg.fsync == WAL_FSYNC_NO     ? "no"
                                               : "interval",
            (unsigned long long)ps.bytes, (unsigned long long)ps.log_bytes,
            (unsigned long long)ps.snapshot_bytes, (unsigned long long)ps.fsyncs,
            (unsigned long long)ps.failures, ps.failing_shards, (long long)(ps.failing_ms / 1000),
            persist_errno_text(ps.last_errno), (unsigned long long)ps.compactions,
            (unsigned long long)ps.compacting);
    }
    obs_summary *m = NULL;
    if (info_wants(sl, "stats", 1) || info_wants(sl, "commandstats", 0) ||
        info_wants(sl, "errorstats", 1) || info_wants(sl, "latencystats", 0))
        m = obs_summary_new(s);
    if (info_wants(sl, "stats", 1)) {
        kvbuf_printf(
            &b,
            "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
            "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
            "rejected_connections:%llu\r\nexpired_keys:%lld\r\nexpired_stale_perc:%.2f\r\n"
            "expired_time_cap_reached_count:%lld\r\nexpire_cycle_cpu_milliseconds:%lld\r\n"
            "evicted_keys:%lld\r\n"
            "keyspace_hits:%lld\r\nkeyspace_misses:%lld\r\n"
            "client_query_buffer_limit_disconnections:%llu\r\n"
            "client_output_buffer_limit_disconnections:%llu\r\n"
            "acl_access_denied_auth:%llu\r\ntimeout_disconnections:%llu\r\n"
            "protected_mode_denied_connections:%llu\r\n",
            (unsigned long long)f.connections, (unsigned long long)f.commands,
            (unsigned long long)f.net_in, (unsigned long long)f.net_out,
            (unsigned long long)f.rejected, (long long)f.shard[CMD_INFO_EXPIRED],
            sl->nsub ? (double)f.shard[CMD_INFO_EXPIRE_STALE] / 100.0 / sl->nsub : 0.0,
            (long long)f.shard[CMD_INFO_EXPIRE_CAPPED],
            (long long)(f.shard[CMD_INFO_EXPIRE_CYCLE_US] / 1000),
            (long long)f.shard[CMD_INFO_EVICTED], (long long)f.shard[CMD_INFO_HITS],
            (long long)f.shard[CMD_INFO_MISSES], (unsigned long long)f.qbuf_closed,
            (unsigned long long)f.obl_closed, (unsigned long long)f.auth_failures,
            (unsigned long long)f.timeout_closed, (unsigned long long)f.protected_denied);
        if (m != NULL)
            kvbuf_printf(&b,
                         "unexpected_error_replies:0\r\ntotal_error_replies:%llu\r\n"
                         "memkv_unknown_commands:%llu\r\nmemkv_rejected_commands:%llu\r\n",
                         (unsigned long long)m->errors, (unsigned long long)m->unknown,
                         (unsigned long long)m->rejected);
        uint64_t ps_chans, ps_pats, ps_shards;
        pubsub_counts(s->pubsub, &ps_chans, &ps_pats, &ps_shards);
        kvbuf_printf(
            &b, "pubsub_channels:%llu\r\npubsub_patterns:%llu\r\npubsubshard_channels:%llu\r\n",
            (unsigned long long)ps_chans, (unsigned long long)ps_pats,
            (unsigned long long)ps_shards);
        info_tls(&b, s);
        kvbuf_printf(&b, "\r\n");
    }
    if (info_wants(sl, "replication", 1)) {
        kvbuf_printf(&b, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
    }
    if (info_wants(sl, "cpu", 1)) info_cpu(&b);
    if (m && info_wants(sl, "commandstats", 0)) obs_info_commandstats(&b, m);
    if (m && info_wants(sl, "errorstats", 1)) obs_info_errorstats(&b, m);
    if (m && info_wants(sl, "latencystats", 0)) obs_info_latencystats(&b, m);
    obs_summary_free(m);
    if (info_wants(sl, "keyspace", 1)) info_keyspace(&b, sl, &f);
    /* Redis ends the last section without the blank line. */
    while (b.len >= 4 && b.data[b.len - 1] == '\n' && b.data[b.len - 3] == '\n') b.len -= 2;
    reply_bulk(out, b.data, b.len);
    kvbuf_destroy(&b);
}

/* Appends ,"eviction":{...} to the JSON object being written in b: the
 * time each write or tick spent evicting (only runs that evicted), which
 * is what eviction adds to a command. */
static void eviction_stats_json(kvbuf *b, server_t *s)
{
    hist_t *h = kv_xmalloc(sizeof *h);
    hist_init(h);
    actor_pool_evict_stats(s->actors, h);
    uint64_t n = hist_ld(&h->total);
    kvbuf_printf(b,
                 ",\"eviction\":{\"runs\":%llu,\"usec_mean\":%.1f,\"usec_p99\":%.1f,"
                 "\"usec_max\":%.1f}",
                 (unsigned long long)n, n ? hist_mean(h) / 1000.0 : 0.0,
                 n ? (double)hist_value_at(h, 99.0) / 1000.0 : 0.0,
                 n ? (double)hist_value_at(h, 100.0) / 1000.0 : 0.0);
    free(h);
}

/* Appends ,"persistence":{...} to the JSON object being written in b. */
static void persist_stats_json(kvbuf *b, server_t *s)
{
    persist_stats ps;
    persist_get_stats(s->persist, &ps);
    kvbuf_printf(b,
                 ",\"persistence\":{\"enabled\":%s,\"fsync\":\"%s\",\"batches\":%llu,"
                 "\"writes\":%llu,\"writes_per_batch_mean\":%.2f,\"writes_per_batch_max\":%llu,"
                 "\"bytes\":%llu,\"fsyncs\":%llu,\"fsync_usec_mean\":%.1f,\"fsync_usec_p99\":%llu,"
                 "\"fsync_usec_max\":%llu,"
                 "\"failures\":%llu,\"broken_shards\":%d,\"failing_shards\":%d,"
                 "\"failing_seconds\":%lld,\"last_error\":\"%s\",\"log_bytes\":%llu,"
                 "\"snapshot_bytes\":%llu,\"compactions\":%llu,\"compacting\":%llu}",
                 s->persist ? "true" : "false",
                 s->persist == NULL                 ? "off"
                 : s->cfg.fsync == WAL_FSYNC_ALWAYS ? "always"
                 : s->cfg.fsync == WAL_FSYNC_NO     ? "no"
                                                    : "interval",
                 (unsigned long long)ps.batches, (unsigned long long)ps.writes,
                 ps.batches ? (double)ps.writes / (double)ps.batches : 0.0,
                 (unsigned long long)ps.max_writes, (unsigned long long)ps.bytes,
                 (unsigned long long)ps.fsyncs,
                 ps.fsyncs ? (double)ps.fsync_us_total / (double)ps.fsyncs : 0.0,
                 (unsigned long long)ps.fsync_us_p99, (unsigned long long)ps.fsync_us_max,
                 (unsigned long long)ps.failures, ps.broken_shards, ps.failing_shards,
                 (long long)(ps.failing_ms / 1000), persist_errno_text(ps.last_errno),
                 (unsigned long long)ps.log_bytes, (unsigned long long)ps.snapshot_bytes,
                 (unsigned long long)ps.compactions, (unsigned long long)ps.compacting);
}

void local_stats_join(netthr *t, kv_slot *sl)
{
    server_figures f;
    kvbuf *out = &sl->reply;
    if (join_first_error(out, sl->subs, sl->nsub)) return;
    if (gather_figures(t, sl, &f) != 0) {
        reply_error(out, "ERR internal error gathering STATS");
        return;
    }
    server_t *s = t->srv;
    int64_t hits = f.shard[CMD_INFO_HITS], misses = f.shard[CMD_INFO_MISSES];
    kvbuf b;
    kvbuf_init(&b);
    kvbuf_printf(&b,
                 "{\"keys\":%lld,\"expires\":%lld,\"commands_processed\":%llu,\"hits\":%lld,"
                 "\"misses\":%lld,\"hit_rate\":%.4f,\"expired\":%lld,\"evicted\":%lld,"
                 "\"connections\":%lld,\"total_connections\":%llu,\"used_memory\":%zu,"
                 "\"used_memory_dataset\":%lld,"
                 "\"used_memory_rss\":%zu,\"mem_fragmentation_ratio\":%.2f,\"maxmemory\":%lld,"
                 "\"maxmemory_policy\":\"%s\",\"maxmemory_shard_share\":%lld,"
                 "\"shards\":%d,\"actor_threads\":%d,\"io_threads\":%d,"
                 "\"uptime_seconds\":%lld,\"rejected_connections\":%llu,"
                 "\"auth_failures\":%llu,\"qbuf_limit_disconnections\":%llu,"
                 "\"obl_limit_disconnections\":%llu,\"timeout_disconnections\":%llu,"
                 "\"protected_mode_denied\":%llu",
                 (long long)f.shard[CMD_INFO_KEYS], (long long)f.shard[CMD_INFO_EXPIRES],
                 (unsigned long long)f.commands, (long long)hits, (long long)misses,
                 hits + misses ? (double)hits / (double)(hits + misses) : 0.0,
                 (long long)f.shard[CMD_INFO_EXPIRED], (long long)f.shard[CMD_INFO_EVICTED],
                 (long long)f.clients, (unsigned long long)f.connections, f.allocated,
                 (long long)f.shard[CMD_INFO_MEMORY], f.rss,
                 f.allocated ? (double)f.rss / (double)f.allocated : 0.0,
                 (long long)atomic_load(&s->limits.maxmemory),
                 evict_policy_names[atomic_load(&s->limits.policy)], share_figure(s), s->cfg.shards,
                 s->cfg.actor_threads, s->cfg.io_threads,
                 (long long)((kv_time_ms() - s->start_ms) / 1000), (unsigned long long)f.rejected,
                 (unsigned long long)f.auth_failures, (unsigned long long)f.qbuf_closed,
                 (unsigned long long)f.obl_closed, (unsigned long long)f.timeout_closed,
                 (unsigned long long)f.protected_denied);
    /* the object is written whole, field by field, then closed once */
    obs_stats_json(&b, s, sl); /* latency, per command, per shard, batches */
    eviction_stats_json(&b, s);
    persist_stats_json(&b, s);
    kvbuf_printf(&b, "}");
    reply_bulk(out, b.data, b.len);
    kvbuf_destroy(&b);
}
