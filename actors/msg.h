/* msg.h - what travels between network threads and actors.
 *
 * A kv_req is one command (or one shard's part of a multi-key command) for
 * one shard. Network threads collect the requests of one loop iteration per
 * destination actor into a kv_batch and publish the batch with one mailbox
 * push; the actor runs every request, then hands the whole batch back to the
 * network thread named in it. A request is owned by its network thread
 * except between publish and completion, when only the actor touches it.
 */
#ifndef MEMKV_MSG_H
#define MEMKV_MSG_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/cmd.h"
#include "engine/kv.h"

/* The output budget of one client connection (client-output-buffer-limit),
 * shared by the connection's network thread and the actors that make its
 * replies. Actors count the bytes of the big replies they make, and refuse
 * to run a read once the client's backlog (queued + inflight) is over the
 * hard limit: a client that pipelines reads and never reads its replies
 * cannot make the actors build gigabytes of replies in one batch before the
 * network thread sees any of them. */
typedef struct kv_obl {
    _Atomic int64_t inflight; /* reply bytes made, not yet completed: actors add,
                                 the network thread subtracts at completion */
    _Atomic int64_t queued;   /* written by the network thread: bytes of replies
                                 waiting to be sent */
    _Atomic int64_t hard;     /* written by the network thread: 0 = no limit */
    _Atomic int tripped;      /* set by an actor that refused a read */
} kv_obl;

/* Replies shorter than this are not counted: with a bounded number of
 * replies in flight per connection they cannot add up to much. */
#define KV_OBL_MIN_REPLY 1024

typedef struct kv_req {
    struct kv_req *next;     /* link in its batch; owner: holder of the batch */
    cmd_fn *fn;              /* ro for the actor: the shard handler to run */
    uint32_t shard;          /* ro for the actor */
    uint8_t write;           /* ro for the actor: a write command (MISCONF applies) */
    uint8_t has_hash;        /* ro for the actor: key_hash is argv[1]'s */
    uint8_t db;              /* ro for the actor: the client's database (SELECT) */
    uint32_t key_hash;       /* ro for the actor: low 32 bits of kv_hash(argv[1]), computed
                                by the router, so the shard does not hash the key again */
    uint8_t denyoom;         /* ro for the actor: enum kv_req_oom */
    uint8_t applied;         /* written by the actor: a write that ran (its effect is in
                                the shard, its reply waits for the log's commit) */
    int argc;                /* ro for the actor */
    const kv_str *argv;      /* ro for the actor; memory owned by the network side */
    kvbuf reply;             /* written by the actor, read by the network thread */
    cmd_res res;             /* written by the actor (handed over zeroed), read by the
                                network thread: an internal part's typed answer (cmd.h);
                                kind CMD_RES_NONE: reply holds all there is (an error) */
    void *owner;             /* private to the network thread (its reply slot) */
    kv_obl *obl;             /* ro for the actor: the client's output budget, or NULL */
    size_t obl_bytes;        /* written by the actor: reply bytes added to obl->inflight */
    void *env;               /* ro for the actor: handed to fn as cmd_call.env (EVAL: the
                                scripting context), or NULL */
    struct actor_fz_run *fz; /* ro for the actor: not NULL for a frozen run (actor.h):
                                fn, shard and argv are unused then */
    uint8_t ordered;         /* private to the network thread: a part of a command over
                                several actors, published in the global order */
    uint8_t may_pin;         /* ro for the actor: the reply may refer to stored values
                                (cmd_call.pin, cmd_call.pins): a client's own GET or MGET,
                                written as it is */
    kv_pin pin;              /* written by the actor: the value the reply continues with
                                (e NULL: none); the network thread unpins it */
    kv_pins pins;            /* written by the actor (MGET's part, may_pin): the values its
                                reply refers to; the network thread unpins and frees them */
    kv_take take;            /* big bulk arguments the command may keep as stored values
                                (nbigs 0: none): the slot's arrays, shared by the parts of
                                one command; the actor writes take.keeps[k] of its own
                                arguments, and the network thread unpins them when it
                                frees the slot (done with argv) */
} kv_req;

/* What a write that may grow memory does about --maxmemory first. */
enum kv_req_oom {
    KV_OOM_NONE,   /* not such a write (reads, deletes, ...) */
    KV_OOM_REFUSE, /* make room by eviction, or answer -OOM */
    KV_OOM_EVICT,  /* make room by eviction but run anyway: a part of a
                    * multi-shard write admitted by the network thread */
};

/* Actor: 1 if a read for this client must be refused (backlog over the
 * hard limit); marks the budget tripped, so the client gets closed. */
static inline int kv_obl_over(kv_obl *o)
{
    int64_t hard = atomic_load_explicit(&o->hard, memory_order_relaxed);
    if (hard <= 0) return 0;
    int64_t used = atomic_load_explicit(&o->inflight, memory_order_relaxed) +
                   atomic_load_explicit(&o->queued, memory_order_relaxed);
    if (used <= hard) return 0;
    atomic_store_explicit(&o->tripped, 1, memory_order_relaxed);
    return 1;
}

/* Actor: counts the reply just made for r. */
static inline void kv_obl_count(kv_req *r)
{
    r->obl_bytes = 0;
    size_t len = r->reply.len + r->pin.len;
    for (unsigned i = 0; i < r->pins.n; i++) len += r->pins.v[i].len;
    if (r->obl == NULL || len < KV_OBL_MIN_REPLY) return;
    r->obl_bytes = len;
    atomic_fetch_add_explicit(&r->obl->inflight, (int64_t)r->obl_bytes, memory_order_relaxed);
}

typedef struct kv_batch {
    kv_req *head, *tail;   /* requests in submission order */
    uint32_t n;            /* number of requests */
    uint16_t net_id;       /* ro: network thread that gets it back */
    uint16_t actor_id;     /* ro: destination actor */
    uint8_t ordered;       /* private to the network thread: holds a part of a command
                              over several actors (published in global order) */
    struct kv_batch *next; /* private: free list of the network thread */
} kv_batch;

static inline void kv_batch_add(kv_batch *b, kv_req *r)
{
    r->next = NULL;
    if (b->tail)
        b->tail->next = r;
    else
        b->head = r;
    b->tail = r;
    b->n++;
}

#endif
