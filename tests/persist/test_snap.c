/* test_snap.c - snapshot writer/reader, and a fuzzy snapshot taken in
 * slices while the shard keeps changing, recovered with the WAL redo. */
#include <pthread.h>
#include <setjmp.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "persist/recover.h"
#include "persist/snap.h"
#include "tests/persist/test_util.h"
#include "persist/wal.h"

static const recover_ops model_ops = {.put = tu_cb_put, .del = tu_cb_del, .clear = tu_cb_clear};

typedef struct fixture {
    char *root;
    char dir[512];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->root = tu_mkdtemp();
    wal_shard_dir(f->dir, sizeof f->dir, f->root, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static void fill(tu_model *m, int n, size_t vlen)
{
    char *v = malloc(vlen + 1);
    for (int i = 0; i < n; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        for (size_t j = 0; j < vlen; j++) v[j] = (char)(i + j);
        tu_put(m, k, (size_t)kl, v, vlen, i % 4 ? -1 : 1800000000000LL + i, (uint8_t)(i % 2));
    }
    free(v);
}

/* Writes every item of m into snapshot seq, slice entries at a time. */
static void write_snapshot(fixture *f, tu_model *m, uint64_t seq, size_t slice)
{
    snap_writer_t *s;
    assert_int_equal(snap_begin(&s, f->dir, 1, seq), 0);
    for (size_t i = 0; i < m->n; i++) {
        tu_item *e = &m->it[i];
        assert_int_equal(snap_add_entry(s, e->vtype, e->key, e->klen, e->val, e->vlen, e->exp), 0);
        if (slice && i % slice == 0) { /* a batch would run here */
        }
    }
    assert_int_equal(snap_entries(s), m->n);
    assert_true(snap_bytes(s) >= SNAP_HEADER);
    assert_int_equal(snap_finish(s), 0);
}

static void test_roundtrip(void **state)
{
    fixture *f = *state;
    tu_model m = {0}, got = {0};
    fill(&m, 1000, 20);
    tu_put(&m, "", 0, "", 0, -1, 0); /* empty key and value */
    write_snapshot(f, &m, 7, 64);
    char p[700], tmp[700];
    snap_path(p, sizeof p, f->dir, 7, 0);
    snap_path(tmp, sizeof tmp, f->dir, 7, 1);
    assert_true(tu_file_exists(p));
    assert_false(tu_file_exists(tmp));
    uint64_t n = 0;
    char err[600];
    assert_int_equal(snap_load(f->dir, 1, 7, tu_cb_put, &got, &n, err, sizeof err), 0);
    assert_int_equal(n, 1001);
    assert_true(tu_model_eq(&m, &got));
    tu_model_free(&got);

    /* an empty snapshot is valid */
    tu_model empty = {0};
    write_snapshot(f, &empty, 8, 0);
    assert_int_equal(snap_load(f->dir, 1, 8, tu_cb_put, &got, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    tu_model_free(&m);
}

/* Several MiB, so the writer flushes mid-way and the reader refills. */
static void test_large(void **state)
{
    fixture *f = *state;
    tu_model m = {0}, got = {0};
    fill(&m, 300, 20000);
    write_snapshot(f, &m, 3, 10);
    char err[600];
    assert_int_equal(snap_load(f->dir, 1, 3, tu_cb_put, &got, NULL, err, sizeof err), 0);
    assert_true(tu_model_eq(&m, &got));
    tu_model_free(&got);
    tu_model_free(&m);
}

typedef struct writer_arg {
    snap_writer_t *s;
    int stop; /* atomic */
    int writes;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *a = p;
    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
        if (snap_queued(a->s)) a->writes++;
        assert_int_equal(snap_write_queued(a->s), 0);
        usleep(200);
    }
    return NULL;
}

/* The feeding thread only fills memory: full buffers queue up until the
 * writing thread writes them (the actor feeds, the worker writes); an
 * aborted snapshot frees what is still queued. */
static void test_writer_thread(void **state)
{
    fixture *f = *state;
    tu_model m = {0}, got = {0};
    fill(&m, 400, 20000); /* ~8 MiB: several queued buffers */
    snap_writer_t *s;
    assert_int_equal(snap_begin(&s, f->dir, 1, 11), 0);
    writer_arg a = {s, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &a), 0);
    for (size_t i = 0; i < m.n; i++) {
        tu_item *e = &m.it[i];
        assert_int_equal(snap_add_entry(s, e->vtype, e->key, e->klen, e->val, e->vlen, e->exp), 0);
    }
    /* until the writer has written everything, however long a loaded
     * machine takes (it used to give up after 5 s of polling) */
    while (snap_queued(s)) usleep(1000);
    __atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    assert_true(a.writes > 0);
    assert_int_equal(snap_finish(s), 0);
    char err[600];
    assert_int_equal(snap_load(f->dir, 1, 11, tu_cb_put, &got, NULL, err, sizeof err), 0);
    assert_true(tu_model_eq(&m, &got));
    tu_model_free(&got);

    /* nothing written yet: queued buffers are freed by snap_abort */
    assert_int_equal(snap_begin(&s, f->dir, 1, 12), 0);
    for (size_t i = 0; i < m.n; i++) {
        tu_item *e = &m.it[i];
        assert_int_equal(snap_add_entry(s, e->vtype, e->key, e->klen, e->val, e->vlen, e->exp), 0);
    }
    assert_true(snap_queued(s) >= (6u << 20));
    assert_true(snap_bytes(s) > snap_queued(s));
    snap_abort(s);
    char tmp[700];
    snap_path(tmp, sizeof tmp, f->dir, 12, 1);
    assert_false(tu_file_exists(tmp));
    tu_model_free(&m);
}

static void test_corrupt(void **state)
{
    fixture *f = *state;
    tu_model m = {0}, got = {0};
    fill(&m, 50, 10);
    write_snapshot(f, &m, 4, 0);
    char p[700], err[600];
    snap_path(p, sizeof p, f->dir, 4, 0);
    uint64_t size = tu_file_size(p);

    /* a flipped byte in the body: KV_EPROTO naming file and offset */
    tu_flip(p, SNAP_HEADER + 3, 0x01);
    assert_int_equal(snap_load(f->dir, 1, 4, tu_cb_put, &got, NULL, err, sizeof err), KV_EPROTO);
    assert_non_null(strstr(err, "snap-00000000000000000004.snap"));
    assert_non_null(strstr(err, "byte 40"));
    tu_flip(p, SNAP_HEADER + 3, 0x01);
    tu_model_free(&got);

    /* in the header */
    for (int i = 0; i < SNAP_HEADER; i += 5) {
        tu_flip(p, (uint64_t)i, 0x20);
        assert_int_equal(snap_load(f->dir, 1, 4, NULL, NULL, NULL, err, sizeof err), KV_EPROTO);
        tu_flip(p, (uint64_t)i, 0x20);
    }
    /* another shard's, or under another seq's name */
    assert_int_equal(snap_load(f->dir, 2, 4, NULL, NULL, NULL, err, sizeof err), KV_EPROTO);
    char p9[700];
    snap_path(p9, sizeof p9, f->dir, 9, 0);
    tu_copy(p, p9);
    assert_int_equal(snap_load(f->dir, 1, 9, NULL, NULL, NULL, err, sizeof err), KV_EPROTO);
    assert_non_null(strstr(err, "seq"));

    /* cut anywhere (the end record lost): always corrupt, never loaded */
    for (uint64_t cut = SNAP_HEADER; cut < size; cut += 7) {
        assert_int_equal(truncate(p9, (off_t)cut), 0);
        assert_int_equal(snap_load(f->dir, 1, 9, NULL, NULL, NULL, err, sizeof err), KV_EPROTO);
    }
    /* bytes after the end record */
    assert_int_equal(snap_load(f->dir, 1, 4, NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(tu_file_size(p), size);
    tu_append(p, "x", 1);
    assert_int_equal(snap_load(f->dir, 1, 4, NULL, NULL, NULL, err, sizeof err), KV_EPROTO);
    /* missing */
    assert_int_equal(snap_load(f->dir, 1, 5, NULL, NULL, NULL, err, sizeof err), KV_EIO);
    tu_model_free(&m);
}

/* Callback errors stop the load and come back. */
static int cb_fail(void *ctx, const wal_rec *r)
{
    (void)r;
    return ++*(int *)ctx == 3 ? KV_ERANGE : 0;
}

static void test_abort_prune_callback(void **state)
{
    fixture *f = *state;
    tu_model m = {0};
    fill(&m, 10, 5);
    write_snapshot(f, &m, 2, 0);
    write_snapshot(f, &m, 6, 0);
    int calls = 0;
    assert_int_equal(snap_load(f->dir, 1, 6, cb_fail, &calls, NULL, NULL, 0), KV_ERANGE);
    assert_int_equal(calls, 3);

    snap_writer_t *s;
    assert_int_equal(snap_begin(&s, f->dir, 1, 9), 0);
    assert_int_equal(snap_add_entry(s, 0, "k", 1, "v", 1, -1), 0);
    char tmp9[700], tmp10[700], p[700];
    snap_path(tmp9, sizeof tmp9, f->dir, 9, 1);
    assert_true(tu_file_exists(tmp9));
    snap_abort(s);
    snap_abort(NULL);
    assert_false(tu_file_exists(tmp9));

    /* a leftover tmp (crash mid-snapshot) is never loaded; prune removes it
     * and every snapshot but the live one */
    assert_int_equal(snap_begin(&s, f->dir, 1, 10), 0);
    snap_path(tmp10, sizeof tmp10, f->dir, 10, 1);
    assert_true(tu_file_exists(tmp10));
    assert_int_equal(snap_load(f->dir, 1, 10, NULL, NULL, NULL, NULL, 0), KV_EIO);
    assert_int_equal(snap_prune(f->dir, 6), 0);
    assert_false(tu_file_exists(tmp10));
    snap_path(p, sizeof p, f->dir, 2, 0);
    assert_false(tu_file_exists(p));
    snap_path(p, sizeof p, f->dir, 6, 0);
    assert_true(tu_file_exists(p));
    snap_abort(s); /* its tmp is already gone: fine */
    tu_model_free(&m);
}

/* Records of a hash too big for one PUT: HSETs after its PUT load (not
 * counted as entries); an HSET before any PUT is corrupt. */
typedef struct hs_count {
    int puts, hsets;
} hs_count;

static int cb_count(void *ctx, const wal_rec *r)
{
    hs_count *c = ctx;
    if (r->op == WAL_OP_PUT) c->puts++;
    if (r->op == WAL_OP_HSET) {
        c->hsets++;
        assert_int_equal(r->key.len, 1);
        assert_int_equal(r->field.len, 2);
    }
    return 0;
}

static void test_hash_records(void **state)
{
    fixture *f = *state;
    snap_writer_t *s;
    kv_str k = {"h", 1}, fl = {"f\n", 2}, v = {"\0v", 2};
    assert_int_equal(snap_begin(&s, f->dir, 1, 3), 0);
    assert_int_equal(snap_add_entry(s, 1, "h", 1,
                                    "\x01\x01"
                                    "a\x01"
                                    "b",
                                    5, 1800000000000LL),
                     0);
    assert_int_equal(snap_add_hset(s, &k, &fl, &v), 0);
    assert_int_equal(snap_add_hset(s, &k, &fl, &v), 0);
    assert_int_equal(snap_add_entry(s, 0, "x", 1, "y", 1, -1), 0);
    assert_int_equal(snap_entries(s), 2);
    assert_int_equal(snap_finish(s), 0);
    hs_count c = {0, 0};
    uint64_t n = 0;
    char err[700];
    assert_int_equal(snap_load(f->dir, 1, 3, cb_count, &c, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(c.puts, 2);
    assert_int_equal(c.hsets, 2);

    assert_int_equal(snap_begin(&s, f->dir, 1, 4), 0);
    assert_int_equal(snap_add_hset(s, &k, &fl, &v), 0);
    assert_int_equal(snap_add_entry(s, 0, "x", 1, "y", 1, -1), 0);
    assert_int_equal(snap_finish(s), 0);
    assert_int_equal(snap_load(f->dir, 1, 4, NULL, NULL, NULL, err, sizeof err), KV_EPROTO);
}

/* Compaction while the shard changes: rotate, snapshot in slices with
 * writes in between, finish, sync the WAL; recovery from the snapshot and
 * the segments from the rotation point gives exactly the final state. */
static void test_fuzzy_snapshot_recovery(void **state)
{
    fixture *f = *state;
    tu_model mem = {0}, got = {0};
    wal_t *w;
    wal_opts o = {.fsync = WAL_FSYNC_ALWAYS, .segment_max = 2048};
    assert_int_equal(wal_open(&w, f->dir, 1, 1, WAL_PREV_ANY, &o), 0);
    char k[32], v[32];
    for (int i = 0; i < 300; i++) {
        int kl = snprintf(k, sizeof k, "k%d", i % 120);
        int vl = snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(wal_append_put(w, 0, k, (size_t)kl, v, (size_t)vl, -1), 0);
        tu_put(&mem, k, (size_t)kl, v, (size_t)vl, -1, 0);
        if (i % 10 == 9) assert_int_equal(wal_commit(w), 0);
    }
    uint64_t seq;
    assert_int_equal(wal_rotate(w, &seq), 0);

    /* the scan walks a frozen list of the keys present at the start, reading
     * each key's value when it gets there (like ht_scan over a live table) */
    size_t nkeys = mem.n;
    char **keys = calloc(nkeys, sizeof *keys);
    for (size_t i = 0; i < nkeys; i++) keys[i] = strndup(mem.it[i].key, mem.it[i].klen);
    snap_writer_t *s;
    assert_int_equal(snap_begin(&s, f->dir, 1, seq), 0);
    int step = 1000;
    for (size_t i = 0; i < nkeys; i++) {
        tu_item *e = tu_find(&mem, keys[i], strlen(keys[i]));
        if (e)
            assert_int_equal(snap_add_entry(s, e->vtype, e->key, e->klen, e->val, e->vlen, e->exp),
                             0);
        if (i % 16 == 15) { /* a batch between slices: changes, deletes, new keys */
            for (int j = 0; j < 8; j++, step++) {
                int kl = snprintf(k, sizeof k, "k%d", (step * 7) % 150);
                if (step % 3 == 0) {
                    assert_int_equal(wal_append_del(w, k, (size_t)kl), 0);
                    tu_del(&mem, k, (size_t)kl);
                } else {
                    int vl = snprintf(v, sizeof v, "w%d", step);
                    assert_int_equal(wal_append_put(w, 0, k, (size_t)kl, v, (size_t)vl, 99), 0);
                    tu_put(&mem, k, (size_t)kl, v, (size_t)vl, 99, 0);
                }
            }
            assert_int_equal(wal_commit(w), 0);
            assert_int_equal(wal_sync(w), 0);
        }
    }
    assert_int_equal(snap_finish(s), 0);
    assert_int_equal(wal_sync(w), 0); /* the log covers what the snapshot saw */
    /* (the manifest switch would go here), then the old files go */
    assert_int_equal(wal_prune(f->dir, seq), 0);
    wal_compacted(w, seq);
    for (size_t i = 0; i < nkeys; i++) free(keys[i]);
    free(keys);
    wal_free(w);

    recover_opts ro = {.shard_dir = f->dir, .shard = 1, .snap_seq = seq, .first_seq = seq};
    recover_result res;
    assert_int_equal(recover_shard(&ro, &model_ops, &got, &res), 0);
    assert_true(res.snap_entries > 0);
    assert_true(res.records > 0);
    assert_true(tu_model_eq(&mem, &got));
    tu_model_free(&got);
    tu_model_free(&mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_prune_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzzy_snapshot_recovery, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
