#include "net/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/entry.h"
#include "net/blocking.h"
#include "actors/join.h"
#include "engine/reply.h"
#include "net/scripting.h"
#include "engine/sobj.h"
#include "engine/zobj.h"

/* Redis's reply to a write over the limit (as actors/actor.c's). */
#define ROUTE_OOM_ERR SHARD_OOM_ERR
#define ROUTE_MISCONF_ERR                                                                          \
    "MISCONF Errors writing to the write-ahead log: writes that touch several shards are refused \
while one of them fails"

/* ---- slots ------------------------------------------------------------ */

/* Counts the bytes of a slot bigger than SLOT_ROOM in (or out of) t's
 * in-flight figure (NET_INFLIGHT_MAX_BYTES). Network thread t. */
static void slot_count_bytes(netthr *t, int64_t bytes)
{
    int64_t v = atomic_load_explicit(&t->inflight_bytes, memory_order_relaxed);
    atomic_store_explicit(&t->inflight_bytes, v + bytes, memory_order_relaxed);
}

static void slot_count_inflight(netthr *t, const kv_slot *sl, int64_t sign)
{
    slot_count_bytes(t, sign * (int64_t)(sizeof *sl + sl->room));
}

/* A zeroed slot (its room for arguments not zeroed: slot_make fills it)
 * with room bytes for arguments: from t's cache when they fit in
 * SLOT_ROOM (keeping the cached reply buffers' memory). */
static kv_slot *slot_alloc(netthr *t, size_t room)
{
    if (room > SLOT_ROOM) {
        /* not calloc: zeroing a 4 KB SET's value room only to copy over it */
        kv_slot *sl = kv_xmalloc(sizeof *sl + room);
        memset(sl, 0, sizeof *sl);
        sl->room = (uint32_t)room;
        slot_count_inflight(t, sl, 1);
        return sl;
    }
    kv_slot *sl = t->slot_cache;
    if (sl == NULL) {
        sl = kv_xcalloc(1, sizeof *sl + SLOT_ROOM);
        sl->room = SLOT_ROOM;
        return sl;
    }
    t->slot_cache = sl->next;
    t->nslot_cache--;
    kvbuf reply = sl->reply, one = sl->one.reply;
    memset(sl, 0, sizeof *sl);
    sl->room = SLOT_ROOM;
    sl->reply = reply;
    sl->one.reply = one;
    return sl;
}

/* A big bulk of the parser is big enough to be stored as it is. */
_Static_assert(PARSE_BIG_BULK == ENTRY_SHARE_MIN, "parser and entry thresholds differ");

/* Allocates a slot holding its own copy of the arguments (not linked in
 * c's FIFO: slot_new does that), each followed by a NUL. Arguments the
 * parser read into buffers of their own (big bulks) are taken, not copied,
 * when argv is c->ps.argv: they have no NUL after them. */
kv_slot *slot_make(conn *c, const cmd_def *def, int argc, const kv_str *argv)
{
    size_t nbigs = argc && argv == c->ps.argv ? parse_nbig(&c->ps) : 0, big_bytes = 0;
    size_t bytes = (size_t)argc * sizeof(kv_str) + nbigs * (sizeof(char *) + sizeof(kv_entry *));
    for (int i = 0; i < argc; i++) bytes += argv[i].len + 1;
    for (size_t k = 0; k < nbigs; k++) big_bytes += argv[c->ps.bigs[k].arg].len + 1;
    kv_slot *sl = slot_alloc(c->t, bytes - big_bytes);
    kv_str *av = (kv_str *)(sl + 1);
    char **bigs = (char **)(av + argc);
    kv_entry **keeps = (kv_entry **)(bigs + nbigs);
    char *p = (char *)(keeps + nbigs);
    for (int i = 0, k = 0; i < argc; i++) {
        av[i].len = argv[i].len;
        if ((size_t)k < nbigs && c->ps.bigs[k].arg == (size_t)i) {
            int arg;
            av[i].p = bigs[k] = parse_take_big(&c->ps, (size_t)k, &arg);
            keeps[k] = NULL;
            k++;
            continue;
        }
        memcpy(p, argv[i].p, argv[i].len);
        p[argv[i].len] = '\0'; /* handy for numbers; values stay binary safe */
        av[i].p = p;
        p += argv[i].len + 1;
    }
    sl->argc = argc;
    sl->argv = av;
    if (nbigs) {
        sl->nbigs = (uint32_t)nbigs;
        sl->bigs = bigs;
        sl->keeps = keeps;
        sl->big_bytes = big_bytes;
        slot_count_bytes(c->t, (int64_t)big_bytes);
    }
    sl->def = def;
    sl->conn = c;
    sl->proto = (uint8_t)c->ps.proto;
    sl->db = c->db;
    return sl;
}

kv_slot *slot_new(conn *c, const cmd_def *def, int argc, const kv_str *argv)
{
    kv_slot *sl = slot_make(c, def, argc, argv);
    if (c->tail)
        c->tail->next = sl;
    else
        c->head = sl;
    c->tail = sl;
    c->nslots++;
    return sl;
}

/* Drops a reply's reference on a stored value, if it holds one. */
static void pin_release(kv_pin *pin)
{
    if (pin->e != NULL) entry_unpin(pin->e);
    *pin = (kv_pin){0};
}

/* Drops the references of a reply's pins and frees their array. */
static void pins_release(kv_pins *ps)
{
    if (ps->v == NULL) return; /* every GET's path: free(NULL) is a call into the allocator */
    for (unsigned i = 0; i < ps->n; i++) entry_unpin(ps->v[i].e);
    free(ps->v);
    *ps = (kv_pins){0};
}

static void req_release(kv_req *r, kv_slot *sl)
{
    pin_release(&r->pin);
    pins_release(&r->pins);
    r->take = (kv_take){0}; /* what it kept goes with the slot (slot_free) */
    if (r->res.kind != CMD_RES_NONE) cmd_res_clear(&r->res); /* not on GET's path */
    if (r == &sl->one) return; /* its reply buffer goes with the slot */
    kvbuf_destroy(&r->reply);
    free(r);
}

/* Moves the current parts to the graveyard (kept until the slot is freed,
 * because later stages may point into their replies). */
static void slot_bury_parts(kv_slot *sl, kv_req **grave)
{
    for (unsigned i = 0; i < sl->nsub; i++) {
        sl->subs[i]->next = *grave;
        *grave = sl->subs[i];
    }
    if (sl->subs != &sl->one_ptr) free(sl->subs);
    sl->subs = NULL;
    sl->nsub = 0;
}

static void kvbuf_keep_small(kvbuf *b, size_t keep)
{
    if (b->cap > keep) kvbuf_destroy(b);
    kvbuf_reset(b);
}

/* Network thread of sl's connection (which must still exist). */
void slot_free(kv_slot *sl)
{
    if (sl == NULL) return;
    if (sl->subs) slot_bury_parts(sl, &sl->grave);
    kv_req *grave = sl->grave;
    while (grave) {
        kv_req *n = grave->next;
        req_release(grave, sl);
        grave = n;
    }
    if (sl->key_sub) free(sl->key_sub);
    if (sl->mx) multi_slot_free(sl);
    pin_release(&sl->pin);
    pins_release(&sl->pins);
    netthr *t = sl->conn->t;
    if (sl->nbigs) {
        /* a big bulk kept as a stored value is that value's: its bytes are
         * no longer read here (argv goes), so the reference is dropped */
        for (uint32_t k = 0; k < sl->nbigs; k++) {
            if (sl->keeps[k] != NULL)
                entry_unpin(sl->keeps[k]);
            else
                free(sl->bigs[k]);
        }
        slot_count_bytes(t, -(int64_t)sl->big_bytes);
        sl->nbigs = 0;
    }
    if (sl->room == SLOT_ROOM && t->nslot_cache < SLOT_CACHE_MAX) {
        size_t keep = t->nslot_cache < SLOT_CACHE_RICH ? SLOT_KEEP_BYTES : SLOT_KEEP_SMALL;
        kvbuf_keep_small(&sl->reply, keep);
        kvbuf_keep_small(&sl->one.reply, keep);
        sl->next = t->slot_cache;
        t->slot_cache = sl;
        t->nslot_cache++;
        return;
    }
    if (sl->room > SLOT_ROOM) slot_count_inflight(t, sl, -1);
    kvbuf_destroy(&sl->one.reply);
    kvbuf_destroy(&sl->reply);
    free(sl);
}

/* Frees t's slot cache. */
void slot_cache_free(netthr *t)
{
    kv_slot *sl;
    while ((sl = t->slot_cache) != NULL) {
        t->slot_cache = sl->next;
        kvbuf_destroy(&sl->one.reply);
        kvbuf_destroy(&sl->reply);
        free(sl);
    }
    t->nslot_cache = 0;
}

kv_slot *route_error_slot(conn *c, const char *msg)
{
    kv_slot *sl = slot_new(c, NULL, 0, NULL);
    reply_error(&sl->reply, msg);
    sl->ready = 1;
    return sl;
}

/* ---- queuing parts ---------------------------------------------------- */

void route_queue(netthr *t, kv_req *r)
{
    if (t->capturing) { /* a transaction's part: EXEC runs it (multi.c) */
        r->obl = &((kv_slot *)r->owner)->conn->obl;
        return;
    }
    unsigned a = actor_of_shard(r->shard, t->srv->nactors);
    kv_batch *b = t->out[a];
    if (b == NULL) {
        b = t->free_batches;
        if (b)
            t->free_batches = b->next;
        else
            b = kv_xmalloc(sizeof *b);
        memset(b, 0, sizeof *b);
        b->net_id = (uint16_t)t->id;
        b->actor_id = (uint16_t)a;
        t->out[a] = b;
    }
    r->obl = &((kv_slot *)r->owner)->conn->obl;
    if (r->ordered || (r->fz != NULL && r->fz->nactors > 1)) {
        b->ordered = 1; /* published in the global order (net_publish) */
        t->ordered_pending = 1;
    }
    kv_batch_add(b, r);
}

/* A part with room for argc arguments (filled by the caller), then `extra`
 * bytes after them (the text of numbers its arguments point to). */
static kv_req *part_new_room(kv_slot *sl, cmd_fn *fn, uint32_t shard, int argc, size_t extra,
                             kv_str **argv)
{
    kv_req *r = kv_xcalloc(1, sizeof *r + (size_t)argc * sizeof(kv_str) + extra);
    *argv = (kv_str *)(r + 1);
    r->argc = argc;
    r->argv = *argv;
    r->fn = fn;
    r->shard = shard;
    r->owner = sl;
    r->db = sl->db;
    r->write = sl->def != NULL && (sl->def->flags & CMD_WRITE) != 0;
    /* the network thread admitted the whole write (route_dispatch): parts
     * make room but are never refused, so no multi-shard write half-applies */
    if (sl->def != NULL && (sl->def->flags & CMD_DENYOOM) && fn == sl->def->fn)
        r->denyoom = KV_OOM_EVICT;
    return r;
}

static kv_req *part_new(kv_slot *sl, cmd_fn *fn, uint32_t shard, int argc, kv_str **argv)
{
    return part_new_room(sl, fn, shard, argc, 0, argv);
}

kv_req *route_part_new(kv_slot *sl, cmd_fn *fn, uint32_t shard, int argc, kv_str **argv)
{
    return part_new(sl, fn, shard, argc, argv);
}

void slot_set_parts(kv_slot *sl, kv_req **subs, unsigned n)
{
    sl->subs = subs;
    sl->nsub = n;
    sl->pending = n;
}

/* Parts on more than one actor are published in the global order
 * (net_publish): every actor then runs them at the same place relative to
 * every other such command and transaction, so an MGET sees all or none of
 * an MSET or of an EXEC, on any number of actors, without any waiting. */
static void route_order_parts(netthr *t, kv_req **subs, unsigned n)
{
    unsigned na = t->srv->nactors;
    if (na < 2 || n < 2) return;
    unsigned a0 = actor_of_shard(subs[0]->shard, na);
    unsigned i = 1;
    while (i < n && actor_of_shard(subs[i]->shard, na) == a0) i++;
    if (i == n) return;
    for (i = 0; i < n; i++) subs[i]->ordered = 1;
}

/* Queues the parts of sl (set by slot_set_parts). A write over two or more
 * shards goes as one group when the server logs (multi_write_group): its
 * parts are logged as one transaction, so a crash keeps all of them or
 * none (docs/persistence.md, "Transactions in the log"). */
static void route_queue_parts(netthr *t, kv_slot *sl)
{
    /* the command's own write (not MSETNX's EXISTS stage) */
    if (!t->capturing && sl->nsub > 1 && t->srv->persist != NULL && sl->def != NULL &&
        (sl->def->flags & CMD_WRITE) && sl->subs[0]->fn == sl->def->fn) {
        multi_write_group(t, sl);
        return;
    }
    route_order_parts(t, sl->subs, sl->nsub);
    for (unsigned i = 0; i < sl->nsub; i++) route_queue(t, sl->subs[i]);
}

/* The big bulk arguments of sl that its parts may keep as stored values
 * (cmd.h kv_take): none in a transaction (EXEC runs its parts its own way). */
static kv_take route_take(const netthr *t, kv_slot *sl)
{
    if (t->capturing || sl->nbigs == 0) return (kv_take){0};
    return (kv_take){sl->bigs, sl->keeps, sl->nbigs};
}

/* The single part of a one-shard command, with the slot's own arguments. */
static void route_single(netthr *t, kv_slot *sl, cmd_fn *fn, uint32_t shard)
{
    kv_req *r = &sl->one;
    r->fn = fn;
    r->shard = shard;
    r->argc = sl->argc;
    r->argv = sl->argv;
    r->owner = sl;
    r->db = sl->db;
    r->write = (sl->def->flags & CMD_WRITE) != 0;
    r->denyoom = (sl->def->flags & CMD_DENYOOM) ? KV_OOM_REFUSE : KV_OOM_NONE;
    /* a RESP GET's big value goes to the socket from the stored bytes */
    r->may_pin = fn == cmd_get && sl->proto != PARSE_PLAIN;
    /* a big value argument may become the stored value as it is (not in a
     * transaction: EXEC runs its parts its own way) */
    r->take = route_take(t, sl);
    sl->one_ptr = r;
    slot_set_parts(sl, &sl->one_ptr, 1);
    route_queue(t, r);
}

/* Splits keys at argv[first], argv[first+step], ... by shard: one part per
 * shard touched, each with argv[0] and, per key in client order, the first
 * `take` arguments of its step (1: the key only; step: key and values).
 * Fills key_sub if asked. */
static void route_split(netthr *t, kv_slot *sl, cmd_fn *fn, int first, int step, int take,
                        int want_key_sub)
{
    server_t *s = t->srv;
    unsigned nshards = (unsigned)s->cfg.shards;
    int nkeys = (sl->argc - first) / step;
    uint32_t *shard_of = kv_xmalloc((size_t)nkeys * sizeof *shard_of);
    uint32_t *hash_of = kv_xmalloc((size_t)nkeys * sizeof *hash_of);
    int *count = kv_xcalloc(nshards, sizeof *count);
    int *sub_of = kv_xmalloc(nshards * sizeof *sub_of);
    unsigned nsub = 0;

    for (int k = 0; k < nkeys; k++) {
        const kv_str *key = &sl->argv[first + k * step];
        uint64_t h = kv_hash(&s->secret, key->p, key->len);
        hash_of[k] = (uint32_t)h;
        shard_of[k] = kv_hash_shard(h, nshards);
        if (count[shard_of[k]]++ == 0) nsub++;
    }
    kv_req **subs = kv_xmalloc(nsub * sizeof *subs);
    kv_str **av = kv_xmalloc(nsub * sizeof *av);
    int *fill = kv_xcalloc(nsub, sizeof *fill);
    unsigned next = 0;
    for (unsigned sh = 0; sh < nshards; sh++) {
        if (count[sh] == 0) continue;
        sub_of[sh] = (int)next;
        subs[next] = part_new(sl, fn, sh, 1 + count[sh] * take, &av[next]);
        /* a client's own RESP MGET: big values go out from the stored bytes */
        subs[next]->may_pin = fn == cmd_mget_part && sl->proto != PARSE_PLAIN && !t->capturing;
        /* MSET's (and MSETNX's) big values may become the stored values */
        if (fn == cmd_mset_part) subs[next]->take = route_take(t, sl);
        av[next][0] = sl->argv[0];
        fill[next] = 1;
        next++;
    }
    if (want_key_sub) sl->key_sub = kv_xmalloc((size_t)nkeys * sizeof *sl->key_sub);
    for (int k = 0; k < nkeys; k++) {
        int i = sub_of[shard_of[k]];
        if (fill[i] == 1) { /* a part's argv[1] is its first key: the actor's hint */
            subs[i]->key_hash = hash_of[k];
            subs[i]->has_hash = 1;
        }
        for (int j = 0; j < take; j++) av[i][fill[i]++] = sl->argv[first + k * step + j];
        if (want_key_sub) sl->key_sub[k] = (uint16_t)i;
    }
    slot_set_parts(sl, subs, nsub);
    route_queue_parts(t, sl);
    free(shard_of);
    free(hash_of);
    free(count);
    free(sub_of);
    free(av);
    free(fill);
}

/* One part per shard, each with the slot's arguments. */
static void route_all(netthr *t, kv_slot *sl, cmd_fn *fn)
{
    unsigned n = (unsigned)t->srv->cfg.shards;
    kv_req **subs = kv_xmalloc(n * sizeof *subs);
    for (unsigned sh = 0; sh < n; sh++) {
        kv_str *av;
        subs[sh] = part_new(sl, fn, sh, sl->argc, &av);
        memcpy(av, sl->argv, (size_t)sl->argc * sizeof *av);
    }
    slot_set_parts(sl, subs, n);
    route_queue_parts(t, sl);
}

/* ---- SCAN: the cursor names a shard (low bits) and a table position ---- */

static unsigned scan_bits(const server_t *s)
{
    unsigned bits = 0;
    while ((1u << bits) < (unsigned)s->cfg.shards) bits++;
    return bits;
}

/* Sends SCAN for shard `shard` at table cursor tcur. */
static void scan_issue(netthr *t, kv_slot *sl, uint32_t shard, uint64_t tcur)
{
    kv_str *av;
    kv_req *r = part_new_room(sl, cmd_scan, shard, sl->argc, 24, &av);
    memcpy(av, sl->argv, (size_t)sl->argc * sizeof *av);
    /* the table cursor's digits live after the argument array */
    char *digits = (char *)(av + sl->argc);
    av[1].p = digits;
    av[1].len = (size_t)snprintf(digits, 24, "%llu", (unsigned long long)tcur);
    r->next = NULL;
    kv_req **subs = kv_xmalloc(sizeof *subs);
    subs[0] = r;
    sl->aux = (int64_t)shard;
    slot_set_parts(sl, subs, 1);
    route_queue(t, r);
}

static int scan_start(netthr *t, kv_slot *sl)
{
    const kv_str *cur = &sl->argv[1];
    unsigned long long v = 0;
    if (cur->len == 0 || cur->len > 20) return -1;
    for (size_t i = 0; i < cur->len; i++) {
        if (cur->p[i] < '0' || cur->p[i] > '9') return -1;
        unsigned long long nv = v * 10 + (unsigned long long)(cur->p[i] - '0');
        if (nv / 10 != v) return -1; /* overflow */
        v = nv;
    }
    unsigned bits = scan_bits(t->srv);
    uint32_t shard = (uint32_t)(v & ((1ull << bits) - 1));
    if (shard >= (uint32_t)t->srv->cfg.shards) {
        kvbuf *o = &sl->reply;
        reply_array(o, 2);
        reply_bulk_cstr(o, "0");
        reply_array(o, 0);
        return 1;
    }
    scan_issue(t, sl, shard, v >> bits);
    return 0;
}

/* Gathers a SCAN page (the part's typed answer: the shard's next table
 * cursor, and the keys as the client gets them); if it is empty and more
 * shards remain, asks the next shard instead (returns 1: not finished). */
static int scan_join(netthr *t, kv_slot *sl)
{
    kv_req *r = sl->subs[0];
    const kvbuf *rep = &r->reply;
    uint32_t shard = (uint32_t)sl->aux;
    if (r->res.kind != CMD_RES_SCAN) { /* an error (bad option, refused) */
        kvbuf_append(&sl->reply, rep->data, rep->len);
        return 0;
    }
    unsigned long long tcur = (unsigned long long)r->res.num;
    unsigned bits = scan_bits(t->srv);
    unsigned long long next;
    if (tcur != 0)
        next = (tcur << bits) | shard;
    else if (shard + 1 < (uint32_t)t->srv->cfg.shards)
        next = shard + 1;
    else
        next = 0;
    if (r->res.count == 0 && next != 0 && tcur == 0) {
        req_release(r, sl);
        free(sl->subs);
        sl->subs = NULL;
        sl->nsub = 0;
        scan_issue(t, sl, shard + 1, 0);
        return 1;
    }
    char num[24];
    reply_array(&sl->reply, 2);
    reply_bulk(&sl->reply, num, (size_t)snprintf(num, sizeof num, "%llu", next));
    kvbuf_append(&sl->reply, rep->data, rep->len);
    return 0;
}

/* ---- staged commands: cross-shard RENAME/RENAMENX, MSETNX --------------- */

enum {
    STAGE_NONE,
    STAGE_RN_CHECK,
    STAGE_RN_TAKE,
    STAGE_RN_PUT,
    STAGE_NX_CHECK,
    STAGE_NX_SET,
    STAGE_SCAN
};

static kv_req **staged_grave(kv_slot *sl)
{
    return &sl->grave;
}

static void rename_take(netthr *t, kv_slot *sl)
{
    kv_str *av;
    kv_req *r =
        part_new(sl, cmd_take_part, route_shard(t->srv, sl->argv[1].p, sl->argv[1].len), 2, &av);
    av[0] = (kv_str){"take", 4};
    av[1] = sl->argv[1];
    kv_req **subs = kv_xmalloc(sizeof *subs);
    subs[0] = r;
    slot_set_parts(sl, subs, 1);
    sl->stage = STAGE_RN_TAKE;
    route_queue(t, r);
}

static void rename_start(netthr *t, kv_slot *sl)
{
    if (sl->def->fn != cmd_renamenx) {
        rename_take(t, sl);
        return;
    }
    kv_req **subs = kv_xmalloc(2 * sizeof *subs);
    for (int i = 0; i < 2; i++) {
        kv_str *av;
        const kv_str *key = &sl->argv[1 + i];
        subs[i] = part_new(sl, cmd_exists_part, route_shard(t->srv, key->p, key->len), 2, &av);
        av[0] = (kv_str){"exists", 6};
        av[1] = *key;
    }
    slot_set_parts(sl, subs, 2);
    sl->stage = STAGE_RN_CHECK;
    route_queue(t, subs[0]);
    route_queue(t, subs[1]);
}

/* The part that puts what TAKE answered (r, CMD_RES_TAKE) at key dst, in
 * the shard of dst: PUT dst value pxat type. The value stays in r's reply,
 * alive until slot_free (r is buried); the numbers' text lives in the part. */
static kv_req *rename_put_part(netthr *t, kv_slot *sl, const kv_req *r, const kv_str *dst)
{
    kv_str *av;
    uint32_t sh = route_shard(t->srv, dst->p, dst->len);
    kv_req *p = part_new_room(sl, cmd_put_part, sh, 5, 48, &av);
    char *num = (char *)(av + 5);
    av[0] = (kv_str){"put", 3};
    av[1] = *dst;
    av[2] = (kv_str){r->reply.data, r->reply.len};
    av[3] = (kv_str){num, (size_t)snprintf(num, 24, "%lld", (long long)r->res.num)};
    av[4] = (kv_str){num + 24, (size_t)snprintf(num + 24, 24, "%u", (unsigned)r->res.type)};
    return p;
}

static void msetnx_start(netthr *t, kv_slot *sl)
{
    /* EXISTS over the keys only (the first of each key-value pair) */
    route_split(t, sl, cmd_exists_part, 1, 2, 1, 0);
    sl->stage = STAGE_NX_CHECK;
}

/* ---- set algebra, ZRANGESTORE, ZMPOP/LMPOP: their keys' shards ------------ */
/* (across shards they run as one frozen run: net/xshard.c) */

/* The set operation of sl's command (a CMDK_SETOP row: SETOP_*) and where
 * its source keys are (argv[*first], *n of them); *store for the STORE
 * forms. -1 if SINTERCARD's arguments are bad (its shard handler then
 * gives the error). */
static int setop_of(const kv_slot *sl, int *first, int *n, int *store, int64_t *limit)
{
    *store = sl->def->store;
    *first = *store ? 2 : 1;
    *n = sl->argc - *first;
    *limit = 0;
    if (sl->def->op == SETOP_INTERCARD) {
        int64_t numkeys;
        const char *err;
        if (cmd_sintercard_args(sl->argc, sl->argv, &numkeys, limit, &err) != 0) return -1;
        *first = 2;
        *n = (int)numkeys;
    }
    return sl->def->op;
}

/* The source keys of the other ROUTE_SETOP commands (CMDK_ZSETOP: ZUNION...,
 * CMDK_MPOP: ZMPOP/LMPOP, CMDK_ZRANGESTORE): argv[*first], *n of them, and
 * *store if argv[1] is a destination; -1 if the arguments are bad (the
 * shard handler then gives the error). */
static int zsetop_keys(const kv_slot *sl, int *first, int *n, int *store)
{
    const char *err;
    *store = 0;
    if (sl->def->kind == CMDK_ZRANGESTORE) { /* ZRANGESTORE dst src ... */
        *first = 2;
        *n = 1;
        *store = 1;
        return 0;
    }
    if (sl->def->kind == CMDK_MPOP) {
        int64_t numkeys, count;
        int which, z = sl->def->zset;
        if (cmd_mpop_args(sl->argc, sl->argv, 1, z ? "min" : "left", z ? "max" : "right", &numkeys,
                          &which, &count, &err) != 0)
            return -1;
        *first = 2;
        *n = (int)numkeys;
        return 0;
    }
    cmd_zsetop_spec sp;
    if (cmd_zsetop_args(sl->def->op, sl->def->store, sl->argc, sl->argv, &sp, &err) != 0) return -1;
    *first = sp.first;
    *n = (int)sp.numkeys;
    *store = sp.store;
    return 0;
}

/* The one shard of every key of a set command, or -1 if they span several. */
static int64_t setop_shard(netthr *t, const kv_slot *sl)
{
    int first, n, store;
    int64_t limit;
    if (sl->def->kind != CMDK_SETOP) {
        uint32_t sh = route_shard(t->srv, sl->argv[1].p, sl->argv[1].len);
        if (zsetop_keys(sl, &first, &n, &store) != 0) return sh; /* its error */
        sh = route_shard(t->srv, sl->argv[first].p, sl->argv[first].len);
        for (int i = first; i < first + n; i++)
            if (route_shard(t->srv, sl->argv[i].p, sl->argv[i].len) != sh) return -1;
        if (store && route_shard(t->srv, sl->argv[1].p, sl->argv[1].len) != sh) return -1;
        return sh;
    }
    if (setop_of(sl, &first, &n, &store, &limit) < 0) /* bad SINTERCARD: its error */
        return route_shard(t->srv, sl->argv[2].p, sl->argv[2].len);
    uint32_t sh = route_shard(t->srv, sl->argv[1].p, sl->argv[1].len);
    if (first == 2 && !store) sh = route_shard(t->srv, sl->argv[2].p, sl->argv[2].len);
    for (int i = first; i < first + n; i++)
        if (route_shard(t->srv, sl->argv[i].p, sl->argv[i].len) != sh) return -1;
    return sh;
}

/* The count a part answered in type (CMD_RES_INT), -1 if it did not. */
static int64_t part_count(const kv_req *r)
{
    return r->res.kind == CMD_RES_INT ? r->res.num : -1;
}

/* The sum of the parts' counts, -1 if one did not answer a count. */
static int64_t parts_count(kv_req *const *subs, unsigned n)
{
    int64_t sum = 0;
    for (unsigned i = 0; i < n; i++) {
        if (subs[i]->res.kind != CMD_RES_INT) return -1;
        sum += subs[i]->res.num;
    }
    return sum;
}

/* Runs the next step of a staged command whose parts all completed.
 * Returns 1 if new parts were queued, 0 if sl->reply is final. */
static int staged_step(netthr *t, kv_slot *sl)
{
    kvbuf *out = &sl->reply;
    if (sl->stage == STAGE_SCAN) return scan_join(t, sl);
    if (join_first_error(out, sl->subs, sl->nsub)) return 0;
    switch (sl->stage) {
    case STAGE_RN_CHECK: {
        int64_t src = part_count(sl->subs[0]), dst = part_count(sl->subs[1]);
        if (src <= 0) {
            reply_error(out, KV_ERR_NOKEY);
            return 0;
        }
        if (dst > 0) {
            reply_int(out, 0);
            return 0;
        }
        slot_bury_parts(sl, staged_grave(sl));
        rename_take(t, sl);
        return 1;
    }
    case STAGE_RN_TAKE: {
        if (sl->subs[0]->res.kind != CMD_RES_TAKE) {
            reply_error(out, KV_ERR_NOKEY);
            return 0;
        }
        kv_req *r = rename_put_part(t, sl, sl->subs[0], &sl->argv[2]);
        slot_bury_parts(sl, staged_grave(sl)); /* the TAKE part: r points into its reply */
        kv_req **subs = kv_xmalloc(sizeof *subs);
        subs[0] = r;
        slot_set_parts(sl, subs, 1);
        sl->stage = STAGE_RN_PUT;
        route_queue(t, r);
        return 1;
    }
    case STAGE_RN_PUT:
        if (sl->def->fn == cmd_renamenx)
            reply_int(out, 1);
        else
            reply_ok(out);
        return 0;
    case STAGE_NX_CHECK:
        if (parts_count(sl->subs, sl->nsub) != 0) {
            reply_int(out, 0);
            return 0;
        }
        slot_bury_parts(sl, staged_grave(sl));
        sl->stage = STAGE_NX_SET;
        route_split(t, sl, cmd_mset_part, 1, 2, 2, 0);
        return 1;
    case STAGE_NX_SET:
        reply_int(out, 1);
        return 0;
    }
    reply_error(out, "ERR internal error in staged command");
    return 0;
}

/* ---- gather ------------------------------------------------------------ */

/* MGET's reply when parts answered big values with pins (cmd_call.pins):
 * as join_mget, in the client's key order, each pinned value's header and
 * CRLF copied and the value itself moved to sl->pins at its new place (the
 * network thread writes it from the stored bytes). */
static void route_join_mget_pinned(kv_slot *sl)
{
    kvbuf *out = &sl->reply;
    if (join_first_error(out, sl->subs, sl->nsub)) return;
    unsigned n = sl->nsub, nkeys = (unsigned)(sl->argc - 1), npins = 0;
    size_t *pos = kv_xcalloc(n, sizeof *pos);
    unsigned *next = kv_xcalloc(n, sizeof *next);
    size_t total = 16;
    for (unsigned s = 0; s < n; s++) {
        total += sl->subs[s]->reply.len;
        npins += sl->subs[s]->pins.n;
    }
    kvbuf_reserve(out, total);
    sl->pins.v = kv_xmalloc(npins * sizeof *sl->pins.v);
    sl->pins.cap = npins;
    reply_array(out, nkeys);
    for (unsigned i = 0; i < nkeys; i++) {
        unsigned s = sl->key_sub[i];
        kv_req *r = sl->subs[s];
        const char *at = r->reply.data + pos[s];
        size_t left = pos[s] < r->reply.len ? r->reply.len - pos[s] : 0;
        kv_pin *pin = next[s] < r->pins.n ? &r->pins.v[next[s]] : NULL;
        const char *crlf = left ? memchr(at, '\n', left) : NULL;
        size_t hdr = crlf ? (size_t)(crlf - at) + 1 : 0;
        if (pin != NULL && crlf != NULL && pin->at == pos[s] + hdr) {
            /* "$<len>\r\n", the pinned bytes, "\r\n" */
            kvbuf_append(out, at, hdr);
            sl->pins.v[sl->pins.n++] = (kv_pin){pin->e, pin->p, pin->len, out->len};
            pin->e = NULL; /* the slot holds the reference now */
            kvbuf_append(out, "\r\n", 2);
            pos[s] += hdr + 2;
            next[s]++;
            continue;
        }
        size_t len = left ? reply_elem_len(at, left) : 0;
        if (len == 0) {
            reply_nil(out); /* can't happen: a part answers every key */
            continue;
        }
        kvbuf_append(out, at, len);
        pos[s] += len;
    }
    /* references not moved (can't happen) are dropped with the parts */
    for (unsigned s = 0; s < n; s++) {
        kv_pins *ps = &sl->subs[s]->pins;
        unsigned k = 0;
        for (unsigned j = 0; j < ps->n; j++)
            if (ps->v[j].e != NULL) ps->v[k++] = ps->v[j];
        ps->n = k;
    }
    free(pos);
    free(next);
}

/* Whether any part of sl answered with pins. */
static int slot_parts_pinned(const kv_slot *sl)
{
    for (unsigned s = 0; s < sl->nsub; s++)
        if (sl->subs[s]->pins.n) return 1;
    return 0;
}

void slot_join(netthr *t, kv_slot *sl)
{
    kvbuf *out = &sl->reply;
    switch (sl->def->join) {
    case JOIN_SINGLE: {
        kvbuf tmp = *out;
        *out = sl->subs[0]->reply;
        sl->subs[0]->reply = tmp;
        sl->pin = sl->subs[0]->pin;
        sl->subs[0]->pin = (kv_pin){0};
        break;
    }
    case JOIN_MGET:
        if (slot_parts_pinned(sl))
            route_join_mget_pinned(sl);
        else
            join_mget(out, sl->subs, sl->nsub, sl->key_sub, (unsigned)(sl->argc - 1));
        break;
    case JOIN_SUM:
        join_sum(out, sl->subs, sl->nsub);
        break;
    case JOIN_OK:
        join_ok(out, sl->subs, sl->nsub);
        break;
    case JOIN_CONCAT:
        join_concat(out, sl->subs, sl->nsub);
        break;
    case JOIN_RANDOM:
        join_random(out, sl->subs, sl->nsub, &t->rng);
        break;
    case JOIN_INFO:
        local_info_join(t, sl);
        break;
    case JOIN_STATS:
        local_stats_join(t, sl);
        break;
    case JOIN_MULTI:
        multi_join(t, sl);
        break;
    case JOIN_SCAN:
    case JOIN_STAGED:
        reply_error(out, "ERR internal error: unstaged join");
        break;
    }
}

void slot_finish(netthr *t, kv_slot *sl)
{
    if (sl->blk != NULL) { /* a blocking command: answered now or later (blocking.c) */
        block_parts_done(t, sl);
        return;
    }
    if (sl->stage != STAGE_NONE) {
        if (staged_step(t, sl)) return;
    } else {
        slot_join(t, sl);
    }
    sl->ready = 1;
    conn *c = sl->conn;
    if (c->blocker == sl) c->blocker = NULL;
    conn_mark_dirty(t, c);
}

/* ---- dispatch ---------------------------------------------------------- */

static void unknown_command(conn *c, int argc, const kv_str *argv)
{
    char args[160];
    size_t n = 0;
    args[0] = '\0';
    for (int i = 1; i < argc && n < 128; i++) {
        size_t room = 128 - n;
        int w = argv[i].len < room ? (int)argv[i].len : (int)room;
        snprintf(args + n, sizeof args - n, "'%.*s' ", w, argv[i].p);
        n = strlen(args);
    }
    char msg[400];
    snprintf(msg, sizeof msg, "ERR unknown command '%.*s', with args beginning with: %s",
             argv[0].len > 128 ? 128 : (int)argv[0].len, argv[0].p, args);
    for (char *p = msg; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    route_error_slot(c, msg);
}

static void arity_error(conn *c, const cmd_def *def)
{
    kv_slot *sl = route_error_slot(c, "");
    kvbuf_reset(&sl->reply);
    reply_error_arity(&sl->reply, def->name, strlen(def->name));
}

/* A write of this route and argument count may touch several shards. */
static int route_multi_shard(int route, int argc)
{
    return route == ROUTE_PAIRS || route == ROUTE_MSETNX || route == ROUTE_ALL ||
           route == ROUTE_RENAME || route == ROUTE_SETOP || (route == ROUTE_KEYS && argc > 2);
}

int route_parts(netthr *t, kv_slot *sl)
{
    server_t *s = t->srv;
    const cmd_def *def = sl->def;
    switch (def->route) {
    case ROUTE_KEY: {
        int k = def->first_key > 1 ? def->first_key : 1; /* MEMORY USAGE key: 2 */
        uint64_t h = kv_hash(&s->secret, sl->argv[k].p, sl->argv[k].len);
        sl->one.key_hash = (uint32_t)h; /* the shard's table hash: not computed twice */
        sl->one.has_hash = k == 1;      /* the actor's hint is argv[1] */
        route_single(t, sl, def->fn, kv_hash_shard(h, (uint32_t)s->cfg.shards));
        return 0;
    }
    case ROUTE_KEYS:
        route_split(t, sl, def->fn, 1, 1, 1, def->join == JOIN_MGET);
        return 0;
    case ROUTE_PAIRS:
        route_split(t, sl, def->fn, 1, 2, 2, 0);
        return 0;
    case ROUTE_ALL:
        route_all(t, sl, def->fn);
        return 0;
    case ROUTE_RENAME:
    case ROUTE_TWO: {
        uint32_t a = route_shard(s, sl->argv[1].p, sl->argv[1].len);
        uint32_t b = route_shard(s, sl->argv[2].p, sl->argv[2].len);
        if (a != b) return -1;
        route_single(t, sl, def->fn, a);
        return 0;
    }
    case ROUTE_BLOCK: { /* in MULTI: the non-blocking handler, on one shard */
        int64_t sh = block_one_shard(t, sl);
        if (sh < 0) return -1;
        route_single(t, sl, def->fn, (uint32_t)sh);
        return 0;
    }
    case ROUTE_SETOP: {
        int64_t sh = setop_shard(t, sl);
        if (sh < 0) return -1;
        route_single(t, sl, def->fn, (uint32_t)sh);
        return 0;
    }
    default:
        return -1;
    }
}

void route_dispatch(netthr *t, conn *c)
{
    int argc = c->ps.argc;
    const kv_str *argv = c->ps.argv;
    const cmd_def *def = cmdtab_lookup(argv[0].p, argv[0].len);
    if (def == NULL) {
        obs_unknown(t);
        unknown_command(c, argc, argv);
        multi_flag_error(c);
        conn_mark_dirty(t, c);
        return;
    }
    /* MULTI queues what it would run (Redis: all but QUIT, MULTI, EXEC,
     * DISCARD and WATCH), checked as below but for MSET's pairs (EXEC's
     * error) */
    int queue = multi_active(c) && !(def->flags & CMD_TX_CONTROL);
    if (!cmdtab_arity_ok(def, argc) ||
        (!queue && def->route == ROUTE_PAIRS && (argc - 1) % 2 != 0) ||
        (!queue && def->route == ROUTE_MSETNX && (argc - 1) % 2 != 0)) {
        obs_rejected(&t->obs, def);
        arity_error(c, def);
        multi_flag_error(c);
        conn_mark_dirty(t, c);
        return;
    }
    def = cmdtab_subcommand(def, argc, argv); /* MEMORY USAGE, OBJECT: to the key's shard */
    if (climit_noauth(t, c, def)) {
        multi_flag_error(c);
        return;
    }
    server_t *s = t->srv;
    if ((queue || ((def->flags & CMD_DENYOOM) &&
                   (def->route == ROUTE_PAIRS || def->route == ROUTE_MSETNX))) &&
        actor_pool_any_full(s->actors)) {
        /* a multi-shard write is admitted or refused as a whole; in MULTI
         * every command is refused then, as Redis does */
        obs_rejected(&t->obs, def);
        route_error_slot(c, ROUTE_OOM_ERR);
        multi_flag_error(c);
        conn_mark_dirty(t, c);
        return;
    }
    if ((def->flags & CMD_WRITE) && (queue || route_multi_shard(def->route, argc)) &&
        actor_pool_any_log_failed(s->actors)) {
        /* the same for a failing log: no part runs while another is
         * refused, and a transaction with a write is refused (EXECABORT) */
        obs_rejected(&t->obs, def);
        route_error_slot(c, ROUTE_MISCONF_ERR);
        multi_flag_error(c);
        conn_mark_dirty(t, c);
        return;
    }
    if (queue) {
        multi_queue(t, c, def, argc, argv);
        return;
    }
    if (def->route == ROUTE_MULTI) {
        multi_command(t, c, def, argc, argv);
        return;
    }
    kv_slot *sl = slot_new(c, def, argc, argv);
    switch (def->route) {
    case ROUTE_LOCAL:
        def->local(t, c, sl->argc, sl->argv, &sl->reply);
        if (c->closing) sl->close_after = 1;
        sl->ready = 1;
        conn_mark_dirty(t, c);
        break;
    case ROUTE_SCAN: {
        sl->stage = STAGE_SCAN;
        int r = scan_start(t, sl);
        if (r != 0) {
            if (r < 0) reply_error(&sl->reply, "ERR invalid cursor");
            sl->stage = STAGE_NONE;
            sl->ready = 1;
            conn_mark_dirty(t, c);
        } else {
            c->blocker = sl;
        }
        break;
    }
    case ROUTE_RENAME:
        if (route_parts(t, sl) != 0) {
            if (t->srv->persist != NULL)
                multi_rename_group(t, sl); /* one step: whole after a crash */
            else
                rename_start(t, sl);
            c->blocker = sl;
        }
        break;
    case ROUTE_MSETNX:
        msetnx_start(t, sl);
        c->blocker = sl;
        break;
    case ROUTE_TWO: /* across shards: one frozen run over both (xshard.c) */
        if (route_parts(t, sl) != 0) multi_xshard_group(t, sl, NULL);
        break;
    case ROUTE_SETOP: /* across shards: one frozen run over them (xshard.c) */
        if (route_parts(t, sl) != 0) multi_xshard_group(t, sl, NULL);
        break;
    case ROUTE_SCRIPT:
        script_route(t, c, sl);
        break;
    case ROUTE_BLOCK:
        block_route(t, c, sl);
        break;
    default:
        route_parts(t, sl);
        break;
    }
}
