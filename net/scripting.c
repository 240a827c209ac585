/* scripting.c - EVAL/EVALSHA routing, the server's script store, SCRIPT,
 * and the shard handler that runs a script on its actor (scripting.h). */
#include "net/scripting.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/reply.h"
#include "net/route.h"
#include "engine/script.h"
#include "engine/sha1.h"

#define ERR_NOSCRIPT "NOSCRIPT No matching script. Please use EVAL."

/* A script on a hosted thread (--threads) older than this lets that
 * thread's connections be served (SCRIPT KILL, BUSY replies): a script
 * running this long blocks the thread's other clients anyway. mem-kv's
 * lua-time-limit stops the script, so it cannot be the threshold. */
#define SCRIPT_BUSY_AFTER_MS 100

/* One script known by its SHA1. */
typedef struct script_entry {
    struct script_entry *next;
    char sha[41];
    size_t len;
    char body[];
} script_entry;

/* What each actor keeps for scripts. */
typedef struct script_actor {
    script_vm *vm;       /* owner: the actor; NULL until its first script */
    uint64_t gen;        /* owner: the actor: the store generation vm belongs to */
    _Atomic int running; /* written by the actor: a script is running */
    _Atomic int wrote;   /* written by the actor: the running script has written */
    _Atomic int kill;    /* set by SCRIPT KILL; cleared by the actor when a run starts */
    obs_net obs;         /* owner: the actor: the commands its scripts ran */
} script_actor;

struct script_env {
    struct server *srv;   /* ro */
    pthread_mutex_t lock; /* guards buckets, nbuckets, count */
    script_entry **buckets;
    size_t nbuckets, count;
    _Atomic uint64_t gen; /* SCRIPT FLUSHes so far */
    script_actor *actors; /* [nactors] */
};

/* ---- the store: sha -> source, any thread ------------------------------ */

static size_t store_bucket(const script_env *e, const char *sha)
{
    uint64_t h = 0;
    for (int i = 0; i < 12; i++)
        h = h * 16 + (uint64_t)(isdigit((unsigned char)sha[i]) ? sha[i] - '0' : sha[i] - 'a' + 10);
    return (size_t)(h & (e->nbuckets - 1));
}

static script_entry *store_find_locked(script_env *e, const char *sha)
{
    for (script_entry *x = e->buckets[store_bucket(e, sha)]; x; x = x->next)
        if (memcmp(x->sha, sha, 40) == 0) return x;
    return NULL;
}

static void store_grow_locked(script_env *e)
{
    script_entry **old = e->buckets;
    size_t n = e->nbuckets;
    e->nbuckets *= 2;
    e->buckets = kv_xcalloc(e->nbuckets, sizeof *e->buckets);
    for (size_t i = 0; i < n; i++)
        while (old[i]) {
            script_entry *x = old[i];
            old[i] = x->next;
            size_t b = store_bucket(e, x->sha);
            x->next = e->buckets[b];
            e->buckets[b] = x;
        }
    free(old);
}

/* Adds body under sha unless it is there. */
static void store_add(script_env *e, const char *sha, const char *body, size_t len)
{
    pthread_mutex_lock(&e->lock);
    if (store_find_locked(e, sha) == NULL) {
        script_entry *x = kv_xmalloc(sizeof *x + len + 1);
        memcpy(x->sha, sha, 41);
        x->len = len;
        memcpy(x->body, body, len);
        x->body[len] = '\0';
        if (e->count >= e->nbuckets) store_grow_locked(e);
        size_t b = store_bucket(e, sha);
        x->next = e->buckets[b];
        e->buckets[b] = x;
        e->count++;
    }
    pthread_mutex_unlock(&e->lock);
}

static int store_has(script_env *e, const char *sha)
{
    pthread_mutex_lock(&e->lock);
    int found = store_find_locked(e, sha) != NULL;
    pthread_mutex_unlock(&e->lock);
    return found;
}

/* Copies the source of sha into out; 0 if unknown. */
static int store_copy(script_env *e, const char *sha, kvbuf *out)
{
    pthread_mutex_lock(&e->lock);
    script_entry *x = store_find_locked(e, sha);
    if (x) kvbuf_append(out, x->body, x->len);
    pthread_mutex_unlock(&e->lock);
    return x != NULL;
}

static void store_clear_locked(script_env *e)
{
    for (size_t i = 0; i < e->nbuckets; i++)
        while (e->buckets[i]) {
            script_entry *x = e->buckets[i];
            e->buckets[i] = x->next;
            free(x);
        }
    e->count = 0;
}

/* SCRIPT FLUSH: forgets every script; each actor drops its Lua state. */
static void store_flush(script_env *e)
{
    pthread_mutex_lock(&e->lock);
    store_clear_locked(e);
    atomic_fetch_add(&e->gen, 1);
    pthread_mutex_unlock(&e->lock);
}

script_env *script_env_new(struct server *s)
{
    script_env *e = kv_xcalloc(1, sizeof *e);
    e->srv = s;
    pthread_mutex_init(&e->lock, NULL);
    e->nbuckets = 64;
    e->buckets = kv_xcalloc(e->nbuckets, sizeof *e->buckets);
    e->actors = kv_xcalloc(s->nactors, sizeof *e->actors);
    for (unsigned a = 0; a < s->nactors; a++)
        if (obs_net_init(&e->actors[a].obs) != 0) abort(); /* out of memory, as kv_xcalloc */
    return e;
}

void script_env_free(script_env *e)
{
    if (e == NULL) return;
    if (e->buckets) store_clear_locked(e);
    free(e->buckets);
    if (e->actors)
        for (unsigned a = 0; a < e->srv->nactors; a++) {
            script_vm_free(e->actors[a].vm);
            obs_net_destroy(&e->actors[a].obs);
        }
    free(e->actors);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

obs_net *script_env_obs(script_env *e, unsigned a)
{
    return &e->actors[a].obs;
}

uint64_t script_env_calls(script_env *e, uint64_t gen)
{
    if (e == NULL) return 0;
    uint64_t n = 0;
    for (unsigned a = 0; a < e->srv->nactors; a++) {
        const obs_net *o = &e->actors[a].obs;
        if (atomic_load_explicit(&o->gen, memory_order_acquire) != gen) continue; /* as zero */
        n += obs_net_calls(o);
    }
    return n;
}

/* ---- helpers ----------------------------------------------------------- */

static int arg_is(const kv_str *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

/* The lower-case sha named by a (EVALSHA, SCRIPT EXISTS); 0 if a cannot be one. */
static int sha_arg(const kv_str *a, char sha[41])
{
    if (a->len != 40) return 0;
    for (int i = 0; i < 40; i++) sha[i] = (char)tolower((unsigned char)a->p[i]);
    sha[40] = '\0';
    return 1;
}

/* EVALSHA / EVALSHA_RO (else EVAL / EVAL_RO), by the name the client sent. */
static int name_is_sha(const kv_str *name)
{
    return name->len >= 7 && (name->p[4] == 's' || name->p[4] == 'S');
}

static int name_is_ro(const kv_str *name)
{
    return name->len > 3 && strncasecmp(name->p + name->len - 3, "_ro", 3) == 0;
}

/* ---- EVAL / EVALSHA on the network thread -------------------------------- */

static void route_answer(netthr *t, conn *c, kv_slot *sl, const char *err)
{
    reply_error(&sl->reply, err);
    sl->ready = 1;
    conn_mark_dirty(t, c);
}

/* The shard the script goes to: its first key's (actor 0's shard 0 without
 * keys); -1 if the keys belong to several actors. */
static int64_t script_shard(const struct server *s, const kv_str *keys, int64_t nkeys)
{
    if (nkeys == 0) return 0;
    uint32_t first = route_shard(s, keys[0].p, keys[0].len);
    unsigned actor = actor_of_shard(first, s->nactors);
    for (int64_t i = 1; i < nkeys; i++)
        if (actor_of_shard(route_shard(s, keys[i].p, keys[i].len), s->nactors) != actor) return -1;
    return first;
}

/* EVAL: the store learns the script if it compiles (so that a pipelined
 * EVALSHA after it finds it on any actor); -1 after answering the error. */
static int script_learn(netthr *t, conn *c, kv_slot *sl)
{
    char sha[41];
    sha1_hex(sl->argv[1].p, sl->argv[1].len, sha);
    script_env *e = t->srv->scripts;
    if (store_has(e, sha)) return 0;
    kvbuf err;
    kvbuf_init(&err);
    int bad = script_compile_check(sl->argv[1].p, sl->argv[1].len, &err);
    if (bad) {
        kvbuf_append(&err, "", 1);
        route_answer(t, c, sl, err.data);
    } else {
        store_add(e, sha, sl->argv[1].p, sl->argv[1].len);
    }
    kvbuf_destroy(&err);
    return bad ? -1 : 0;
}

void script_route(netthr *t, conn *c, kv_slot *sl)
{
    struct server *s = t->srv;
    int64_t nkeys;
    if (kv_parse_i64(sl->argv[2].p, sl->argv[2].len, &nkeys) != 0)
        return route_answer(t, c, sl, KV_ERR_NOTINT);
    if (nkeys < 0) return route_answer(t, c, sl, "ERR Number of keys can't be negative");
    if (nkeys > sl->argc - 3)
        return route_answer(t, c, sl, "ERR Number of keys can't be greater than number of args");
    if (name_is_sha(&sl->argv[0])) {
        char sha[41];
        if (!sha_arg(&sl->argv[1], sha) || !store_has(s->scripts, sha))
            return route_answer(t, c, sl, ERR_NOSCRIPT);
    } else if (script_learn(t, c, sl) != 0) {
        return;
    }
    int64_t shard = script_shard(s, sl->argv + 3, nkeys);
    if (shard < 0)
        return route_answer(t, c, sl,
                            "ERR script keys span several actors; mem-kv runs a script on the one "
                            "actor that owns all its keys (hash tags do not help: see "
                            "docs/protocol.md, Scripting)");
    kv_req *r = &sl->one;
    r->fn = sl->def->fn; /* script_part */
    r->shard = (uint32_t)shard;
    r->argc = sl->argc;
    r->argv = sl->argv;
    r->owner = sl;
    r->write = !name_is_ro(&sl->argv[0]); /* a failed log refuses it with MISCONF */
    r->denyoom = KV_OOM_NONE;             /* its writes make room one by one */
    r->env = s->scripts;
    r->db = sl->db; /* the connection's database is the script's */
    sl->one_ptr = r;
    sl->subs = &sl->one_ptr;
    sl->nsub = 1;
    sl->pending = 1;
    route_queue(t, r);
}

/* ---- the run, on the owning actor ------------------------------------------ */

/* The actor's Lua state, made anew after a SCRIPT FLUSH; NULL on OOM. */
static script_vm *actor_vm(script_env *e, script_actor *sa)
{
    uint64_t gen = atomic_load(&e->gen);
    if (sa->vm != NULL && sa->gen == gen) return sa->vm;
    script_vm_free(sa->vm);
    sa->vm = script_vm_new();
    sa->gen = gen;
    return sa->vm;
}

/* What the script hook needs once the run is busy (r.busy). */
typedef struct script_busy {
    struct server *srv;
    netthr *t; /* the hosting network thread; NULL: an actor thread of its own */
    script_actor *sa;
} script_busy;

/* The count hook of a long script on a hosted thread: one round of its
 * loop in busy mode; a stopping server (SHUTDOWN NOSAVE, SIGTERM) stops the
 * script even if it wrote, as Redis's SHUTDOWN NOSAVE does. Hosting thread. */
static void script_hosted_busy(void *arg)
{
    script_busy *b = arg;
    if (netthr_script_busy(b->t)) atomic_store(&b->sa->kill, 1);
}

/* The same on an actor thread of its own (the network threads serve the
 * sockets meanwhile): only stops the script once the server is stopping,
 * else SIGTERM would wait for a script without a time limit forever.
 * Actor thread. */
static void script_actor_busy(void *arg)
{
    script_busy *b = arg;
    if (atomic_load(&b->srv->stop)) atomic_store(&b->sa->kill, 1);
}

/* Runs the script of c (EVAL/EVALSHA[_RO] body-or-sha numkeys keys... args...)
 * on the actor owning shard s; c->env is the script_env. Owner actor. */
void script_part(shard_t *s, const cmd_call *c)
{
    script_env *e = c->env;
    unsigned a = actor_of_shard(s->id, e->srv->nactors);
    script_actor *sa = &e->actors[a];
    script_vm *vm = actor_vm(e, sa);
    if (vm == NULL) {
        reply_error(c->out, "ERR out of memory creating the Lua state");
        return;
    }
    int is_sha = name_is_sha(&c->argv[0]);
    int64_t nkeys = 0;
    kv_parse_i64(c->argv[2].p, c->argv[2].len, &nkeys);
    char sha[41];
    if (is_sha)
        sha_arg(&c->argv[1], sha);
    else
        sha1_hex(c->argv[1].p, c->argv[1].len, sha);
    script_call_ctx cc = {e->srv,   a, name_is_ro(&c->argv[0]), s->now_ms, &sa->wrote, s->db,
                          &sa->obs, 0};
    obs_net_sync_cmds(&sa->obs, atomic_load(&e->srv->stats_gen)); /* CONFIG RESETSTAT */
    script_run r = {.sha = sha,
                    .body = is_sha ? NULL : c->argv[1].p,
                    .body_len = is_sha ? 0 : c->argv[1].len,
                    .keys = c->argv + 3,
                    .nkeys = (int)nkeys,
                    .args = c->argv + 3 + nkeys,
                    .nargs = c->argc - 3 - (int)nkeys,
                    .call = script_call,
                    .ctx = &cc,
                    .time_limit_ms = e->srv->cfg.lua_time_limit,
                    .kill = &sa->kill,
                    .out = c->out};
    /* hosted actor a runs on network thread a */
    script_busy busy = {e->srv, e->srv->hosted && e->srv->net ? &e->srv->net[a] : NULL, sa};
    r.busy = busy.t ? script_hosted_busy : script_actor_busy;
    r.busy_ctx = &busy;
    r.busy_after_ms = SCRIPT_BUSY_AFTER_MS;
    atomic_store(&sa->kill, 0);
    atomic_store(&sa->wrote, 0);
    atomic_store(&sa->running, 1);
    /* writes to several shards of this actor are logged as one transaction */
    int tx = persist_tx_begin_actor(e->srv->persist, a, e->srv->nactors);
    int res = script_vm_run(vm, &r);
    if (res == SCRIPT_NOSCRIPT) { /* first run of a loaded script on this actor */
        kvbuf src;
        kvbuf_init(&src);
        if (store_copy(e, sha, &src)) {
            r.body = src.data;
            r.body_len = src.len;
            script_vm_run(vm, &r);
        } else {
            reply_error(c->out, ERR_NOSCRIPT); /* flushed since it was routed */
        }
        kvbuf_destroy(&src);
    }
    if (tx) persist_tx_end_actor(e->srv->persist, a, e->srv->nactors);
    atomic_store(&sa->running, 0);
}

/* ---- SCRIPT ------------------------------------------------------------------- */

static void script_load(netthr *t, const kv_str *body, kvbuf *out)
{
    kvbuf err;
    kvbuf_init(&err);
    if (script_compile_check(body->p, body->len, &err) != 0) {
        kvbuf_append(&err, "", 1);
        reply_error(out, err.data);
    } else {
        char sha[41];
        sha1_hex(body->p, body->len, sha);
        store_add(t->srv->scripts, sha, body->p, body->len);
        reply_bulk(out, sha, 40);
    }
    kvbuf_destroy(&err);
}

static void script_kill(netthr *t, kvbuf *out)
{
    script_env *e = t->srv->scripts;
    int running = 0;
    for (unsigned a = 0; a < t->srv->nactors; a++) {
        script_actor *sa = &e->actors[a];
        if (!atomic_load(&sa->running)) continue;
        running = 1;
        if (atomic_load(&sa->wrote)) {
            reply_error(out, "UNKILLABLE Sorry the script already executed write commands "
                             "against the dataset. You can either wait the script termination "
                             "or kill the server in a hard way using the SHUTDOWN NOSAVE "
                             "command.");
            return;
        }
        atomic_store(&sa->kill, 1);
    }
    if (running)
        reply_ok(out);
    else
        reply_error(out, "NOTBUSY No scripts in execution right now.");
}

static void script_help(kvbuf *out)
{
    static const char *help[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };
    reply_array(out, sizeof help / sizeof help[0]);
    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) reply_status(out, help[i]);
}

void local_script(netthr *t, conn *c, int argc, const kv_str *argv, kvbuf *out)
{
    const kv_str *sub = &argv[1];
    if (arg_is(sub, "load")) {
        if (argc != 3)
            reply_error(out, "ERR wrong number of arguments for 'script|load' command");
        else
            script_load(t, &argv[2], out);
    } else if (arg_is(sub, "exists")) {
        if (argc < 3) {
            reply_error(out, "ERR wrong number of arguments for 'script|exists' command");
            return;
        }
        reply_array(out, argc - 2);
        for (int i = 2; i < argc; i++) {
            char sha[41];
            reply_int(out, sha_arg(&argv[i], sha) && store_has(t->srv->scripts, sha));
        }
    } else if (arg_is(sub, "flush")) {
        if (argc > 3 || (argc == 3 && !arg_is(&argv[2], "async") && !arg_is(&argv[2], "sync"))) {
            reply_error(out, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            return;
        }
        store_flush(t->srv->scripts);
        reply_ok(out);
    } else if (arg_is(sub, "kill") && argc == 2) {
        script_kill(t, out);
    } else if (arg_is(sub, "help") && argc == 2) {
        script_help(out);
    } else {
        reply_errorf(out, "ERR unknown subcommand '%.*s'. Try SCRIPT HELP.",
                     (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    }
}
