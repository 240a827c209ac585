/* test_sobj.c - the set value object and the set algebra (cmd_setop):
 * random operations checked against a bitmap model across the packed and
 * table forms, SSCAN coverage, encode/decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buf.h"
#include "engine/cmd.h"
#include "engine/hobj.h"
#include "engine/kv.h"
#include "engine/sobj.h"

static kv_hash_secret secret = {{3, 1, 4}};

#define UNIVERSE 600

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t name(char *b, int i)
{
    /* a few long members push the set out of the packed form */
    if (i % 50 == 49) return (size_t)snprintf(b, 128, "member-%d-%0100d", i, 0);
    return (size_t)snprintf(b, 128, "m%d", i);
}

typedef struct seen {
    unsigned char *hit;
    int n;
} seen;

static void mark(void *arg, const kv_str *m)
{
    seen *s = arg;
    int i = 0;
    assert_true(m->len > 1 && (m->p[0] == 'm'));
    size_t k = m->p[1] == 'e' ? 7 : 1; /* the member is not NUL-terminated */
    while (k < m->len && m->p[k] >= '0' && m->p[k] <= '9') i = i * 10 + (m->p[k++] - '0');
    assert_true(i >= 0 && i < UNIVERSE);
    s->hit[i]++;
    s->n++;
}

static void check(sobj_t *o, const unsigned char *model)
{
    unsigned char hit[UNIVERSE] = {0};
    seen s = {hit, 0};
    size_t want = 0;
    for (int i = 0; i < UNIVERSE; i++) want += model[i];
    assert_int_equal(sobj_len(o), want);
    sobj_foreach(o, mark, &s);
    for (int i = 0; i < UNIVERSE; i++) assert_int_equal(hit[i], model[i]);
    /* a full SSCAN sees every member at least once */
    memset(hit, 0, sizeof hit);
    uint64_t cur = 0;
    do cur = sobj_scan(o, cur, 7, mark, &s);
    while (cur != 0);
    for (int i = 0; i < UNIVERSE; i++) assert_true(model[i] ? hit[i] >= 1 : hit[i] == 0);
}

static void test_random_ops_against_model(void **state)
{
    (void)state;
    char b[128];
    sobj_t *o = sobj_new(&secret);
    unsigned char model[UNIVERSE] = {0};
    int saw_packed = 0, saw_table = 0;
    for (int op = 0; op < 20000; op++) {
        /* phases: grow to the table form, shrink back to packed */
        int phase = (op / 2500) % 2;
        int range = phase ? 40 : UNIVERSE;
        int i = (int)(rnd() % (uint64_t)range);
        size_t n = name(b, i);
        int add = phase ? rnd() % 100 < 30 : rnd() % 100 < 70;
        if (add) {
            assert_int_equal(sobj_add(o, b, n), !model[i]);
            model[i] = 1;
        } else {
            int j = (int)(rnd() % UNIVERSE);
            n = name(b, j);
            assert_int_equal(sobj_rem(o, b, n), model[j]);
            model[j] = 0;
        }
        n = name(b, i);
        assert_int_equal(sobj_has(o, b, n), model[i]);
        if (sobj_is_packed(o))
            saw_packed = 1;
        else
            saw_table = 1;
        if (op % 211 == 0) check(o, model);
    }
    check(o, model);
    assert_true(saw_packed && saw_table);
    kvbuf e;
    kvbuf_init(&e);
    sobj_encode(o, &e);
    sobj_t *d = sobj_decode(&secret, e.data, e.len);
    assert_non_null(d);
    check(d, model);
    sobj_free(d);
    kvbuf_destroy(&e);
    sobj_free(o);
}

static void test_decode_rejects_values(void **state)
{
    (void)state;
    hobj_t *h = hobj_new(&secret);
    hobj_set(h, "a", 1, "x", 1); /* a hash with a value is not a set */
    kvbuf e;
    kvbuf_init(&e);
    hobj_encode(h, &e);
    assert_null(sobj_decode(&secret, e.data, e.len));
    kvbuf_destroy(&e);
    hobj_free(h);
    assert_null(sobj_decode(&secret,
                            "\x02\x01"
                            "a\x00",
                            4));
}

static void fill(sobj_t *o, unsigned char *model, int mod, int rem)
{
    char b[128];
    for (int i = 0; i < UNIVERSE; i++)
        if (i % mod == rem || rnd() % 5 == 0) {
            sobj_add(o, b, name(b, i));
            model[i] = 1;
        }
}

static void test_setop_against_model(void **state)
{
    (void)state;
    unsigned char ma[UNIVERSE] = {0}, mb[UNIVERSE] = {0}, mc[UNIVERSE] = {0};
    unsigned char want[UNIVERSE];
    sobj_t *sets[4] = {sobj_new(&secret), sobj_new(&secret), sobj_new(&secret), NULL};
    fill(sets[0], ma, 2, 0);
    fill(sets[1], mb, 3, 0);
    fill(sets[2], mc, 5, 1);
    for (int op = SETOP_INTER; op <= SETOP_DIFF; op++) {
        sobj_t *r = cmd_setop(op, sets, 3, &secret);
        for (int i = 0; i < UNIVERSE; i++)
            want[i] = op == SETOP_INTER   ? (ma[i] && mb[i] && mc[i])
                      : op == SETOP_UNION ? (ma[i] || mb[i] || mc[i])
                                          : (ma[i] && !mb[i] && !mc[i]);
        check(r, want);
        sobj_free(r);
    }
    /* an absent key (NULL) empties an intersection, is ignored elsewhere */
    sobj_t *r = cmd_setop(SETOP_INTER, sets, 4, &secret);
    assert_int_equal(sobj_len(r), 0);
    sobj_free(r);
    r = cmd_setop(SETOP_DIFF, sets + 3, 1, &secret);
    assert_int_equal(sobj_len(r), 0);
    sobj_free(r);
    for (int i = 0; i < 3; i++) sobj_free(sets[i]);
}

/* ---- the intset form ---- */

#define IU 1200 /* integer universe: value of id i */
static int64_t ival(int i)
{
    if (i == 0) return INT64_MIN;
    if (i == 1) return INT64_MAX;
    return (int64_t)(i - IU / 2) * 1000003; /* negatives, zero, positives */
}

typedef struct iseen {
    unsigned char *hit;
    int64_t last;
    size_t n;
    int ordered;
} iseen;

static void imark(void *arg, const kv_str *m)
{
    iseen *x = arg;
    char b[32];
    assert_true(m->len < sizeof b);
    memcpy(b, m->p, m->len);
    b[m->len] = 0;
    long long v = strtoll(b, NULL, 10);
    int found = 0;
    for (int i = 0; i < IU; i++)
        if (ival(i) == v) {
            x->hit[i]++;
            found = 1;
        }
    assert_true(found);
    if (x->n && v <= x->last) x->ordered = 0;
    x->last = v;
    x->n++;
}

static void icheck(sobj_t *o, const unsigned char *model)
{
    unsigned char hit[IU] = {0};
    iseen x = {hit, 0, 0, 1};
    size_t want = 0;
    for (int i = 0; i < IU; i++) want += model[i];
    assert_int_equal(sobj_len(o), want);
    sobj_foreach(o, imark, &x);
    for (int i = 0; i < IU; i++) assert_int_equal(hit[i], model[i]);
    if (sobj_is_intset(o)) assert_true(x.ordered); /* ascending, as Redis */
    if (want) {
        kv_str m;
        uint64_t r = 7;
        sobj_random(o, &r, &m);
        assert_true(sobj_has(o, m.p, m.len));
    }
}

/* Random SADD/SREM of integers against a model, with the expected form:
 * an intset until a non-integer member or the 513th member, then a hash
 * for good; encode/decode builds an intset again when it fits. */
static void test_intset_against_model(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        sobj_t *o = sobj_new(&secret);
        unsigned char model[IU] = {0};
        int count = 0, is_int = 1;
        char b[32];
        int range = round == 0 ? 400 : IU; /* round 0 stays under the limit */
        for (int op = 0; op < 6000; op++) {
            int i = (int)(rnd() % (uint64_t)range);
            size_t n = (size_t)snprintf(b, sizeof b, "%lld", (long long)ival(i));
            if (rnd() % 100 < 65) {
                if (!model[i] && count == SOBJ_INTSET_ENTRIES) is_int = 0;
                assert_int_equal(sobj_add(o, b, n), !model[i]);
                count += !model[i];
                model[i] = 1;
            } else {
                assert_int_equal(sobj_rem(o, b, n), model[i]);
                count -= model[i];
                model[i] = 0;
            }
            assert_int_equal(sobj_has(o, b, n), model[i]);
            /* integers not in canonical form are other members */
            assert_false(sobj_has(o, "+1", 2));
            assert_int_equal(sobj_is_intset(o), is_int);
            if (round == 2 && op == 3000) { /* a non-integer member: a hash for good */
                assert_int_equal(sobj_add(o, "007", 3), 1);
                assert_false(sobj_is_intset(o));
                assert_int_equal(sobj_rem(o, "007", 3), 1);
                is_int = 0;
            }
            if (op % 500 == 0) icheck(o, model);
        }
        icheck(o, model);
        kvbuf e;
        kvbuf_init(&e);
        sobj_encode(o, &e);
        sobj_t *d = sobj_decode(&secret, e.data, e.len);
        assert_non_null(d);
        icheck(d, model);
        assert_int_equal(sobj_is_intset(d), count <= SOBJ_INTSET_ENTRIES);
        sobj_free(d);
        kvbuf_destroy(&e);
        sobj_free(o);
    }
}

/* The intset's encoding is the hash format with empty values, members in
 * ascending order. */
static void test_intset_encoding_bytes(void **state)
{
    (void)state;
    sobj_t *o = sobj_new(&secret);
    sobj_add(o, "10", 2);
    sobj_add(o, "-3", 2);
    assert_int_equal(sobj_add(o, "10", 2), 0);
    assert_true(sobj_is_intset(o));
    assert_false(sobj_is_packed(o));
    kvbuf e;
    kvbuf_init(&e);
    sobj_encode(o, &e);
    assert_int_equal(e.len, 9);
    assert_memory_equal(e.data,
                        "\x02\x02-3\x00\x02"
                        "10\x00",
                        9);
    kvbuf_destroy(&e);
    sobj_free(o);
}

/* Values that need 2, 4 then 8 bytes, added in an order that widens the
 * array between inserts at its start, middle and end. */
static void test_intset_widths(void **state)
{
    (void)state;
    const char *v[] = {"5",
                       "-7",
                       "32767",
                       "-32768",
                       "32768",
                       "-2147483648",
                       "2147483647",
                       "2147483648",
                       "-9223372036854775808",
                       "9223372036854775807",
                       "0",
                       "100000"};
    const long long want[] = {INT64_MIN, -2147483648ll, -32768,       -7,       0, 5, 32767, 32768,
                              100000,    2147483647,    2147483648ll, INT64_MAX};
    size_t nv = sizeof v / sizeof v[0];
    sobj_t *o = sobj_new(&secret);
    for (size_t i = 0; i < nv; i++) {
        assert_int_equal(sobj_add(o, v[i], strlen(v[i])), 1);
        for (size_t j = 0; j <= i; j++) assert_true(sobj_has(o, v[j], strlen(v[j])));
        assert_false(sobj_has(o, "1", 1));
    }
    assert_true(sobj_is_intset(o));
    kvbuf e;
    kvbuf_init(&e);
    sobj_encode(o, &e);
    size_t off = 1;
    for (size_t i = 0; i < nv; i++) { /* ascending: (len, digits, 0) each */
        char b[32];
        size_t l = (size_t)snprintf(b, sizeof b, "%lld", want[i]);
        assert_int_equal((unsigned char)e.data[off], l);
        assert_memory_equal(e.data + off + 1, b, l);
        off += l + 2;
    }
    assert_int_equal(off, e.len);
    kvbuf_destroy(&e);
    for (size_t i = 0; i < nv; i++) assert_int_equal(sobj_rem(o, v[i], strlen(v[i])), 1);
    assert_int_equal(sobj_len(o), 0);
    sobj_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ops_against_model),
        cmocka_unit_test(test_decode_rejects_values),
        cmocka_unit_test(test_setop_against_model),
        cmocka_unit_test(test_intset_against_model),
        cmocka_unit_test(test_intset_encoding_bytes),
        cmocka_unit_test(test_intset_widths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
