/* libFuzzer target for persist/wal_record.c: the input is a stream of log
 * records, decoded one after another as recovery does. Every answer is
 * checked (lengths in range, strings inside the input, only known types),
 * and every decoded record is encoded again with the writer's functions and
 * must decode to the same fields: the decoder accepts nothing the encoders
 * could not have written, field for field. Any failure aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_util.h"
#include "engine/kv.h"
#include "persist/wal_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const kv_str *s, const uint8_t *base, size_t n)
{
    if (s->len == 0) return 1;
    const uint8_t *p = (const uint8_t *)s->p;
    return p >= base && s->len <= n && (size_t)(p - base) <= n - s->len;
}

static int same(const kv_str *a, const kv_str *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Writes r again with the encoders; 0 if r's op has no encoder here. */
static int reencode(wal_buf *b, const wal_rec *r)
{
    switch (r->op) {
    case WAL_OP_PUT:
        return wal_record_put(b, r->vtype, r->key.p, r->key.len, r->val.p, r->val.len,
                              r->expire_ms) == 0;
    case WAL_OP_DEL:
        return wal_record_del(b, r->key.p, r->key.len) == 0;
    case WAL_OP_CLEAR:
        return wal_record_clear(b) == 0;
    case WAL_OP_HSET:
        return wal_record_hset(b, &r->key, &r->field, &r->val) == 0;
    case WAL_OP_HDEL:
        return wal_record_hdel(b, &r->key, &r->field) == 0;
    case WAL_OP_EXPIRE:
        return wal_record_expire(b, &r->key, r->expire_ms) == 0;
    case WAL_OP_SNAP_END:
        return wal_record_snap_end(b, r->count) == 0;
    case WAL_OP_DB:
        return wal_record_db(b, r->db) == 0;
    case WAL_OP_TX: {
        uint32_t *sh = malloc(r->nparts * sizeof *sh);
        CHECK(sh != NULL);
        wal_record_tx_shards(r, sh);
        int ok = wal_record_tx(b, r->txid, r->part_bytes, sh, r->nparts) == 0;
        free(sh);
        return ok;
    }
    case WAL_OP_TXFLOOR:
        return wal_record_txfloor(b, r->txid) == 0;
    case WAL_OP_TXABORT:
        return wal_record_txabort(b, r->txid) == 0;
    default:
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        wal_rec r;
        const char *why = NULL;
        int64_t got = wal_record_decode(data + off, size - off, &r, &why);
        if (got == KV_EAGAIN) break; /* a torn tail */
        if (got == KV_EPROTO) {
            CHECK(why != NULL);
            break;
        }
        CHECK(got >= WAL_REC_HEADER && (uint64_t)got <= size - off);
        const uint8_t *rec = data + off;
        size_t n = (size_t)got;
        CHECK(inside(&r.key, rec, n) && inside(&r.val, rec, n) && inside(&r.field, rec, n));
        CHECK(inside(&r.parts, rec, n));
        CHECK(r.op >= WAL_OP_PUT && (r.op <= WAL_OP_TXABORT || r.op == WAL_OP_SNAP_END));

        wal_buf b;
        wal_buf_init(&b);
        CHECK(reencode(&b, &r));
        wal_rec r2;
        int64_t got2 = wal_record_decode(b.data, b.len, &r2, &why);
        CHECK(got2 == (int64_t)b.len);
        CHECK(r2.op == r.op && same(&r2.key, &r.key) && same(&r2.val, &r.val) &&
              same(&r2.field, &r.field));
        if (r.op == WAL_OP_PUT) CHECK(r2.vtype == r.vtype && r2.expire_ms == r.expire_ms);
        if (r.op == WAL_OP_EXPIRE) CHECK(r2.expire_ms == r.expire_ms);
        if (r.op == WAL_OP_SNAP_END) CHECK(r2.count == r.count);
        if (r.op == WAL_OP_DB) CHECK(r2.db == r.db);
        CHECK(r2.txid == r.txid && r2.part_bytes == r.part_bytes && r2.nparts == r.nparts &&
              same(&r2.parts, &r.parts));
        wal_buf_destroy(&b);
        off += n;
    }
    return 0;
}
