/* multi.c - transactions (multi.h).
 *
 * The connection keeps the queued commands as detached slots (their own
 * argument copies) and the keys it watches. EXEC hands both to a
 * multi_tx owned by the EXEC slot, makes every queued command's parts
 * (route_parts with t->capturing: made, not queued) and sends one frozen
 * run request per involved actor. multi_run, on the actor that runs the
 * transaction, checks and unwatches the watched keys, then runs the parts
 * in order (and the commands that need stages: SCAN, RENAME across shards,
 * MSETNX, and LMOVE, SMOVE, the set algebra... across shards by xshard.c,
 * step by step, since every shard they touch is frozen). Back on
 * the network thread, multi_join joins each command's parts as if it had
 * run alone and answers the array.
 */
#include "net/multi.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/join.h"
#include "engine/reply.h"
#include "net/route.h"
#include "net/scripting.h"
#include "net/xshard.h"
#include "engine/watch.h"

#define MX_ERR_EXECABORT "EXECABORT Transaction discarded because of previous errors."

typedef struct multi_conn multi_conn;

/* A watched key: its shard and database, and a copy of its bytes. */
typedef struct mx_key {
    uint32_t shard;
    uint8_t db;
    char *p;
    size_t len;
} mx_key;

struct multi_conn {
    uint8_t active; /* between MULTI and EXEC/DISCARD */
    uint8_t dirty;  /* a command was refused since MULTI: EXEC aborts */
    kv_slot **q;    /* queued commands (detached slots), in order */
    unsigned nq, capq;
    mx_key *w; /* watched keys */
    unsigned nw, capw;
    char id[24]; /* the CLIENT ID in digits: the shards' watch lists know it so */
    size_t idlen;
};

/* What a JOIN_MULTI slot answers (kv_slot.aux). */
enum { MX_ANSWER_OK, MX_ANSWER_EXECABORT, MX_ANSWER_EXEC };

/* How EXEC runs a queued command (kv_slot.stage of a queued slot). */
enum {
    MX_PARTS,  /* its parts, made in advance, then joined as usual */
    MX_READY,  /* answered on the network thread (PING, SELECT, an arity error) */
    MX_SCAN,   /* stepped by the run: the cursor's shard, then the next ones */
    MX_RENAME, /* across two shards (aux: source | destination << 32) */
    MX_MSETNX, /* EXISTS on every shard, then MSET (key_sub: each key's shard) */
    MX_XSHARD, /* LMOVE, SMOVE, SUNIONSTORE... across shards, step by step (xshard.c) */
};

typedef struct multi_tx {
    actor_fz_run run;
    uint64_t client; /* ro: the watchers' id */
    kv_slot **q;     /* ro for the run but for replies and parts: the commands */
    unsigned nq;
    mx_key *w; /* ro: the keys to check, then unwatch */
    unsigned nw;
    unsigned nshards;    /* ro */
    const server_t *srv; /* ro: the server (its hash secret and shard count) */
    uint8_t aborted;     /* written by the run: a watched key changed */
    uint8_t *inv;        /* ro: the involved actors (actor_fz_run.inv) */
    kv_slot *group;      /* ro: multi_write_group's command (its parts run), or NULL */
    kv_req **fzr;        /* multi_write_group: the run's requests (one per actor) */
    unsigned nfzr;
    struct blk_token *tok; /* ro: multi_xshard_group of a blocked BLMOVE: its token, or NULL */
} multi_tx;

/* ---- connection state --------------------------------------------------- */

static multi_conn *mx_of(conn *c)
{
    if (c->mx == NULL) {
        c->mx = kv_xcalloc(1, sizeof *c->mx);
        c->mx->idlen =
            (size_t)snprintf(c->mx->id, sizeof c->mx->id, "%llu", (unsigned long long)c->id);
    }
    return c->mx;
}

int multi_active(const conn *c)
{
    return c->mx != NULL && c->mx->active;
}

void multi_flag_error(conn *c)
{
    if (multi_active(c)) c->mx->dirty = 1;
}

static void mx_drop_queue(multi_conn *m)
{
    for (unsigned i = 0; i < m->nq; i++) slot_free(m->q[i]);
    m->nq = 0;
}

static void mx_keys_free(mx_key *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++) free(w[i].p);
    free(w);
}

void multi_conn_free(conn *c)
{
    multi_conn *m = c->mx;
    if (m == NULL) return;
    mx_drop_queue(m);
    free(m->q);
    mx_keys_free(m->w, m->nw);
    free(m);
    c->mx = NULL;
}

/* A slot of c answered now with an error (msg) or, msg NULL, +OK. */
static void mx_answer(netthr *t, conn *c, const cmd_def *def, int argc, const kv_str *argv,
                      const char *msg)
{
    kv_slot *sl = slot_new(c, def, argc, argv);
    if (msg)
        reply_error(&sl->reply, msg);
    else
        reply_ok(&sl->reply);
    sl->ready = 1;
    conn_mark_dirty(t, c);
}

void multi_queue(netthr *t, conn *c, const cmd_def *def, int argc, const kv_str *argv)
{
    multi_conn *m = c->mx;
    if (m->nq == m->capq) {
        m->capq = m->capq ? m->capq * 2 : 8;
        m->q = kv_xrealloc(m->q, m->capq * sizeof *m->q);
    }
    m->q[m->nq++] = slot_make(c, def, argc, argv);
    kv_slot *sl = slot_new(c, NULL, 0, NULL); /* not counted as a call: EXEC runs it */
    reply_status(&sl->reply, "QUEUED");
    sl->ready = 1;
    conn_mark_dirty(t, c);
}

/* ---- keys to the shards: WATCH and UNWATCH parts --------------------------- */

/* Sends fn (cmd_watch_part or cmd_unwatch_part) for keys[0..n) (shard[i],
 * db[i]; bytes owned by sl) as one part per (shard, database) with argv =
 * sl->argv[0], the client's id, the keys. Returns the number of parts. */
static unsigned mx_send_keys(netthr *t, kv_slot *sl, cmd_fn *fn, const uint32_t *shard,
                             const uint8_t *db, const kv_str *keys, unsigned n)
{
    multi_conn *m = sl->conn->mx;
    uint8_t *done = kv_xcalloc(n ? n : 1, 1);
    kv_req **subs = kv_xmalloc((n ? n : 1) * sizeof *subs);
    unsigned nsub = 0;
    for (unsigned i = 0; i < n; i++) {
        if (done[i]) continue;
        int count = 0;
        for (unsigned j = i; j < n; j++)
            count += !done[j] && shard[j] == shard[i] && db[j] == db[i];
        kv_str *av;
        kv_req *r = route_part_new(sl, fn, shard[i], 2 + count, &av);
        av[0] = sl->argv[0];
        av[1] = (kv_str){m->id, m->idlen};
        int fill = 2;
        for (unsigned j = i; j < n; j++)
            if (!done[j] && shard[j] == shard[i] && db[j] == db[i]) {
                av[fill++] = keys[j];
                done[j] = 1;
            }
        r->db = db[i];
        subs[nsub++] = r;
    }
    free(done);
    if (nsub == 0) {
        free(subs);
        return 0;
    }
    slot_set_parts(sl, subs, nsub);
    for (unsigned i = 0; i < nsub; i++) route_queue(t, subs[i]);
    return nsub;
}

/* Forgets every key c watches: a slot of def (unwatch, discard, exec)
 * answering `answer` once the shards have dropped them. */
static void mx_unwatch(netthr *t, conn *c, const cmd_def *def, int answer)
{
    multi_conn *m = mx_of(c);
    unsigned n = m->nw;
    kv_str *av = kv_xmalloc((n + 1) * sizeof *av);
    uint32_t *shard = kv_xmalloc((n + 1) * sizeof *shard);
    uint8_t *db = kv_xmalloc(n + 1);
    av[0] = (kv_str){def->name, strlen(def->name)};
    for (unsigned i = 0; i < n; i++) {
        av[1 + i] = (kv_str){m->w[i].p, m->w[i].len};
        shard[i] = m->w[i].shard;
        db[i] = m->w[i].db;
    }
    kv_slot *sl = slot_new(c, def, (int)n + 1, av); /* copies the keys */
    mx_keys_free(m->w, m->nw);
    m->w = NULL;
    m->nw = m->capw = 0;
    sl->aux = answer;
    if (mx_send_keys(t, sl, cmd_unwatch_part, shard, db, sl->argv + 1, n) == 0) {
        multi_join(t, sl);
        sl->ready = 1;
        conn_mark_dirty(t, c);
    }
    free(av);
    free(shard);
    free(db);
}

void multi_conn_close(netthr *t, conn *c)
{
    if (c->mx == NULL || c->mx->nw == 0) return;
    mx_unwatch(t, c, cmdtab_lookup("unwatch", 7), MX_ANSWER_OK);
}

static int mx_watching(const multi_conn *m, uint8_t db, const kv_str *key)
{
    for (unsigned i = 0; i < m->nw; i++)
        if (m->w[i].db == db && m->w[i].len == key->len && memcmp(m->w[i].p, key->p, key->len) == 0)
            return 1;
    return 0;
}

static void mx_watch(netthr *t, conn *c, const cmd_def *def, int argc, const kv_str *argv)
{
    multi_conn *m = mx_of(c);
    kv_slot *sl = slot_new(c, def, argc, argv);
    sl->aux = MX_ANSWER_OK;
    unsigned n = 0;
    kv_str *keys = kv_xmalloc((size_t)argc * sizeof *keys);
    uint32_t *shard = kv_xmalloc((size_t)argc * sizeof *shard);
    uint8_t *db = kv_xmalloc((size_t)argc);
    for (int i = 1; i < argc; i++) {
        const kv_str *k = &sl->argv[i];
        if (mx_watching(m, c->db, k)) continue; /* as Redis: once per key */
        if (m->nw == m->capw) {
            m->capw = m->capw ? m->capw * 2 : 4;
            m->w = kv_xrealloc(m->w, m->capw * sizeof *m->w);
        }
        mx_key *w = &m->w[m->nw++];
        w->shard = route_shard(t->srv, k->p, k->len);
        w->db = c->db;
        w->p = kv_xstrndup(k->p, k->len);
        w->len = k->len;
        keys[n] = *k;
        shard[n] = w->shard;
        db[n++] = w->db;
    }
    if (mx_send_keys(t, sl, cmd_watch_part, shard, db, keys, n) == 0) {
        reply_ok(&sl->reply);
        sl->ready = 1;
        conn_mark_dirty(t, c);
    }
    free(keys);
    free(shard);
    free(db);
}

/* ---- EXEC: making the parts ---------------------------------------------- */

/* Prepares queued command q (database c->db now) for the run: its parts,
 * or its stepped kind, or its answer. */
static void mx_prepare(netthr *t, conn *c, kv_slot *q)
{
    const cmd_def *def = q->def;
    q->db = c->db;
    q->stage = MX_PARTS;
    if (def->route == ROUTE_LOCAL || def->route == ROUTE_MULTI) {
        if (def->route == ROUTE_MULTI) /* UNWATCH: EXEC unwatches anyway */
            reply_ok(&q->reply);
        else
            def->local(t, c, q->argc, q->argv, &q->reply); /* SELECT moves c->db on */
        q->stage = MX_READY;
        return;
    }
    if ((def->route == ROUTE_PAIRS || def->route == ROUTE_MSETNX) && (q->argc - 1) % 2 != 0) {
        reply_error_arity(&q->reply, def->name, strlen(def->name));
        q->stage = MX_READY;
        return;
    }
    if (def->route == ROUTE_SCAN) {
        q->stage = MX_SCAN;
        return;
    }
    if (def->route == ROUTE_MSETNX) {
        int nkeys = (q->argc - 1) / 2;
        q->key_sub = kv_xmalloc((size_t)nkeys * sizeof *q->key_sub);
        for (int k = 0; k < nkeys; k++)
            q->key_sub[k] =
                (uint16_t)route_shard(t->srv, q->argv[1 + 2 * k].p, q->argv[1 + 2 * k].len);
        q->stage = MX_MSETNX;
        return;
    }
    if (def->route == ROUTE_SCRIPT) { /* EVAL in MULTI: one part, on its keys' actor */
        t->capturing = 1;
        q->ready = 0;
        script_route(t, c, q);
        t->capturing = 0;
        q->stage = q->ready ? MX_READY : MX_PARTS; /* ready: its error is the answer */
        q->ready = 0;
        return;
    }
    t->capturing = 1;
    int rc = route_parts(t, q);
    t->capturing = 0;
    if (rc != 0 && def->route != ROUTE_RENAME && xshard_handles(def)) {
        q->stage = MX_XSHARD; /* LMOVE, SMOVE, SINTER... across shards */
        return;
    }
    if (rc != 0 && def->route != ROUTE_RENAME) {
        reply_errorf(&q->reply, "ERR '%s' across shards is not supported inside MULTI", def->name);
        q->stage = MX_READY;
        return;
    }
    if (rc != 0) { /* RENAME across shards */
        uint64_t a = route_shard(t->srv, q->argv[1].p, q->argv[1].len);
        uint64_t b = route_shard(t->srv, q->argv[2].p, q->argv[2].len);
        q->aux = (int64_t)(a | (b << 32));
        q->stage = MX_RENAME;
        return;
    }
    /* admitted as a whole at MULTI time: make room, never refuse half-way */
    for (unsigned i = 0; i < q->nsub; i++)
        if (q->subs[i]->denyoom == KV_OOM_REFUSE) q->subs[i]->denyoom = KV_OOM_EVICT;
}

/* Marks the actors q's run touches. */
static void mx_involve(const netthr *t, const kv_slot *q, uint8_t *inv)
{
    unsigned na = t->srv->nactors;
    switch (q->stage) {
    case MX_PARTS:
        for (unsigned i = 0; i < q->nsub; i++) inv[actor_of_shard(q->subs[i]->shard, na)] = 1;
        break;
    case MX_SCAN:
        memset(inv, 1, na); /* it may move on to any shard */
        break;
    case MX_RENAME:
        inv[actor_of_shard((uint32_t)q->aux, na)] = 1;
        inv[actor_of_shard((uint32_t)((uint64_t)q->aux >> 32), na)] = 1;
        break;
    case MX_MSETNX:
        for (int k = 0; k < (q->argc - 1) / 2; k++) inv[actor_of_shard(q->key_sub[k], na)] = 1;
        break;
    case MX_XSHARD:
        xshard_involve(t->srv, q, inv);
        break;
    }
}

static void multi_run(actor_fz *fz, void *arg);

static void mx_exec(netthr *t, conn *c, const cmd_def *def, int argc, const kv_str *argv)
{
    multi_conn *m = c->mx;
    kv_slot *sl = slot_new(c, def, argc, argv);
    sl->aux = MX_ANSWER_EXEC;
    multi_tx *tx = kv_xcalloc(1, sizeof *tx);
    tx->q = m->q;
    tx->nq = m->nq;
    tx->w = m->w;
    tx->nw = m->nw;
    tx->client = c->id;
    tx->nshards = (unsigned)t->srv->cfg.shards;
    tx->srv = t->srv;
    m->q = NULL;
    m->nq = m->capq = 0;
    m->w = NULL;
    m->nw = m->capw = 0;
    m->active = 0;
    sl->mx = tx;

    unsigned na = t->srv->nactors;
    uint8_t *inv = kv_xcalloc(na, 1);
    for (unsigned i = 0; i < tx->nq; i++) {
        mx_prepare(t, c, tx->q[i]);
        mx_involve(t, tx->q[i], inv);
    }
    for (unsigned i = 0; i < tx->nw; i++) inv[actor_of_shard(tx->w[i].shard, na)] = 1;
    unsigned n = 0;
    for (unsigned a = 0; a < na; a++) n += inv[a];
    if (n == 0) { /* nothing for the shards: PING, ECHO, ... or nothing */
        free(inv);
        multi_join(t, sl);
        sl->ready = 1;
        conn_mark_dirty(t, c);
        return;
    }
    tx->inv = inv;
    actor_fz_init(&tx->run, multi_run, tx, n, inv);
    kv_req **subs = kv_xmalloc(n * sizeof *subs);
    unsigned k = 0;
    for (unsigned a = 0; a < na; a++) {
        if (!inv[a]) continue;
        kv_req *r = kv_xcalloc(1, sizeof *r);
        r->fz = &tx->run;
        r->shard = a; /* shard a belongs to actor a (a < actors <= shards) */
        r->owner = sl;
        subs[k++] = r;
    }
    slot_set_parts(sl, subs, n);
    for (unsigned i = 0; i < n; i++) route_queue(t, subs[i]);
}

void multi_command(netthr *t, conn *c, const cmd_def *def, int argc, const kv_str *argv)
{
    multi_conn *m = mx_of(c);
    switch (def->kind) {
    case CMDK_MULTI:
        if (m->active) {
            mx_answer(t, c, def, argc, argv, "ERR MULTI calls can not be nested");
            return;
        }
        m->active = 1;
        m->dirty = 0;
        mx_answer(t, c, def, argc, argv, NULL);
        return;
    case CMDK_EXEC:
        if (!m->active) {
            mx_answer(t, c, def, argc, argv, "ERR EXEC without MULTI");
        } else if (m->dirty) {
            mx_drop_queue(m);
            m->active = m->dirty = 0;
            mx_unwatch(t, c, def, MX_ANSWER_EXECABORT);
        } else {
            mx_exec(t, c, def, argc, argv);
        }
        return;
    case CMDK_DISCARD:
        if (!m->active) {
            mx_answer(t, c, def, argc, argv, "ERR DISCARD without MULTI");
            return;
        }
        mx_drop_queue(m);
        m->active = m->dirty = 0;
        mx_unwatch(t, c, def, MX_ANSWER_OK);
        return;
    case CMDK_WATCH:
        if (m->active)
            mx_answer(t, c, def, argc, argv, "ERR WATCH inside MULTI is not allowed");
        else
            mx_watch(t, c, def, argc, argv);
        return;
    default: /* CMDK_UNWATCH */
        mx_unwatch(t, c, def, MX_ANSWER_OK);
        return;
    }
}

/* ---- EXEC: the run, on the actor that runs the transaction ----------------- */

/* Runs fn on shard (database q->db) with argv; the reply is appended to out
 * and the typed answer, if fn gives one, is in *res (cleared first; the
 * caller clears it after use). */
static void mx_call(actor_fz *fz, const kv_slot *q, cmd_fn *fn, uint32_t shard, int argc,
                    const kv_str *argv, int write, kvbuf *out, cmd_res *res)
{
    kv_req r;
    memset(&r, 0, sizeof r);
    r.fn = fn;
    r.shard = shard;
    r.write = (uint8_t)write;
    r.denyoom = write ? KV_OOM_EVICT : KV_OOM_NONE;
    r.db = q->db;
    r.argc = argc;
    r.argv = argv;
    r.reply = *out;
    actor_fz_call(fz, &r);
    *out = r.reply;
    *res = r.res;
}

/* The count a part answered (CMD_RES_INT) into *v; 0, or -1 if none. */
static int mx_int(const cmd_res *res, int64_t *v)
{
    if (res->kind != CMD_RES_INT) return -1;
    *v = res->num;
    return 0;
}

/* RENAME / RENAMENX across two shards: (EXISTS both) TAKE, PUT. */
static void mx_run_rename(actor_fz *fz, kv_slot *q)
{
    uint32_t a = (uint32_t)q->aux, b = (uint32_t)((uint64_t)q->aux >> 32);
    int nx = q->def->fn == cmd_renamenx;
    kvbuf tmp;
    kvbuf_init(&tmp);
    kv_str av[5];
    cmd_res res;
    if (nx) {
        int64_t src = 0, dst = 0;
        av[0] = (kv_str){"exists", 6};
        av[1] = q->argv[1];
        mx_call(fz, q, cmd_exists_part, a, 2, av, 0, &tmp, &res);
        mx_int(&res, &src);
        kvbuf_reset(&tmp);
        av[1] = q->argv[2];
        mx_call(fz, q, cmd_exists_part, b, 2, av, 0, &tmp, &res);
        mx_int(&res, &dst);
        kvbuf_reset(&tmp);
        if (src <= 0 || dst > 0) {
            if (src <= 0)
                reply_error(&q->reply, KV_ERR_NOKEY);
            else
                reply_int(&q->reply, 0);
            kvbuf_destroy(&tmp);
            return;
        }
    }
    av[0] = (kv_str){"take", 4};
    av[1] = q->argv[1];
    mx_call(fz, q, cmd_take_part, a, 2, av, 1, &tmp, &res);
    if (res.kind != CMD_RES_TAKE) {
        if (res.kind == CMD_RES_NONE) /* refused: its error */
            kvbuf_append(&q->reply, tmp.data, tmp.len);
        else
            reply_error(&q->reply, KV_ERR_NOKEY);
        kvbuf_destroy(&tmp);
        return;
    }
    kvbuf put;
    kvbuf_init(&put);
    char pxat[24], type[24];
    av[0] = (kv_str){"put", 3};
    av[1] = q->argv[2];
    av[2] = (kv_str){tmp.data, tmp.len};
    av[3] = (kv_str){pxat, (size_t)snprintf(pxat, sizeof pxat, "%lld", (long long)res.num)};
    av[4] = (kv_str){type, (size_t)snprintf(type, sizeof type, "%u", (unsigned)res.type)};
    mx_call(fz, q, cmd_put_part, b, 5, av, 1, &put, &res);
    if (put.len > 0 && put.data[0] == '-')
        kvbuf_append(&q->reply, put.data, put.len);
    else if (nx)
        reply_int(&q->reply, 1);
    else
        reply_ok(&q->reply);
    kvbuf_destroy(&put);
    kvbuf_destroy(&tmp);
}

/* Calls fn once per shard of q's keys (MSETNX pairs), with argv[0] and each
 * key's first `take` arguments; replies go to out. Returns 1 if one was an
 * error (appended to q->reply). */
static int mx_each_shard(actor_fz *fz, kv_slot *q, cmd_fn *fn, int take, int write, int64_t *sum)
{
    int nkeys = (q->argc - 1) / 2;
    kv_str *av = kv_xmalloc((size_t)(1 + nkeys * take) * sizeof *av);
    uint8_t *done = kv_xcalloc((size_t)nkeys + 1, 1);
    int err = 0;
    kvbuf tmp;
    kvbuf_init(&tmp);
    for (int k = 0; k < nkeys && !err; k++) {
        if (done[k]) continue;
        int n = 1;
        av[0] = q->argv[0];
        for (int j = k; j < nkeys; j++)
            if (!done[j] && q->key_sub[j] == q->key_sub[k]) {
                for (int i = 0; i < take; i++) av[n++] = q->argv[1 + 2 * j + i];
                done[j] = 1;
            }
        kvbuf_reset(&tmp);
        cmd_res res;
        mx_call(fz, q, fn, q->key_sub[k], n, av, write, &tmp, &res);
        int64_t v = 0;
        if (sum && mx_int(&res, &v) == 0) {
            *sum += v;
        } else if (tmp.len > 0 && tmp.data[0] == '-') { /* MSET's +OK, or an error */
            kvbuf_append(&q->reply, tmp.data, tmp.len);
            err = 1;
        }
    }
    kvbuf_destroy(&tmp);
    free(av);
    free(done);
    return err;
}

static void mx_run_msetnx(actor_fz *fz, kv_slot *q)
{
    int64_t found = 0;
    if (mx_each_shard(fz, q, cmd_exists_part, 1, 0, &found)) return;
    if (found > 0) {
        reply_int(&q->reply, 0);
        return;
    }
    if (mx_each_shard(fz, q, cmd_mset_part, 2, 1, NULL)) return;
    reply_int(&q->reply, 1);
}

/* SCAN cursor ...: the shard the cursor names (its low bits), then the next
 * ones while pages come back empty from finished shards, as route.c's
 * staged SCAN. */
static void mx_run_scan(actor_fz *fz, const multi_tx *tx, kv_slot *q)
{
    const kv_str *cur = &q->argv[1];
    uint64_t v = 0;
    int ok = cur->len > 0 && cur->len <= 20;
    for (size_t i = 0; ok && i < cur->len; i++) {
        uint64_t nv = v * 10 + (uint64_t)(cur->p[i] - '0');
        ok = cur->p[i] >= '0' && cur->p[i] <= '9' && nv / 10 == v;
        v = nv;
    }
    if (!ok) {
        reply_error(&q->reply, "ERR invalid cursor");
        return;
    }
    unsigned bits = 0;
    while ((1u << bits) < tx->nshards) bits++;
    uint32_t shard = (uint32_t)(v & ((1ull << bits) - 1));
    uint64_t tcur = v >> bits;
    kv_str *av = kv_xmalloc((size_t)q->argc * sizeof *av);
    memcpy(av, q->argv, (size_t)q->argc * sizeof *av);
    char digits[24], num[24];
    kvbuf rep;
    kvbuf_init(&rep);
    while (shard < tx->nshards) {
        av[1] = (kv_str){digits,
                         (size_t)snprintf(digits, sizeof digits, "%llu", (unsigned long long)tcur)};
        kvbuf_reset(&rep);
        cmd_res res;
        mx_call(fz, q, cmd_scan, shard, q->argc, av, 0, &rep, &res);
        if (res.kind != CMD_RES_SCAN) break; /* an error */
        uint64_t next_t = (uint64_t)res.num;
        if (res.count == 0 && next_t == 0 && shard + 1 < tx->nshards) {
            shard++;
            tcur = 0;
            continue;
        }
        unsigned long long next = next_t != 0               ? (next_t << bits) | shard
                                  : shard + 1 < tx->nshards ? shard + 1
                                                            : 0;
        reply_array(&q->reply, 2);
        reply_bulk(&q->reply, num, (size_t)snprintf(num, sizeof num, "%llu", next));
        kvbuf_append(&q->reply, rep.data, rep.len); /* the keys: *n bulks */
        rep.len = 0;
        break;
    }
    if (q->reply.len == 0) {
        if (rep.len > 0) {
            kvbuf_append(&q->reply, rep.data, rep.len); /* an error */
        } else {
            reply_array(&q->reply, 2);
            reply_bulk_cstr(&q->reply, "0");
            reply_array(&q->reply, 0);
        }
    }
    kvbuf_destroy(&rep);
    free(av);
}

/* Actor thread, every involved shard frozen: the whole transaction. */
static void multi_run(actor_fz *fz, void *arg)
{
    multi_tx *tx = arg;
    int clean = 1;
    for (unsigned i = 0; i < tx->nw; i++) {
        shard_t *s = actor_fz_shard(fz, tx->w[i].shard);
        kv_str key = {tx->w[i].p, tx->w[i].len};
        s->db = tx->w[i].db;
        clean &= watch_clean(s, tx->client, &key);
        watch_remove(s, tx->client, &key); /* EXEC unwatches, as Redis */
        s->db = 0;
    }
    if (!clean) {
        tx->aborted = 1;
        return;
    }
    for (unsigned i = 0; i < tx->nq; i++) {
        kv_slot *q = tx->q[i];
        switch (q->stage) {
        case MX_PARTS:
            for (unsigned j = 0; j < q->nsub; j++) actor_fz_call(fz, q->subs[j]);
            break;
        case MX_SCAN:
            mx_run_scan(fz, tx, q);
            break;
        case MX_RENAME:
            mx_run_rename(fz, q);
            break;
        case MX_MSETNX:
            mx_run_msetnx(fz, q);
            break;
        case MX_XSHARD: /* admitted with the transaction: room is made, never -OOM */
            xshard_run(fz, tx->srv, q, KV_OOM_EVICT, NULL, &q->reply);
            break;
        }
    }
}

/* ---- a write over several shards outside MULTI --------------------------- */

/* Actor thread, every involved shard frozen: the command's parts in order.
 * Their first keys' buckets are prefetched first (slots, then chains), as
 * the actor does a few requests ahead in a batch: a run is one request, so
 * without this every part's lookup is a cache miss after the other's. */
static void multi_group_run(actor_fz *fz, void *arg)
{
    multi_tx *tx = arg;
    kv_slot *sl = tx->group;
    for (int deep = 0; deep < 2; deep++)
        for (unsigned i = 0; i < sl->nsub; i++) {
            const kv_req *r = sl->subs[i];
            if (r->has_hash) ht_prefetch(&actor_fz_shard(fz, r->shard)->table, r->key_hash, deep);
        }
    for (unsigned i = 0; i < sl->nsub; i++) actor_fz_call(fz, sl->subs[i]);
}

/* Actor thread, both shards frozen: RENAME / RENAMENX across two shards in
 * one step; its reply goes to the slot's one part, which JOIN_SINGLE
 * answers. */
static void multi_rename_run(actor_fz *fz, void *arg)
{
    multi_tx *tx = arg;
    kv_slot *sl = tx->group;
    mx_run_rename(fz, sl);
    kvbuf tmp = sl->subs[0]->reply;
    sl->subs[0]->reply = sl->reply;
    sl->reply = tmp;
}

/* Actor thread, the shards of both keys frozen: LMOVE / RPOPLPUSH / SMOVE
 * across two shards in one step (xshard.c); its reply goes to the slot's
 * one part, which JOIN_SINGLE answers. */
static void multi_xshard_run(actor_fz *fz, void *arg)
{
    multi_tx *tx = arg;
    kv_slot *sl = tx->group;
    int oom = (sl->def->flags & CMD_DENYOOM) ? KV_OOM_REFUSE : KV_OOM_EVICT;
    kvbuf_reset(&sl->subs[0]->reply);
    xshard_run(fz, tx->srv, sl, oom, tx->tok, &sl->subs[0]->reply);
}

/* Sends sl (its parts set) as one frozen run of fn over the actors in inv
 * (taken): one request per actor, which are what comes back. */
static void mx_group_send(netthr *t, kv_slot *sl, uint8_t *inv, actor_fz_fn *fn,
                          struct blk_token *tok)
{
    assert(sl->mx == NULL); /* one group per slot (MSETNX: its set stage only) */
    unsigned na = t->srv->nactors;
    unsigned n = 0;
    for (unsigned a = 0; a < na; a++) n += inv[a];
    multi_tx *tx = kv_xcalloc(1, sizeof *tx);
    tx->group = sl;
    tx->tok = tok;
    tx->inv = inv;
    tx->nshards = (unsigned)t->srv->cfg.shards;
    tx->srv = t->srv;
    tx->fzr = kv_xmalloc(n * sizeof *tx->fzr);
    actor_fz_init(&tx->run, fn, tx, n, inv);
    for (unsigned a = 0; a < na; a++) {
        if (!inv[a]) continue;
        kv_req *r = kv_xcalloc(1, sizeof *r);
        r->fz = &tx->run;
        r->shard = a; /* shard a belongs to actor a (a < actors <= shards) */
        r->owner = sl;
        tx->fzr[tx->nfzr++] = r;
    }
    sl->mx = tx;
    sl->pending = n; /* the run's requests come back; the parts are joined */
    for (unsigned i = 0; i < n; i++) route_queue(t, tx->fzr[i]);
}

void multi_write_group(netthr *t, kv_slot *sl)
{
    assert(sl->nsub > 0);
    unsigned na = t->srv->nactors;
    uint8_t *inv = kv_xcalloc(na, 1);
    for (unsigned i = 0; i < sl->nsub; i++) {
        inv[actor_of_shard(sl->subs[i]->shard, na)] = 1;
        sl->subs[i]->obl = &sl->conn->obl;
    }
    mx_group_send(t, sl, inv, multi_group_run, NULL);
}

void multi_rename_group(netthr *t, kv_slot *sl)
{
    unsigned na = t->srv->nactors;
    uint64_t a = route_shard(t->srv, sl->argv[1].p, sl->argv[1].len);
    uint64_t b = route_shard(t->srv, sl->argv[2].p, sl->argv[2].len);
    sl->aux = (int64_t)(a | (b << 32)); /* as mx_run_rename reads it */
    kv_str *av;
    kv_req **subs = kv_xmalloc(sizeof *subs);
    subs[0] = route_part_new(sl, NULL, (uint32_t)a, 0, &av); /* never run: holds the reply */
    slot_set_parts(sl, subs, 1);
    uint8_t *inv = kv_xcalloc(na, 1);
    inv[actor_of_shard((uint32_t)a, na)] = 1;
    inv[actor_of_shard((uint32_t)b, na)] = 1;
    mx_group_send(t, sl, inv, multi_rename_run, NULL);
}

void multi_xshard_group(netthr *t, kv_slot *sl, struct blk_token *tok)
{
    unsigned na = t->srv->nactors;
    kv_str *av;
    kv_req **subs = kv_xmalloc(sizeof *subs);
    uint32_t a = route_shard(t->srv, sl->argv[1].p, sl->argv[1].len);
    subs[0] = route_part_new(sl, NULL, a, 0, &av); /* never run: holds the reply */
    slot_set_parts(sl, subs, 1);
    uint8_t *inv = kv_xcalloc(na, 1);
    xshard_involve(t->srv, sl, inv);
    mx_group_send(t, sl, inv, multi_xshard_run, tok);
}

/* ---- answers --------------------------------------------------------------- */

/* The EXEC array: each command's reply as if it had run alone. Counts the
 * commands in the statistics as Redis does (EXEC runs them). */
static void mx_exec_answer(netthr *t, kv_slot *sl)
{
    multi_tx *tx = sl->mx;
    kvbuf *out = &sl->reply;
    if (tx->aborted) {
        reply_nil_array(out);
        return;
    }
    uint64_t ns = hist_clock_ns() - sl->t_parse;
    reply_array(out, tx->nq);
    for (unsigned i = 0; i < tx->nq; i++) {
        kv_slot *q = tx->q[i];
        if (q->stage == MX_PARTS) slot_join(t, q);
        int failed = q->reply.len > 0 && q->reply.data[0] == '-';
        obs_record(&t->obs, q->def, ns, failed);
        if (failed) obs_error(&t->obs, q->reply.data, q->reply.len);
        kvbuf_append(out, q->reply.data, q->reply.len);
    }
}

void multi_join(netthr *t, kv_slot *sl)
{
    switch (sl->aux) {
    case MX_ANSWER_EXEC:
        mx_exec_answer(t, sl);
        break;
    case MX_ANSWER_EXECABORT:
        reply_error(&sl->reply, MX_ERR_EXECABORT);
        break;
    default:
        if (!join_first_error(&sl->reply, sl->subs, sl->nsub)) reply_ok(&sl->reply);
        break;
    }
}

void multi_slot_free(kv_slot *sl)
{
    multi_tx *tx = sl->mx;
    sl->mx = NULL;
    for (unsigned i = 0; i < tx->nq; i++) slot_free(tx->q[i]);
    free(tx->q);
    mx_keys_free(tx->w, tx->nw);
    for (unsigned i = 0; i < tx->nfzr; i++) {
        kvbuf_destroy(&tx->fzr[i]->reply);
        free(tx->fzr[i]);
    }
    free(tx->fzr);
    free(tx->inv);
    free(tx);
}
