/* test_wal.c - segments, group commit, rotation, failure handling, and
 * recovery of a shard's log (recover.c). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/entry.h"
#include "persist/persist.h"
#include "persist/recover.h"
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
    wal_shard_dir(f->dir, sizeof f->dir, f->root, 3);
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

static void seg_path(fixture *f, uint64_t seq, char *buf)
{
    assert_int_equal(wal_seg_path(buf, 600, f->dir, seq), 0);
}

/* Appends record i of a deterministic workload to both the wal and the
 * model (what the engine would have in memory). */
static void workload_step(wal_t *w, tu_model *m, int i)
{
    char k[32], v[64];
    int kl = snprintf(k, sizeof k, "key:%d", i % 37);
    int vl = snprintf(v, sizeof v, "value-%d-%d", i, i * 31);
    if (i % 97 == 96) {
        assert_int_equal(wal_append_clear(w), 0);
        tu_clear(m);
    } else if (i % 5 == 4) {
        assert_int_equal(wal_append_del(w, k, (size_t)kl), 0);
        tu_del(m, k, (size_t)kl);
    } else {
        int64_t exp = i % 3 ? -1 : 1700000000000LL + i;
        assert_int_equal(wal_append_put(w, (uint8_t)(i & 1), k, (size_t)kl, v, (size_t)vl, exp), 0);
        tu_put(m, k, (size_t)kl, v, (size_t)vl, exp, (uint8_t)(i & 1));
    }
}

static int recover_into(fixture *f, tu_model *m, int keep_prefix, recover_result *res)
{
    recover_opts o = {.shard_dir = f->dir, .shard = 3, .first_seq = 1, .keep_prefix = keep_prefix};
    return recover_shard(&o, &model_ops, m, res);
}

static void test_names(void **state)
{
    (void)state;
    uint64_t seq;
    assert_int_equal(wal_seg_parse_name("wal-00000000000000000042.log", &seq), 0);
    assert_int_equal(seq, 42);
    assert_int_equal(wal_seg_parse_name("wal-00000000000000000042.log.discarded", &seq), KV_EINVAL);
    assert_int_equal(wal_seg_parse_name("wal-0000000000000000004x.log", &seq), KV_EINVAL);
    assert_int_equal(wal_seg_parse_name("wal-99999999999999999999.log", &seq), KV_EINVAL);
    char buf[64];
    assert_int_equal(wal_shard_dir(buf, sizeof buf, "/d", 7), 0);
    assert_string_equal(buf, "/d/shard-007");
    assert_int_equal(wal_seg_path(buf, sizeof buf, "/d", 5), 0);
    assert_string_equal(buf, "/d/wal-00000000000000000005.log");
    assert_int_equal(wal_seg_path(buf, 10, "/d", 5), KV_ERANGE);
    /* header round trip and corruption */
    char h[WAL_SEG_HEADER];
    wal_seg_header in = {WAL_FORMAT_VERSION, 9, 77, 1234}, out;
    const char *why = NULL;
    wal_seg_header_encode(h, &in);
    assert_int_equal(wal_seg_header_decode(h, sizeof h, &out, &why), 0);
    assert_int_equal(out.shard, 9);
    assert_int_equal(out.seq, 77);
    assert_int_equal(out.prev_end, 1234);
    assert_int_equal(wal_seg_header_decode(h, 39, &out, &why), KV_EAGAIN);
    for (int i = 0; i < WAL_SEG_HEADER; i++) {
        h[i] ^= 0x10;
        assert_int_equal(wal_seg_header_decode(h, sizeof h, &out, &why), KV_EPROTO);
        h[i] ^= 0x10;
    }
}

/* Append, commit, sync, close, recover: the same state, nothing cut; then
 * reopen after recovery, write more, recover again. */
static void test_commit_reopen_replay(void **state)
{
    fixture *f = *state;
    tu_model mem = {0}, got = {0};
    wal_t *w;
    wal_opts o = {.fsync = WAL_FSYNC_ALWAYS};
    assert_int_equal(wal_open(&w, f->dir, 3, 1, WAL_PREV_ANY, &o), 0);
    assert_int_equal(wal_commit(w), 0); /* empty batch */
    for (int batch = 0; batch < 20; batch++) {
        for (int i = 0; i < 10; i++) workload_step(w, &mem, batch * 10 + i);
        assert_true(wal_pending(w) > 0);
        assert_int_equal(wal_commit(w), 0);
        assert_int_equal(wal_pending(w), 0);
        assert_int_equal(wal_sync(w), 0);
    }
    wal_stats st;
    wal_get_stats(w, &st);
    assert_int_equal(st.seq, 1);
    assert_int_equal(st.writes, 20);
    assert_int_equal(st.syncs, 20);
    assert_true(st.unsynced_bytes > 0); /* trimmed lazily, at the next commit */
    assert_int_equal(wal_commit(w), 0);
    wal_get_stats(w, &st);
    assert_int_equal(st.unsynced_bytes, 0);
    char p[600];
    seg_path(f, 1, p);
    assert_int_equal(st.seg_bytes, tu_file_size(p));
    assert_int_equal(st.log_bytes, tu_file_size(p));
    wal_free(w);

    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    assert_int_equal(res.records, 200);
    assert_int_equal(res.segments, 1);
    assert_int_equal(res.cut_bytes, 0);
    assert_int_equal(res.next_seq, 2);
    assert_int_equal(res.prev_end, tu_file_size(p));
    assert_int_equal(res.log_bytes, tu_file_size(p));

    /* continue the log */
    o.initial_log_bytes = res.log_bytes;
    assert_int_equal(wal_open(&w, f->dir, 3, res.next_seq, res.prev_end, &o), 0);
    for (int i = 200; i < 260; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_commit(w), 0);
    assert_int_equal(wal_sync(w), 0);
    wal_get_stats(w, &st);
    seg_path(f, 2, p);
    assert_int_equal(st.log_bytes, res.log_bytes + tu_file_size(p));
    wal_free(w);
    tu_model_free(&got);
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    assert_int_equal(res.segments, 2);
    assert_int_equal(res.next_seq, 3);
    tu_model_free(&mem);
    tu_model_free(&got);
}

/* Rotation at the size limit; wal_rotate for compaction; log_bytes drops
 * the compacted segments; wal_prune removes them. */
static void test_rotation(void **state)
{
    fixture *f = *state;
    tu_model mem = {0}, got = {0};
    wal_t *w;
    wal_opts o = {.fsync = WAL_FSYNC_INTERVAL, .segment_max = 300};
    assert_int_equal(wal_open(&w, f->dir, 3, 1, WAL_PREV_ANY, &o), 0);
    for (int i = 0; i < 400; i++) {
        workload_step(w, &mem, i);
        if (i % 3 == 2) assert_int_equal(wal_commit(w), 0);
    }
    assert_int_equal(wal_commit(w), 0);
    uint64_t seq;
    assert_int_equal(wal_rotate(w, &seq), 0);
    wal_stats st;
    wal_get_stats(w, &st);
    assert_int_equal(st.seq, seq);
    assert_true(seq > 10);
    assert_int_equal(st.rotations, seq - 1);
    uint64_t *seqs;
    size_t n;
    assert_int_equal(wal_list_segments(f->dir, &seqs, &n), 0);
    assert_int_equal(n, seq);
    uint64_t total = 0;
    char p[600];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(seqs[i], i + 1);
        seg_path(f, seqs[i], p);
        total += tu_file_size(p);
    }
    free(seqs);
    assert_int_equal(st.log_bytes, total);
    for (int i = 400; i < 410; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_commit(w), 0);
    assert_int_equal(wal_sync(w), 0);

    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    wal_get_stats(w, &st);
    assert_int_equal(res.segments, st.seq);
    assert_int_equal(res.records, 410);

    /* compaction: segments < seq no longer count, then are pruned */
    wal_compacted(w, seq);
    wal_get_stats(w, &st);
    total = 0;
    for (uint64_t q = seq; q <= st.seq; q++) {
        seg_path(f, q, p);
        total += tu_file_size(p);
    }
    assert_int_equal(st.log_bytes, total);
    assert_int_equal(wal_prune(f->dir, seq), 0);
    assert_int_equal(wal_list_segments(f->dir, &seqs, &n), 0);
    assert_int_equal(n, st.seq - seq + 1);
    assert_int_equal(seqs[0], seq);
    free(seqs);
    wal_free(w);
    tu_model_free(&mem);
    tu_model_free(&got);
}

/* Builds a 3-segment log of 30 records each (10 per batch); returns the
 * offsets of the records of segment `which` in offs[]. */
static void build_three(fixture *f, tu_model *mem, uint64_t *offs, uint64_t which)
{
    wal_t *w;
    wal_opts o = {.fsync = WAL_FSYNC_ALWAYS};
    assert_int_equal(wal_open(&w, f->dir, 3, 1, WAL_PREV_ANY, &o), 0);
    int k = 0;
    for (uint64_t s = 1; s <= 3; s++) {
        for (int i = 0; i < 30; i++) {
            if (s == which) {
                wal_stats st;
                wal_get_stats(w, &st);
                offs[i] = st.seg_bytes + wal_pending(w);
            }
            workload_step(w, mem, k++);
            if (i % 10 == 9) assert_int_equal(wal_commit(w), 0);
        }
        assert_int_equal(wal_sync(w), 0);
        if (s < 3) assert_int_equal(wal_rotate(w, NULL), 0);
    }
    wal_free(w);
}

/* Cutting the last segment anywhere inside its last record: recovery cuts
 * the torn tail, truncates the file and reports the bytes. */
static void test_torn_tail_cut(void **state)
{
    fixture *f = *state;
    tu_model mem = {0};
    uint64_t offs[30];
    build_three(f, &mem, offs, 3);
    char p[600];
    seg_path(f, 3, p);
    uint64_t size = tu_file_size(p);
    uint64_t last = offs[29];
    for (uint64_t cut = last; cut < size; cut++) {
        assert_int_equal(truncate(p, (off_t)cut), 0);
        tu_model got = {0};
        recover_result res;
        assert_int_equal(recover_into(f, &got, 0, &res), 0);
        assert_int_equal(res.records, 89);
        assert_int_equal(res.cut_bytes, cut - last);
        assert_int_equal(tu_file_size(p), last);
        assert_int_equal(res.prev_end, last);
        if (cut > last) assert_non_null(strstr(res.msg, "torn tail"));
        tu_model_free(&got);
    }
    /* a zero-filled tail (file extended, data never written) is torn too */
    char zeros[100] = {0};
    tu_append(p, zeros, sizeof zeros);
    tu_model got = {0};
    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_int_equal(res.cut_bytes, 100);
    assert_int_equal(tu_file_size(p), last);
    tu_model_free(&got);
    tu_model_free(&mem);
}

/* A bad record in a segment that is not the last: an error naming the file
 * and the byte offset, and nothing is modified. */
static void test_middle_corruption(void **state)
{
    fixture *f = *state;
    tu_model mem = {0};
    uint64_t offs[30];
    build_three(f, &mem, offs, 2);
    char p[600];
    seg_path(f, 2, p);
    uint64_t size = tu_file_size(p);
    tu_flip(p, offs[12] + 20, 0x04);
    tu_model got = {0};
    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), KV_EPROTO);
    assert_int_equal(res.bad_seq, 2);
    assert_int_equal(res.bad_offset, offs[12]);
    assert_non_null(strstr(res.msg, "wal-00000000000000000002.log"));
    char at[64];
    snprintf(at, sizeof at, "byte %llu", (unsigned long long)offs[12]);
    assert_non_null(strstr(res.msg, at));
    assert_int_equal(tu_file_size(p), size);
    tu_model_free(&got);

    /* in the last segment but followed by good records: still corruption */
    tu_flip(p, offs[12] + 20, 0x04);
    seg_path(f, 3, p);
    uint64_t off3 = WAL_SEG_HEADER;
    tu_flip(p, off3 + 2, 0x01);
    assert_int_equal(recover_into(f, &got, 0, &res), KV_EPROTO);
    assert_int_equal(res.bad_seq, 3);
    assert_int_equal(res.bad_offset, off3);
    tu_model_free(&got);

    /* a segment header that lies about its shard */
    tu_flip(p, off3 + 2, 0x01);
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    tu_model_free(&got);
    recover_opts o = {.shard_dir = f->dir, .shard = 4, .first_seq = 1};
    assert_int_equal(recover_shard(&o, &model_ops, &got, &res), KV_EPROTO);
    assert_non_null(strstr(res.msg, "another shard"));
    tu_model_free(&got);

    /* a missing segment */
    seg_path(f, 2, p);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(recover_into(f, &got, 0, &res), KV_EPROTO);
    assert_non_null(strstr(res.msg, "segment 2 is missing"));
    tu_model_free(&got);
    tu_model_free(&mem);
}

/* keep_prefix: replay stops at the first bad record, later segments are
 * moved aside, and the log continues from there. */
static void test_keep_prefix(void **state)
{
    fixture *f = *state;
    tu_model mem = {0}, got = {0}, want = {0};
    uint64_t offs[30];
    build_three(f, &mem, offs, 2);
    /* the state after the first 30 + 12 records */
    wal_t *scratch;
    char sdir[600];
    snprintf(sdir, sizeof sdir, "%s/scratch", f->root);
    assert_int_equal(wal_open(&scratch, sdir, 0, 1, WAL_PREV_ANY, NULL), 0);
    for (int k = 0; k < 42; k++) workload_step(scratch, &want, k);
    wal_free(scratch);

    char p[600];
    seg_path(f, 2, p);
    tu_flip(p, offs[12] + 1, 0x80);
    recover_result res;
    assert_int_equal(recover_into(f, &got, 1, &res), 0);
    assert_int_equal(res.stopped, 1);
    assert_int_equal(res.records, 42);
    assert_int_equal(res.bad_seq, 2);
    assert_int_equal(res.bad_offset, offs[12]);
    assert_int_equal(res.discarded, 1);
    assert_int_equal(res.next_seq, 3);
    assert_int_equal(res.prev_end, offs[12]);
    assert_true(tu_model_eq(&want, &got));
    char moved[700];
    seg_path(f, 3, p);
    snprintf(moved, sizeof moved, "%s.discarded", p);
    assert_true(tu_file_exists(moved));
    assert_false(tu_file_exists(p));

    /* the server goes on: a new segment 3 bounds segment 2 */
    wal_t *w;
    assert_int_equal(wal_open(&w, f->dir, 3, res.next_seq, res.prev_end, NULL), 0);
    for (int k = 1000; k < 1010; k++) workload_step(w, &want, k);
    assert_int_equal(wal_commit(w), 0);
    assert_int_equal(wal_sync(w), 0);
    wal_free(w);
    tu_model_free(&got);
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_int_equal(res.records, 52);
    assert_true(tu_model_eq(&want, &got));
    tu_model_free(&got);
    tu_model_free(&want);
    tu_model_free(&mem);
}

/* A crash while creating the last segment leaves a short file: removed. */
static void test_torn_header(void **state)
{
    fixture *f = *state;
    tu_model mem = {0}, got = {0};
    uint64_t offs[30];
    build_three(f, &mem, offs, 1);
    char p[600];
    seg_path(f, 4, p);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    assert_int_equal(write(fd, "MKVWAL", 6), 6);
    close(fd);
    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    assert_int_equal(res.cut_bytes, 6);
    assert_int_equal(res.next_seq, 4);
    assert_false(tu_file_exists(p));
    char moved[700]; /* moved aside, never deleted (issue 13) */
    snprintf(moved, sizeof moved, "%s.discarded", p);
    assert_int_equal(tu_file_size(moved), 6);
    tu_model_free(&got);

    /* the same short file where the manifest's last_seq says segment 4 was
     * complete once: corruption, and the file stays */
    fd = open(p, O_CREAT | O_WRONLY, 0644);
    assert_int_equal(write(fd, "MKVWAL", 6), 6);
    close(fd);
    recover_opts o = {.shard_dir = f->dir, .shard = 3, .first_seq = 1, .last_seq = 4};
    assert_int_equal(recover_shard(&o, &model_ops, &got, &res), KV_EPROTO);
    assert_non_null(strstr(res.msg, "short segment header"));
    assert_true(tu_file_exists(p));
    tu_model_free(&got);
    tu_model_free(&mem);
}

static int recover_last(fixture *f, tu_model *m, uint64_t last_seq, int keep_prefix,
                        recover_result *res)
{
    recover_opts o = {.shard_dir = f->dir,
                      .shard = 3,
                      .first_seq = 1,
                      .last_seq = last_seq,
                      .keep_prefix = keep_prefix};
    return recover_shard(&o, &model_ops, m, res);
}

/* The manifest's last_seq (issue 13): deleting the last segment(s), which
 * the hole check cannot see, is refused; keep_prefix goes on with what is
 * there and reports the gap; nothing is deleted either way. */
static void test_missing_last_segments(void **state)
{
    fixture *f = *state;
    tu_model mem = {0}, got = {0};
    uint64_t offs[30];
    build_three(f, &mem, offs, 3);
    recover_result res;
    assert_int_equal(recover_last(f, &got, 3, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    assert_int_equal(res.missing_to, 0);
    tu_model_free(&got);

    char p3[600], p2[600];
    seg_path(f, 3, p3);
    seg_path(f, 2, p2);
    assert_int_equal(unlink(p3), 0);
    /* unknown last_seq (a version 1 manifest): undetectable, as before */
    assert_int_equal(recover_last(f, &got, 0, 0, &res), 0);
    assert_int_equal(res.next_seq, 3);
    tu_model_free(&got);
    /* strict: refused, naming the missing file and the newest one there */
    assert_int_equal(recover_last(f, &got, 3, 0, &res), KV_EPROTO);
    assert_non_null(strstr(res.msg, "wal-00000000000000000003.log: missing"));
    assert_non_null(strstr(res.msg, "up to 3"));
    assert_non_null(strstr(res.msg, "is 2"));
    tu_model_free(&got);
    /* keep_prefix: segments 1 and 2 replayed, the gap reported */
    assert_int_equal(recover_last(f, &got, 3, 1, &res), 0);
    assert_int_equal(res.records, 60);
    assert_int_equal(res.missing_from, 3);
    assert_int_equal(res.missing_to, 3);
    assert_int_equal(res.next_seq, 3);
    assert_int_equal(res.stopped, 0);
    assert_true(tu_file_exists(p2));
    tu_model_free(&got);

    /* two missing, and all of them */
    assert_int_equal(unlink(p2), 0);
    assert_int_equal(recover_last(f, &got, 3, 0, &res), KV_EPROTO);
    tu_model_free(&got);
    assert_int_equal(recover_last(f, &got, 3, 1, &res), 0);
    assert_int_equal(res.missing_from, 2);
    assert_int_equal(res.records, 30);
    tu_model_free(&got);
    seg_path(f, 1, p2);
    assert_int_equal(unlink(p2), 0);
    assert_int_equal(recover_last(f, &got, 3, 0, &res), KV_EPROTO);
    assert_non_null(strstr(res.msg, "wal-00000000000000000001.log: missing"));
    tu_model_free(&got);
    assert_int_equal(recover_last(f, &got, 3, 1, &res), 0);
    assert_int_equal(res.missing_from, 1);
    assert_int_equal(res.missing_to, 3);
    assert_int_equal(res.next_seq, 1);
    tu_model_free(&got);
    tu_model_free(&mem);
}

/* keep_prefix twice at the same place: the second discard of a segment
 * number does not overwrite the first one's .discarded file. */
static void test_discard_keeps_earlier(void **state)
{
    fixture *f = *state;
    tu_model mem = {0}, got = {0};
    uint64_t offs[30];
    build_three(f, &mem, offs, 2);
    char p[600], d0[700], d1[700];
    seg_path(f, 2, p);
    tu_flip(p, offs[5] + 1, 0x80);
    seg_path(f, 3, p);
    snprintf(d0, sizeof d0, "%s.discarded", p);
    snprintf(d1, sizeof d1, "%s.discarded.1", p);
    recover_result res;
    assert_int_equal(recover_into(f, &got, 1, &res), 0);
    assert_int_equal(res.discarded, 1);
    assert_true(tu_file_exists(d0));
    uint64_t first = tu_file_size(d0);
    tu_model_free(&got);
    /* a new segment 3 (the server went on), then the same stop again */
    wal_t *w;
    assert_int_equal(wal_open(&w, f->dir, 3, res.next_seq, res.prev_end, NULL), 0);
    wal_free(w);
    assert_int_equal(recover_into(f, &got, 1, &res), 0);
    tu_model_free(&got);
    seg_path(f, 2, p);
    tu_flip(p, offs[5] + 1, 0x80); /* repaired: the new segment 3 follows it */
    tu_flip(p, offs[3] + 1, 0x80); /* a bad record earlier: 3 is discarded again */
    assert_int_equal(recover_into(f, &got, 1, &res), 0);
    assert_int_equal(res.discarded, 1);
    assert_int_equal(tu_file_size(d0), first);
    assert_int_equal(tu_file_size(d1), WAL_SEG_HEADER);
    tu_model_free(&got);
    tu_model_free(&mem);
}

/* ---- fault injection ---- */

typedef struct faults {
    int fail_sync;  /* fail the next n fdatasyncs with EIO */
    int fail_write; /* fail writes with ENOSPC after writing partial bytes */
    size_t partial; /* bytes a failing write still writes */
} faults;

static ssize_t fault_write(void *ctx, int fd, const void *p, size_t n)
{
    faults *fl = ctx;
    if (fl->fail_write) {
        fl->fail_write--;
        if (fl->partial && n > fl->partial) {
            ssize_t w = write(fd, p, fl->partial);
            fl->partial = 0;
            return w;
        }
        errno = ENOSPC;
        return -1;
    }
    return write(fd, p, n);
}

static int fault_sync(void *ctx, int fd)
{
    faults *fl = ctx; /* the flusher test calls this from two threads */
    int n = __atomic_load_n(&fl->fail_sync, __ATOMIC_ACQUIRE);
    while (n > 0)
        if (__atomic_compare_exchange_n(&fl->fail_sync, &n, n - 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            errno = EIO;
            return -1;
        }
    return fdatasync(fd);
}

/* A failed fdatasync: the segment is broken, the batch not acknowledged,
 * sync is never retried on it; the next commit moves to a new segment that
 * bounds the old one at its last durable byte and rewrites the rest. */
static void test_fsync_failure(void **state)
{
    fixture *f = *state;
    faults fl = {0};
    wal_io io = {fault_write, fault_sync, &fl};
    wal_opts o = {.fsync = WAL_FSYNC_ALWAYS, .io = &io};
    tu_model mem = {0}, got = {0};
    wal_t *w;
    assert_int_equal(wal_open(&w, f->dir, 3, 1, WAL_PREV_ANY, &o), 0);
    for (int i = 0; i < 10; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_commit(w), 0);
    assert_int_equal(wal_sync(w), 0);
    wal_stats st;
    wal_get_stats(w, &st);
    uint64_t durable = st.seg_bytes;

    for (int i = 10; i < 20; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_commit(w), 0);
    fl.fail_sync = 1;
    assert_int_equal(wal_sync(w), KV_EIO);
    assert_int_equal(wal_status(w), KV_EIO);
    /* never retried as if it had succeeded */
    assert_int_equal(wal_sync(w), KV_EIO);
    /* the fault persists: creating the replacement fails too */
    fl.fail_sync = 1;
    assert_int_equal(wal_commit(w), KV_EIO);
    assert_int_equal(wal_status(w), KV_EIO);
    char p2[600];
    seg_path(f, 2, p2);
    assert_false(tu_file_exists(p2));
    /* the fault clears */
    assert_int_equal(wal_commit(w), 0);
    assert_int_equal(wal_status(w), 0);
    wal_get_stats(w, &st);
    assert_int_equal(st.seq, 2);
    assert_true(st.failures >= 2);
    for (int i = 20; i < 30; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_commit(w), 0);
    assert_int_equal(wal_sync(w), 0);
    wal_free(w);

    /* the kernel may have lost or mangled the unsynced part of segment 1:
     * scribble over it; recovery reads segment 1 only up to prev_end */
    char p1[600];
    seg_path(f, 1, p1);
    assert_int_equal(truncate(p1, (off_t)durable + 7), 0);
    tu_append(p1, "garbage!", 8);
    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    assert_int_equal(res.records, 30);
    tu_model_free(&got);
    tu_model_free(&mem);
}

/* Counts fdatasyncs, for the lazy rotation test. */
static int count_sync(void *ctx, int fd)
{
    __atomic_add_fetch((int *)ctx, 1, __ATOMIC_RELAXED);
    return fdatasync(fd);
}

static uint64_t seg_prev_end(fixture *f, uint64_t seq)
{
    char p[600], h[WAL_SEG_HEADER];
    seg_path(f, seq, p);
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(h, 1, sizeof h, fp), sizeof h);
    fclose(fp);
    wal_seg_header hd;
    const char *why;
    assert_int_equal(wal_seg_header_decode(h, sizeof h, &hd, &why), 0);
    return hd.prev_end;
}

/* With fsync interval/always a rotation syncs nothing on the actor: the
 * new segment bounds the old one at its last durable byte and repeats the
 * rest, so losing the old segment's unsynced tail loses nothing; the next
 * wal_sync makes the new segment durable. A sync failure on such a fresh
 * segment replaces it under the same seq (no gap if its directory entry
 * was never durable). */
static void test_lazy_rotation(void **state)
{
    fixture *f = *state;
    int syncs = 0;
    wal_io io = {NULL, count_sync, &syncs};
    wal_opts o = {.fsync = WAL_FSYNC_INTERVAL, .io = &io};
    tu_model mem = {0}, got = {0};
    wal_t *w;
    assert_int_equal(wal_open(&w, f->dir, 3, 1, WAL_PREV_ANY, &o), 0);
    for (int i = 0; i < 10; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_commit(w), 0);
    assert_int_equal(wal_sync(w), 0);
    wal_stats st;
    wal_get_stats(w, &st);
    uint64_t durable = st.seg_bytes;
    for (int i = 10; i < 20; i++) workload_step(w, &mem, i); /* written, not synced */
    int before = syncs;
    uint64_t seq;
    assert_int_equal(wal_durable_seq(w), 1);
    assert_int_equal(wal_rotate(w, &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(syncs, before); /* no fdatasync on the actor */
    assert_int_equal(seg_prev_end(f, 2), durable);
    assert_int_equal(wal_durable_seq(w), 1); /* 2's name is not durable yet */
    wal_get_stats(w, &st);
    assert_true(st.unsynced_bytes > 0); /* kept until segment 2 is synced */
    assert_int_equal(wal_sync(w), 0);
    assert_int_equal(syncs, before + 1);
    assert_int_equal(wal_durable_seq(w), 2);
    assert_int_equal(wal_commit(w), 0); /* trims the copy */
    wal_get_stats(w, &st);
    assert_int_equal(st.unsynced_bytes, 0);

    /* power loss took segment 1's unsynced tail: nothing is missing */
    char p1[600];
    seg_path(f, 1, p1);
    assert_int_equal(truncate(p1, (off_t)durable), 0);
    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    tu_model_free(&got);

    /* a fresh segment whose first sync fails is replaced, same seq */
    for (int i = 20; i < 30; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_rotate(w, &seq), 0);
    assert_int_equal(seq, 3);
    wal_free(w); /* segment 3 never synced: recovery reads it all the same */
    io.fdatasync = fault_sync;
    faults fl = {0};
    io.ctx = &fl;
    /* reopen as recovery would, then rotate lazily and fail the sync */
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    tu_model_free(&got);
    assert_int_equal(wal_open(&w, f->dir, 3, res.next_seq, res.prev_end, &o), 0);
    for (int i = 30; i < 40; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_rotate(w, &seq), 0);
    uint64_t fresh = seq;
    uint64_t prev = seg_prev_end(f, fresh);
    for (int i = 40; i < 50; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_commit(w), 0);
    fl.fail_sync = 1;
    assert_int_equal(wal_sync(w), KV_EIO);
    assert_int_equal(wal_durable_seq(w), fresh - 1);
    assert_int_equal(wal_commit(w), 0);          /* the replacement */
    assert_int_equal(wal_durable_seq(w), fresh); /* created durably */
    wal_get_stats(w, &st);
    assert_int_equal(st.seq, fresh);
    assert_int_equal(seg_prev_end(f, fresh), prev);
    assert_int_equal(wal_sync(w), 0);
    wal_free(w);
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    assert_int_equal(res.next_seq, fresh + 1);
    tu_model_free(&got);
    tu_model_free(&mem);
}

/* A failed write (ENOSPC after a partial write), in each fsync mode. */
static void write_failure(fixture *f, enum wal_fsync mode)
{
    faults fl = {0};
    wal_io io = {fault_write, fault_sync, &fl};
    wal_opts o = {.fsync = mode, .io = &io};
    tu_model mem = {0}, got = {0};
    wal_t *w;
    assert_int_equal(wal_open(&w, f->dir, 3, 1, WAL_PREV_ANY, &o), 0);
    for (int i = 0; i < 10; i++) workload_step(w, &mem, i);
    assert_int_equal(wal_commit(w), 0);
    if (mode != WAL_FSYNC_NO) assert_int_equal(wal_sync(w), 0);
    for (int i = 10; i < 20; i++) workload_step(w, &mem, i);
    fl.fail_write = 2;
    fl.partial = 17;
    assert_int_equal(wal_commit(w), KV_EIO);
    assert_int_equal(wal_status(w), KV_EIO);
    assert_int_equal(wal_sync(w), KV_EIO);
    /* appends go on (the engine already applied them); they wait in memory */
    for (int i = 20; i < 25; i++) workload_step(w, &mem, i);
    fl.fail_write = 1; /* still full: the replacement segment cannot be made */
    assert_int_equal(wal_commit(w), KV_EIO);
    char p2[600];
    assert_int_equal(wal_seg_path(p2, sizeof p2, f->dir, 2), 0);
    assert_false(tu_file_exists(p2));
    assert_int_equal(wal_commit(w), 0);
    assert_int_equal(wal_status(w), 0);
    assert_int_equal(wal_pending(w), 0);
    assert_int_equal(wal_sync(w), 0);
    wal_free(w);
    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    assert_int_equal(res.records, 25);
    assert_int_equal(res.segments, 2);
    tu_model_free(&got);
    tu_model_free(&mem);
}

static void test_write_failure_always(void **state)
{
    write_failure(*state, WAL_FSYNC_ALWAYS);
}
static void test_write_failure_interval(void **state)
{
    write_failure(*state, WAL_FSYNC_INTERVAL);
}
static void test_write_failure_no(void **state)
{
    write_failure(*state, WAL_FSYNC_NO);
}

/* --fsync interval: a flusher thread syncs while the actor commits and
 * rotates; a flusher fsync failure surfaces at the actor's next commit and
 * the unsynced bytes are rewritten. */
typedef struct flusher {
    wal_t *w;
    int stop;
    int errors;
} flusher;

static void *flusher_main(void *arg)
{
    flusher *fz = arg;
    while (!__atomic_load_n(&fz->stop, __ATOMIC_ACQUIRE)) {
        if (wal_sync(fz->w)) fz->errors++;
        usleep(200);
    }
    return NULL;
}

static void test_interval_flusher(void **state)
{
    fixture *f = *state;
    faults fl = {0};
    wal_io io = {NULL, fault_sync, &fl};
    wal_opts o = {.fsync = WAL_FSYNC_INTERVAL, .segment_max = 4096, .io = &io};
    tu_model mem = {0}, got = {0};
    flusher fz = {0};
    assert_int_equal(wal_open(&fz.w, f->dir, 3, 1, WAL_PREV_ANY, &o), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, flusher_main, &fz), 0);
    int failed = 0;
    for (int i = 0; i < 3000; i++) {
        workload_step(fz.w, &mem, i);
        if (i == 1500) __atomic_store_n(&fl.fail_sync, 1, __ATOMIC_RELEASE);
        if (i % 7 == 6 && wal_commit(fz.w)) failed++;
    }
    while (wal_commit(fz.w)) failed++;
    __atomic_store_n(&fz.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    assert_int_equal(wal_sync(fz.w), 0);
    wal_stats st;
    wal_get_stats(fz.w, &st);
    assert_true(st.rotations > 5);
    assert_true(st.failures >= 1);
    wal_free(fz.w);
    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_true(tu_model_eq(&mem, &got));
    tu_model_free(&got);
    tu_model_free(&mem);
}

/* Shards recover in parallel threads. */
typedef struct par {
    char dir[600];
    uint32_t shard;
    int n;
    int rc;
    int ok;
} par;

static void *par_main(void *arg)
{
    par *p = arg;
    tu_model got = {0}, want = {0};
    recover_opts o = {.shard_dir = p->dir, .shard = p->shard, .first_seq = 1};
    recover_result res;
    p->rc = recover_shard(&o, &model_ops, &got, &res);
    for (int i = 0; i < p->n; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "k%d", i);
        tu_put(&want, k, (size_t)kl, k, (size_t)kl, -1, 0);
    }
    p->ok = tu_model_eq(&got, &want) && res.records == (uint64_t)p->n;
    tu_model_free(&got);
    tu_model_free(&want);
    return NULL;
}

static void test_parallel_recovery(void **state)
{
    fixture *f = *state;
    enum { NS = 6 };
    par ps[NS];
    pthread_t t[NS];
    for (uint32_t s = 0; s < NS; s++) {
        par *p = &ps[s];
        p->shard = s;
        p->n = 500 + (int)s * 100;
        wal_shard_dir(p->dir, sizeof p->dir, f->root, s);
        wal_t *w;
        wal_opts o = {.segment_max = 2000};
        assert_int_equal(wal_open(&w, p->dir, s, 1, WAL_PREV_ANY, &o), 0);
        for (int i = 0; i < p->n; i++) {
            char k[16];
            int kl = snprintf(k, sizeof k, "k%d", i);
            assert_int_equal(wal_append_put(w, 0, k, (size_t)kl, k, (size_t)kl, -1), 0);
            if (i % 10 == 0) assert_int_equal(wal_commit(w), 0);
        }
        assert_int_equal(wal_commit(w), 0);
        wal_free(w);
    }
    for (int s = 0; s < NS; s++) assert_int_equal(pthread_create(&t[s], NULL, par_main, &ps[s]), 0);
    for (int s = 0; s < NS; s++) {
        pthread_join(t[s], NULL);
        assert_int_equal(ps[s].rc, 0);
        assert_true(ps[s].ok);
    }
}

/* The shard_log_ops adapter turns engine entries into records. */
static void test_log_ops_adapter(void **state)
{
    fixture *f = *state;
    wal_t *w;
    assert_int_equal(wal_open(&w, f->dir, 3, 1, WAL_PREV_ANY, NULL), 0);
    kv_entry *e = calloc(1, sizeof *e + 8 + 3 + 5);
    int64_t exp = 1750000000000LL;
    e->klen = 3;
    e->vlen = 5;
    e->type = KV_TYPE_STRING;
    e->flags = KV_ENTRY_TTL;
    memcpy(e->data, &exp, 8);
    memcpy(e->data + 8, "abcHELLO", 8);
    persist_wal_log_ops.put(w, 3, e);
    e->flags = 0;
    memcpy(e->data, "xyzWORLD", 8);
    persist_wal_log_ops.put(w, 3, e);
    persist_wal_log_ops.del(w, 3, "nope", 4);
    assert_int_equal(wal_commit(w), 0);
    wal_free(w);
    free(e);
    tu_model got = {0};
    recover_result res;
    assert_int_equal(recover_into(f, &got, 0, &res), 0);
    assert_int_equal(res.records, 3);
    assert_int_equal(got.n, 2);
    tu_item *a = tu_find(&got, "abc", 3), *b = tu_find(&got, "xyz", 3);
    assert_non_null(a);
    assert_non_null(b);
    assert_memory_equal(a->val, "HELLO", 5);
    assert_int_equal(a->exp, exp);
    assert_memory_equal(b->val, "WORLD", 5);
    assert_int_equal(b->exp, -1);
    tu_model_free(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_commit_reopen_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_middle_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_last_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard_keeps_earlier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_always, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_no, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interval_flusher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_ops_adapter, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
