/* zobj.h - the value of a sorted-set key: members ordered by (score,
 * member bytes), each member once.
 *
 * Two forms, as Redis's zset:
 * - packed (OBJECT ENCODING "listpack"): one buffer of (member, score)
 *   sorted, while the set has at most ZOBJ_PACKED_ENTRIES members of at
 *   most ZOBJ_PACKED_BYTES bytes; every operation is a linear scan of it.
 * - big ("skiplist"): a B+tree ordered by (score, member) whose inner nodes
 *   count the elements under each child, so insert, delete, rank and the
 *   element of rank i are O(log n); plus a hash (hobj.h) from member to
 *   score for O(1) ZSCORE. docs/memory.md says why a B+tree and not a skip
 *   list.
 * A set goes to the big form when an add passes either limit, and never
 * back (as Redis), except that zobj_decode builds the packed form again
 * when the content fits (as Redis's RDB load).
 *
 * Single-threaded: the actor owning the shard (or a thread owning a private
 * copy). Member pointers from zobj_at stay valid until the next change.
 * zobj_at is a read but moves a cached finger inside z, so two threads may
 * not read one set at once.
 */
#ifndef MEMKV_ZOBJ_H
#define MEMKV_ZOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/hash.h"
#include "engine/kv.h"

typedef struct zobj zobj_t;

/* Redis's zset-max-listpack-entries and zset-max-listpack-value. */
#define ZOBJ_PACKED_ENTRIES 128
#define ZOBJ_PACKED_BYTES   64

zobj_t *zobj_new(const kv_hash_secret *secret);
void zobj_free(zobj_t *z); /* accepts NULL */
size_t zobj_len(const zobj_t *z);
size_t zobj_mem(const zobj_t *z);
/* 1 while z is in the packed form. */
int zobj_is_packed(const zobj_t *z);
size_t zobj_charged(const zobj_t *z);
void zobj_set_charged(zobj_t *z, size_t bytes);

/* The score of m; returns 1 if m is a member. */
int zobj_score(zobj_t *z, const char *m, size_t n, double *score);
/* Sets m's score (adding m if new); returns 1 if m is new. */
int zobj_set(zobj_t *z, const char *m, size_t n, double score);
/* Removes m; returns 1 if it was there. */
int zobj_rem(zobj_t *z, const char *m, size_t n);
/* The rank of m (0 = lowest score), or -1 if m is no member. */
int64_t zobj_rank(zobj_t *z, const char *m, size_t n);
/* The element of rank i (< len): O(1) next to the previous call's rank
 * (a range read), else O(log n) (O(n) packed, from its start). */
void zobj_at(const zobj_t *z, size_t i, kv_str *member, double *score);
/* The first rank whose score is > min (excl) or >= min. */
size_t zobj_first_ge(const zobj_t *z, double min, int excl);

/* Serialization: varint count, then per member 8 bytes of score (IEEE
 * 754, little endian), varint length, member. zobj_decode returns NULL if
 * malformed, with a NaN score or a duplicate member. */
void zobj_encode(zobj_t *z, kvbuf *out);
zobj_t *zobj_decode(const kv_hash_secret *secret, const char *p, size_t n);

#endif
