/* block.h - the waiter registry of one shard, for the blocking list
 * commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH).
 *
 * (BZPOPMIN, BZPOPMAX, BZMPOP and BLMPOP register the same way.)
 *
 * A blocked client is one shared token (blk_token) with an atomic state.
 * The network thread that owns the client creates it; every shard that
 * holds one of the client's keys registers a waiter (blk_wait) pointing to
 * it, in a FIFO per key. Whoever moves the token out of BLK_WAITING first
 * wins: a serving actor (BLK_SERVED: it pops for the client), or the
 * network thread on a timeout or a disconnect (BLK_GONE). So an element is
 * popped only for a client that will get it, and exactly one shard serves
 * a client blocked on keys of several shards. Registrations whose token is
 * no longer waiting are dropped lazily (when their key is served or gets a
 * new waiter).
 *
 * The token is reference counted: one reference for its network thread,
 * one per registration; blk_token_unref frees it with the last one (any
 * thread). The registry itself (blk_reg) belongs to its shard: owner actor
 * thread only.
 */
#ifndef MEMKV_BLOCK_H
#define MEMKV_BLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/kv.h"

enum blk_state {
    BLK_WAITING, /* blocked: any shard may serve it */
    BLK_SERVED,  /* an actor claimed it and popped for it; reply holds the answer */
    BLK_GONE,    /* timed out, disconnected or answered otherwise: serve it nowhere */
};

typedef struct blk_token blk_token;

/* Called by the serving actor once the pop it made for the token is
 * committed to the log: hands the token (and a reference) back to its
 * network thread. Must not block. */
typedef void blk_deliver_fn(blk_token *tok);

struct blk_token {
    _Atomic int state;              /* enum blk_state */
    _Atomic int refs;               /* network thread + registrations (+ a delivery) */
    kvbuf reply;                    /* written by the actor that claimed it (BLK_SERVED) */
    blk_deliver_fn *deliver;        /* ro: set by the network thread */
    blk_token *next_served;         /* owner: the serving actor until delivery */
    _Atomic(blk_token *) next_done; /* the network thread's delivery stack */
};

/* Initializes a token allocated by the caller with malloc (the token must
 * be at the start of that allocation: the last unref frees it), with one
 * reference (the caller's). */
void blk_token_init(blk_token *t, blk_deliver_fn *deliver);
void blk_token_ref(blk_token *t);
/* Drops a reference; the last one frees the token (any thread). */
void blk_token_unref(blk_token *t);
/* Moves t from BLK_WAITING to to (BLK_SERVED or BLK_GONE); 1 if this call
 * did it, 0 if someone else already had (any thread). */
int blk_token_claim(blk_token *t, int to);
static inline int blk_token_state(blk_token *t)
{
    return atomic_load_explicit(&t->state, memory_order_acquire);
}

/* What a registration asks for when its key gets elements. */
typedef struct blk_wait {
    struct blk_wait *next; /* FIFO link */
    blk_token *tok;        /* one reference held */
    uint8_t from, to;      /* list ends (LOBJ_HEAD/LOBJ_TAIL): pop from; push to (BLMOVE) */
    uint8_t move;          /* BLMOVE/BRPOPLPUSH: push into dst; else BLPOP/BRPOP */
    uint8_t zset;          /* BZPOPMIN/BZPOPMAX/BZMPOP: from = 1 pops the highest */
    uint8_t mpop;          /* BLMPOP/BZMPOP: pops up to count, replied as LMPOP/ZMPOP */
    uint32_t count;        /* BLMPOP/BZMPOP */
    kv_str dst;            /* BLMOVE's destination key (owned copy), else empty */
} blk_wait;

typedef struct blk_key {
    struct blk_key *next;       /* hash chain */
    struct blk_key *next_ready; /* ready list, when ready */
    uint32_t hash;
    uint8_t db;
    uint8_t ready; /* on the ready list */
    blk_wait *head, *tail;
    size_t n; /* registrations, live or stale */
    size_t klen;
    char key[];
} blk_key;

typedef struct blk_reg {
    blk_key **buckets;
    size_t nbuckets, nkeys, nwaits;
    blk_key *ready;    /* keys that got elements and have waiters */
    blk_token *served; /* tokens served since the last blk_reg_deliver, in order */
    blk_token *served_last;
} blk_reg;

blk_reg *blk_reg_new(void);
/* Frees the registry, dropping every registration's reference; accepts NULL. */
void blk_reg_free(blk_reg *r);

/* Appends a registration of tok (a reference is taken) on key in database
 * db, with hash (shard_hash of the key), after dropping the stale
 * registrations of that key. dst may be NULL. Returns the registration
 * (zset, mpop and count zero) for the caller to complete. */
blk_wait *blk_reg_add(blk_reg *r, uint32_t hash, uint8_t db, const char *key, size_t klen,
                      blk_token *tok, int from, int to, int move, const kv_str *dst);

/* A key of database db got elements: if it has registrations, puts it on
 * the ready list (once). Cheap when nobody waits. r may be NULL. */
void blk_reg_signal(blk_reg *r, uint32_t hash, uint8_t db, const char *key, size_t klen);

/* Takes the next ready key off the ready list (NULL if none); it stays in
 * the registry. Valid until the next call that changes r. */
blk_key *blk_reg_next_ready(blk_reg *r);

/* The first registration of k whose token is still waiting, after dropping
 * the stale ones at its front; NULL if none is left. */
blk_wait *blk_key_front(blk_reg *r, blk_key *k);

/* As blk_key_front, for a waiter of the sorted-set commands (zset) or of
 * the list ones: the first live one of that kind, moved to the front (the
 * others keep their order); NULL if there is none. */
blk_wait *blk_key_front_kind(blk_reg *r, blk_key *k, int zset);

/* Removes k's first registration (returned by blk_key_front) and frees it,
 * dropping its token reference unless keep_ref (then the caller owns it);
 * frees k when it has no registration left (k is then invalid): returns 1
 * if it did. */
int blk_key_pop(blk_reg *r, blk_key *k, int keep_ref);

/* Queues tok (whose reference the caller hands over) for delivery. */
void blk_reg_served(blk_reg *r, blk_token *tok);
/* Calls deliver on every queued token, in order; returns how many. */
unsigned blk_reg_deliver(blk_reg *r);

/* Live-or-stale registrations in the registry (tests, INFO). */
static inline size_t blk_reg_waits(const blk_reg *r)
{
    return r ? r->nwaits : 0;
}

#endif
