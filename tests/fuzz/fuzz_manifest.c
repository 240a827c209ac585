/* libFuzzer target for persist/manifest.c: the input is written as
 * <dir>/MANIFEST and read with manifest_read, as start-up does. A manifest
 * it accepts must be in range, and writing it back (manifest_write) and
 * reading that again must give the same content with the generation
 * bumped: what the reader accepts, the writer can reproduce. Any failure
 * aborts. */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz_util.h"
#include "engine/kv.h"
#include "persist/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    snprintf(path, sizeof path, "%s/MANIFEST", fuzz_dir());
    fuzz_write_file(path, data, size);
    manifest m;
    char err[256] = "";
    int rc = manifest_read(fuzz_dir(), &m, err, sizeof err);
    CHECK(rc == 0 || rc == KV_EPROTO || rc == KV_EIO);
    if (rc == KV_EPROTO) CHECK(err[0] != '\0');
    if (rc != 0) return 0;
    CHECK(m.version == 1 || m.version == MANIFEST_FORMAT_VERSION);
    CHECK(m.nshards >= 1 && m.nshards <= MANIFEST_MAX_SHARDS);
    for (uint32_t i = 0; i < m.nshards; i++)
        CHECK(m.shards[i].first_seq >= 1 &&
              (m.shards[i].last_seq == 0 || m.shards[i].last_seq >= m.shards[i].first_seq));
    uint64_t gen = m.generation;
    CHECK(manifest_write(fuzz_dir(), &m) == 0);
    manifest m2;
    CHECK(manifest_read(fuzz_dir(), &m2, err, sizeof err) == 0);
    CHECK(m2.generation == gen + 1 && m2.nshards == m.nshards &&
          memcmp(&m2.secret, &m.secret, sizeof m.secret) == 0);
    for (uint32_t i = 0; i < m.nshards; i++)
        CHECK(m2.shards[i].snap_seq == m.shards[i].snap_seq &&
              m2.shards[i].first_seq == m.shards[i].first_seq &&
              m2.shards[i].last_seq == m.shards[i].last_seq);
    manifest_destroy(&m);
    manifest_destroy(&m2);
    return 0;
}
