/* blocking.c - blocked clients on the network thread (blocking.h). */
#include "net/blocking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/block.h"
#include "engine/reply.h"
#include "net/route.h"

/* The network thread's side of a blocked command. The token comes first:
 * its last reference frees the whole struct. */
typedef struct nblk {
    blk_token tok;
    netthr *t;         /* ro */
    kv_slot *sl;       /* owner: t; NULL once answered */
    ev_timer tm;       /* the timeout, when not 0 */
    uint8_t timer;     /* tm started */
    uint8_t parts;     /* every part completed */
    uint8_t got;       /* an actor's delivery arrived: tok.reply is the answer */
    uint8_t counted;   /* in blocked_clients */
    uint8_t array;     /* BLPOP/BRPOP: nil is *-1; BLMOVE: $-1 */
    uint8_t unblocked; /* CLIENT UNBLOCK ... ERROR: the answer is the UNBLOCKED error */
    uint8_t xmove;     /* BLMOVE/BRPOPLPUSH across two shards: a delivery means "src got
                          elements", and the move runs then (block_xmove_retry) */
    uint8_t gave_up;   /* a timeout, close or CLIENT UNBLOCK tried to end the wait */
} nblk;

static void block_xmove_retry(netthr *t, nblk *old);

/* Any thread (the serving actor): hands tok to its network thread. */
static void nblk_deliver(blk_token *tok)
{
    nblk *nb = (nblk *)tok;
    netthr *t = nb->t;
    blk_token *head = atomic_load_explicit(&t->blk_done, memory_order_relaxed);
    do {
        atomic_store_explicit(&tok->next_done, head, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(&t->blk_done, &head, tok, memory_order_release,
                                                    memory_order_relaxed));
    ev_async_send(t->loop, &t->wake_w);
}

/* Answers the blocked slot with reply (NULL: the timeout's nil) and drops
 * the thread's reference. */
static void nblk_finish(netthr *t, nblk *nb, const kvbuf *reply)
{
    kv_slot *sl = nb->sl;
    conn *c = sl->conn;
    if (nb->timer) ev_timer_stop(t->loop, &nb->tm);
    if (nb->counted) atomic_fetch_sub_explicit(&t->srv->blocked, 1, memory_order_relaxed);
    kvbuf_reset(&sl->reply);
    if (reply == NULL && nb->unblocked)
        reply_error(&sl->reply, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    else if (reply != NULL)
        kvbuf_append(&sl->reply, reply->data, reply->len);
    else if (nb->array)
        reply_nil_array(&sl->reply);
    else
        reply_nil(&sl->reply);
    sl->blk = NULL;
    nb->sl = NULL;
    t->blk_live--;
    atomic_store_explicit(&c->blocked, 0, memory_order_relaxed);
    blk_token_unref(&nb->tok);
    sl->ready = 1;
    if (c->blocker == sl) c->blocker = NULL;
    conn_mark_dirty(t, c);
}

/* Timeout or close: the client gives up unless an actor served it first
 * (then its delivery answers). */
static void nblk_give_up(netthr *t, nblk *nb)
{
    nb->gave_up = 1; /* a cross-shard move woken meanwhile does not wait again */
    if (blk_token_claim(&nb->tok, BLK_GONE) && nb->parts) nblk_finish(t, nb, NULL);
}

static void nblk_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    nblk *nb = w->data;
    (void)loop;
    (void)revents;
    nb->timer = 0;
    nblk_give_up(nb->t, nb);
}

void block_unblock(netthr *t, conn *c, int error)
{
    if (!block_waiting(c)) return;
    nblk *nb = c->blocker->blk;
    if (blk_token_state(&nb->tok) != BLK_WAITING) return;
    nb->unblocked = (uint8_t)error;
    nblk_give_up(t, nb);
}

void block_conn_closed(netthr *t, conn *c)
{
    if (c->blocker == NULL || c->blocker->blk == NULL) return;
    nblk_give_up(t, c->blocker->blk);
}

void block_parts_done(netthr *t, kv_slot *sl)
{
    nblk *nb = sl->blk;
    const kvbuf *err = NULL;
    nb->parts = 1;
    for (unsigned i = 0; i < sl->nsub; i++) {
        const kvbuf *r = &sl->subs[i]->reply;
        if (r->len == 0) continue;
        if (r->data[0] != '-') { /* this part claimed the token and popped */
            nblk_finish(t, nb, r);
            return;
        }
        if (err == NULL) err = r;
    }
    if (nb->got) {
        if (nb->xmove)
            block_xmove_retry(t, nb); /* src got elements meanwhile: move now */
        else
            nblk_finish(t, nb, &nb->tok.reply);
        return;
    }
    if (err != NULL && nb->xmove) { /* its own run's answer (it may have claimed the token) */
        blk_token_claim(&nb->tok, BLK_GONE);
        nblk_finish(t, nb, err);
        return;
    }
    if (err != NULL) {
        /* WRONGTYPE, MISCONF...: the answer, unless a push served it already */
        if (blk_token_claim(&nb->tok, BLK_GONE) || blk_token_state(&nb->tok) == BLK_GONE)
            nblk_finish(t, nb, err);
        return;
    }
    int st = blk_token_state(&nb->tok);
    if (st == BLK_GONE) { /* timed out (or closed) before the parts came back */
        nblk_finish(t, nb, NULL);
        return;
    }
    if (st == BLK_WAITING) {
        nb->counted = 1;
        atomic_fetch_add_explicit(&t->srv->blocked, 1, memory_order_relaxed);
        atomic_store_explicit(&sl->conn->blocked, 1, memory_order_relaxed);
    }
    /* BLK_SERVED: its delivery is on the way */
}

void block_collect(netthr *t)
{
    blk_token *list = atomic_exchange_explicit(&t->blk_done, NULL, memory_order_acquire);
    blk_token *rev = NULL;
    while (list) { /* a stack: reversed into delivery order */
        blk_token *n = atomic_load_explicit(&list->next_done, memory_order_relaxed);
        atomic_store_explicit(&list->next_done, rev, memory_order_relaxed);
        rev = list;
        list = n;
    }
    while (rev) {
        blk_token *n = atomic_load_explicit(&rev->next_done, memory_order_relaxed);
        nblk *nb = (nblk *)rev;
        nb->got = 1;
        if (nb->sl != NULL && nb->parts) {
            if (nb->xmove)
                block_xmove_retry(t, nb); /* src got elements: move now */
            else
                nblk_finish(t, nb, &nb->tok.reply);
        }
        blk_token_unref(rev); /* the delivery's reference */
        rev = n;
    }
}

/* BZMPOP/BLMPOP's arguments: the keys argv[3..3+*n), where and count at
 * *where_at and *count (-1 when absent); -1 with Redis's error in *err. */
static int block_mpop_args(const kv_slot *sl, int *n, int *where_at, int *count_at,
                           const char **err)
{
    int64_t numkeys, count;
    int which;
    int z = sl->def->zset;
    if (cmd_mpop_args(sl->argc, sl->argv, 2, z ? "min" : "left", z ? "max" : "right", &numkeys,
                      &which, &count, err) != 0)
        return -1;
    *n = (int)numkeys;
    *where_at = 3 + *n;
    *count_at = *where_at + 2 < sl->argc ? *where_at + 2 : -1;
    return 0;
}

int64_t block_one_shard(netthr *t, const kv_slot *sl)
{
    int first = 1, last = sl->argc - 2;
    cmd_kind kind = sl->def->kind;
    if (kind == CMDK_BLMOVE || kind == CMDK_BRPOPLPUSH) last = 2;
    if (kind == CMDK_BMPOP) { /* bad arguments: any shard answers the error */
        int n, w, cnt;
        const char *err;
        if (block_mpop_args(sl, &n, &w, &cnt, &err) != 0)
            return route_shard(t->srv, sl->argv[1].p, sl->argv[1].len);
        first = 3;
        last = 2 + n;
    }
    uint32_t sh = route_shard(t->srv, sl->argv[first].p, sl->argv[first].len);
    for (int i = first + 1; i <= last; i++)
        if (route_shard(t->srv, sl->argv[i].p, sl->argv[i].len) != sh) return -1;
    return sh;
}

static int side_ok(const kv_str *a)
{
    return (a->len == 4 && strncasecmp(a->p, "left", 4) == 0) ||
           (a->len == 5 && strncasecmp(a->p, "right", 5) == 0);
}

static void block_error(netthr *t, kv_slot *sl, const char *msg)
{
    kvbuf_reset(&sl->reply);
    reply_error(&sl->reply, msg);
    sl->ready = 1;
    conn_mark_dirty(t, sl->conn);
}

/* Parts of a BLPOP/BRPOP (and of the zset and multi-pops: fn, with the
 * npre arguments pre after the name): one per shard, with its keys
 * argv[first..first+nkeys) in client order. */
static void block_pop_parts(netthr *t, kv_slot *sl, nblk *nb, cmd_fn *fn, int first, int nkeys,
                            const kv_str *pre, int npre)
{
    unsigned nshards = (unsigned)t->srv->cfg.shards;
    uint32_t *shard_of = kv_xmalloc((size_t)nkeys * sizeof *shard_of);
    int *count = kv_xcalloc(nshards, sizeof *count);
    int *sub_of = kv_xmalloc(nshards * sizeof *sub_of);
    unsigned nsub = 0;
    for (int k = 0; k < nkeys; k++) {
        shard_of[k] = route_shard(t->srv, sl->argv[first + k].p, sl->argv[first + k].len);
        if (count[shard_of[k]]++ == 0) nsub++;
    }
    kv_req **subs = kv_xmalloc(nsub * sizeof *subs);
    kv_str **av = kv_xmalloc(nsub * sizeof *av);
    int *fill = kv_xcalloc(nsub, sizeof *fill);
    unsigned next = 0;
    for (unsigned sh = 0; sh < nshards; sh++) {
        if (count[sh] == 0) continue;
        sub_of[sh] = (int)next;
        subs[next] = route_part_new(sl, fn, sh, 1 + npre + count[sh], &av[next]);
        subs[next]->env = &nb->tok;
        av[next][0] = sl->argv[0];
        for (int p = 0; p < npre; p++) av[next][1 + p] = pre[p];
        fill[next++] = 1 + npre;
    }
    for (int k = 0; k < nkeys; k++) {
        int i = sub_of[shard_of[k]];
        av[i][fill[i]++] = sl->argv[first + k];
    }
    slot_set_parts(sl, subs, nsub);
    for (unsigned i = 0; i < nsub; i++) route_queue(t, subs[i]);
    free(shard_of);
    free(count);
    free(sub_of);
    free(av);
    free(fill);
}

void block_route(netthr *t, conn *c, kv_slot *sl)
{
    cmd_kind kind = sl->def->kind;
    int move = kind == CMDK_BLMOVE, rpl = kind == CMDK_BRPOPLPUSH;
    const kv_str *tmo = &sl->argv[sl->argc - 1];
    if (move && (!side_ok(&sl->argv[3]) || !side_ok(&sl->argv[4]))) {
        block_error(t, sl, KV_ERR_SYNTAX);
        return;
    }
    int mp_n = 0, mp_where = 0, mp_count = -1;
    if (kind == CMDK_BMPOP) { /* the arguments, then the timeout (Redis's order) */
        const char *err;
        if (block_mpop_args(sl, &mp_n, &mp_where, &mp_count, &err) != 0) {
            block_error(t, sl, err);
            return;
        }
        tmo = &sl->argv[1];
    }
    int64_t ms;
    const char *err;
    if (cmd_block_timeout(tmo, &ms, &err) != 0) {
        block_error(t, sl, err);
        return;
    }
    nblk *nb = kv_xcalloc(1, sizeof *nb);
    blk_token_init(&nb->tok, nblk_deliver);
    nb->t = t;
    nb->sl = sl;
    nb->array = 1; /* Redis 7.0 answers every timed-out list block with *-1, BLMOVE too */
    sl->blk = nb;
    t->blk_live++;
    if ((move || rpl) && block_one_shard(t, sl) < 0) { /* keys in two shards */
        nb->xmove = 1;
        multi_xshard_group(t, sl, &nb->tok);
    } else if (move || rpl) {
        kv_str *av;
        uint32_t sh = route_shard(t->srv, sl->argv[1].p, sl->argv[1].len);
        kv_req *r = route_part_new(sl, cmd_blmove_try, sh, 5, &av);
        r->env = &nb->tok;
        av[0] = sl->argv[0];
        av[1] = sl->argv[1];
        av[2] = sl->argv[2];
        av[3] = move ? sl->argv[3] : (kv_str){"right", 5};
        av[4] = move ? sl->argv[4] : (kv_str){"left", 4};
        kv_req **subs = kv_xmalloc(sizeof *subs);
        subs[0] = r;
        slot_set_parts(sl, subs, 1);
        route_queue(t, r);
    } else if (kind == CMDK_BZPOP) { /* BZPOPMIN/BZPOPMAX key... timeout */
        kv_str pre[2] = {{sl->def->high ? "max" : "min", 3}, {"-1", 2}};
        block_pop_parts(t, sl, nb, cmd_bzpop_try, 1, sl->argc - 2, pre, 2);
    } else if (kind == CMDK_BMPOP) { /* BZMPOP/BLMPOP timeout numkeys key... where [COUNT n] */
        kv_str pre[2] = {sl->argv[mp_where], mp_count > 0 ? sl->argv[mp_count] : (kv_str){"1", 1}};
        block_pop_parts(t, sl, nb, sl->def->zset ? cmd_bzpop_try : cmd_blmpop_try, 3, mp_n, pre, 2);
    } else { /* BLPOP/BRPOP key... timeout */
        kv_str end[1] = {sl->def->high ? (kv_str){"right", 5} : (kv_str){"left", 4}};
        block_pop_parts(t, sl, nb, cmd_bpop_try, 1, sl->argc - 2, end, 1);
    }
    c->blocker = sl;
    if (ms > 0) {
        ev_timer_init(&nb->tm, nblk_timeout_cb, (double)ms / 1000.0, 0.);
        nb->tm.data = nb;
        ev_timer_start(t->loop, &nb->tm);
        nb->timer = 1;
    }
}

/* ---- BLMOVE / BRPOPLPUSH across two shards ----------------------------------
 * Each attempt is one frozen run over both shards (multi_xshard_group with
 * the token): the move when src has an element, else a registration on src
 * that pops nothing (cmd_blmove_wait_part), made in the same run, so no
 * push between the check and the registration is missed. When src gets
 * elements the token is served empty and delivered here; the next attempt
 * runs with a fresh token. Another client may take the element first (the
 * next waiter on src is served right after this one's wake-up): the client
 * then waits again, at the back of src's queue. */

/* Frees the parts and the frozen run of sl's last attempt. */
static void block_xmove_drop_parts(kv_slot *sl)
{
    if (sl->mx != NULL) multi_slot_free(sl);
    for (unsigned i = 0; i < sl->nsub; i++) {
        kvbuf_destroy(&sl->subs[i]->reply);
        free(sl->subs[i]);
    }
    free(sl->subs);
    sl->subs = NULL;
    sl->nsub = 0;
}

/* old's source got elements (its token was served empty): the slot goes on
 * with a new token, the rest of its timeout and a new attempt. */
static void block_xmove_retry(netthr *t, nblk *old)
{
    kv_slot *sl = old->sl;
    nblk *nb = kv_xcalloc(1, sizeof *nb);
    blk_token_init(&nb->tok, nblk_deliver);
    nb->t = t;
    nb->sl = sl;
    nb->array = old->array;
    nb->xmove = 1;
    nb->unblocked = old->unblocked;
    if (old->gave_up) /* timed out (or closed, unblocked) as it was woken: no new wait */
        blk_token_claim(&nb->tok, BLK_GONE);
    if (old->timer) {
        ev_tstamp left = ev_timer_remaining(t->loop, &old->tm);
        ev_timer_stop(t->loop, &old->tm);
        old->timer = 0;
        ev_timer_init(&nb->tm, nblk_timeout_cb, left > 0 ? left : 0.001, 0.);
        nb->tm.data = nb;
        ev_timer_start(t->loop, &nb->tm);
        nb->timer = 1;
    }
    if (old->counted) { /* counted again if the next attempt waits */
        atomic_fetch_sub_explicit(&t->srv->blocked, 1, memory_order_relaxed);
        old->counted = 0;
    }
    old->sl = NULL;
    blk_token_unref(&old->tok); /* the thread's reference (a delivery may hold another) */
    sl->blk = nb;
    block_xmove_drop_parts(sl);
    multi_xshard_group(t, sl, &nb->tok);
}
