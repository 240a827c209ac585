/* test_lobj.c - the list value object: random operations checked against
 * a simple array model, across the one-node ("listpack") and chained
 * forms; iteration both ways, encode/decode, memory figures. */
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
#include "engine/lobj.h"

/* The model: an array of owned strings. */
typedef struct model {
    char **v;
    size_t *n;
    size_t len, cap;
} model;

static void m_insert(model *m, size_t at, const char *p, size_t n)
{
    if (m->len == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
        m->n = realloc(m->n, m->cap * sizeof *m->n);
    }
    memmove(m->v + at + 1, m->v + at, (m->len - at) * sizeof *m->v);
    memmove(m->n + at + 1, m->n + at, (m->len - at) * sizeof *m->n);
    m->v[at] = malloc(n ? n : 1);
    memcpy(m->v[at], p, n);
    m->n[at] = n;
    m->len++;
}

static void m_delete(model *m, size_t at, size_t k)
{
    for (size_t i = at; i < at + k; i++) free(m->v[i]);
    memmove(m->v + at, m->v + at + k, (m->len - at - k) * sizeof *m->v);
    memmove(m->n + at, m->n + at + k, (m->len - at - k) * sizeof *m->n);
    m->len -= k;
}

static void m_free(model *m)
{
    m_delete(m, 0, m->len);
    free(m->v);
    free(m->n);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* An element of random length: mostly short, sometimes past a node. */
static size_t make_elem(char *buf, uint64_t id)
{
    uint64_t r = rnd() % 100;
    size_t n = r < 70 ? rnd() % 16 : (r < 97 ? rnd() % 300 : 8000 + rnd() % 3000);
    for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + (id + i) % 26);
    if (n >= 8) snprintf(buf, 8, "%07llu", (unsigned long long)(id % 10000000));
    return n;
}

static void check_equal(lobj_t *l, const model *m)
{
    assert_int_equal(lobj_len(l), m->len);
    kv_str v;
    lobj_iter it;
    size_t i = 0;
    lobj_iter_init(l, &it, 0, 0);
    while (lobj_iter_next(&it, &v)) {
        assert_true(i < m->len);
        assert_int_equal(v.len, m->n[i]);
        assert_memory_equal(v.p, m->v[i], v.len);
        i++;
    }
    lobj_iter_done(&it);
    assert_int_equal(i, m->len);
    if (m->len == 0) return;
    /* backward from a random index, and random gets */
    size_t start = (size_t)(rnd() % m->len);
    lobj_iter_init(l, &it, start, 1);
    i = start + 1;
    while (lobj_iter_next(&it, &v)) {
        i--;
        assert_int_equal(v.len, m->n[i]);
        assert_memory_equal(v.p, m->v[i], v.len);
    }
    lobj_iter_done(&it);
    assert_int_equal(i, 0);
    for (int k = 0; k < 5; k++) {
        size_t at = (size_t)(rnd() % m->len);
        lobj_get(l, at, &v);
        assert_int_equal(v.len, m->n[at]);
        assert_memory_equal(v.p, m->v[at], v.len);
    }
}

static void test_random_ops_against_model(void **state)
{
    (void)state;
    static char buf[12000];
    for (int round = 0; round < 4; round++) {
        lobj_t *l = lobj_new();
        model m = {0};
        int saw_packed = 0, saw_chain = 0;
        for (int op = 0; op < 6000; op++) {
            uint64_t r = rnd() % 100;
            size_t n = make_elem(buf, (uint64_t)op);
            /* rounds 0-1 grow big, rounds 2-3 hover around a few nodes */
            int grow = round < 2 ? r < 60 : (m.len < 400 ? r < 55 : r < 40);
            if (grow && r < 25) {
                lobj_push(l, LOBJ_HEAD, buf, n);
                m_insert(&m, 0, buf, n);
            } else if (grow && r < 50) {
                lobj_push(l, LOBJ_TAIL, buf, n);
                m_insert(&m, m.len, buf, n);
            } else if (grow) {
                size_t at = (size_t)(rnd() % (m.len + 1));
                lobj_insert(l, at, buf, n);
                m_insert(&m, at, buf, n);
            } else if (m.len > 0 && r < 80) {
                size_t at = (size_t)(rnd() % m.len);
                size_t k = (size_t)(rnd() % 4);
                if (at + k > m.len) k = m.len - at;
                lobj_delete(l, at, k);
                m_delete(&m, at, k);
            } else if (m.len > 0 && r < 90) {
                size_t k = 1 + (size_t)(rnd() % 3);
                if (k > m.len) k = m.len;
                int head = rnd() & 1;
                lobj_delete(l, head ? 0 : m.len - k, k);
                m_delete(&m, head ? 0 : m.len - k, k);
            } else if (m.len > 0) {
                size_t at = (size_t)(rnd() % m.len);
                lobj_set(l, at, buf, n);
                m_delete(&m, at, 1);
                m_insert(&m, at, buf, n);
            }
            if (lobj_is_packed(l))
                saw_packed = 1;
            else
                saw_chain = 1;
            if (op % 97 == 0) check_equal(l, &m);
        }
        check_equal(l, &m);
        assert_true(saw_packed && saw_chain);
        /* encode / decode round trip */
        kvbuf b;
        kvbuf_init(&b);
        lobj_encode(l, &b);
        lobj_t *d = lobj_decode(b.data, b.len);
        assert_non_null(d);
        check_equal(d, &m);
        lobj_free(d);
        kvbuf_destroy(&b);
        /* emptied from the head: no node left behind */
        lobj_delete(l, 0, lobj_len(l));
        m_delete(&m, 0, m.len);
        assert_int_equal(lobj_len(l), 0);
        assert_true(lobj_is_packed(l));
        lobj_free(l);
        m_free(&m);
    }
}

static void test_small_list_is_one_node(void **state)
{
    (void)state;
    lobj_t *l = lobj_new();
    for (int i = 0; i < 100; i++) lobj_push(l, i % 2 ? LOBJ_HEAD : LOBJ_TAIL, "elem", 4);
    assert_true(lobj_is_packed(l));
    size_t small = lobj_mem(l);
    assert_true(small < 1024); /* 100 x 5 bytes packed, plus the node */
    for (int i = 0; i < 10000; i++) lobj_push(l, LOBJ_TAIL, "elem", 4);
    assert_false(lobj_is_packed(l));
    assert_true(lobj_mem(l) < 10100 * 5 * 2); /* nodes stay packed */
    lobj_delete(l, 50, 10000);
    assert_int_equal(lobj_len(l), 100);
    assert_true(lobj_mem(l) < 4096);
    lobj_free(l);
}

static void test_decode_rejects_bad_input(void **state)
{
    (void)state;
    /* varint version, varint count, then the elements */
    static const char no_count[] = "\x07";
    static const char short_count[] = "\x07\x02\x01"
                                      "a";
    static const char past_end[] = "\x07\x01\x05"
                                   "ab";
    static const char trailing[] = "\x07\x01\x01"
                                   "ab";
    static const char bad_varint[] = "\x07\xff\xff\xff";
    static const char good[] = "\x87\x01\x02\x01"
                               "a\x00"; /* version 135: "a", "" */
    assert_null(lobj_decode("", 0));
    assert_null(lobj_decode(no_count, sizeof no_count - 1));
    assert_null(lobj_decode(short_count, sizeof short_count - 1));
    assert_null(lobj_decode(past_end, sizeof past_end - 1));
    assert_null(lobj_decode(trailing, sizeof trailing - 1));
    assert_null(lobj_decode(bad_varint, sizeof bad_varint - 1));
    lobj_t *l = lobj_decode(good, sizeof good - 1);
    assert_non_null(l);
    assert_int_equal(lobj_len(l), 2);
    assert_int_equal(lobj_version(l), 135);
    lobj_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ops_against_model),
        cmocka_unit_test(test_small_list_is_one_node),
        cmocka_unit_test(test_decode_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
