/* libFuzzer target for persist/snap.c's reader: the input is written as
 * the snapshot its own header names (shard and seq read from bytes 12 and
 * 16, so real snapshots in the seed corpus pass the header check; shard 0
 * seq 1 for inputs too short) and loaded with snap_load, as recovery does. The
 * loader must answer 0, KV_EPROTO (with the file and offset in err) or
 * KV_EIO, hand the callback only PUT and HSET records whose strings are
 * readable, and report as many entries as it handed PUTs. Any failure (or
 * a sanitizer report) aborts. */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz_util.h"
#include "engine/kv.h"
#include "persist/snap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
    uint64_t puts;
    uint64_t sum; /* touches every byte handed over */
} seen;

static int on_entry(void *ctx, const wal_rec *r)
{
    seen *s = ctx;
    CHECK(r->op == WAL_OP_PUT || r->op == WAL_OP_HSET);
    if (r->op == WAL_OP_PUT) s->puts++;
    for (size_t i = 0; i < r->key.len; i++) s->sum += (uint8_t)r->key.p[i];
    for (size_t i = 0; i < r->val.len; i++) s->sum += (uint8_t)r->val.p[i];
    for (size_t i = 0; i < r->field.len; i++) s->sum += (uint8_t)r->field.p[i];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t shard = 0;
    uint64_t seq = 1;
    if (size >= 24) {
        memcpy(&shard, data + 12, sizeof shard); /* little-endian, as written */
        memcpy(&seq, data + 16, sizeof seq);
    }
    char path[256];
    CHECK(snap_path(path, sizeof path, fuzz_dir(), seq, 0) == 0);
    fuzz_write_file(path, data, size);
    seen s = {0, 0};
    uint64_t entries = 0;
    char err[512] = "";
    int rc = snap_load(fuzz_dir(), shard, seq, on_entry, &s, &entries, err, sizeof err);
    CHECK(rc == 0 || rc == KV_EPROTO || rc == KV_EIO);
    if (rc == 0) CHECK(entries == s.puts);
    if (rc == KV_EPROTO) CHECK(strstr(err, path) != NULL);
    unlink(path); /* one file per seq would otherwise pile up */
    return 0;
}
