/* test_table.c - the incremental hash table: growth and shrink, resize
 * spread over many operations, lookups mid-resize, scan guarantees across
 * resizes, removal from scan callbacks, and a randomized model check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/entry.h"
#include "engine/hash.h"
#include "engine/kv.h"
#include "engine/table.h"

static kv_hash_secret secret = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};

static size_t key_of(uint32_t id, char *buf)
{
    return (size_t)sprintf(buf, "key:%u", id);
}

static uint32_t hash_of(const char *k, size_t n)
{
    return (uint32_t)kv_hash(&secret, k, n);
}

static kv_entry *mk(uint32_t id)
{
    char k[32];
    size_t n = key_of(id, k);
    return entry_new(kv_hash(&secret, k, n), k, n, (const char *)&id, sizeof id, -1);
}

static uint32_t id_of(kv_entry *e)
{
    uint32_t id;
    memcpy(&id, entry_val(e), sizeof id);
    return id;
}

static kv_entry *find(ht_t *t, uint32_t id)
{
    char k[32];
    size_t n = key_of(id, k);
    return ht_find(t, hash_of(k, n), k, n);
}

static int del(ht_t *t, uint32_t id)
{
    char k[32];
    size_t n = key_of(id, k);
    kv_entry *e = ht_remove(t, hash_of(k, n), k, n);
    if (e == NULL) return 0;
    assert_int_equal(id_of(e), id);
    entry_free(e);
    return 1;
}

static size_t buckets(const ht_t *t)
{
    return ht_mem(t) / sizeof(kv_entry *);
}

static void test_grow_and_shrink(void **state)
{
    (void)state;
    ht_t t;
    ht_init(&t);
    assert_null(find(&t, 1));
    const uint32_t n = 100000;
    for (uint32_t i = 0; i < n; i++) ht_insert(&t, mk(i));
    assert_int_equal(ht_count(&t), n);
    while (ht_rehash_step(&t, 100)) {
    }
    assert_true(buckets(&t) >= n && buckets(&t) <= 4 * (size_t)n);
    for (uint32_t i = 0; i < n; i++) {
        kv_entry *e = find(&t, i);
        assert_non_null(e);
        assert_int_equal(id_of(e), i);
    }
    assert_null(find(&t, n + 5));
    /* delete all but 100: the table must shrink */
    for (uint32_t i = 100; i < n; i++) assert_int_equal(del(&t, i), 1);
    assert_int_equal(del(&t, 500), 0);
    for (int i = 0; i < 1000; i++) find(&t, 0); /* let the shrink finish */
    assert_int_equal(ht_count(&t), 100);
    assert_true(buckets(&t) <= 1024);
    for (uint32_t i = 0; i < 100; i++) assert_non_null(find(&t, i));
    for (uint32_t i = 0; i < 100; i++) assert_int_equal(del(&t, i), 1);
    assert_int_equal(ht_count(&t), 0);
    for (int i = 0; i < 100; i++) find(&t, 0);
    assert_true(buckets(&t) <= 8);
    ht_destroy(&t);
    ht_destroy(&t);
}

/* No operation may move more than a few chains: track the entries that
 * leave the old array per operation while a large table grows. */
/* ht_prefetch is only a cache hint: in every table state (empty, one
 * array, mid-resize with two) it reads in bounds (ASan checks) and changes
 * nothing that a lookup sees. */
static void test_prefetch_changes_nothing(void **state)
{
    (void)state;
    ht_t t;
    ht_init(&t);
    for (int deep = 0; deep < 2; deep++) ht_prefetch(&t, 12345, deep);
    uint32_t id = 0;
    while (id < 1024) ht_insert(&t, mk(id++));
    ht_insert(&t, mk(id++)); /* starts a resize: two arrays */
    assert_true(t.rehash_at >= 0);
    size_t used0 = t.used[0], used1 = t.used[1];
    for (uint32_t i = 0; i < 4096; i++)
        for (int deep = 0; deep < 2; deep++) {
            char k[32];
            size_t n = key_of(i, k);
            ht_prefetch(&t, hash_of(k, n), deep);
        }
    assert_int_equal(t.used[0], used0); /* no rehash step, no move */
    assert_int_equal(t.used[1], used1);
    for (uint32_t i = 0; i < id; i++) assert_non_null(find(&t, i));
    ht_destroy(&t);
}

static void test_resize_is_incremental(void **state)
{
    (void)state;
    ht_t t;
    ht_init(&t);
    uint32_t id = 0;
    while (id < 65536) ht_insert(&t, mk(id++));
    /* the table now has 65536 buckets, full: the next insert starts a resize */
    assert_true(t.rehash_at < 0);
    assert_int_equal(buckets(&t), 65536);
    size_t ops_in_resize = 0, max_moved = 0;
    ht_insert(&t, mk(id++));
    assert_true(t.rehash_at >= 0);
    assert_true(t.used[0] > 60000); /* starting a resize moved almost nothing */
    while (t.rehash_at >= 0) {
        size_t before = t.used[0];
        if (ops_in_resize % 2)
            ht_insert(&t, mk(id++));
        else
            assert_non_null(find(&t, (uint32_t)(ops_in_resize * 7919u % id)));
        size_t moved = before - t.used[0];
        if (moved > max_moved) max_moved = moved;
        ops_in_resize++;
        /* lookups of every key work mid-resize */
        if (ops_in_resize == 20000)
            for (uint32_t i = 0; i < id; i++) assert_non_null(find(&t, i));
    }
    assert_true(ops_in_resize > 10000);
    assert_true(max_moved <= 16);
    for (uint32_t i = 0; i < id; i++) assert_non_null(find(&t, i));
    assert_int_equal(ht_count(&t), id);
    ht_destroy(&t);
}

typedef struct visit_log {
    uint32_t *seen; /* times each id was visited */
    size_t n;
} visit_log;

static void count_visit(void *arg, kv_entry *e)
{
    visit_log *v = arg;
    uint32_t id = id_of(e);
    assert_true(id < v->n);
    v->seen[id]++;
}

/* Inserts 0..base-1, scans while inserting (growth) or deleting (shrink)
 * between calls; every key present throughout must be seen. */
static void scan_under_churn(uint32_t base, int grow)
{
    ht_t t;
    ht_init(&t);
    uint32_t total = grow ? base * 8 : base;
    visit_log v = {kv_xcalloc(total, sizeof(uint32_t)), total};
    for (uint32_t i = 0; i < base; i++) ht_insert(&t, mk(i));
    while (ht_rehash_step(&t, 1000)) {
    }
    uint32_t next = base, deleted_from = base;
    uint64_t cur = 0;
    size_t calls = 0, min_b = buckets(&t), max_b = buckets(&t);
    do {
        cur = ht_scan(&t, cur, count_visit, &v);
        calls++;
        for (int k = 0; k < 40; k++) {
            if (grow && next < total) ht_insert(&t, mk(next++));
            /* shrink: delete the upper half of the keys as the scan goes */
            if (!grow && deleted_from > base / 20) del(&t, --deleted_from);
            find(&t, 0); /* reads drive the resize too */
        }
        if (buckets(&t) < min_b) min_b = buckets(&t);
        if (buckets(&t) > max_b) max_b = buckets(&t);
    } while (cur != 0);
    if (grow)
        assert_true(max_b >= 4 * min_b); /* the table really grew */
    else
        assert_true(min_b * 4 <= max_b); /* the table really shrank */
    uint32_t stable = grow ? base : deleted_from;
    for (uint32_t i = 0; i < stable; i++) {
        if (v.seen[i] == 0) fail_msg("key %u never visited (grow=%d)", i, grow);
    }
    assert_true(calls > 10);
    free(v.seen);
    ht_destroy(&t);
}

static void test_scan_growth(void **state)
{
    (void)state;
    scan_under_churn(2000, 1);
    scan_under_churn(30000, 1);
}

static void test_scan_shrink(void **state)
{
    (void)state;
    scan_under_churn(2000, 0);
    scan_under_churn(50000, 0);
}

static void test_scan_stable_exactly_once(void **state)
{
    (void)state;
    ht_t t;
    ht_init(&t);
    const uint32_t n = 5000;
    visit_log v = {kv_xcalloc(n, sizeof(uint32_t)), n};
    for (uint32_t i = 0; i < n; i++) ht_insert(&t, mk(i));
    /* mid-resize or not, a scan of an unchanging table sees each key once */
    uint64_t cur = 0;
    do cur = ht_scan(&t, cur, count_visit, &v);
    while (cur != 0);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(v.seen[i], 1);
    memset(v.seen, 0, n * sizeof(uint32_t));
    ht_foreach(&t, count_visit, &v);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(v.seen[i], 1);
    free(v.seen);
    ht_destroy(&t);
    ht_init(&t);
    assert_int_equal(ht_scan(&t, 0, count_visit, &v), 0); /* empty table */
    ht_destroy(&t);
}

typedef struct remover {
    ht_t *t;
    size_t removed;
} remover;

static void remove_visit(void *arg, kv_entry *e)
{
    remover *r = arg;
    kv_entry *got = ht_remove(r->t, e->hash, entry_key(e), e->klen);
    assert_ptr_equal(got, e);
    entry_free(e);
    r->removed++;
}

static void test_scan_callback_removes(void **state)
{
    (void)state;
    ht_t t;
    ht_init(&t);
    const uint32_t n = 20000;
    for (uint32_t i = 0; i < n; i++) ht_insert(&t, mk(i));
    assert_true(t.rehash_at >= 0 || buckets(&t) >= n);
    remover r = {&t, 0};
    uint64_t cur = 0;
    do cur = ht_scan(&t, cur, remove_visit, &r);
    while (cur != 0);
    assert_int_equal(r.removed, n);
    assert_int_equal(ht_count(&t), 0);
    /* and through foreach */
    for (uint32_t i = 0; i < n; i++) ht_insert(&t, mk(i));
    r.removed = 0;
    ht_foreach(&t, remove_visit, &r);
    assert_int_equal(r.removed, n);
    assert_int_equal(ht_count(&t), 0);
    ht_destroy(&t);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random inserts, removes, lookups, rebuilds and scans against a plain
 * array of flags. */
static void test_random_model(void **state)
{
    (void)state;
    ht_t t;
    ht_init(&t);
    enum { N = 4096 };
    static unsigned char present[N];
    memset(present, 0, sizeof present);
    size_t count = 0;
    uint64_t rng = 88172645463325252ull;
    for (int op = 0; op < 400000; op++) {
        uint32_t id = (uint32_t)(rnd(&rng) % N);
        /* phases of mostly inserts and mostly deletes drive grow and shrink */
        int phase = (op / 50000) % 2;
        uint64_t r = rnd(&rng) % 100;
        if (r < (phase ? 20u : 60u)) {
            if (!present[id]) {
                ht_insert(&t, mk(id));
                present[id] = 1;
                count++;
            }
        } else if (r < 90) {
            int had = del(&t, id);
            assert_int_equal(had, present[id]);
            if (had) count--;
            present[id] = 0;
        } else if (r < 97) {
            kv_entry *e = find(&t, id);
            assert_int_equal(e != NULL, present[id]);
            if (e) {
                /* rebuild with an expiry and relink: must stay findable */
                kv_entry *n = entry_rebuild(e, entry_val(e), e->vlen, (int64_t)id);
                ht_relink(&t, e, n);
                assert_ptr_equal(find(&t, id), n);
                assert_int_equal(entry_expire(n), id);
            }
        } else {
            kv_entry *e = ht_random(&t, &rng);
            assert_int_equal(e == NULL, count == 0);
            if (e) assert_true(present[id_of(e)]);
        }
        assert_int_equal(ht_count(&t), count);
    }
    for (uint32_t i = 0; i < N; i++) assert_int_equal(find(&t, i) != NULL, present[i]);
    ht_destroy(&t);
}

static void test_random_covers_keys(void **state)
{
    (void)state;
    ht_t t;
    ht_init(&t);
    const uint32_t n = 64;
    uint32_t seen[64] = {0};
    for (uint32_t i = 0; i < n; i++) ht_insert(&t, mk(i));
    uint64_t rng = 12345;
    for (int i = 0; i < 20000; i++) seen[id_of(ht_random(&t, &rng))]++;
    for (uint32_t i = 0; i < n; i++) assert_true(seen[i] > 100); /* expect ~312 */
    ht_destroy(&t);
}

/* Every entry of a chain is reachable: the chain position must not follow
 * from the draw that chose the bucket (it once did, and eviction never saw
 * half of the two-entry chains). */
static void test_random_reaches_chained(void **state)
{
    (void)state;
    ht_t t;
    ht_init(&t);
    enum { N = 1500 }; /* a load near 0.75: many chains of 2 and more */
    static uint32_t seen[N];
    memset(seen, 0, sizeof seen);
    for (uint32_t i = 0; i < N; i++) ht_insert(&t, mk(i));
    uint64_t rng = 777;
    for (int i = 0; i < 60 * N; i++) seen[id_of(ht_random(&t, &rng))]++;
    for (uint32_t i = 0; i < N; i++) assert_true(seen[i] > 5); /* expect ~60 */
    ht_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_and_shrink),
        cmocka_unit_test(test_resize_is_incremental),
        cmocka_unit_test(test_prefetch_changes_nothing),
        cmocka_unit_test(test_scan_growth),
        cmocka_unit_test(test_scan_shrink),
        cmocka_unit_test(test_scan_stable_exactly_once),
        cmocka_unit_test(test_scan_callback_removes),
        cmocka_unit_test(test_random_model),
        cmocka_unit_test(test_random_covers_keys),
        cmocka_unit_test(test_random_reaches_chained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
