/* test_wal_record.c - record encoding/decoding: round trips, every torn
 * prefix is incomplete, every bit flip is corrupt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "persist/crc32c.h"
#include "persist/codec.h"
#include "persist/wal_record.h"

/* Builds one of each record kind into b; returns the count. */
static int build_sample(wal_buf *b)
{
    static const char bin[] = {'a', 0, 'b', '\xff', '\n'};
    assert_int_equal(wal_record_put(b, 0, "key", 3, "value", 5, -1), 0);
    assert_int_equal(wal_record_put(b, 1, bin, sizeof bin, "", 0, 1700000000123LL), 0);
    assert_int_equal(wal_record_put(b, 0, "", 0, bin, sizeof bin, 0), 0);
    assert_int_equal(wal_record_del(b, "key", 3), 0);
    assert_int_equal(wal_record_clear(b), 0);
    assert_int_equal(wal_record_del(b, "", 0), 0);
    assert_int_equal(wal_record_snap_end(b, 42), 0);
    kv_str k = {bin, sizeof bin}, f = {"f\r\n", 3}, v = {"\0v", 2}, e = {"", 0};
    assert_int_equal(wal_record_hset(b, &k, &f, &v), 0);
    assert_int_equal(wal_record_hset(b, &e, &e, &e), 0);
    assert_int_equal(wal_record_hdel(b, &k, &f), 0);
    assert_int_equal(wal_record_expire(b, &k, 1700000000123LL), 0);
    assert_int_equal(wal_record_expire(b, &k, -1), 0);
    return 12;
}

static void test_roundtrip(void **state)
{
    (void)state;
    wal_buf b;
    wal_buf_init(&b);
    int n = build_sample(&b);
    wal_rec r;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const char *why = "x";
        int64_t got = wal_record_decode(b.data + off, b.len - off, &r, &why);
        assert_true(got > 0);
        assert_null(why);
        switch (i) {
        case 0:
            assert_int_equal(r.op, WAL_OP_PUT);
            assert_int_equal(r.vtype, 0);
            assert_int_equal(r.expire_ms, -1);
            assert_int_equal(r.key.len, 3);
            assert_memory_equal(r.key.p, "key", 3);
            assert_int_equal(r.val.len, 5);
            assert_memory_equal(r.val.p, "value", 5);
            assert_int_equal((size_t)got, wal_record_put_size(3, 5, -1));
            break;
        case 1:
            assert_int_equal(r.op, WAL_OP_PUT);
            assert_int_equal(r.vtype, 1);
            assert_int_equal(r.expire_ms, 1700000000123LL);
            assert_int_equal(r.key.len, 5);
            assert_memory_equal(r.key.p, "a\0b\xff\n", 5);
            assert_int_equal(r.val.len, 0);
            break;
        case 2:
            assert_int_equal(r.expire_ms, 0);
            assert_int_equal(r.key.len, 0);
            assert_int_equal(r.val.len, 5);
            break;
        case 3:
            assert_int_equal(r.op, WAL_OP_DEL);
            assert_memory_equal(r.key.p, "key", 3);
            break;
        case 4:
            assert_int_equal(r.op, WAL_OP_CLEAR);
            assert_int_equal(got, WAL_REC_HEADER);
            break;
        case 5:
            assert_int_equal(r.op, WAL_OP_DEL);
            assert_int_equal(r.key.len, 0);
            break;
        case 6:
            assert_int_equal(r.op, WAL_OP_SNAP_END);
            assert_int_equal(r.count, 42);
            break;
        case 7:
            assert_int_equal(r.op, WAL_OP_HSET);
            assert_int_equal(r.key.len, 5);
            assert_memory_equal(r.key.p, "a\0b\xff\n", 5);
            assert_int_equal(r.field.len, 3);
            assert_memory_equal(r.field.p, "f\r\n", 3);
            assert_int_equal(r.val.len, 2);
            assert_memory_equal(r.val.p, "\0v", 2);
            break;
        case 8:
            assert_int_equal(r.op, WAL_OP_HSET);
            assert_int_equal(r.key.len + r.field.len + r.val.len, 0);
            break;
        case 9:
            assert_int_equal(r.op, WAL_OP_HDEL);
            assert_int_equal(r.key.len, 5);
            assert_int_equal(r.field.len, 3);
            break;
        case 10:
            assert_int_equal(r.op, WAL_OP_EXPIRE);
            assert_int_equal(r.expire_ms, 1700000000123LL);
            assert_int_equal(r.key.len, 5);
            break;
        case 11:
            assert_int_equal(r.op, WAL_OP_EXPIRE);
            assert_int_equal(r.expire_ms, -1);
            break;
        }
        off += (size_t)got;
    }
    assert_int_equal(off, b.len);
    assert_int_equal(wal_record_decode(b.data + off, 0, &r, NULL), KV_EAGAIN);
    wal_buf_destroy(&b);
    wal_buf_destroy(&b); /* twice is fine */
}

/* Large keys and values: multi-byte varints. */
static void test_large(void **state)
{
    (void)state;
    size_t klen = 300, vlen = 1 << 20;
    char *k = malloc(klen), *v = malloc(vlen);
    for (size_t i = 0; i < klen; i++) k[i] = (char)i;
    for (size_t i = 0; i < vlen; i++) v[i] = (char)(i * 7);
    wal_buf b;
    wal_buf_init(&b);
    assert_int_equal(wal_record_put(&b, 0, k, klen, v, vlen, 5), 0);
    assert_int_equal(b.len, wal_record_put_size(klen, vlen, 5));
    wal_rec r;
    assert_int_equal(wal_record_decode(b.data, b.len, &r, NULL), (int64_t)b.len);
    assert_int_equal(r.key.len, klen);
    assert_int_equal(r.val.len, vlen);
    assert_memory_equal(r.val.p, v, vlen);
    /* over the limit: refused, buffer unchanged */
    size_t before = b.len;
    assert_int_equal(wal_record_put(&b, 0, k, klen, v, (size_t)WAL_REC_MAX_PAYLOAD, -1), KV_ERANGE);
    assert_int_equal(b.len, before);
    wal_buf_destroy(&b);
    free(k);
    free(v);
}

/* Every proper prefix of the last record, after complete ones, decodes the
 * complete ones and then reports "incomplete", never "corrupt". */
static void test_every_truncation_incomplete(void **state)
{
    (void)state;
    wal_buf b;
    wal_buf_init(&b);
    int n = build_sample(&b);
    size_t starts[16], off = 0;
    wal_rec r;
    for (int i = 0; i < n; i++) {
        starts[i] = off;
        off += (size_t)wal_record_decode(b.data + off, b.len - off, &r, NULL);
    }
    starts[n] = off;
    /* each record in turn as "the last one" */
    for (int i = 0; i < n; i++) {
        for (size_t cut = starts[i]; cut < starts[i + 1]; cut++) {
            size_t pos = 0;
            int64_t got;
            int complete = 0;
            while ((got = wal_record_decode(b.data + pos, cut - pos, &r, NULL)) > 0) {
                pos += (size_t)got;
                complete++;
            }
            assert_int_equal(got, KV_EAGAIN);
            assert_int_equal(complete, i);
            assert_int_equal(pos, starts[i]);
        }
    }
    wal_buf_destroy(&b);
}

/* Every single bit flip anywhere in any record (header CRC, length, type,
 * record CRC, payload) is corrupt: never accepted, never "incomplete". */
static void test_every_bit_flip_corrupt(void **state)
{
    (void)state;
    wal_buf b;
    wal_buf_init(&b);
    int n = build_sample(&b);
    size_t off = 0;
    wal_rec r;
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)wal_record_decode(b.data + off, b.len - off, &r, NULL);
        for (size_t byte = off; byte < off + len; byte++)
            for (int bit = 0; bit < 8; bit++) {
                b.data[byte] ^= (char)(1 << bit);
                const char *why = NULL;
                /* the whole rest of the buffer is available: a flipped
                 * length must still not look like a torn tail */
                int64_t got = wal_record_decode(b.data + off, b.len - off, &r, &why);
                assert_int_equal(got, KV_EPROTO);
                assert_non_null(why);
                /* and with only the record's own bytes available */
                got = wal_record_decode(b.data + off, len, &r, NULL);
                assert_int_equal(got, KV_EPROTO);
                b.data[byte] ^= (char)(1 << bit);
            }
        off += len;
    }
    wal_buf_destroy(&b);
}

/* Writes a record with arbitrary type and payload and valid CRCs. */
static void seal(wal_buf *b, uint8_t type, const void *payload, uint32_t len, uint32_t hdr_len)
{
    assert_int_equal(wal_buf_reserve(b, WAL_REC_HEADER + len), 0);
    char *h = b->data + b->len;
    codec_put32(h + 4, hdr_len);
    h[8] = (char)type;
    codec_put32(h, crc32c_mask(crc32c(h + 4, 5)));
    memcpy(h + WAL_REC_HEADER, payload, len);
    codec_put32(h + 9, crc32c_mask(crc32c_extend(crc32c(h + 8, 1), h + WAL_REC_HEADER, len)));
    b->len += WAL_REC_HEADER + len;
}

static int64_t decode_sealed(uint8_t type, const void *payload, uint32_t len)
{
    wal_buf b;
    wal_buf_init(&b);
    seal(&b, type, payload, len, len);
    wal_rec r;
    int64_t got = wal_record_decode(b.data, b.len, &r, NULL);
    wal_buf_destroy(&b);
    return got;
}

/* Records with valid checksums but invalid contents are corrupt too. */
static void test_invalid_contents(void **state)
{
    (void)state;
    /* type 0, reserved and unknown types */
    assert_int_equal(decode_sealed(0, "", 0), KV_EPROTO);
    assert_int_equal(decode_sealed(7, "\x01k\x01v", 4), KV_EPROTO);
    assert_int_equal(decode_sealed(200, "", 0), KV_EPROTO);
    /* HSET without its value, HDEL without its field, EXPIRE flags */
    assert_int_equal(decode_sealed(WAL_OP_HSET, "\x01k\x01v", 4), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_HSET,
                                   "\x01k\x01"
                                   "f\x01v",
                                   6),
                     WAL_REC_HEADER + 6);
    assert_int_equal(decode_sealed(WAL_OP_HDEL, "\x01k", 2), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_HDEL, "\x01k\x00", 3), WAL_REC_HEADER + 3);
    assert_int_equal(decode_sealed(WAL_OP_EXPIRE, "\x02\x01k", 3), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_EXPIRE, "\x00\x01k", 3), WAL_REC_HEADER + 3);
    assert_int_equal(decode_sealed(WAL_OP_EXPIRE, "\x01\x01k", 3), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_CLEAR, "", 0), WAL_REC_HEADER);
    /* CLEAR with a payload; DEL whose key length overruns; trailing bytes */
    assert_int_equal(decode_sealed(WAL_OP_CLEAR, "x", 1), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_DEL, "\x05k", 2), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_DEL, "\x01kk", 3), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_DEL, "\x01k", 2), WAL_REC_HEADER + 2);
    /* non-canonical and over-long varints */
    assert_int_equal(decode_sealed(WAL_OP_DEL, "\x81\x00k", 3), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_DEL, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10),
                     KV_EPROTO);
    /* PUT: unknown flags, short expiry, negative expiry, missing value */
    assert_int_equal(decode_sealed(WAL_OP_PUT, "\x00\x02\x01k\x01v", 6), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_PUT, "\x00\x01\x01\x02", 4), KV_EPROTO);
    assert_int_equal(
        decode_sealed(WAL_OP_PUT, "\x00\x01\x00\x00\x00\x00\x00\x00\x00\x80\x01k\x00", 13),
        KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_PUT, "\x00\x00\x01k", 4), KV_EPROTO);
    assert_int_equal(decode_sealed(WAL_OP_PUT, "\x00\x00\x01k\x00", 5), WAL_REC_HEADER + 5);
    /* SNAP_END of the wrong size */
    assert_int_equal(decode_sealed(WAL_OP_SNAP_END, "1234567", 7), KV_EPROTO);
    /* a length over the limit with a valid header CRC: corrupt, not torn */
    wal_buf b;
    wal_buf_init(&b);
    seal(&b, WAL_OP_CLEAR, "", 0, WAL_REC_MAX_PAYLOAD + 1);
    wal_rec r;
    assert_int_equal(wal_record_decode(b.data, b.len, &r, NULL), KV_EPROTO);
    wal_buf_destroy(&b);
    /* zero-filled space is corrupt, not a record */
    char zero[64] = {0};
    assert_int_equal(wal_record_decode(zero, sizeof zero, &r, NULL), KV_EPROTO);
    assert_int_equal(wal_record_decode(zero, 8, &r, NULL), KV_EAGAIN);
}

static void test_buf(void **state)
{
    (void)state;
    wal_buf b;
    wal_buf_init(&b);
    for (int i = 0; i < 1000; i++) assert_int_equal(wal_buf_append(&b, "abcd", 4), 0);
    assert_int_equal(b.len, 4000);
    wal_buf_consume(&b, 3998);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "cd", 2);
    wal_buf_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_every_truncation_incomplete),
        cmocka_unit_test(test_every_bit_flip_corrupt),
        cmocka_unit_test(test_invalid_contents),
        cmocka_unit_test(test_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
