/* manifest.h - the MANIFEST file at the data directory's root.
 *
 * It names the format version, the hash secret, the shard count and, per
 * shard, the live snapshot (0 = none), the first live WAL segment and the
 * newest segment known to have been created durably (so that recovery can
 * tell a deleted last segment from a short log).
 * It is replaced atomically: MANIFEST.tmp is written and fsynced, renamed
 * over MANIFEST, and the directory fsynced. A leftover MANIFEST.tmp (crash
 * before the rename) is never read. Reentrant; the caller serializes writers
 * (one compaction switches the manifest at a time).
 */
#ifndef MEMKV_MANIFEST_H
#define MEMKV_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "engine/hash.h"
#include "engine/kv.h"

enum {
    MANIFEST_FORMAT_VERSION = 2, /* written; version 1 (no last_seq) is still read */
    MANIFEST_MAX_SHARDS = 65536,
};

typedef struct manifest_shard {
    uint64_t snap_seq;  /* live snapshot snap-<snap_seq>.snap, 0 = none */
    uint64_t first_seq; /* first WAL segment to replay (>= 1) */
    /* Segments first_seq..last_seq were all created durably and must all be
     * there at start-up; 0 = unknown (read from a version 1 manifest), else
     * >= first_seq. It may lag the newest segment, never lead it. */
    uint64_t last_seq;
} manifest_shard;

typedef struct manifest {
    uint32_t version; /* as read (1 or 2); MANIFEST_FORMAT_VERSION once written */
    uint32_t nshards;
    kv_hash_secret secret;
    uint64_t generation;    /* bumped by every manifest_write */
    manifest_shard *shards; /* nshards entries, owned */
} manifest;

/* Sets up m for nshards shards, each with no snapshot, first_seq 1 and
 * last_seq 0.
 * Returns 0, KV_EINVAL (nshards out of range) or KV_ENOMEM. */
int manifest_init(manifest *m, uint32_t nshards, const kv_hash_secret *secret);
/* Frees the shard array; accepts a zeroed or destroyed manifest. */
void manifest_destroy(manifest *m);

/* Reads <dir>/MANIFEST into m (which it initializes; destroy it after 0).
 * Returns 0, 1 if there is no MANIFEST (a fresh directory; m is zeroed),
 * KV_EPROTO if it is corrupt (err says why), KV_EIO if unreadable. */
int manifest_read(const char *dir, manifest *m, char *err, size_t errcap);

/* Atomically replaces <dir>/MANIFEST with m in the current format version,
 * with m->generation + 1 (which, with the version, is stored back in m on
 * success). Returns 0 or KV_EIO; after KV_EIO the old
 * or the new manifest is in place, and the caller must treat the switch as
 * not done (and not delete what the new one would have replaced). */
int manifest_write(const char *dir, manifest *m);

#endif
