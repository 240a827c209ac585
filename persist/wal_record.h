/* wal_record.h - the redo records of the write-ahead log and of snapshots.
 *
 * A record is a 13-byte header and a payload (docs/persistence.md has the
 * byte layout): a header CRC over length and type, so a damaged length is
 * caught before it is believed, and a CRC over type and payload. Records are
 * physical and idempotent: PUT sets a key's whole state, DEL removes it,
 * CLEAR empties the shard, HSET sets one field of a hash (a key that is
 * absent or not a hash becomes a new hash without expiry first), HDEL
 * removes one field (and the key with its last field), EXPIRE sets or
 * clears only a key's expiry. Replaying any suffix twice gives the same
 * state.
 *
 * Encoders append to a wal_buf (caller-owned, one thread at a time).
 * The decoder is stateless and answers three ways: bytes consumed (> 0),
 * KV_EAGAIN (the buffer ends inside the record: a torn tail, or read more),
 * or KV_EPROTO (the bytes are not a valid record). Any thread.
 */
#ifndef MEMKV_WAL_RECORD_H
#define MEMKV_WAL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "engine/kv.h"

/* Record types. 0 is never valid (zero-filled space must not parse). */
enum wal_op {
    WAL_OP_PUT = 1,       /* vtype, key, value, optional absolute expiry */
    WAL_OP_DEL = 2,       /* key */
    WAL_OP_CLEAR = 3,     /* no payload: the shard was emptied */
    WAL_OP_HSET = 4,      /* hash field put (key, field, value) */
    WAL_OP_HDEL = 5,      /* hash field delete (key, field) */
    WAL_OP_EXPIRE = 6,    /* set/clear only the expiry (key, optional expiry) */
    WAL_OP_DB = 7,        /* the next record is about database `db` (varint), not 0;
                           * a CLEAR after it empties that database only */
    WAL_OP_TX = 8,        /* the next part_bytes bytes are this shard's part of a
                           * transaction over several shards (txid, participants) */
    WAL_OP_TXFLOOR = 9,   /* first record of a compaction's segment: every transaction
                           * below txid with a part here is in the snapshot */
    WAL_OP_TXABORT = 10,  /* recovery dropped transaction txid: never apply it */
    WAL_OP_SNAP_END = 64, /* snapshot trailer: entry count; never in a WAL */
    /* 11..63 reserved for data records, 65..255 for file-structure records.
     * The decoder rejects every type it does not know as corrupt: a reader
     * must never skip a redo record it cannot apply. */
};

enum {
    WAL_REC_HEADER = 13,            /* hcrc(4) len(4) type(1) crc(4) */
    WAL_REC_MAX_PAYLOAD = 1u << 30, /* larger lengths are corrupt */
    WAL_PUT_HAS_EXPIRY = 1u << 0,   /* PUT flags */
};

/* A decoded record. key/val/field point into the buffer passed to
 * wal_record_decode and stay valid as long as that buffer does. */
typedef struct wal_rec {
    uint8_t op;          /* enum wal_op */
    uint8_t vtype;       /* PUT: enum kv_type of the value */
    int64_t expire_ms;   /* PUT: absolute expiry in ms since the epoch, -1 = none */
    uint64_t count;      /* SNAP_END: number of entries in the snapshot */
    uint32_t db;         /* DB: the database of the next record */
    uint64_t txid;       /* TX, TXABORT: the transaction; TXFLOOR: the floor */
    uint64_t part_bytes; /* TX: bytes of this shard's part after the TX record */
    uint32_t nparts;     /* TX: participant shards (>= 2) */
    kv_str parts;        /* TX: their ids, varints, strictly increasing (wal_record_tx_shards) */
    kv_str key;          /* PUT, DEL, HSET, HDEL, EXPIRE */
    kv_str val;          /* PUT, HSET */
    kv_str field;        /* HSET, HDEL */
} wal_rec;

/* A growable byte buffer; data[0..len) is valid. Owner: one thread. */
typedef struct wal_buf {
    char *data;
    size_t len;
    size_t cap;
} wal_buf;

void wal_buf_init(wal_buf *b);
/* Frees the memory; accepts a zeroed or already destroyed buffer. */
void wal_buf_destroy(wal_buf *b);
/* Makes room for extra bytes. Returns 0 or KV_ENOMEM (b unchanged). */
int wal_buf_reserve(wal_buf *b, size_t extra);
int wal_buf_append(wal_buf *b, const void *p, size_t n);
/* Drops the first n bytes (n <= len). */
void wal_buf_consume(wal_buf *b, size_t n);

/* Encoders: append one record to b. Return 0, KV_ENOMEM (b unchanged) or
 * KV_ERANGE (payload over WAL_REC_MAX_PAYLOAD; b unchanged).
 * expire_ms < 0 means no expiry. */
int wal_record_put(wal_buf *b, uint8_t vtype, const char *key, size_t klen, const char *val,
                   size_t vlen, int64_t expire_ms);
int wal_record_del(wal_buf *b, const char *key, size_t klen);
int wal_record_clear(wal_buf *b);
int wal_record_db(wal_buf *b, unsigned db);
int wal_record_hset(wal_buf *b, const kv_str *key, const kv_str *field, const kv_str *val);
int wal_record_hdel(wal_buf *b, const kv_str *key, const kv_str *field);
int wal_record_expire(wal_buf *b, const kv_str *key, int64_t expire_ms);
int wal_record_snap_end(wal_buf *b, uint64_t count);
/* TX: shards[0..n) strictly increasing, 2 <= n <= 65536. */
int wal_record_tx(wal_buf *b, uint64_t txid, uint64_t part_bytes, const uint32_t *shards,
                  uint32_t n);
int wal_record_txfloor(wal_buf *b, uint64_t floor);
int wal_record_txabort(wal_buf *b, uint64_t txid);

/* The participant shards of a decoded TX record into out[0..r->nparts)
 * (the caller sizes out; the decoder has checked the list). */
void wal_record_tx_shards(const wal_rec *r, uint32_t *out);

/* Decodes the record at the start of p[0..n). Returns the bytes it takes
 * (> 0) and fills *out, KV_EAGAIN if p ends inside it, or KV_EPROTO if it
 * is corrupt (*why, if not NULL, gets a static reason). */
int64_t wal_record_decode(const void *p, size_t n, wal_rec *out, const char **why);

/* Bytes wal_record_put would append (for size accounting). */
size_t wal_record_put_size(size_t klen, size_t vlen, int64_t expire_ms);

#endif
