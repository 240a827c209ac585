/* test_expire.c - lazy and active expiry on a shard, the time budget of
 * the active cycle, exact counters and the persistence hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "entry.h"
#include "kv.h"
#include "shard.h"
#include "table.h"

static kv_hash_secret secret = {{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6}};

#define T0 1700000000000ll

typedef struct log_counts {
    int puts, dels, clears;
} log_counts;

static void log_put(void *ctx, uint32_t shard, const kv_entry *e)
{
    (void)shard;
    (void)e;
    ((log_counts *)ctx)->puts++;
}
static void log_del(void *ctx, uint32_t shard, const char *key, size_t klen)
{
    (void)shard;
    (void)key;
    assert_true(klen > 0);
    ((log_counts *)ctx)->dels++;
}
static void log_clear(void *ctx, uint32_t shard)
{
    (void)shard;
    ((log_counts *)ctx)->clears++;
}
static const shard_log_ops test_log = {.put = log_put, .del = log_del, .clear = log_clear};

static size_t put_key(shard_t *s, uint32_t i, int64_t exp)
{
    char k[32];
    size_t n = (size_t)sprintf(k, "key:%u", i);
    shard_put(s, k, n, "some value of a few bytes", 25, exp);
    return n;
}

static kv_entry *get_key(shard_t *s, uint32_t i)
{
    char k[32];
    size_t n = (size_t)sprintf(k, "key:%u", i);
    return shard_lookup(s, k, n);
}

typedef struct sums {
    size_t bytes, volatile_keys;
} sums;

static void sum_visit(void *arg, kv_entry *e)
{
    sums *m = arg;
    m->bytes += entry_mem(e);
    if (entry_expire(e) >= 0) m->volatile_keys++;
}

/* The shard's running counters must equal a recount of its entries. */
static void check_counters(shard_t *s)
{
    sums m = {0, 0};
    ht_foreach(&s->table, sum_visit, &m);
    assert_int_equal(m.bytes, s->entry_bytes);
    assert_int_equal(m.volatile_keys, s->volatile_keys);
    assert_int_equal(shard_mem(s), s->entry_bytes + ht_mem(&s->table));
}

static void test_lazy_expiry(void **state)
{
    (void)state;
    shard_t s;
    log_counts lc = {0, 0, 0};
    shard_init(&s, 3, &secret);
    s.log = &test_log;
    s.log_ctx = &lc;
    s.now_ms = T0;
    put_key(&s, 1, T0 + 100);
    put_key(&s, 2, -1);
    assert_int_equal(lc.puts, 2);
    assert_int_equal(s.volatile_keys, 1);
    check_counters(&s);
    assert_non_null(get_key(&s, 1));
    s.now_ms = T0 + 100; /* at the deadline a key still lives, as in Redis */
    assert_non_null(get_key(&s, 1));
    s.now_ms = T0 + 101;
    assert_null(get_key(&s, 1));
    assert_int_equal(s.stats.expired, 1);
    assert_int_equal(lc.dels, 1);
    assert_int_equal(s.volatile_keys, 0);
    assert_int_equal(ht_count(&s.table), 1);
    assert_non_null(get_key(&s, 2));
    check_counters(&s);
    /* shard_del of an expired key: absent, but removed and counted */
    put_key(&s, 3, T0 + 50);
    assert_int_equal(shard_del(&s, "key:3", 5), 0);
    assert_int_equal(s.stats.expired, 2);
    assert_int_equal(ht_count(&s.table), 1);
    shard_clear(&s);
    assert_int_equal(lc.clears, 1);
    assert_int_equal(s.entry_bytes, 0);
    assert_int_equal(ht_count(&s.table), 0);
    shard_destroy(&s);
}

static void test_update_counters(void **state)
{
    (void)state;
    shard_t s;
    shard_init(&s, 0, &secret);
    s.now_ms = T0;
    for (uint32_t i = 0; i < 1000; i++) put_key(&s, i, i % 2 ? T0 + 1000 : -1);
    check_counters(&s);
    assert_int_equal(s.volatile_keys, 500);
    /* flip TTLs, grow and shrink values */
    for (uint32_t i = 0; i < 1000; i++) {
        kv_entry *e = get_key(&s, i);
        assert_non_null(e);
        if (i % 3 == 0) e = shard_update(&s, e, entry_val(e), e->vlen, i % 2 ? -1 : T0 + 5);
        if (i % 5 == 0) e = shard_resize_val(&s, e, 1000 + i);
        if (i % 7 == 0) e = shard_update(&s, e, "x", 1, entry_expire(e));
        shard_written(&s, e);
    }
    check_counters(&s);
    for (uint32_t i = 0; i < 1000; i += 2) assert_int_equal(shard_del(&s, "nope", 4), 0);
    for (uint32_t i = 0; i < 1000; i++) {
        char k[32];
        size_t n = (size_t)sprintf(k, "key:%u", i);
        if (i % 4 == 0) shard_del(&s, k, n);
    }
    check_counters(&s);
    kv_entry *z = shard_add_zeroed(&s, "zeros", 5, 10);
    assert_int_equal(z->vlen, 10);
    for (int i = 0; i < 10; i++) assert_int_equal(entry_val(z)[i], 0);
    check_counters(&s);
    shard_destroy(&s);
}

/* 100k keys with a TTL, all past: repeated short cycles remove them all and
 * the counters come back to zero; keys without TTL or with a later one stay. */
static void test_active_expiry_all(void **state)
{
    (void)state;
    shard_t s;
    log_counts lc = {0, 0, 0};
    shard_init(&s, 1, &secret);
    s.log = &test_log;
    s.log_ctx = &lc;
    s.now_ms = T0;
    const uint32_t n = 100000;
    for (uint32_t i = 0; i < n; i++) put_key(&s, i, T0 + 1 + i % 1000);
    for (uint32_t i = n; i < n + 100; i++) put_key(&s, i, -1);
    for (uint32_t i = n + 100; i < n + 200; i++) put_key(&s, i, T0 + 1000000);
    assert_int_equal(s.volatile_keys, n + 100);
    s.now_ms = T0 + 5000;
    /* budget 1 us: the clock is read every few dozen entries, so one cycle
     * removes a handful of keys, not the whole expired set */
    size_t removed = shard_expire_cycle(&s, 1);
    assert_true(removed > 0 && removed < 2000);
    const int64_t budget = 1000;
    int cycles = 0, over = 0;
    while (s.volatile_keys > 100) {
        int64_t t0 = kv_mono_us();
        removed += shard_expire_cycle(&s, budget);
        /* a loaded machine may preempt us mid-cycle: judge the typical
         * cycle, not every one */
        if (kv_mono_us() - t0 > budget + 1000) over++;
        cycles++;
        assert_true(cycles < 100000);
    }
    assert_true(cycles > 1);
    assert_true(over * 4 <= cycles);
    assert_int_equal(removed, n);
    assert_int_equal(s.stats.expired, n);
    assert_int_equal(lc.dels, (int)n);
    assert_int_equal(s.volatile_keys, 100);
    assert_int_equal(ht_count(&s.table), 200);
    check_counters(&s);
    /* the rest expire too: afterwards nothing is left but the 100 */
    s.now_ms = T0 + 2000000;
    for (int i = 0; i < 1000 && s.volatile_keys > 0; i++) shard_expire_cycle(&s, budget);
    assert_int_equal(s.volatile_keys, 0);
    assert_int_equal(ht_count(&s.table), 100);
    check_counters(&s);
    assert_int_equal(shard_expire_cycle(&s, budget), 0); /* nothing volatile: no work */
    for (uint32_t i = n; i < n + 100; i++) assert_non_null(get_key(&s, i));
    for (uint32_t i = 0; i < n + 100; i += 1000) {
        if (i < n) assert_null(get_key(&s, i));
    }
    /* all gone: counters exactly zero */
    for (uint32_t i = n; i < n + 100; i++) {
        char k[32];
        size_t kl = (size_t)sprintf(k, "key:%u", i);
        assert_int_equal(shard_del(&s, k, kl), 1);
    }
    assert_int_equal(s.entry_bytes, 0);
    assert_int_equal(ht_count(&s.table), 0);
    shard_destroy(&s);
}

/* A big table where nothing is due: one cycle must still stop at its
 * budget instead of walking everything. */
static void test_budget_respected(void **state)
{
    (void)state;
    shard_t s;
    shard_init(&s, 2, &secret);
    s.now_ms = T0;
    const uint32_t n = 300000;
    for (uint32_t i = 0; i < n; i++) put_key(&s, i, T0 + 1000000);
    while (ht_rehash_step(&s.table, 1000)) {
    }
    /* median of a few cycles: one preemption must not fail the test, but
     * a cycle that ignored its budget would walk all 300k keys every time */
    int64_t took[7];
    for (int i = 0; i < 7; i++) {
        int64_t t0 = kv_mono_us();
        assert_int_equal(shard_expire_cycle(&s, 500), 0);
        took[i] = kv_mono_us() - t0;
        assert_true(s.expire_cursor != 0); /* it stopped part-way */
    }
    for (int i = 0; i < 7; i++)
        for (int j = i + 1; j < 7; j++)
            if (took[j] < took[i]) {
                int64_t x = took[i];
                took[i] = took[j];
                took[j] = x;
            }
    assert_true(took[3] < 500 + 1000);
    /* and it resumes where it stopped: a few cycles make a full pass */
    int cycles = 1;
    while (s.expire_cursor != 0) {
        shard_expire_cycle(&s, 500);
        cycles++;
        assert_true(cycles < 1000000);
    }
    assert_true(cycles > 2);
    assert_int_equal(ht_count(&s.table), n);
    shard_destroy(&s);
}

/* Expiry while new keys keep arriving, with time moving on. */
static void test_expiry_under_writes(void **state)
{
    (void)state;
    shard_t s;
    shard_init(&s, 4, &secret);
    s.now_ms = T0;
    uint32_t id = 0;
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 500; k++, id++) put_key(&s, id, s.now_ms + 1 + (id % 50));
        s.now_ms += 10;
        shard_expire_cycle(&s, 200);
        check_counters(&s);
    }
    s.now_ms += 1000;
    while (s.volatile_keys > 0) shard_expire_cycle(&s, 1000);
    assert_int_equal(ht_count(&s.table), 0);
    assert_int_equal(s.entry_bytes, 0);
    assert_int_equal(s.stats.expired, id);
    shard_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_expiry),         cmocka_unit_test(test_update_counters),
        cmocka_unit_test(test_active_expiry_all),   cmocka_unit_test(test_budget_respected),
        cmocka_unit_test(test_expiry_under_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
