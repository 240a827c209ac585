/* test_zobj.c - the sorted-set value object: random operations checked
 * against a simple model (member id -> score), order and ranks, ranges by
 * score, encode/decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "kv.h"
#include "zobj.h"

static kv_hash_secret secret = {{5, 4, 3}};

#define U 300

static uint64_t rng = 0x1234567887654321ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t name(char *b, int i)
{
    return (size_t)snprintf(b, 16, "m%03d", i);
}

typedef struct model {
    int in[U];
    double score[U];
} model;

/* The model's members in (score, name) order. */
static int sorted(const model *m, int *out)
{
    int n = 0;
    for (int i = 0; i < U; i++)
        if (m->in[i]) out[n++] = i;
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0; b--) {
            int x = out[b - 1], y = out[b];
            int gt = m->score[x] > m->score[y] || (m->score[x] == m->score[y] && x > y);
            if (!gt) break;
            out[b - 1] = y;
            out[b] = x;
        }
    return n;
}

static void check(zobj_t *z, const model *m)
{
    int order[U];
    char b[16];
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
    double lo = (double)(rnd() % 20) - 5;
    size_t want = 0;
    for (int r = 0; r < n; r++)
        if (m->score[order[r]] < lo) want++;
    assert_int_equal(zobj_first_ge(z, lo, 0), want);
}

static void test_random_ops_against_model(void **state)
{
    (void)state;
    zobj_t *z = zobj_new(&secret);
    model m = {{0}, {0}};
    char b[16];
    for (int op = 0; op < 20000; op++) {
        int i = (int)(rnd() % U);
        size_t l = name(b, i);
        if (rnd() % 100 < 65) {
            double sc = (double)(rnd() % 15) - 5 + (rnd() % 2 ? 0.5 : 0);
            assert_int_equal(zobj_set(z, b, l, sc), !m.in[i]);
            m.in[i] = 1;
            m.score[i] = sc;
        } else {
            assert_int_equal(zobj_rem(z, b, l), m.in[i]);
            m.in[i] = 0;
        }
        double got;
        assert_int_equal(zobj_score(z, b, l, &got), m.in[i]);
        if (m.in[i]) assert_true(got == m.score[i]);
        if (op % 500 == 0) check(z, &m);
    }
    check(z, &m);
    kvbuf e;
    kvbuf_init(&e);
    zobj_encode(z, &e);
    zobj_t *d = zobj_decode(&secret, e.data, e.len);
    assert_non_null(d);
    check(d, &m);
    zobj_free(d);
    assert_null(zobj_decode(&secret, e.data, e.len > 1 ? e.len - 1 : 0));
    kvbuf_destroy(&e);
    zobj_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ops_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
