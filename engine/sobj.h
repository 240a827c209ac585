/* sobj.h - the value of a set key: a set of binary-safe members.
 *
 * Three forms, as Redis's sets:
 * - intset (OBJECT ENCODING "intset"): while every member is an integer as
 *   Redis's string2ll reads it ("12", "-7"; not "012", "+1", " 1") and there
 *   are at most SOBJ_INTSET_ENTRIES of them (Redis's set-max-intset-entries
 *   512): one sorted array of 2, 4 or 8 bytes per member (as the widest
 *   member needs), searched by bisection, iterated in ascending order;
 * - otherwise a hash (hobj.h) whose fields are the members and whose
 *   values are empty, with the hash's two forms: packed (one buffer
 *   searched linearly, up to HOBJ_PACKED_ENTRIES members of at most
 *   HOBJ_PACKED_BYTES bytes: "listpack") and table (an incrementally
 *   rehashed, HashDoS-safe table: "hashtable"), converted both ways.
 * An intset becomes a hash for good on a non-integer member or past the
 * limit (as Redis); sobj_decode builds an intset again when the members
 * allow it (as Redis's RDB load).
 *
 * Single-threaded: the actor owning the shard that holds the key (or, for
 * SINTER/SUNION/SDIFF across shards, the network thread that gathers a
 * private one). kv_str pointers from sobj_random stay valid until the set
 * changes or the next sobj_random on it; those given to a visit function
 * only for that call (an intset formats its members as it goes).
 */
#ifndef MEMKV_SOBJ_H
#define MEMKV_SOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/hash.h"
#include "engine/kv.h"

typedef struct sobj sobj_t;

#define SOBJ_INTSET_ENTRIES 512 /* Redis's set-max-intset-entries */

/* A new empty set; secret (read-only, outlives the set) keys the member
 * hash of the table form. Aborts on OOM. */
sobj_t *sobj_new(const kv_hash_secret *secret);
void sobj_free(sobj_t *s); /* accepts NULL */

size_t sobj_len(const sobj_t *s);
size_t sobj_mem(const sobj_t *s);
/* 1 in the packed hash form ("listpack"). */
int sobj_is_packed(const sobj_t *s);
/* 1 in the intset form ("intset"). */
int sobj_is_intset(const sobj_t *s);
/* The bytes last charged for s to its shard (see hobj_charged). */
size_t sobj_charged(const sobj_t *s);
void sobj_set_charged(sobj_t *s, size_t bytes);

/* Returns 1 if m was added (new), 0 if it was there. */
int sobj_add(sobj_t *s, const char *m, size_t n);
/* Returns 1 if m was removed. */
int sobj_rem(sobj_t *s, const char *m, size_t n);
/* Returns 1 if m is a member. */
int sobj_has(sobj_t *s, const char *m, size_t n);

/* member is valid for the call only. */
typedef void sobj_visit_fn(void *arg, const kv_str *member);
/* Visits every member once; fn must not change s. */
void sobj_foreach(sobj_t *s, sobj_visit_fn *fn, void *arg);
/* SSCAN, with hobj_scan's contract. */
uint64_t sobj_scan(sobj_t *s, uint64_t cursor, int64_t count, sobj_visit_fn *fn, void *arg);
/* A uniformly chosen member (s must not be empty); rng: caller's state. */
void sobj_random(sobj_t *s, uint64_t *rng, kv_str *member);

/* Serialization: hobj_encode's format with every value empty. sobj_decode
 * returns NULL if p[0..n) is malformed, has a duplicate or a non-empty
 * value. */
void sobj_encode(sobj_t *s, kvbuf *out);
sobj_t *sobj_decode(const kv_hash_secret *secret, const char *p, size_t n);

#endif
