/* entry.h - one key and its value in a single allocation.
 *
 * Layout: header, then an int64 absolute expiry in ms (only when
 * KV_ENTRY_TTL is set), then one byte naming the database (only when
 * KV_ENTRY_DB is set: keys of database 0 carry none, so they cost nothing
 * more), then the key bytes, then the value bytes, then (only when
 * KV_ENTRY_TTL is set) a uint32 trailer: the entry's position in its
 * shard's expiry index (expire.h). A key's identity is (database, key
 * bytes). The trailer goes last so that the key and the value keep their
 * offsets (persist/ reads them); it moves with the end of the value, which
 * only entry.c changes. A hash entry's value is the pointer to its hobj_t
 * (hobj.h), which the entry owns. Entries belong to the shard that holds
 * them and are touched only by its actor.
 *
 * A string of at least ENTRY_SHARE_MIN bytes is KV_ENTRY_SHARED: its
 * value lives in an allocation of its own, of its exact size (the entry
 * holds a pointer to it where the value would be), so that a 16 KB value
 * takes four pages and not five, and 8 bytes before the header hold a
 * reference count, so that a GET's reply can be written to the socket
 * from the stored bytes (entry_pin on the actor, entry_unpin on the
 * network thread once the bytes are sent) instead of a copy. The table
 * holds one reference; entry_free drops it. The value of a pinned entry
 * never changes: entry_rebuild and entry_resize_val give a fresh copy
 * while another reference exists.
 */
#ifndef MEMKV_ENTRY_H
#define MEMKV_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum kv_type {
    KV_TYPE_STRING = 0,
    KV_TYPE_HASH = 1, /* the value is a hobj_t pointer (entry_hobj) */
    KV_TYPE_LIST = 2, /* the value is a lobj_t pointer (entry_lobj) */
    KV_TYPE_SET = 3,  /* the value is a sobj_t pointer (entry_sobj) */
    /* log-only types, never held by a table entry: PUT records that carry
     * one list or set change (cmd_list_replay, cmd_set_replay) */
    KV_TYPE_LIST_DELTA = 4,
    KV_TYPE_SET_DELTA = 5,
    KV_TYPE_ZSET = 6, /* the value is a zobj_t pointer (entry_zobj) */
};

/* True for the types whose value is a pointer to an object the entry owns. */
static inline int kv_type_is_obj(unsigned type)
{
    return type == KV_TYPE_HASH || type == KV_TYPE_LIST || type == KV_TYPE_SET ||
           type == KV_TYPE_ZSET;
}

enum {
    KV_ENTRY_TTL = 1u << 0,    /* an expiry precedes the key */
    KV_ENTRY_DB = 1u << 1,     /* a database byte (1..255) precedes the key */
    KV_ENTRY_SHARED = 1u << 2, /* a reference count precedes the header */
};

/* Strings at least this long are KV_ENTRY_SHARED: from 16 KB, jemalloc's
 * size classes are whole pages, and a value sharing its allocation with
 * the header and key would take one page more (1.25x RSS at 16 KB). */
#define ENTRY_SHARE_MIN (16u << 10)

/* Databases a key may live in (SELECT 0..KV_MAX_DBS-1). */
#define KV_MAX_DBS 256

struct hobj;
struct lobj;
struct sobj;
struct zobj;

typedef struct kv_entry {
    struct kv_entry *next; /* private: hash chain, owner: table */
    uint32_t hash;         /* ro: low 32 bits of kv_hash(key) */
    uint32_t klen;         /* ro */
    uint32_t vlen;         /* ro: use entry_set_* to change */
    uint8_t type;          /* enum kv_type */
    uint8_t flags;         /* KV_ENTRY_* */
    uint16_t lru;          /* owner: evict.c: LRU clock or LFU counter (evict_touch) */
    char data[];
} kv_entry;

/* Allocates an entry holding copies of key and value; expire_ms < 0 means
 * no expiry (else the TTL trailer is 0). Aborts on OOM. */
kv_entry *entry_new(uint64_t hash, const char *key, size_t klen, const char *val, size_t vlen,
                    int64_t expire_ms);
/* The same in database db (0: as entry_new). */
kv_entry *entry_new_db(uint64_t hash, unsigned db, const char *key, size_t klen, const char *val,
                       size_t vlen, int64_t expire_ms);
/* The same, with the value's buffer given away: own (may be NULL) points
 * to a buffer (malloc family, at least vlen bytes, holding val: *own ==
 * val) that the entry takes as its value, with no copy, when the value is
 * KV_ENTRY_SHARED (then *own is set to NULL: the entry owns it, and it is
 * val's bytes until the entry lets go of them); else the value is copied
 * and *own is left to the caller. Actor of the shard. */
kv_entry *entry_new_own(uint64_t hash, unsigned db, const char *key, size_t klen, const char *val,
                        size_t vlen, int64_t expire_ms, char **own);
/* A new hash entry owning h (no expiry). Aborts on OOM. */
kv_entry *entry_new_hash(uint64_t hash, const char *key, size_t klen, struct hobj *h);
/* A new entry of type (KV_TYPE_LIST or KV_TYPE_SET) owning obj (no
 * expiry). Aborts on OOM. */
kv_entry *entry_new_obj(uint64_t hash, const char *key, size_t klen, unsigned type, void *obj);
/* Frees e and, for a hash, list or set, its object. Accepts NULL. A
 * KV_ENTRY_SHARED entry is only unreferenced: the last entry_unpin frees it. */
void entry_free(kv_entry *e);
/* Takes a reference on a KV_ENTRY_SHARED entry, for a reply that sends
 * its value later. Actor of e's shard. */
void entry_pin(kv_entry *e);
/* Drops a reference taken by entry_pin; frees e if it was the last one
 * (the table let go of it meanwhile). Any thread. */
void entry_unpin(kv_entry *e);
/* Whether someone besides the table holds e (a reply being written, a
 * kept argument): its value's bytes must not change where they lie. Actor
 * of e's shard. */
int entry_pinned(const kv_entry *e);
/* Frees e but not the hobj it points to (the hobj moved to another entry). */
void entry_free_shell(kv_entry *e);
/* Bytes the allocator really holds for e (malloc_usable_size), a hash's
 * hobj included (hobj_mem). */
size_t entry_mem(const kv_entry *e);

static inline int64_t entry_expire(const kv_entry *e)
{
    int64_t t;
    if (!(e->flags & KV_ENTRY_TTL)) return -1;
    memcpy(&t, e->data, sizeof t);
    return t;
}
/* Bytes between the header and the key for these flags. */
static inline size_t entry_key_off(unsigned flags)
{
    return ((flags & KV_ENTRY_TTL) ? sizeof(int64_t) : 0) + ((flags & KV_ENTRY_DB) ? 1 : 0);
}
static inline char *entry_key(kv_entry *e)
{
    return e->data + entry_key_off(e->flags);
}
/* The database of e (0 unless KV_ENTRY_DB). */
static inline unsigned entry_db(const kv_entry *e)
{
    if (!(e->flags & KV_ENTRY_DB)) return 0;
    return (uint8_t)e->data[(e->flags & KV_ENTRY_TTL) ? sizeof(int64_t) : 0];
}
static inline char *entry_val(kv_entry *e)
{
    char *v = entry_key(e) + e->klen;
    if (e->flags & KV_ENTRY_SHARED) { /* its own allocation: v holds its address */
        char *own;
        memcpy(&own, v, sizeof own);
        return own;
    }
    return v;
}
/* Bytes the value takes inside the entry: the value, or its pointer. */
static inline size_t entry_val_room(const kv_entry *e)
{
    return (e->flags & KV_ENTRY_SHARED) ? sizeof(char *) : e->vlen;
}
/* The trailer of an entry with KV_ENTRY_TTL: where the expiry index keeps
 * it (owner: the shard's expire_idx). */
static inline uint32_t entry_ttl_slot(const kv_entry *e)
{
    uint32_t pos;
    memcpy(&pos, e->data + entry_key_off(e->flags) + e->klen + entry_val_room(e), sizeof pos);
    return pos;
}
static inline void entry_set_ttl_slot(kv_entry *e, uint32_t pos)
{
    memcpy(e->data + entry_key_off(e->flags) + e->klen + entry_val_room(e), &pos, sizeof pos);
}
/* The hobj of a KV_TYPE_HASH entry. */
static inline struct hobj *entry_hobj(kv_entry *e)
{
    struct hobj *h;
    memcpy(&h, entry_val(e), sizeof h);
    return h;
}

/* The object of a KV_TYPE_LIST / KV_TYPE_SET entry. */
static inline struct lobj *entry_lobj(kv_entry *e)
{
    struct lobj *l;
    memcpy(&l, entry_val(e), sizeof l);
    return l;
}
static inline struct sobj *entry_sobj(kv_entry *e)
{
    struct sobj *o;
    memcpy(&o, entry_val(e), sizeof o);
    return o;
}
static inline struct zobj *entry_zobj(kv_entry *e)
{
    struct zobj *z;
    memcpy(&z, entry_val(e), sizeof z);
    return z;
}
/* Bytes last charged to the shard for an object entry's object (the
 * object's own record: hobj_charged and its kin), and setting it. */
size_t entry_obj_charged(kv_entry *e);
void entry_obj_set_charged(kv_entry *e, size_t bytes);

struct kvbuf;
/* Appends the serialized value of a hash, list or set entry (hobj_encode,
 * lobj_encode, sobj_encode). */
void entry_obj_encode(kv_entry *e, struct kvbuf *out);
/* Frees an object of type (list, set or sorted set) that no entry holds. */
void entry_obj_free(unsigned type, void *obj);
/* A new non-empty list, set or sorted set (type) from those bytes, or NULL if they are
 * malformed or empty; secret keys a set's table. */
void *entry_obj_decode(const void *secret, unsigned type, const char *p, size_t n);

/* Returns an entry like e with the value replaced (vlen bytes copied from
 * val, which may point into e), and the expiry set to expire_ms (<0: none).
 * The TTL trailer is kept when e and the result both have a TTL, and 0
 * when only the result has one.
 * For a hash, only the expiry may change (val = entry_val(e)): the hobj
 * moves to the result.
 * May reallocate: e is invalid afterwards and the caller must relink the
 * result in the table (ht_relink). */
kv_entry *entry_rebuild(kv_entry *e, const char *val, size_t vlen, int64_t expire_ms);

/* entry_rebuild with the value's buffer given away, as entry_new_own: the
 * result takes *own (and sets it to NULL) when it is KV_ENTRY_SHARED. */
kv_entry *entry_rebuild_own(kv_entry *e, const char *val, size_t vlen, int64_t expire_ms,
                            char **own);

/* Resizes the value to vlen bytes keeping its first min(old, vlen) bytes and
 * zero-filling the rest, and the TTL trailer; same relink rule as
 * entry_rebuild. */
kv_entry *entry_resize_val(kv_entry *e, size_t vlen);
/* The same for a growth whose new bytes the caller writes only past the old
 * length (APPEND): a value stored apart grows in place into its room even
 * while it is pinned, as the pinned bytes do not change. */
kv_entry *entry_append_val(kv_entry *e, size_t vlen);

#endif
