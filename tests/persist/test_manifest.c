/* test_manifest.c - manifest write/read, atomic switch, corruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "persist/crc32c.h"
#include "persist/manifest.h"
#include "tests/persist/test_util.h"

static int setup(void **state)
{
    *state = tu_mkdtemp();
    return 0;
}

static int teardown(void **state)
{
    tu_rmtree(*state);
    return 0;
}

static void make(manifest *m, uint32_t n)
{
    kv_hash_secret sec;
    for (int i = 0; i < 16; i++) sec.k[i] = (uint8_t)(0xa0 + i);
    assert_int_equal(manifest_init(m, n, &sec), 0);
    for (uint32_t i = 0; i < n; i++) {
        m->shards[i].snap_seq = i % 2 ? 0 : 10 + i;
        m->shards[i].first_seq = 10 + i + (i % 3);
        m->shards[i].last_seq = i % 4 == 3 ? 0 : m->shards[i].first_seq + i;
    }
}

static void assert_same(const manifest *a, const manifest *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->nshards, b->nshards);
    assert_memory_equal(a->secret.k, b->secret.k, 16);
    assert_int_equal(a->generation, b->generation);
    for (uint32_t i = 0; i < a->nshards; i++) {
        assert_int_equal(a->shards[i].snap_seq, b->shards[i].snap_seq);
        assert_int_equal(a->shards[i].first_seq, b->shards[i].first_seq);
        assert_int_equal(a->shards[i].last_seq, b->shards[i].last_seq);
    }
}

static void test_fresh_and_roundtrip(void **state)
{
    char *dir = *state;
    manifest m, r;
    char err[600];
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), 1);
    assert_null(r.shards);
    make(&m, 8);
    assert_int_equal(m.generation, 0);
    assert_int_equal(manifest_write(dir, &m), 0);
    assert_int_equal(m.generation, 1);
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), 0);
    assert_same(&m, &r);
    manifest_destroy(&r);
    manifest_destroy(&r); /* twice is fine */

    /* a switch: one shard compacted */
    m.shards[3].snap_seq = 40;
    m.shards[3].first_seq = 40;
    assert_int_equal(manifest_write(dir, &m), 0);
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), 0);
    assert_same(&m, &r);
    assert_int_equal(r.generation, 2);
    manifest_destroy(&r);
    manifest_destroy(&m);

    /* invalid contents are refused, not written */
    assert_int_equal(manifest_init(&m, 0, NULL), KV_EINVAL);
    make(&m, 2);
    m.shards[1].first_seq = 0;
    assert_int_equal(manifest_write(dir, &m), KV_EINVAL);
    m.shards[1].first_seq = 5;
    m.shards[1].snap_seq = 6;
    assert_int_equal(manifest_write(dir, &m), KV_EINVAL);
    m.shards[1].snap_seq = 5;
    m.shards[1].last_seq = 4; /* a last segment before the first one */
    assert_int_equal(manifest_write(dir, &m), KV_EINVAL);
    manifest_destroy(&m);
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), 0);
    assert_int_equal(r.nshards, 8);
    manifest_destroy(&r);
}

/* A crash between writing MANIFEST.tmp and the rename leaves a tmp file:
 * it is ignored (garbage or a complete newer one alike), and the next write
 * replaces it. */
static void test_leftover_tmp_ignored(void **state)
{
    char *dir = *state;
    manifest m, r, newer;
    char tmp[600], err[600];
    snprintf(tmp, sizeof tmp, "%s/MANIFEST.tmp", dir);
    make(&m, 4);
    assert_int_equal(manifest_write(dir, &m), 0);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, "half a manif", 12), 12);
    close(fd);
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), 0);
    assert_same(&m, &r);
    manifest_destroy(&r);

    /* a complete but never renamed newer manifest is not live either */
    char final[600];
    snprintf(final, sizeof final, "%s/MANIFEST", dir);
    make(&newer, 4);
    newer.shards[0].first_seq = 99;
    newer.shards[0].last_seq = 99;
    char *sub = malloc(strlen(dir) + 8);
    sprintf(sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(manifest_write(sub, &newer), 0);
    char subm[600];
    snprintf(subm, sizeof subm, "%s/MANIFEST", sub);
    tu_copy(subm, tmp);
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), 0);
    assert_int_equal(r.shards[0].first_seq, m.shards[0].first_seq);
    manifest_destroy(&r);

    /* the next switch replaces the tmp and becomes live */
    m.shards[2].first_seq = 77;
    m.shards[2].last_seq = 78;
    assert_int_equal(manifest_write(dir, &m), 0);
    assert_false(tu_file_exists(tmp));
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), 0);
    assert_int_equal(r.shards[2].first_seq, 77);
    manifest_destroy(&r);
    manifest_destroy(&newer);
    manifest_destroy(&m);
    free(sub);
}

/* Every flipped byte and every truncation is detected. */
static void test_corrupt_detected(void **state)
{
    char *dir = *state;
    manifest m, r;
    char path[600], err[600];
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    make(&m, 3);
    assert_int_equal(manifest_write(dir, &m), 0);
    uint64_t size = tu_file_size(path);
    assert_int_equal(size, 48 + 3 * 24 + 4);
    for (uint64_t i = 0; i < size; i++) {
        tu_flip(path, i, 0x01);
        assert_int_equal(manifest_read(dir, &r, err, sizeof err), KV_EPROTO);
        assert_non_null(strstr(err, "MANIFEST"));
        assert_null(r.shards);
        tu_flip(path, i, 0x01);
    }
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), 0);
    manifest_destroy(&r);
    for (uint64_t cut = 0; cut < size; cut += 5) {
        manifest_write(dir, &m);
        assert_int_equal(truncate(path, (off_t)cut), 0);
        assert_int_equal(manifest_read(dir, &r, err, sizeof err), KV_EPROTO);
    }
    /* a directory where the file should be: unreadable, not "fresh" */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_true(manifest_read(dir, &r, err, sizeof err) < 0);
    assert_int_equal(rmdir(path), 0);
    manifest_destroy(&m);
}

/* A version 1 manifest (16 bytes per shard, no last_seq), as written
 * before issue 13, byte by byte as docs/persistence.md describes it: read
 * with last_seq 0 (unknown), rewritten as version 2. */
static void test_version1_read(void **state)
{
    char *dir = *state;
    char path[600], err[600], buf[48 + 2 * 16 + 4];
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    memset(buf, 0, sizeof buf);
    memcpy(buf, "MKVMANI\n", 8);
    buf[8] = 1;  /* version */
    buf[12] = 2; /* nshards */
    for (int i = 0; i < 16; i++) buf[16 + i] = (char)(0x30 + i);
    buf[32] = 7;     /* generation */
    buf[48] = 4;     /* shard 0: snap_seq 4 */
    buf[56] = 4;     /*          first_seq 4 */
    buf[64 + 8] = 1; /* shard 1: no snapshot, first_seq 1 */
    uint32_t crc = crc32c_mask(crc32c(buf, sizeof buf - 4));
    for (int i = 0; i < 4; i++) buf[sizeof buf - 4 + (size_t)i] = (char)(crc >> (8 * i));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    close(fd);

    manifest m, r;
    assert_int_equal(manifest_read(dir, &m, err, sizeof err), 0);
    assert_int_equal(m.version, 1);
    assert_int_equal(m.nshards, 2);
    assert_int_equal(m.generation, 7);
    assert_int_equal(m.secret.k[15], 0x3f);
    assert_int_equal(m.shards[0].snap_seq, 4);
    assert_int_equal(m.shards[0].first_seq, 4);
    assert_int_equal(m.shards[0].last_seq, 0);
    assert_int_equal(m.shards[1].first_seq, 1);
    assert_int_equal(m.shards[1].last_seq, 0);
    m.shards[1].last_seq = 3;
    assert_int_equal(manifest_write(dir, &m), 0);
    assert_int_equal(m.version, MANIFEST_FORMAT_VERSION);
    assert_int_equal(tu_file_size(path), 48 + 2 * 24 + 4);
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), 0);
    assert_same(&m, &r);
    manifest_destroy(&r);
    manifest_destroy(&m);

    /* a version from the future is refused with a message saying so */
    buf[8] = 3;
    crc = crc32c_mask(crc32c(buf, sizeof buf - 4));
    for (int i = 0; i < 4; i++) buf[sizeof buf - 4 + (size_t)i] = (char)(crc >> (8 * i));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    close(fd);
    assert_int_equal(manifest_read(dir, &r, err, sizeof err), KV_EPROTO);
    assert_non_null(strstr(err, "newer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_and_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftover_tmp_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version1_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
