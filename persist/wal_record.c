/* wal_record.c - encoding and decoding of redo records. */
#include "persist/wal_record.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "persist/codec.h"
#include "persist/crc32c.h"

void wal_buf_init(wal_buf *b)
{
    memset(b, 0, sizeof *b);
}

void wal_buf_destroy(wal_buf *b)
{
    if (!b) return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

int wal_buf_reserve(wal_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len) return 0;
    if (extra > SIZE_MAX / 2 - b->len) return KV_ENOMEM;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return KV_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int wal_buf_append(wal_buf *b, const void *p, size_t n)
{
    int rc = wal_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void wal_buf_consume(wal_buf *b, size_t n)
{
    assert(n <= b->len);
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* ---- framing ---- */

/* Reserves header + payload_len bytes and returns where the payload goes;
 * wal_frame_close then fills the header. */
static char *frame_open(wal_buf *b, size_t payload_len, int *rc)
{
    if (payload_len > WAL_REC_MAX_PAYLOAD) {
        *rc = KV_ERANGE;
        return NULL;
    }
    *rc = wal_buf_reserve(b, WAL_REC_HEADER + payload_len);
    if (*rc) return NULL;
    return b->data + b->len + WAL_REC_HEADER;
}

static void frame_close(wal_buf *b, uint8_t op, size_t payload_len)
{
    char *h = b->data + b->len;
    codec_put32(h + 4, (uint32_t)payload_len);
    h[8] = (char)op;
    codec_put32(h, crc32c_mask(crc32c(h + 4, 5)));
    uint32_t c = crc32c_extend(crc32c(h + 8, 1), h + WAL_REC_HEADER, payload_len);
    codec_put32(h + 9, crc32c_mask(c));
    b->len += WAL_REC_HEADER + payload_len;
}

static size_t put_payload_len(size_t klen, size_t vlen, int64_t expire_ms)
{
    return 2 + (expire_ms >= 0 ? 8 : 0) + varint_len(klen) + klen + varint_len(vlen) + vlen;
}

size_t wal_record_put_size(size_t klen, size_t vlen, int64_t expire_ms)
{
    return WAL_REC_HEADER + put_payload_len(klen, vlen, expire_ms);
}

int wal_record_put(wal_buf *b, uint8_t vtype, const char *key, size_t klen, const char *val,
                   size_t vlen, int64_t expire_ms)
{
    int rc;
    if (klen > WAL_REC_MAX_PAYLOAD || vlen > WAL_REC_MAX_PAYLOAD) return KV_ERANGE;
    size_t len = put_payload_len(klen, vlen, expire_ms);
    char *p = frame_open(b, len, &rc);
    if (!p) return rc;
    *p++ = (char)vtype;
    *p++ = (char)(expire_ms >= 0 ? WAL_PUT_HAS_EXPIRY : 0);
    if (expire_ms >= 0) {
        codec_put64(p, (uint64_t)expire_ms);
        p += 8;
    }
    p = varint_put(p, klen);
    if (klen) memcpy(p, key, klen);
    p = varint_put(p + klen, vlen);
    if (vlen) memcpy(p, val, vlen);
    frame_close(b, WAL_OP_PUT, len);
    return 0;
}

int wal_record_del(wal_buf *b, const char *key, size_t klen)
{
    int rc;
    if (klen > WAL_REC_MAX_PAYLOAD) return KV_ERANGE;
    size_t len = varint_len(klen) + klen;
    char *p = frame_open(b, len, &rc);
    if (!p) return rc;
    p = varint_put(p, klen);
    if (klen) memcpy(p, key, klen);
    frame_close(b, WAL_OP_DEL, len);
    return 0;
}

static char *bytes_put(char *p, const kv_str *s)
{
    p = varint_put(p, s->len);
    if (s->len) memcpy(p, s->p, s->len);
    return p + s->len;
}

static size_t bytes_len(const kv_str *s)
{
    return varint_len(s->len) + s->len;
}

int wal_record_hset(wal_buf *b, const kv_str *key, const kv_str *field, const kv_str *val)
{
    int rc;
    if (key->len > WAL_REC_MAX_PAYLOAD || field->len > WAL_REC_MAX_PAYLOAD ||
        val->len > WAL_REC_MAX_PAYLOAD)
        return KV_ERANGE;
    size_t len = bytes_len(key) + bytes_len(field) + bytes_len(val);
    char *p = frame_open(b, len, &rc);
    if (!p) return rc;
    bytes_put(bytes_put(bytes_put(p, key), field), val);
    frame_close(b, WAL_OP_HSET, len);
    return 0;
}

int wal_record_hdel(wal_buf *b, const kv_str *key, const kv_str *field)
{
    int rc;
    if (key->len > WAL_REC_MAX_PAYLOAD || field->len > WAL_REC_MAX_PAYLOAD) return KV_ERANGE;
    size_t len = bytes_len(key) + bytes_len(field);
    char *p = frame_open(b, len, &rc);
    if (!p) return rc;
    bytes_put(bytes_put(p, key), field);
    frame_close(b, WAL_OP_HDEL, len);
    return 0;
}

int wal_record_expire(wal_buf *b, const kv_str *key, int64_t expire_ms)
{
    int rc;
    if (key->len > WAL_REC_MAX_PAYLOAD) return KV_ERANGE;
    size_t len = 1 + (expire_ms >= 0 ? 8 : 0) + bytes_len(key);
    char *p = frame_open(b, len, &rc);
    if (!p) return rc;
    *p++ = (char)(expire_ms >= 0 ? WAL_PUT_HAS_EXPIRY : 0);
    if (expire_ms >= 0) {
        codec_put64(p, (uint64_t)expire_ms);
        p += 8;
    }
    bytes_put(p, key);
    frame_close(b, WAL_OP_EXPIRE, len);
    return 0;
}

int wal_record_clear(wal_buf *b)
{
    int rc;
    if (!frame_open(b, 0, &rc)) return rc;
    frame_close(b, WAL_OP_CLEAR, 0);
    return 0;
}

int wal_record_db(wal_buf *b, unsigned db)
{
    int rc;
    size_t len = varint_len(db);
    char *p = frame_open(b, len, &rc);
    if (!p) return rc;
    varint_put(p, db);
    frame_close(b, WAL_OP_DB, len);
    return 0;
}

int wal_record_snap_end(wal_buf *b, uint64_t count)
{
    int rc;
    char *p = frame_open(b, 8, &rc);
    if (!p) return rc;
    codec_put64(p, count);
    frame_close(b, WAL_OP_SNAP_END, 8);
    return 0;
}

int wal_record_tx(wal_buf *b, uint64_t txid, uint64_t part_bytes, const uint32_t *shards,
                  uint32_t n)
{
    int rc;
    if (n < 2 || n > 65536) return KV_EINVAL;
    size_t len = 8 + varint_len(part_bytes) + varint_len(n);
    for (uint32_t i = 0; i < n; i++) {
        if (i && shards[i] <= shards[i - 1]) return KV_EINVAL;
        len += varint_len(shards[i]);
    }
    char *p = frame_open(b, len, &rc);
    if (!p) return rc;
    codec_put64(p, txid);
    p = varint_put(p + 8, part_bytes);
    p = varint_put(p, n);
    for (uint32_t i = 0; i < n; i++) p = varint_put(p, shards[i]);
    frame_close(b, WAL_OP_TX, len);
    return 0;
}

static int record_u64(wal_buf *b, uint8_t op, uint64_t v)
{
    int rc;
    char *p = frame_open(b, 8, &rc);
    if (!p) return rc;
    codec_put64(p, v);
    frame_close(b, op, 8);
    return 0;
}

int wal_record_txfloor(wal_buf *b, uint64_t floor)
{
    return record_u64(b, WAL_OP_TXFLOOR, floor);
}

int wal_record_txabort(wal_buf *b, uint64_t txid)
{
    return record_u64(b, WAL_OP_TXABORT, txid);
}

void wal_record_tx_shards(const wal_rec *r, uint32_t *out)
{
    size_t off = 0;
    for (uint32_t i = 0; i < r->nparts; i++) {
        uint64_t v = 0;
        (void)varint_get((const char *)r->parts.p, r->parts.len, &off, &v);
        out[i] = (uint32_t)v;
    }
}

/* ---- decoding ---- */

static int take_bytes(const unsigned char *p, size_t n, size_t *off, kv_str *out)
{
    uint64_t len;
    if (varint_get((const char *)p, n, off, &len) || len > n - *off) return -1;
    out->p = (const char *)p + *off;
    out->len = (size_t)len;
    *off += (size_t)len;
    return 0;
}

static const char *decode_payload(uint8_t op, const unsigned char *p, size_t n, wal_rec *r)
{
    size_t off = 0;
    switch (op) {
    case WAL_OP_PUT: {
        if (n < 2) return "short PUT";
        r->vtype = p[0];
        uint8_t flags = p[1];
        off = 2;
        if (flags & ~WAL_PUT_HAS_EXPIRY) return "unknown PUT flags";
        if (flags & WAL_PUT_HAS_EXPIRY) {
            if (n - off < 8) return "short PUT expiry";
            r->expire_ms = (int64_t)codec_get64(p + off);
            if (r->expire_ms < 0) return "negative expiry";
            off += 8;
        }
        if (take_bytes(p, n, &off, &r->key)) return "bad PUT key length";
        if (take_bytes(p, n, &off, &r->val)) return "bad PUT value length";
        break;
    }
    case WAL_OP_DEL:
        if (take_bytes(p, n, &off, &r->key)) return "bad DEL key length";
        break;
    case WAL_OP_CLEAR:
        break;
    case WAL_OP_HSET:
        if (take_bytes(p, n, &off, &r->key)) return "bad HSET key length";
        if (take_bytes(p, n, &off, &r->field)) return "bad HSET field length";
        if (take_bytes(p, n, &off, &r->val)) return "bad HSET value length";
        break;
    case WAL_OP_HDEL:
        if (take_bytes(p, n, &off, &r->key)) return "bad HDEL key length";
        if (take_bytes(p, n, &off, &r->field)) return "bad HDEL field length";
        break;
    case WAL_OP_EXPIRE: {
        if (n < 1) return "short EXPIRE";
        uint8_t flags = p[0];
        off = 1;
        if (flags & ~WAL_PUT_HAS_EXPIRY) return "unknown EXPIRE flags";
        if (flags & WAL_PUT_HAS_EXPIRY) {
            if (n - off < 8) return "short EXPIRE expiry";
            r->expire_ms = (int64_t)codec_get64(p + off);
            if (r->expire_ms < 0) return "negative expiry";
            off += 8;
        }
        if (take_bytes(p, n, &off, &r->key)) return "bad EXPIRE key length";
        break;
    }
    case WAL_OP_DB: {
        uint64_t db;
        if (varint_get((const char *)p, n, &off, &db) || db >= 256) return "bad DB index";
        r->db = (uint32_t)db;
        break;
    }
    case WAL_OP_TX: {
        uint64_t np, prev = 0, v;
        if (n < 8) return "short TX";
        r->txid = codec_get64(p);
        off = 8;
        if (varint_get((const char *)p, n, &off, &r->part_bytes) ||
            r->part_bytes > ((uint64_t)1 << 62))
            return "bad TX part length";
        if (varint_get((const char *)p, n, &off, &np) || np < 2 || np > 65536)
            return "bad TX participant count";
        r->nparts = (uint32_t)np;
        r->parts.p = (const char *)p + off;
        for (uint64_t i = 0; i < np; i++) {
            if (varint_get((const char *)p, n, &off, &v) || v > UINT32_MAX || (i && v <= prev))
                return "bad TX participant";
            prev = v;
        }
        r->parts.len = (size_t)((const char *)p + off - r->parts.p);
        break;
    }
    case WAL_OP_TXFLOOR:
    case WAL_OP_TXABORT:
        if (n < 8) return "short TXFLOOR/TXABORT";
        r->txid = codec_get64(p);
        off = 8;
        break;
    case WAL_OP_SNAP_END:
        if (n < 8) return "short SNAP_END";
        r->count = codec_get64(p);
        off = 8;
        break;
    default:
        return "unknown record type";
    }
    if (off != n) return "trailing bytes in payload";
    return NULL;
}

int64_t wal_record_decode(const void *buf, size_t n, wal_rec *out, const char **why)
{
    const unsigned char *h = buf;
    const char *dummy;
    if (!why) why = &dummy;
    *why = NULL;
    if (n < 9) return KV_EAGAIN;
    if (crc32c_unmask(codec_get32(h)) != crc32c(h + 4, 5)) {
        *why = "header checksum mismatch";
        return KV_EPROTO;
    }
    uint32_t len = codec_get32(h + 4);
    uint8_t op = h[8];
    if (len > WAL_REC_MAX_PAYLOAD) {
        *why = "record length over the limit";
        return KV_EPROTO;
    }
    if (n < (size_t)WAL_REC_HEADER + len) return KV_EAGAIN;
    uint32_t c = crc32c_extend(crc32c(h + 8, 1), h + WAL_REC_HEADER, len);
    if (crc32c_unmask(codec_get32(h + 9)) != c) {
        *why = "record checksum mismatch";
        return KV_EPROTO;
    }
    memset(out, 0, sizeof *out);
    out->op = op;
    out->expire_ms = -1;
    *why = decode_payload(op, h + WAL_REC_HEADER, len, out);
    if (*why) return KV_EPROTO;
    return (int64_t)WAL_REC_HEADER + len;
}
