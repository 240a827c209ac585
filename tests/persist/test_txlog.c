/* test_txlog.c - transactions over several shards at recovery: TX records
 * (wal_insert_tx), the scan_only pre-pass of recover_shard, txlog's
 * decision, and the replay that skips the parts of dropped transactions.
 * The logs are crafted with the wal API, one directory per shard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "persist/recover.h"
#include "tests/persist/test_util.h"
#include "persist/txlog.h"
#include "persist/wal.h"

#define NSH 3

static const recover_ops model_ops = {.put = tu_cb_put, .del = tu_cb_del, .clear = tu_cb_clear};

typedef struct fixture {
    char *root;
    char dir[NSH][512];
    wal_t *w[NSH];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->root = tu_mkdtemp();
    wal_opts o = {.fsync = WAL_FSYNC_ALWAYS};
    for (uint32_t s = 0; s < NSH; s++) {
        wal_shard_dir(f->dir[s], sizeof f->dir[s], f->root, s);
        assert_int_equal(wal_open(&f->w[s], f->dir[s], s, 1, WAL_PREV_ANY, &o), 0);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (uint32_t s = 0; s < NSH; s++) wal_free(f->w[s]);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static void put(fixture *f, uint32_t s, const char *k, const char *v)
{
    assert_int_equal(wal_append_put(f->w[s], 0, k, strlen(k), v, strlen(v), -1), 0);
}

/* Shard s's part of transaction id over shards[0..n): puts k=v, then the
 * TX record goes in front of it. */
static void tx_part(fixture *f, uint32_t s, uint64_t id, const uint32_t *shards, uint32_t n,
                    const char *k, const char *v)
{
    size_t at = wal_pending(f->w[s]);
    put(f, s, k, v);
    put(f, s, "txk2", v); /* two records: the part is more than one record */
    assert_int_equal(wal_insert_tx(f->w[s], at, id, shards, n), 0);
}

static void commit_all(fixture *f)
{
    for (uint32_t s = 0; s < NSH; s++) {
        assert_int_equal(wal_commit(f->w[s]), 0);
        assert_int_equal(wal_sync(f->w[s]), 0);
    }
}

/* The server's two passes over every shard: scan all, decide, replay all.
 * snap_seq = 1 makes a TXFLOOR in segment 1 count (no snapshot is loaded
 * by the pre-pass; the replay gets snap_seq 0). */
static uint64_t recover_all(fixture *f, tu_model *m, int floor_seg1)
{
    txlog *t = txlog_new(NSH);
    assert_non_null(t);
    recover_tx_ops txo = {txlog_part, txlog_abort, txlog_floor, txlog_keep, t};
    recover_result res;
    for (uint32_t s = 0; s < NSH; s++) {
        recover_opts o = {.shard_dir = f->dir[s],
                          .shard = s,
                          .first_seq = 1,
                          .snap_seq = floor_seg1 ? 1 : 0,
                          .scan_only = 1,
                          .tx = &txo};
        assert_int_equal(recover_shard(&o, &model_ops, NULL, &res), 0);
    }
    uint64_t dropped = 0;
    assert_int_equal(txlog_decide(t, &dropped), 0);
    for (uint32_t s = 0; s < NSH; s++) {
        recover_opts o = {.shard_dir = f->dir[s], .shard = s, .first_seq = 1, .tx = &txo};
        assert_int_equal(recover_shard(&o, &model_ops, &m[s], &res), 0);
    }
    assert_true(txlog_next_id(t) > 0);
    txlog_free(t);
    return dropped;
}

static int has(tu_model *m, const char *k, const char *v)
{
    tu_item *e = tu_find(m, k, strlen(k));
    return e && e->vlen == strlen(v) && !memcmp(e->val, v, e->vlen);
}

static void models_free(tu_model *m)
{
    for (int s = 0; s < NSH; s++) tu_model_free(&m[s]);
}

/* The TX record decodes to what was encoded, and is rejected when damaged. */
static void test_record(void **state)
{
    (void)state;
    wal_buf b;
    wal_buf_init(&b);
    uint32_t sh[3] = {1, 5, 300};
    assert_int_equal(wal_record_tx(&b, 42, 1234, sh, 3), 0);
    wal_rec r;
    assert_int_equal(wal_record_decode(b.data, b.len, &r, NULL), (int64_t)b.len);
    assert_int_equal(r.op, WAL_OP_TX);
    assert_int_equal(r.txid, 42);
    assert_int_equal(r.part_bytes, 1234);
    assert_int_equal(r.nparts, 3);
    uint32_t got[3];
    wal_record_tx_shards(&r, got);
    assert_memory_equal(got, sh, sizeof sh);
    uint32_t bad[2] = {5, 5}; /* not increasing */
    assert_int_equal(wal_record_tx(&b, 1, 1, bad, 2), KV_EINVAL);
    assert_int_equal(wal_record_tx(&b, 1, 1, sh, 1), KV_EINVAL); /* one shard: no TX */
    size_t n = b.len;
    assert_int_equal(wal_record_txfloor(&b, 7), 0);
    assert_int_equal(wal_record_decode(b.data + n, b.len - n, &r, NULL), (int64_t)(b.len - n));
    assert_int_equal(r.op, WAL_OP_TXFLOOR);
    assert_int_equal(r.txid, 7);
    for (size_t i = 1; i < n; i++) /* every prefix is incomplete */
        assert_int_equal(wal_record_decode(b.data, i, &r, NULL), KV_EAGAIN);
    wal_buf_destroy(&b);
}

/* Transaction 5 has both parts, 6 lacks shard 1's part (a crash between
 * the two shards' writes): 5 is applied, nothing of 6, and the plain
 * records around them are applied as usual. On the old code (no
 * pre-pass) 6's part on shard 0 was applied. */
static void test_missing_part(void **state)
{
    fixture *f = *state;
    uint32_t both[2] = {0, 1};
    put(f, 0, "a", "plain0");
    put(f, 1, "b", "plain1");
    tx_part(f, 0, 5, both, 2, "x", "tx5");
    tx_part(f, 1, 5, both, 2, "y", "tx5");
    tx_part(f, 0, 6, both, 2, "x", "tx6"); /* shard 1's part of 6 never written */
    put(f, 0, "c", "after");
    commit_all(f);
    tu_model m[NSH] = {{0}};
    assert_int_equal(recover_all(f, m, 0), 1);
    assert_true(has(&m[0], "a", "plain0"));
    assert_true(has(&m[1], "b", "plain1"));
    assert_true(has(&m[0], "x", "tx5"));
    assert_true(has(&m[1], "y", "tx5"));
    assert_true(has(&m[0], "txk2", "tx5")); /* not tx6's second record either */
    assert_true(has(&m[0], "c", "after"));
    models_free(m);
}

/* A part cut short (torn tail inside it) is not a part: none applied. */
static void test_torn_part(void **state)
{
    fixture *f = *state;
    uint32_t both[2] = {1, 2};
    tx_part(f, 1, 9, both, 2, "p", "tx9");
    tx_part(f, 2, 9, both, 2, "q", "tx9");
    commit_all(f);
    char path[600];
    assert_int_equal(wal_seg_path(path, sizeof path, f->dir[2], 1), 0);
    assert_int_equal(truncate(path, (off_t)tu_file_size(path) - 3), 0);
    tu_model m[NSH] = {{0}};
    assert_int_equal(recover_all(f, m, 0), 1);
    assert_null(tu_find(&m[1], "p", 1));
    assert_null(tu_find(&m[2], "q", 1));
    models_free(m);
}

/* A participant whose TXFLOOR (in its snapshot's segment) is above the id
 * compacted its part away: the others are applied. Below the id, its part
 * is missing: dropped. A TXABORT drops a transaction whatever its parts. */
static void test_floor_and_abort(void **state)
{
    fixture *f = *state;
    uint32_t s01[2] = {0, 1}, s02[2] = {0, 2}, s12[2] = {1, 2};
    assert_int_equal(wal_append_txfloor(f->w[1], 4), 0); /* shard 1: compacted below 4 */
    tx_part(f, 0, 3, s01, 2, "t3", "v");                 /* 1's part in its snapshot: applied */
    tx_part(f, 0, 4, s01, 2, "t4", "v");                 /* 1's part missing, not below the floor */
    tx_part(f, 0, 7, s02, 2, "t7", "v");
    tx_part(f, 2, 7, s02, 2, "t7", "v");
    assert_int_equal(wal_append_txabort(f->w[2], 7), 0); /* dropped at an earlier start */
    tx_part(f, 1, 8, s12, 2, "t8", "v");
    tx_part(f, 2, 8, s12, 2, "t8", "v");
    commit_all(f);
    tu_model m[NSH] = {{0}};
    assert_int_equal(recover_all(f, m, 1), 2);
    assert_non_null(tu_find(&m[0], "t3", 2));
    assert_null(tu_find(&m[0], "t4", 2));
    assert_null(tu_find(&m[0], "t7", 2));
    assert_null(tu_find(&m[2], "t7", 2));
    assert_non_null(tu_find(&m[1], "t8", 2));
    assert_non_null(tu_find(&m[2], "t8", 2));
    models_free(m);
    /* the same TXFLOOR outside the snapshot's segment means nothing */
    tu_model m2[NSH] = {{0}};
    assert_int_equal(recover_all(f, m2, 0), 3);
    assert_null(tu_find(&m2[0], "t3", 2));
    models_free(m2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record),
        cmocka_unit_test_setup_teardown(test_missing_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_floor_and_abort, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
