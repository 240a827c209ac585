/* test_zobj.c - the sorted-set value object: random operations checked
 * against a simple model (member id -> score), in the packed form, across
 * its conversion (by count and by member length) and deep in the B+tree;
 * order and ranks, ranges by score, encode/decode (the format byte by
 * byte). Run under ASan in Debug builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buf.h"
#include "engine/kv.h"
#include "engine/zobj.h"

static kv_hash_secret secret = {{5, 4, 3}};

static uint64_t rng = 0x1234567887654321ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Member i's name: "m%05d", or for ids that are multiples of long_every (if
 * not 0) a 70-byte name, longer than the packed form takes. */
static int long_every;
static size_t name(char *b, int i)
{
    if (long_every && i % long_every == 0) return (size_t)snprintf(b, 80, "L%069d", i);
    return (size_t)snprintf(b, 80, "m%05d", i);
}

typedef struct model {
    int u;
    char *in;
    double *score;
} model;

static const model *cur;
static int by_order(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    if (cur->score[a] != cur->score[b]) return cur->score[a] < cur->score[b] ? -1 : 1;
    char x[80], y[80];
    size_t lx = name(x, a), ly = name(y, b), k = lx < ly ? lx : ly;
    int c = memcmp(x, y, k);
    return c ? c : (lx > ly) - (lx < ly);
}

/* The model's members in (score, name) order. */
static int sorted(const model *m, int *out)
{
    int n = 0;
    for (int i = 0; i < m->u; i++)
        if (m->in[i]) out[n++] = i;
    cur = m;
    qsort(out, (size_t)n, sizeof *out, by_order);
    return n;
}

static void check(zobj_t *z, const model *m)
{
    int *order = malloc((size_t)m->u * sizeof *order);
    char b[80];
    int n = sorted(m, order);
    assert_int_equal(zobj_len(z), (size_t)n);
    for (int r = 0; r < n; r++) {
        kv_str mem;
        double sc;
        zobj_at(z, (size_t)r, &mem, &sc);
        size_t l = name(b, order[r]);
        assert_int_equal(mem.len, l);
        assert_memory_equal(mem.p, b, l);
        assert_true(sc == m->score[order[r]]);
        assert_int_equal(zobj_rank(z, b, l), r);
    }
    for (int r = n - 1; r >= 0; r--) { /* a reverse range read */
        kv_str mem;
        double sc;
        zobj_at(z, (size_t)r, &mem, &sc);
        assert_true(sc == m->score[order[r]]);
    }
    for (int t = 0; t < 4; t++) {
        double lo = (double)(rnd() % 20) - 5 + (t & 1 ? 0.5 : 0);
        size_t want = 0, want_x = 0;
        for (int r = 0; r < n; r++) {
            if (m->score[order[r]] < lo) want++;
            if (m->score[order[r]] <= lo) want_x++;
        }
        assert_int_equal(zobj_first_ge(z, lo, 0), want);
        assert_int_equal(zobj_first_ge(z, lo, 1), want_x);
    }
    free(order);
}

/* Does a decode of z's encoding give the same content? Also checks the
 * form the decode chose and that a truncated encoding is refused. */
static void check_roundtrip(zobj_t *z, const model *m)
{
    kvbuf e;
    kvbuf_init(&e);
    zobj_encode(z, &e);
    zobj_t *d = zobj_decode(&secret, e.data, e.len);
    assert_non_null(d);
    check(d, m);
    int fits = zobj_len(d) <= ZOBJ_PACKED_ENTRIES;
    char b[80];
    for (int i = 0; i < m->u; i++)
        if (m->in[i] && name(b, i) > ZOBJ_PACKED_BYTES) fits = 0;
    assert_int_equal(zobj_is_packed(d), fits);
    kvbuf e2;
    kvbuf_init(&e2);
    zobj_encode(d, &e2);
    assert_int_equal(e.len, e2.len);
    assert_memory_equal(e.data, e2.data, e.len);
    kvbuf_destroy(&e2);
    zobj_free(d);
    assert_null(zobj_decode(&secret, e.data, e.len > 1 ? e.len - 1 : 0));
    kvbuf_destroy(&e);
}

/* ops random ZADD/ZREM over u ids against the model; *packed_until gets
 * the op at which z left the packed form (-1: never), which must be the
 * first add of a new member past either limit. */
static void run_model(int u, int ops, int add_pct, int distinct_scores, int check_every)
{
    model m = {u, calloc((size_t)u, 1), calloc((size_t)u, sizeof(double))};
    zobj_t *z = zobj_new(&secret);
    int packed = 1, count = 0;
    char b[80];
    for (int op = 0; op < ops; op++) {
        int i = (int)(rnd() % (uint64_t)u);
        size_t l = name(b, i);
        if ((int)(rnd() % 100) < add_pct) {
            double sc = (double)(rnd() % (uint64_t)distinct_scores) - 5 + (rnd() % 2 ? 0.5 : 0);
            if (!m.in[i] && (count == ZOBJ_PACKED_ENTRIES || l > ZOBJ_PACKED_BYTES)) packed = 0;
            assert_int_equal(zobj_set(z, b, l, sc), !m.in[i]);
            count += !m.in[i];
            m.in[i] = 1;
            m.score[i] = sc;
        } else {
            assert_int_equal(zobj_rem(z, b, l), m.in[i]);
            count -= m.in[i];
            m.in[i] = 0;
        }
        assert_int_equal(zobj_is_packed(z), packed);
        double got;
        assert_int_equal(zobj_score(z, b, l, &got), m.in[i]);
        if (m.in[i]) assert_true(got == m.score[i]);
        if (op % check_every == 0) check(z, &m);
    }
    check(z, &m);
    check_roundtrip(z, &m);
    zobj_free(z);
    free(m.in);
    free(m.score);
}

static void test_packed_only(void **state)
{
    (void)state;
    long_every = 0;
    run_model(ZOBJ_PACKED_ENTRIES, 20000, 60, 15, 97); /* never more than 128 members */
}

static void test_converts_by_count(void **state)
{
    (void)state;
    long_every = 0;
    run_model(300, 20000, 65, 15, 500);
}

static void test_converts_by_length(void **state)
{
    (void)state;
    long_every = 37;
    run_model(100, 5000, 60, 15, 250);
}

static void test_big_tree(void **state)
{
    (void)state;
    long_every = 0;
    run_model(20000, 200000, 60, 15, 40000); /* many ties: order by member */
    run_model(20000, 100000, 80, 1 << 30, 50000);
    run_model(3000, 100000, 45, 100, 25000); /* grows, then shrinks back */
}

/* Members added in order (a load, time-ordered scores) then removed from
 * both ends and the middle: the append splits and the merges. */
static void test_in_order_then_removed(void **state)
{
    (void)state;
    long_every = 0;
    int u = 10000;
    model m = {u, calloc((size_t)u, 1), calloc((size_t)u, sizeof(double))};
    zobj_t *z = zobj_new(&secret);
    char b[80];
    for (int i = 0; i < u; i++) {
        assert_int_equal(zobj_set(z, b, name(b, i), (double)i), 1);
        m.in[i] = 1;
        m.score[i] = i;
    }
    check(z, &m);
    for (int k = 0; k < u / 2; k++) {
        int i = k % 3 == 0 ? k / 3 : k % 3 == 1 ? u - 1 - k / 3 : u / 2 + k / 3;
        if (!m.in[i]) continue;
        assert_int_equal(zobj_rem(z, b, name(b, i)), 1);
        m.in[i] = 0;
    }
    check(z, &m);
    for (int i = 0; i < u; i++)
        if (m.in[i]) {
            assert_int_equal(zobj_rem(z, b, name(b, i)), 1);
            m.in[i] = 0;
        }
    check(z, &m);
    assert_int_equal(zobj_len(z), 0);
    zobj_free(z);
    free(m.in);
    free(m.score);
}

/* The snapshot/WAL format, byte by byte: varint count, then per member
 * in order 8 bytes of score (IEEE 754, little endian), varint length and
 * the member; the same for both forms (count 3: packed, 200: the tree). */
static void test_encoding_bytes(void **state)
{
    (void)state;
    for (int count = 3; count <= 200; count += 197) {
        zobj_t *z = zobj_new(&secret);
        char mb[16];
        for (int i = count - 1; i >= 0; i--)
            zobj_set(z, mb, (size_t)snprintf(mb, 16, "%05d", i), -1.5 + i);
        assert_int_equal(zobj_is_packed(z), count <= ZOBJ_PACKED_ENTRIES);
        kvbuf want, got;
        kvbuf_init(&want);
        kvbuf_init(&got);
        unsigned char v[2] = {(unsigned char)((count & 0x7f) | (count >= 128 ? 0x80 : 0)),
                              (unsigned char)(count >> 7)};
        kvbuf_append(&want, v, count >= 128 ? 2 : 1);
        for (int i = 0; i < count; i++) {
            double s = -1.5 + i;
            uint64_t bits;
            memcpy(&bits, &s, 8);
            unsigned char sb[8];
            for (int k = 0; k < 8; k++) sb[k] = (unsigned char)(bits >> (8 * k));
            kvbuf_append(&want, sb, 8);
            unsigned char l = 5;
            kvbuf_append(&want, &l, 1);
            kvbuf_append(&want, mb, (size_t)snprintf(mb, 16, "%05d", i));
        }
        zobj_encode(z, &got);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        kvbuf_destroy(&want);
        kvbuf_destroy(&got);
        zobj_free(z);
    }
}

static void test_empty_member_and_limits(void **state)
{
    (void)state;
    zobj_t *z = zobj_new(&secret);
    char b[80];
    assert_int_equal(zobj_set(z, "", 0, 1.0), 1);
    for (int i = 1; i < ZOBJ_PACKED_ENTRIES; i++) zobj_set(z, b, name(b, i), (double)i);
    assert_true(zobj_is_packed(z));
    assert_int_equal(zobj_len(z), ZOBJ_PACKED_ENTRIES);
    assert_int_equal(zobj_set(z, "m00001", 6, 99.0), 0); /* an update: no conversion */
    assert_true(zobj_is_packed(z));
    assert_int_equal(zobj_set(z, "new", 3, 0.0), 1);
    assert_false(zobj_is_packed(z));
    double s;
    assert_int_equal(zobj_score(z, "", 0, &s), 1);
    assert_true(s == 1.0);
    for (int i = 1; i < ZOBJ_PACKED_ENTRIES; i++) zobj_rem(z, b, name(b, i));
    assert_int_equal(zobj_len(z), 2);
    assert_false(zobj_is_packed(z)); /* never back */
    assert_int_equal(zobj_rank(z, "", 0), 1);
    zobj_free(z);
}

/* The packed form keeps integer scores in 2 bytes: every score must come
 * back exactly, -0 with its sign, the int16 edges and beyond. */
static void test_packed_scores_exact(void **state)
{
    (void)state;
    const double v[] = {-0.0, 0.0,   1,       -1,        32767,      32768, -32768, -32769,
                        0.5,  1e300, -1e-300, 1.0 / 0.0, -1.0 / 0.0, 12345, 65536,  -2.5};
    size_t nv = sizeof v / sizeof v[0];
    zobj_t *z = zobj_new(&secret);
    char b[80];
    for (size_t i = 0; i < nv; i++) zobj_set(z, b, (size_t)snprintf(b, 80, "k%zu", i), v[i]);
    assert_true(zobj_is_packed(z));
    for (size_t i = 0; i < nv; i++) {
        double s;
        assert_int_equal(zobj_score(z, b, (size_t)snprintf(b, 80, "k%zu", i), &s), 1);
        assert_memory_equal(&s, &v[i], sizeof s); /* the bits, -0 included */
    }
    double prev = -1.0 / 0.0;
    for (size_t r = 0; r < nv; r++) {
        kv_str m;
        double s;
        zobj_at(z, r, &m, &s);
        assert_true(s >= prev);
        prev = s;
    }
    kvbuf e;
    kvbuf_init(&e);
    zobj_encode(z, &e);
    zobj_t *d = zobj_decode(&secret, e.data, e.len);
    assert_non_null(d);
    for (size_t i = 0; i < nv; i++) {
        double s;
        assert_int_equal(zobj_score(d, b, (size_t)snprintf(b, 80, "k%zu", i), &s), 1);
        assert_memory_equal(&s, &v[i], sizeof s);
    }
    zobj_free(d);
    kvbuf_destroy(&e);
    zobj_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_only),
        cmocka_unit_test(test_converts_by_count),
        cmocka_unit_test(test_converts_by_length),
        cmocka_unit_test(test_big_tree),
        cmocka_unit_test(test_in_order_then_removed),
        cmocka_unit_test(test_encoding_bytes),
        cmocka_unit_test(test_empty_member_and_limits),
        cmocka_unit_test(test_packed_scores_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
