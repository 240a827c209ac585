/* zobj.h - the value of a sorted-set key: members ordered by (score,
 * member bytes), each member once.
 *
 * First form, kept simple: one array of (score, member) sorted by score
 * then member, and a hash (hobj.h) from member to score for O(1) ZSCORE and
 * lookups. Rank reads and range reads are O(log n + k); an insert or
 * delete moves the array's tail (pointers, 16 bytes per element), so
 * writes to big sorted sets are O(n): a skip list or B+tree is the next
 * step (docs/protocol.md). Single-threaded: the actor owning the shard.
 * Member pointers stay valid until the next change.
 */
#ifndef MEMKV_ZOBJ_H
#define MEMKV_ZOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hash.h"
#include "kv.h"

typedef struct zobj zobj_t;

zobj_t *zobj_new(const kv_hash_secret *secret);
void zobj_free(zobj_t *z); /* accepts NULL */
size_t zobj_len(const zobj_t *z);
size_t zobj_mem(const zobj_t *z);
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
/* The element of rank i (< len). */
void zobj_at(const zobj_t *z, size_t i, kv_str *member, double *score);
/* The first rank whose score is > min (excl) or >= min. */
size_t zobj_first_ge(const zobj_t *z, double min, int excl);

/* Serialization: varint count, then per member 8 bytes of score (IEEE
 * 754, little endian), varint length, member. zobj_decode returns NULL if
 * malformed, with a NaN score or a duplicate member. */
void zobj_encode(zobj_t *z, kvbuf *out);
zobj_t *zobj_decode(const kv_hash_secret *secret, const char *p, size_t n);

#endif
