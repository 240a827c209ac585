/* test_hobj.c - the hash value object: packed <-> table conversion, binary
 * fields, memory figures, iteration and HSCAN cursors across conversions
 * and resizes, encode/decode. Checked against a simple model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buf.h"
#include "engine/hobj.h"
#include "engine/kv.h"

static kv_hash_secret secret = {{7, 7, 7}};

static size_t fname(char *buf, int i)
{
    return (size_t)snprintf(buf, 32, "field:%d", i);
}

static void set_i(hobj_t *h, int i, size_t vlen)
{
    char f[32], v[256];
    size_t fl = fname(f, i);
    memset(v, 'a' + i % 26, sizeof v);
    hobj_set(h, f, fl, v, vlen);
}

static void test_packed_to_table_and_back(void **state)
{
    (void)state;
    hobj_t *h = hobj_new(&secret);
    for (int i = 0; i < HOBJ_PACKED_ENTRIES; i++) set_i(h, i, 8);
    assert_true(hobj_is_packed(h));
    assert_int_equal(hobj_len(h), HOBJ_PACKED_ENTRIES);
    set_i(h, HOBJ_PACKED_ENTRIES, 8); /* one more field: a table */
    assert_false(hobj_is_packed(h));
    assert_int_equal(hobj_len(h), HOBJ_PACKED_ENTRIES + 1);
    for (int i = 0; i <= HOBJ_PACKED_ENTRIES; i++) {
        char f[32];
        kv_str v;
        assert_int_equal(hobj_get(h, f, fname(f, i), &v), 1);
        assert_int_equal(v.len, 8);
        assert_int_equal(v.p[0], 'a' + i % 26);
    }
    /* deleting down to HOBJ_UNPACK_LOW packs it again */
    for (int i = HOBJ_PACKED_ENTRIES; i >= HOBJ_UNPACK_LOW; i--) {
        char f[32];
        assert_false(hobj_is_packed(h));
        assert_int_equal(hobj_del(h, f, fname(f, i)), 1);
    }
    assert_true(hobj_is_packed(h));
    assert_int_equal(hobj_len(h), HOBJ_UNPACK_LOW);
    for (int i = 0; i < HOBJ_UNPACK_LOW; i++) {
        char f[32];
        kv_str v;
        assert_int_equal(hobj_get(h, f, fname(f, i), &v), 1);
    }
    hobj_free(h);
}

static void test_long_value_converts(void **state)
{
    (void)state;
    hobj_t *h = hobj_new(&secret);
    set_i(h, 1, HOBJ_PACKED_BYTES);
    assert_true(hobj_is_packed(h));
    set_i(h, 1, HOBJ_PACKED_BYTES + 1); /* replacing with a long value */
    assert_false(hobj_is_packed(h));
    assert_int_equal(hobj_len(h), 1);
    /* a long field stays in the table even when the hash is small */
    set_i(h, 2, 3);
    char f[32];
    assert_int_equal(hobj_del(h, f, fname(f, 2)), 1);
    assert_false(hobj_is_packed(h));
    set_i(h, 1, 3); /* now everything fits: the next delete packs it */
    set_i(h, 3, 3);
    assert_int_equal(hobj_del(h, f, fname(f, 3)), 1);
    assert_true(hobj_is_packed(h));
    hobj_free(h);
}

static void test_binary_fields(void **state)
{
    (void)state;
    hobj_t *h = hobj_new(&secret);
    const char f1[] = {'a', 0, '\r', '\n'}, f2[] = {'a', 0, '\r', 'x'};
    const char v1[] = {0, 0, 0}, v2[] = {'\n'};
    assert_int_equal(hobj_set(h, f1, 4, v1, 3), 1);
    assert_int_equal(hobj_set(h, f2, 4, v2, 1), 1);
    assert_int_equal(hobj_set(h, "", 0, "", 0), 1);
    assert_int_equal(hobj_set(h, f1, 4, v2, 1), 0);
    kv_str v;
    assert_int_equal(hobj_get(h, f1, 4, &v), 1);
    assert_int_equal(v.len, 1);
    assert_memory_equal(v.p, "\n", 1);
    assert_int_equal(hobj_get(h, f1, 3, &v), 0);
    assert_int_equal(hobj_get(h, "", 0, &v), 1);
    assert_int_equal(v.len, 0);
    assert_int_equal(hobj_del(h, f2, 4), 1);
    assert_int_equal(hobj_del(h, f2, 4), 0);
    assert_int_equal(hobj_len(h), 2);
    hobj_free(h);
}

static void test_value_replace_in_place(void **state)
{
    (void)state;
    hobj_t *h = hobj_new(&secret);
    hobj_set(h, "a", 1, "1", 1);
    hobj_set(h, "b", 1, "22", 2);
    hobj_set(h, "c", 1, "333", 3);
    hobj_set(h, "b", 1, "xxxxxxxx", 8); /* grows in the middle */
    hobj_set(h, "a", 1, "", 0);         /* shrinks at the start */
    kv_str v;
    assert_true(hobj_get(h, "a", 1, &v) && v.len == 0);
    assert_true(hobj_get(h, "b", 1, &v) && v.len == 8 && memcmp(v.p, "xxxxxxxx", 8) == 0);
    assert_true(hobj_get(h, "c", 1, &v) && v.len == 3 && memcmp(v.p, "333", 3) == 0);
    /* a value taken from the hash itself */
    assert_true(hobj_get(h, "c", 1, &v));
    hobj_set(h, "a", 1, v.p, v.len);
    assert_true(hobj_get(h, "a", 1, &v) && v.len == 3 && memcmp(v.p, "333", 3) == 0);
    hobj_free(h);
}

typedef struct seen {
    int n;
    int count[4096];
} seen;

static void mark(void *arg, const kv_str *f, const kv_str *v)
{
    seen *s = arg;
    (void)v;
    int i = atoi(f->p + 6);
    assert_true(i >= 0 && i < 4096);
    s->count[i]++;
    s->n++;
}

/* A full HSCAN while fields are added (table grows) or removed (table
 * shrinks, and finally packs): every field present throughout is seen. */
static void scan_with_changes(int start, int add, int remove_to)
{
    hobj_t *h = hobj_new(&secret);
    for (int i = 0; i < start; i++) set_i(h, i, 4);
    seen *s = calloc(1, sizeof *s);
    uint64_t cur = 0;
    int step = 0, next_add = start, next_del = start - 1;
    do {
        cur = hobj_scan(h, cur, 5, mark, s);
        for (int k = 0; k < 7 && next_add < start + add; k++) set_i(h, next_add++, 4);
        for (int k = 0; k < 7 && next_del >= remove_to && add == 0; k++) {
            char f[32];
            hobj_del(h, f, fname(f, next_del--));
        }
        assert_true(++step < 100000);
    } while (cur != 0);
    int must = add ? start : remove_to;
    for (int i = 0; i < must; i++) assert_true(s->count[i] >= 1);
    free(s);
    hobj_free(h);
}

static void test_scan_across_resize_and_conversion(void **state)
{
    (void)state;
    scan_with_changes(200, 2000, 0); /* grows past several resizes */
    scan_with_changes(2000, 0, 10);  /* shrinks, then packs */
    scan_with_changes(100, 0, 0);    /* packed: one call, cursor 0 */
}

static void test_foreach_and_random(void **state)
{
    (void)state;
    for (int n = 1; n < 600; n += 150) {
        hobj_t *h = hobj_new(&secret);
        for (int i = 0; i < n; i++) set_i(h, i, 4);
        seen *s = calloc(1, sizeof *s);
        hobj_foreach(h, mark, s);
        assert_int_equal(s->n, n);
        for (int i = 0; i < n; i++) assert_int_equal(s->count[i], 1);
        uint64_t rng = 1;
        for (int k = 0; k < 200; k++) {
            kv_str f, v;
            hobj_random(h, &rng, &f, &v);
            kv_str w;
            assert_int_equal(hobj_get(h, f.p, f.len, &w), 1);
            assert_ptr_equal(w.p, v.p);
        }
        free(s);
        hobj_free(h);
    }
}

static void test_encode_decode(void **state)
{
    (void)state;
    for (int n = 0; n < 300; n += 137) {
        hobj_t *h = hobj_new(&secret);
        for (int i = 0; i < n; i++) set_i(h, i, (size_t)(i % 100));
        kvbuf b;
        kvbuf_init(&b);
        hobj_encode(h, &b);
        hobj_t *d = hobj_decode(&secret, b.data, b.len);
        assert_non_null(d);
        assert_int_equal(hobj_len(d), n);
        for (int i = 0; i < n; i++) {
            char f[32];
            kv_str v;
            assert_int_equal(hobj_get(d, f, fname(f, i), &v), 1);
            assert_int_equal(v.len, i % 100);
        }
        /* truncated or with trailing bytes: rejected */
        if (b.len > 1) assert_null(hobj_decode(&secret, b.data, b.len - 1));
        kvbuf_append(&b, "x", 1);
        assert_null(hobj_decode(&secret, b.data, b.len));
        kvbuf_destroy(&b);
        hobj_free(d);
        hobj_free(h);
    }
    /* a duplicate field is corrupt */
    const char dup[] = {2, 1, 'a', 1, 'x', 1, 'a', 1, 'y'};
    assert_null(hobj_decode(&secret, dup, sizeof dup));
}

static void test_mem_tracks_fields(void **state)
{
    (void)state;
    hobj_t *h = hobj_new(&secret);
    size_t empty = hobj_mem(h);
    for (int i = 0; i < 1000; i++) set_i(h, i, 200);
    size_t big = hobj_mem(h);
    assert_true(big > empty + 1000 * 200);
    for (int i = 0; i < 1000; i++) {
        char f[32];
        hobj_del(h, f, fname(f, i));
    }
    assert_int_equal(hobj_len(h), 0);
    assert_true(hobj_mem(h) < empty + 1024);
    hobj_free(h);
}

/* ---- random operations against a model ---- */

#define MODEL_FIELDS 300

typedef struct model {
    int present[MODEL_FIELDS];
    size_t vlen[MODEL_FIELDS];
    char val[MODEL_FIELDS][100];
} model;

/* Field i: binary bytes (NUL, CR, LF), length 0..79 so some pass 64. */
static size_t model_field(char *buf, int i)
{
    size_t n = (size_t)(i * 7 % 80);
    for (size_t k = 0; k < n; k++) buf[k] = (char)((i * 31 + (int)k * 17) % 256);
    if (n >= 2) {
        buf[0] = (char)(i & 0xff);
        buf[1] = (char)(i >> 8); /* distinct prefixes: distinct fields */
    }
    return n;
}

typedef struct check_ctx {
    model *m;
    int seen;
} check_ctx;

static void check_visit(void *arg, const kv_str *f, const kv_str *v)
{
    check_ctx *c = arg;
    char buf[100];
    for (int i = 0; i < MODEL_FIELDS; i++) {
        size_t n = model_field(buf, i);
        if (n == f->len && memcmp(buf, f->p, n) == 0) {
            assert_true(c->m->present[i]);
            assert_int_equal(v->len, c->m->vlen[i]);
            assert_memory_equal(v->p, c->m->val[i], v->len);
            c->seen++;
            return;
        }
    }
    fail_msg("unknown field of length %zu", f->len);
}

static void check_model(hobj_t *h, model *m)
{
    size_t n = 0;
    for (int i = 0; i < MODEL_FIELDS; i++) n += (size_t)m->present[i];
    assert_int_equal(hobj_len(h), n);
    check_ctx c = {m, 0};
    hobj_foreach(h, check_visit, &c);
    assert_int_equal(c.seen, (int)n);
    kvbuf b;
    kvbuf_init(&b);
    hobj_encode(h, &b);
    hobj_t *d = hobj_decode(&secret, b.data, b.len);
    assert_non_null(d);
    c.seen = 0;
    hobj_foreach(d, check_visit, &c);
    assert_int_equal(c.seen, (int)n);
    hobj_free(d);
    kvbuf_destroy(&b);
}

static void test_random_ops_against_model(void **state)
{
    (void)state;
    uint64_t rng = 12345;
    for (int round = 0; round < 4; round++) {
        hobj_t *h = hobj_new(&secret);
        model *m = calloc(1, sizeof *m);
        int universe = round % 2 ? MODEL_FIELDS : 40; /* 40: mostly packed */
        int conversions = 0, was_packed = 1;
        for (int op = 0; op < 20000; op++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            int i = (int)(rng % (uint64_t)universe);
            char f[100];
            size_t fl = model_field(f, i);
            if (fl < 2 && i >= 2) continue; /* lengths 0/1 repeat: keep fields distinct */
            int r = (int)((rng >> 20) % 100);
            if (r < 55) {
                size_t vl = (rng >> 32) % (round >= 2 ? 100 : 60);
                char v[100];
                for (size_t k = 0; k < vl; k++) v[k] = (char)(op + (int)k);
                assert_int_equal(hobj_set(h, f, fl, v, vl), !m->present[i]);
                m->present[i] = 1;
                m->vlen[i] = vl;
                memcpy(m->val[i], v, vl);
            } else if (r < 90) {
                assert_int_equal(hobj_del(h, f, fl), m->present[i]);
                m->present[i] = 0;
            } else {
                kv_str v;
                assert_int_equal(hobj_get(h, f, fl, &v), m->present[i]);
                if (m->present[i]) {
                    assert_int_equal(v.len, m->vlen[i]);
                    assert_memory_equal(v.p, m->val[i], v.len);
                }
            }
            if (hobj_is_packed(h) != was_packed) {
                conversions++;
                was_packed = hobj_is_packed(h);
            }
            if (op % 1000 == 0) check_model(h, m);
        }
        check_model(h, m);
        assert_true(hobj_mem(h) > 0);
        if (round >= 1) assert_true(conversions >= 1);
        free(m);
        hobj_free(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_to_table_and_back),
        cmocka_unit_test(test_long_value_converts),
        cmocka_unit_test(test_binary_fields),
        cmocka_unit_test(test_value_replace_in_place),
        cmocka_unit_test(test_scan_across_resize_and_conversion),
        cmocka_unit_test(test_foreach_and_random),
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_mem_tracks_fields),
        cmocka_unit_test(test_random_ops_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
