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

#include <stdint.h>

#include "buf.h"
#include "cmd.h"
#include "kv.h"

typedef struct kv_req {
    struct kv_req *next; /* link in its batch; owner: holder of the batch */
    cmd_fn *fn;          /* ro for the actor: the shard handler to run */
    uint32_t shard;      /* ro for the actor */
    uint8_t write;       /* ro for the actor: a write command (MISCONF applies) */
    uint8_t has_hash;    /* ro for the actor: key_hash is argv[1]'s */
    uint32_t key_hash;   /* ro for the actor: low 32 bits of kv_hash(argv[1]), computed
                            by the router, so the shard does not hash the key again */
    uint8_t denyoom;     /* ro for the actor: enum kv_req_oom */
    int argc;            /* ro for the actor */
    const kv_str *argv;  /* ro for the actor; memory owned by the network side */
    kvbuf reply;         /* written by the actor, read by the network thread */
    void *owner;         /* private to the network thread (its reply slot) */
} kv_req;

/* What a write that may grow memory does about --maxmemory first. */
enum kv_req_oom {
    KV_OOM_NONE,   /* not such a write (reads, deletes, ...) */
    KV_OOM_REFUSE, /* make room by eviction, or answer -OOM */
    KV_OOM_EVICT,  /* make room by eviction but run anyway: a part of a
                    * multi-shard write admitted by the network thread */
};

typedef struct kv_batch {
    kv_req *head, *tail;   /* requests in submission order */
    uint32_t n;            /* number of requests */
    uint16_t net_id;       /* ro: network thread that gets it back */
    uint16_t actor_id;     /* ro: destination actor */
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
