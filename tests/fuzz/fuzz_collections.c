/* libFuzzer target for the list, set and sorted-set decoders (lobj_decode,
 * sobj_decode, zobj_decode: PUT values of the log, snapshots and
 * cross-shard RENAME) and the replay of the log's list and set change
 * records (cmd_list_replay, cmd_set_replay). The first byte picks what is
 * fed: 0-2 one value to decode; 3 a stream of change records (u8 type 4 or
 * 5, u8 length, bytes) replayed on two keys of one shard. A value that
 * decodes must encode to bytes that decode to the same encoding (a set:
 * the same size, its table order may differ); after a
 * replay every key left is a non-empty list or set. Any failure aborts. */
#include <stddef.h>
#include <stdint.h>

#include "engine/cmd.h"
#include "engine/entry.h"
#include "tests/fuzz/fuzz_util.h"
#include "engine/kv.h"
#include "engine/lobj.h"
#include "engine/shard.h"
#include "engine/sobj.h"
#include "engine/zobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kv_hash_secret secret = {{1, 2, 3, 4}};

static void roundtrip(unsigned type, const char *p, size_t n)
{
    void *o = entry_obj_decode(&secret, type, p, n);
    if (o == NULL) return;
    kvbuf a, b;
    kvbuf_init(&a);
    kvbuf_init(&b);
    if (type == KV_TYPE_LIST) lobj_encode(o, &a);
    if (type == KV_TYPE_SET) sobj_encode(o, &a);
    if (type == KV_TYPE_ZSET) zobj_encode(o, &a);
    void *o2 = entry_obj_decode(&secret, type, a.data, a.len);
    CHECK(o2 != NULL);
    if (type == KV_TYPE_LIST) lobj_encode(o2, &b);
    if (type == KV_TYPE_SET) sobj_encode(o2, &b);
    if (type == KV_TYPE_ZSET) zobj_encode(o2, &b);
    /* a set's table order may differ between two copies: same size then */
    CHECK(a.len == b.len && (type == KV_TYPE_SET || memcmp(a.data, b.data, a.len) == 0));
    if (type == KV_TYPE_SET) CHECK(sobj_len(o) == sobj_len(o2));
    entry_obj_free(type, o);
    entry_obj_free(type, o2);
    kvbuf_destroy(&a);
    kvbuf_destroy(&b);
}

static void check_key(shard_t *s, const char *k)
{
    kv_entry *e = shard_lookup(s, k, 1);
    if (e == NULL) return;
    CHECK(e->type == KV_TYPE_LIST || e->type == KV_TYPE_SET);
    if (e->type == KV_TYPE_LIST) CHECK(lobj_len(entry_lobj(e)) > 0);
    if (e->type == KV_TYPE_SET) CHECK(sobj_len(entry_sobj(e)) > 0);
}

static void replay(const uint8_t *d, size_t n)
{
    shard_t s;
    shard_init(&s, 0, &secret);
    size_t off = 0;
    while (off + 2 <= n) {
        unsigned type = d[off] & 1 ? KV_TYPE_SET_DELTA : KV_TYPE_LIST_DELTA;
        kv_str key = {d[off] & 2 ? "b" : "a", 1};
        size_t len = d[off + 1];
        off += 2;
        if (len > n - off) len = n - off;
        if (type == KV_TYPE_LIST_DELTA)
            (void)cmd_list_replay(&s, &key, (const char *)d + off, len);
        else
            (void)cmd_set_replay(&s, &key, (const char *)d + off, len);
        off += len;
        check_key(&s, "a");
        check_key(&s, "b");
    }
    shard_destroy(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *p = (const char *)data + 1;
    switch (data[0] % 4) {
    case 0:
        roundtrip(KV_TYPE_LIST, p, size - 1);
        break;
    case 1:
        roundtrip(KV_TYPE_SET, p, size - 1);
        break;
    case 2:
        roundtrip(KV_TYPE_ZSET, p, size - 1);
        break;
    default:
        replay(data + 1, size - 1);
        break;
    }
    return 0;
}
