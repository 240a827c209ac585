/* test_evict.c - the memory share, the LRU clock and LFU counter, and
 * eviction by sampling on one shard under each policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/evict.h"
#include "engine/kv.h"
#include "engine/shard.h"

static kv_hash_secret secret = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};

#define T0    1700000000000ll
#define NKEYS 2000

static int dels;
static void log_put(void *ctx, uint32_t shard, const kv_entry *e)
{
    (void)ctx, (void)shard, (void)e;
}
static void log_del(void *ctx, uint32_t shard, const char *key, size_t klen)
{
    (void)ctx, (void)shard, (void)key, (void)klen;
    dels++;
}
static void log_clear(void *ctx, uint32_t shard)
{
    (void)ctx, (void)shard;
}
static const shard_log_ops test_log = {.put = log_put, .del = log_del, .clear = log_clear};

typedef struct fixture {
    shard_t s;
    evict_limits l;
} fixture;

static fixture *fx_new(int policy)
{
    fixture *f = kv_xcalloc(1, sizeof *f);
    shard_init(&f->s, 0, &secret);
    evict_limits_init(&f->l, 1, 0, policy, 5);
    f->s.limits = &f->l;
    f->s.log = &test_log;
    f->s.now_ms = T0;
    dels = 0;
    return f;
}

static void fx_free(fixture *f)
{
    shard_destroy(&f->s);
    evict_limits_destroy(&f->l);
    free(f);
}

/* A fixture whose shard 0 is one of nshards; the others exist only as the
 * figures they publish (fx_other). */
static fixture *fx_new_of(int policy, uint32_t nshards)
{
    fixture *f = fx_new(policy);
    evict_limits_destroy(&f->l);
    evict_limits_init(&f->l, nshards, 0, policy, 5);
    return f;
}

/* Shard i's published figures; the next eviction sees them (a new ms). */
static void fx_other(fixture *f, uint32_t i, int64_t mem, int64_t keys)
{
    atomic_store(&f->l.usage[i].mem, mem);
    atomic_store(&f->l.usage[i].keys, keys);
    atomic_store(&f->l.usage[i].vkeys, keys);
    f->s.now_ms++;
}

static size_t key_of(uint32_t i, char *k)
{
    return (size_t)sprintf(k, "key:%u", i);
}

static void put(fixture *f, uint32_t i, int64_t exp)
{
    char k[32];
    shard_put(&f->s, k, key_of(i, k), "a value of some forty bytes, give or take", 41, exp);
}

static int has(fixture *f, uint32_t i)
{
    char k[32];
    size_t n = key_of(i, k);
    return ht_find(&f->s.table, shard_hash(&f->s, k, n), k, n) != NULL;
}

static void touch(fixture *f, uint32_t i)
{
    char k[32];
    assert_non_null(shard_lookup(&f->s, k, key_of(i, k)));
}

/* Sets the limit to a fraction of what the shard holds now. */
static void limit_to(fixture *f, double frac)
{
    atomic_store(&f->l.maxmemory, (int64_t)((double)shard_mem(&f->s) * frac));
}

static void test_share(void **state)
{
    (void)state;
    evict_limits l;
    evict_limits_init(&l, 16, 0, EVICT_ALLKEYS_LRU, 5);
    assert_true(evict_share(&l) == SIZE_MAX);
    atomic_store(&l.maxmemory, 16 << 20);
    assert_int_equal(evict_share(&l), 1 << 20);
    evict_set_overhead(&l, 8 << 20);
    assert_int_equal(evict_share(&l), 512 << 10);
    evict_set_overhead(&l, 20 << 20);
    assert_int_equal(evict_share(&l), 0);
    evict_set_overhead(&l, -5);
    assert_int_equal(evict_share(&l), 1 << 20);
    assert_int_equal(evict_budget(&l), 16 << 20);
    evict_limits_destroy(&l);
}

/* A shard may hold more than its share while the total is under the
 * budget (a value bigger than a share is kept); once the total is over, it
 * gives back down to the budget, not further. */
static void test_borrow(void **state)
{
    (void)state;
    fixture *f = fx_new_of(EVICT_ALLKEYS_LRU, 4);
    for (uint32_t i = 0; i < 200; i++) put(f, i, -1);
    int64_t m = (int64_t)shard_mem(&f->s);
    atomic_store(&f->l.maxmemory, 2 * m); /* share m / 2, budget 2 m */
    assert_true((int64_t)evict_share(&f->l) < m);
    fx_other(f, 1, m / 4, 10);
    assert_int_equal(evict_make_room(&f->s, 1000000), EVICT_OK);
    assert_int_equal(ht_count(&f->s.table), 200); /* borrowed: nothing evicted */
    assert_false(evict_full(&f->s));
    /* the others now hold 1.25 m: shard 0 gives back to 0.75 m */
    fx_other(f, 2, m, 10);
    assert_int_equal(evict_make_room(&f->s, 1000000), EVICT_OK);
    int64_t after = (int64_t)shard_mem(&f->s);
    assert_true(after + m / 4 + m <= 2 * m);
    assert_true(after > m / 2 + m / 8); /* not down to its share */
    /* a shard under its share never evicts for the others */
    fixture *g = fx_new_of(EVICT_ALLKEYS_LRU, 4);
    for (uint32_t i = 0; i < 20; i++) put(g, i, -1);
    atomic_store(&g->l.maxmemory, 8 * (int64_t)shard_mem(&g->s));
    fx_other(g, 1, 100 * (int64_t)shard_mem(&g->s), 10);
    assert_int_equal(evict_make_room(&g->s, 1000000), EVICT_OK);
    assert_int_equal(ht_count(&g->s.table), 20);
    fx_free(g);
    fx_free(f);
}

/* Under noeviction the total decides too: over its share, a shard takes
 * writes while the total is under the budget. */
static void test_borrow_noeviction(void **state)
{
    (void)state;
    fixture *f = fx_new_of(EVICT_NOEVICTION, 2);
    for (uint32_t i = 0; i < 100; i++) put(f, i, -1);
    int64_t m = (int64_t)shard_mem(&f->s);
    atomic_store(&f->l.maxmemory, m + m / 2); /* share 0.75 m */
    assert_int_equal(evict_make_room(&f->s, 1000), EVICT_OK);
    assert_false(evict_full(&f->s));
    fx_other(f, 1, m, 100);
    assert_int_equal(evict_make_room(&f->s, 1000), EVICT_FAIL);
    assert_true(evict_full(&f->s));
    assert_int_equal(f->s.stats.evicted, 0);
    fx_free(f);
}

/* An evicting policy refuses a write only when nothing anywhere may be
 * evicted: an empty shard over its share (the overhead took the whole
 * limit) takes writes while another shard over its share has keys. */
static void test_oom_only_when_nothing_evictable(void **state)
{
    (void)state;
    fixture *f = fx_new_of(EVICT_ALLKEYS_LRU, 4);
    atomic_store(&f->l.maxmemory, 1 << 20);
    evict_set_overhead(&f->l, 2 << 20); /* budget 0: every shard is over */
    put(f, 1, -1);
    fx_other(f, 1, 300000, 0); /* nothing to evict elsewhere */
    assert_int_equal(evict_make_room(&f->s, 1000), EVICT_FAIL);
    assert_int_equal(f->s.stats.evicted, 1); /* its own key went first */
    assert_true(shard_mem(&f->s) > 0);       /* the table and pool remain */
    assert_true(evict_full(&f->s));
    fx_other(f, 1, 300000, 5); /* shard 1 can give */
    assert_int_equal(evict_make_room(&f->s, 1000), EVICT_OK);
    assert_false(evict_full(&f->s));
    fx_other(f, 1, 300000, 0);
    /* volatile-*: only keys with a TTL count */
    atomic_store(&f->l.policy, EVICT_VOLATILE_LRU);
    atomic_store(&f->l.usage[1].keys, 5);
    f->s.now_ms++;
    assert_int_equal(evict_make_room(&f->s, 1000), EVICT_FAIL);
    atomic_store(&f->l.usage[1].vkeys, 5);
    f->s.now_ms++;
    assert_int_equal(evict_make_room(&f->s, 1000), EVICT_OK);
    fx_free(f);
}

/* evict_publish: what the other shards sum. */
static void test_publish(void **state)
{
    (void)state;
    fixture *f = fx_new_of(EVICT_VOLATILE_LRU, 3);
    put(f, 1, -1);
    put(f, 2, T0 + 60000);
    evict_publish(&f->s);
    assert_int_equal(atomic_load(&f->l.usage[0].mem), (int64_t)shard_mem(&f->s));
    assert_int_equal(atomic_load(&f->l.usage[0].keys), 2);
    assert_int_equal(atomic_load(&f->l.usage[0].vkeys), 1);
    fx_free(f);
}

static void test_lru_clock(void **state)
{
    (void)state;
    uint16_t c = evict_lru_clock(T0);
    assert_int_equal(evict_lru_clock(T0 + 999), c + ((T0 % 1000) + 999 >= 1000));
    assert_int_equal(evict_lru_idle(evict_lru_clock(T0 + 60000), c), 60);
    /* wraps after 2^16 s: idle is taken modulo the wrap */
    assert_int_equal(evict_lru_idle(5, 65530), 11);
    assert_int_equal(evict_lru_idle(c, c), 0);
}

static void test_lfu_counter(void **state)
{
    (void)state;
    uint16_t v = (uint16_t)((uint8_t)(T0 / 60000) << 8 | EVICT_LFU_INIT);
    assert_int_equal(evict_lfu_decayed(v, T0), EVICT_LFU_INIT);
    /* at the initial value every access counts */
    uint16_t w = evict_lfu_access(v, T0, 0.999);
    assert_int_equal(w & 0xff, EVICT_LFU_INIT + 1);
    /* higher up, an access counts with probability 1/((c-5)*10+1) */
    uint16_t hi = (uint16_t)((v & 0xff00) | 15);
    assert_int_equal(evict_lfu_access(hi, T0, 0.5) & 0xff, 15);
    assert_int_equal(evict_lfu_access(hi, T0, 0.005) & 0xff, 16);
    /* decay: one step per idle minute, floored at 0 */
    assert_int_equal(evict_lfu_decayed(hi, T0 + 3 * 60000), 12);
    assert_int_equal(evict_lfu_decayed(hi, T0 + 40 * 60000), 0);
    /* saturates at 255 */
    uint16_t top = (uint16_t)((v & 0xff00) | 255);
    assert_int_equal(evict_lfu_access(top, T0, 0.0) & 0xff, 255);
    /* many accesses grow the counter logarithmically, not linearly */
    uint64_t rng = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        v = evict_lfu_access(v, T0, (double)(rng >> 11) / 9007199254740992.0);
    }
    assert_in_range(v & 0xff, 60, 200);
}

static void test_noeviction(void **state)
{
    (void)state;
    fixture *f = fx_new(EVICT_NOEVICTION);
    for (uint32_t i = 0; i < 100; i++) put(f, i, -1);
    assert_int_equal(evict_make_room(&f->s, 1000), EVICT_OK); /* no limit */
    limit_to(f, 0.5);
    assert_int_equal(evict_make_room(&f->s, 1000), EVICT_FAIL);
    assert_true(evict_full(&f->s));
    assert_int_equal(ht_count(&f->s.table), 100);
    assert_int_equal(f->s.stats.evicted, 0);
    limit_to(f, 2.0);
    assert_int_equal(evict_make_room(&f->s, 1000), EVICT_OK);
    assert_false(evict_full(&f->s));
    fx_free(f);
}

/* Keys inserted one second apart: key i was last used at T0 + i s. */
static fixture *fill_aged(int policy)
{
    fixture *f = fx_new(policy);
    for (uint32_t i = 0; i < NKEYS; i++) {
        f->s.now_ms = T0 + (int64_t)i * 1000;
        put(f, i, -1);
    }
    return f;
}

static double mean_index(fixture *f, int present)
{
    double sum = 0;
    int n = 0;
    for (uint32_t i = 0; i < NKEYS; i++)
        if (has(f, i) == present) sum += i, n++;
    return n ? sum / n : 0;
}

static void test_allkeys_lru(void **state)
{
    (void)state;
    fixture *f = fill_aged(EVICT_ALLKEYS_LRU);
    /* the 100 oldest keys are used again now: they must survive */
    for (uint32_t i = 0; i < 100; i++) touch(f, i);
    limit_to(f, 0.5);
    assert_int_equal(evict_make_room(&f->s, 1000000), EVICT_OK);
    size_t share = evict_share(&f->l);
    assert_true(shard_mem(&f->s) <= share);
    uint64_t ev = f->s.stats.evicted;
    assert_true(ev > NKEYS / 3);
    assert_int_equal(dels, (int)ev); /* every eviction is logged as a DEL */
    assert_int_equal(ht_count(&f->s.table), NKEYS - ev);
    int kept = 0;
    for (uint32_t i = 0; i < 100; i++) kept += has(f, i);
    assert_true(kept >= 95);
    /* approximate LRU: the evicted keys are the older ones on the whole */
    double gone = mean_index(f, 0), stay = mean_index(f, 1);
    printf("lru: evicted %llu, mean age index evicted %.0f vs kept %.0f, recent kept %d/100\n",
           (unsigned long long)ev, gone, stay, kept);
    assert_true(gone + NKEYS / 4 < stay);
    fx_free(f);
}

static void test_allkeys_lfu(void **state)
{
    (void)state;
    fixture *f = fx_new(EVICT_ALLKEYS_LFU);
    for (uint32_t i = 0; i < NKEYS; i++) put(f, i, -1);
    /* keys below 200 are hot: 30 hits each */
    for (int r = 0; r < 30; r++)
        for (uint32_t i = 0; i < 200; i++) touch(f, i);
    limit_to(f, 0.5);
    assert_int_equal(evict_make_room(&f->s, 1000000), EVICT_OK);
    int kept = 0;
    for (uint32_t i = 0; i < 200; i++) kept += has(f, i);
    printf("lfu: evicted %llu, hot kept %d/200\n", (unsigned long long)f->s.stats.evicted, kept);
    assert_true(kept >= 190);
    fx_free(f);
}

static void test_volatile_lru(void **state)
{
    (void)state;
    fixture *f = fx_new(EVICT_VOLATILE_LRU);
    for (uint32_t i = 0; i < NKEYS; i++) put(f, i, i % 2 ? T0 + 3600000 : -1);
    limit_to(f, 0.3); /* more than the volatile half would have to go */
    assert_int_equal(evict_make_room(&f->s, 1000000), EVICT_FAIL);
    /* every key with a TTL went, no key without one */
    for (uint32_t i = 0; i < NKEYS; i++) assert_int_equal(has(f, i), i % 2 == 0);
    assert_int_equal(f->s.volatile_keys, 0);
    assert_int_equal(f->s.stats.evicted, NKEYS / 2);
    assert_true(evict_full(&f->s));
    fx_free(f);
}

/* Rare keys with a TTL among many without: volatile policies draw from the
 * expiry index, so each eviction finds one (hash-table draws skipping
 * keys without a TTL would miss them nearly every time). */
static void test_volatile_rare(void **state)
{
    (void)state;
    int policies[] = {EVICT_VOLATILE_LRU, EVICT_VOLATILE_RANDOM, EVICT_VOLATILE_TTL};
    for (int p = 0; p < 3; p++) {
        fixture *f = fx_new(policies[p]);
        for (uint32_t i = 0; i < NKEYS; i++) put(f, i, i % 1000 == 7 ? T0 + 3600000 : -1);
        size_t vol = f->s.volatile_keys;
        assert_true(vol > 0);
        limit_to(f, 0.5);
        assert_int_equal(evict_make_room(&f->s, 1000000), EVICT_FAIL);
        assert_int_equal(f->s.volatile_keys, 0);
        assert_int_equal(f->s.stats.evicted, vol);
        for (uint32_t i = 0; i < NKEYS; i++) assert_int_equal(has(f, i), i % 1000 != 7);
        fx_free(f);
    }
}

static void test_volatile_ttl(void **state)
{
    (void)state;
    fixture *f = fx_new(EVICT_VOLATILE_TTL);
    /* key i expires at T0 + 1 h + i s: the low ones expire first */
    for (uint32_t i = 0; i < NKEYS; i++) put(f, i, T0 + 3600000 + (int64_t)i * 1000);
    limit_to(f, 0.6);
    assert_int_equal(evict_make_room(&f->s, 1000000), EVICT_OK);
    double gone = mean_index(f, 0), stay = mean_index(f, 1);
    printf("ttl: evicted %llu, mean index evicted %.0f vs kept %.0f\n",
           (unsigned long long)f->s.stats.evicted, gone, stay);
    assert_true(gone + NKEYS / 4 < stay);
    fx_free(f);
}

static void test_random(void **state)
{
    (void)state;
    int policies[] = {EVICT_ALLKEYS_RANDOM, EVICT_VOLATILE_RANDOM};
    for (int p = 0; p < 2; p++) {
        fixture *f = fx_new(policies[p]);
        for (uint32_t i = 0; i < NKEYS; i++) put(f, i, i % 4 ? T0 + 3600000 : -1);
        limit_to(f, 0.6);
        assert_int_equal(evict_make_room(&f->s, 1000000), EVICT_OK);
        assert_true(shard_mem(&f->s) <= evict_share(&f->l));
        if (policies[p] == EVICT_VOLATILE_RANDOM)
            for (uint32_t i = 0; i < NKEYS; i += 4) assert_true(has(f, i));
        fx_free(f);
    }
}

static void test_time_box(void **state)
{
    (void)state;
    fixture *f = fx_new(EVICT_ALLKEYS_LRU);
    for (uint32_t i = 0; i < 20000; i++) put(f, i, -1);
    limit_to(f, 0.01);
    /* no time at all: one eviction, then the time box ends the run */
    assert_int_equal(evict_make_room(&f->s, 0), EVICT_RUNNING);
    assert_int_equal(f->s.stats.evicted, 1);
    int64_t t0 = kv_mono_us();
    enum evict_result r = evict_make_room(&f->s, 200);
    int64_t took = kv_mono_us() - t0;
    printf("200 us box: %s after %lld us, %llu evicted\n", r == EVICT_RUNNING ? "running" : "ok",
           (long long)took, (unsigned long long)f->s.stats.evicted);
    assert_true(r == EVICT_RUNNING || r == EVICT_OK);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_borrow),
        cmocka_unit_test(test_borrow_noeviction),
        cmocka_unit_test(test_oom_only_when_nothing_evictable),
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_lru_clock),
        cmocka_unit_test(test_lfu_counter),
        cmocka_unit_test(test_noeviction),
        cmocka_unit_test(test_allkeys_lru),
        cmocka_unit_test(test_allkeys_lfu),
        cmocka_unit_test(test_volatile_lru),
        cmocka_unit_test(test_volatile_rare),
        cmocka_unit_test(test_volatile_ttl),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_time_box),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
