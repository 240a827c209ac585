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

#include "buf.h"
#include "cmd.h"
#include "hobj.h"
#include "kv.h"
#include "sobj.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ops_against_model),
        cmocka_unit_test(test_decode_rejects_values),
        cmocka_unit_test(test_setop_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
