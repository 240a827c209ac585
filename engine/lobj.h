/* lobj.h - the value of a list key: a deque of binary-safe elements.
 *
 * A doubly linked chain of nodes, each one packed buffer of elements
 * (varint length, bytes) of at most LOBJ_NODE_BYTES (a single element
 * larger than that gets a node of its own). A list of one node is the
 * "listpack" form, a longer chain the "quicklist" form (Redis's names).
 * Pushing or popping at either end touches only the end node, so it never
 * moves more than one node's bytes; an index lookup walks nodes from the
 * nearer end, then scans one node.
 *
 * Single-threaded: the actor owning the shard that holds the key. kv_str
 * pointers returned into the list stay valid until the next call that
 * changes it.
 */
#ifndef MEMKV_LOBJ_H
#define MEMKV_LOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/kv.h"

#define LOBJ_NODE_BYTES 8192 /* Redis's list-max-listpack-size -2 */

typedef struct lobj lobj_t;
typedef struct lnode lnode_t;

enum { LOBJ_HEAD = 0, LOBJ_TAIL = 1 };

/* A new empty list. Aborts on OOM. */
lobj_t *lobj_new(void);
void lobj_free(lobj_t *l); /* accepts NULL */

size_t lobj_len(const lobj_t *l);
/* Bytes the allocator holds for l and its nodes. O(1). */
size_t lobj_mem(const lobj_t *l);
/* 1 while the list is a single node ("listpack"), 0 for a chain. */
int lobj_is_packed(const lobj_t *l);
/* The bytes last charged for l to its shard (see hobj_charged). */
size_t lobj_charged(const lobj_t *l);
void lobj_set_charged(lobj_t *l, size_t bytes);

/* The list's change counter: the shard bumps it at each command that
 * changes the list; the log's list records carry it, so replay applies
 * each record exactly once (docs/persistence.md). A new list has 0. */
uint64_t lobj_version(const lobj_t *l);
void lobj_set_version(lobj_t *l, uint64_t v);

/* Adds an element at the head or the tail (LOBJ_HEAD / LOBJ_TAIL). */
void lobj_push(lobj_t *l, int where, const char *p, size_t n);
/* Inserts an element so that it gets index idx (0 <= idx <= len). */
void lobj_insert(lobj_t *l, size_t idx, const char *p, size_t n);
/* Element idx (0 <= idx < len) into *out. */
void lobj_get(lobj_t *l, size_t idx, kv_str *out);
/* Replaces element idx (0 <= idx < len). */
void lobj_set(lobj_t *l, size_t idx, const char *p, size_t n);
/* Removes count elements from index start (start + count <= len). */
void lobj_delete(lobj_t *l, size_t start, size_t count);

/* Iteration. Forward from index start, or backward from index start
 * (towards the head). The list must not change while an iterator is live;
 * lobj_iter_done frees what it holds. */
typedef struct lobj_iter {
    lnode_t *node;  /* private */
    size_t off;     /* private: forward: byte offset of the next element */
    int back;       /* private */
    size_t *offs;   /* private: backward: element offsets of node */
    size_t noffs;   /* private */
    size_t capoffs; /* private */
    size_t pos;     /* private: backward: the next element is offs[pos - 1] */
    size_t left;    /* private: elements left in the list */
} lobj_iter;
void lobj_iter_init(lobj_t *l, lobj_iter *it, size_t start, int backward);
/* Sets *out to the next element and returns 1, or returns 0 at the end. */
int lobj_iter_next(lobj_iter *it, kv_str *out);
void lobj_iter_done(lobj_iter *it);

/* Serialization (cross-shard RENAME, WAL and snapshot PUT records): varint
 * version, varint count, then per element varint length and bytes (LEB128,
 * as hobj.h).
 * lobj_decode returns a new list, or NULL if p[0..n) is malformed. */
void lobj_encode(lobj_t *l, kvbuf *out);
lobj_t *lobj_decode(const char *p, size_t n);

#endif
