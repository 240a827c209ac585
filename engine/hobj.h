/* hobj.h - the value of a hash key: a map of binary-safe fields to values.
 *
 * Two representations, switched automatically:
 * - packed: one buffer of (flen, vlen, field, value) tuples searched
 *   linearly, while the hash has at most HOBJ_PACKED_ENTRIES fields and
 *   every field and value is at most HOBJ_PACKED_BYTES long (Redis's
 *   hash-max-listpack-entries 128 / hash-max-listpack-value 64);
 * - table: an incrementally rehashed ht_t (table.h) of field entries, keyed
 *   by the shard's keyed hash (HashDoS-safe), past either limit. A table
 *   shrinks back to packed when a delete leaves it with at most
 *   HOBJ_UNPACK_LOW fields that all fit the packed limits.
 * No operation rehashes a whole big hash at once.
 *
 * Single-threaded: the actor owning the shard that holds the key. Pointers
 * returned into the hash (kv_str fields and values) stay valid until the
 * next call that changes it.
 */
#ifndef MEMKV_HOBJ_H
#define MEMKV_HOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/hash.h"
#include "engine/kv.h"

#define HOBJ_PACKED_ENTRIES 128
#define HOBJ_PACKED_BYTES   64
#define HOBJ_UNPACK_LOW     32

typedef struct hobj hobj_t;

/* A new empty hash; secret (read-only, outlives the hash) keys the field
 * hash of the table form. Aborts on OOM. */
hobj_t *hobj_new(const kv_hash_secret *secret);
void hobj_free(hobj_t *h); /* accepts NULL */

size_t hobj_len(const hobj_t *h);
/* Bytes the allocator holds for h, its buffer or table and its fields. O(1). */
size_t hobj_mem(const hobj_t *h);
int hobj_is_packed(const hobj_t *h);
/* The bytes last charged for h to its shard's accounting. Reads may move
 * memory a little (a lookup can finish a table resize), so the shard
 * uncharges what it charged, not what hobj_mem says at that time. */
size_t hobj_charged(const hobj_t *h);
void hobj_set_charged(hobj_t *h, size_t bytes);

/* Finds field; returns 1 and sets *val, or 0. */
int hobj_get(hobj_t *h, const char *f, size_t flen, kv_str *val);
/* Sets field to value; returns 1 if the field is new, 0 if replaced. */
int hobj_set(hobj_t *h, const char *f, size_t flen, const char *v, size_t vlen);
/* hobj_set with the value's buffer given away, as entry_new_own: own (may
 * be NULL) points to a buffer holding v (*own == v) that the field takes,
 * with no copy, when the value is stored apart (a table-form field of at
 * least ENTRY_SHARE_MIN bytes: then *own is set to NULL). *field is the
 * field's entry in the table form (NULL in the packed form); the caller
 * may pin it (entry_pin) to keep v's bytes readable. */
struct kv_entry;
int hobj_set_own(hobj_t *h, const char *f, size_t flen, const char *v, size_t vlen, char **own,
                 struct kv_entry **field);
/* Removes field; returns 1 if it was there. */
int hobj_del(hobj_t *h, const char *f, size_t flen);

typedef void hobj_visit_fn(void *arg, const kv_str *field, const kv_str *val);
/* Visits every field once; fn must not change h. */
void hobj_foreach(hobj_t *h, hobj_visit_fn *fn, void *arg);
/* HSCAN: visits fields from cursor until about count were visited (or
 * 10 * count table buckets were looked at) and returns the next cursor (0:
 * done), as Redis's dictScan loop. A packed hash is visited whole in one
 * call. Every field present for a whole scan is visited at least once,
 * across conversions and resizes. fn must not change h. */
uint64_t hobj_scan(hobj_t *h, uint64_t cursor, int64_t count, hobj_visit_fn *fn, void *arg);
/* A uniformly chosen field (h must not be empty). rng: caller's state. */
void hobj_random(hobj_t *h, uint64_t *rng, kv_str *field, kv_str *val);

/* Serialization (cross-shard RENAME, WAL and snapshot PUT records):
 * varint count, then per field varint flen, field, varint vlen, value
 * (LEB128 varints). hobj_encode appends to out; hobj_decode returns a new
 * hash or NULL if p[0..n) is malformed (or has a duplicate field). */
void hobj_encode(hobj_t *h, kvbuf *out);
/* The pieces of that format, for writers that encode a subset. */
void hobj_encode_varint(kvbuf *out, uint64_t v);
void hobj_encode_pair(kvbuf *out, const kv_str *field, const kv_str *val);
hobj_t *hobj_decode(const kv_hash_secret *secret, const char *p, size_t n);

#endif
