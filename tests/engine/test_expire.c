/* test_expire.c - lazy and active expiry on a shard: the expiry index kept
 * exact by every kind of change, the adaptive cycle (early stop when
 * nothing is due, time budget and slices, reclaiming), exact counters and
 * the persistence hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/entry.h"
#include "engine/expire.h"
#include "engine/hobj.h"
#include "engine/kv.h"
#include "engine/shard.h"
#include "engine/table.h"

static kv_hash_secret secret = {{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6}};

#define T0 1700000000000ll

/* A deterministic monotonic clock. The cycle's time budget, its slices and
 * this file's own measurements read CLOCK_MONOTONIC (kv_mono_us,
 * hist_clock_ns); this definition replaces libc's for the whole test
 * executable, and every read advances it by FAKE_STEP_NS. A cycle's length
 * is then a count of clock reads (one per EXPIRE_CLOCK_EVERY loops of 20
 * keys), the same on any machine and under any load: a preemption or a
 * slow emulator can no longer fail the budget checks below. Other clocks
 * go to the kernel. */
#define FAKE_STEP_NS 10000u
static uint64_t fake_mono_ns = 1000000000000ull;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (id != CLOCK_MONOTONIC) return (int)syscall(SYS_clock_gettime, id, ts);
    uint64_t t = __atomic_add_fetch(&fake_mono_ns, FAKE_STEP_NS, __ATOMIC_RELAXED);
    ts->tv_sec = (time_t)(t / 1000000000u);
    ts->tv_nsec = (long)(t % 1000000000u);
    return 0;
}

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

/* The expiry index holds exactly the entries of the table that have a
 * TTL, each once, each trailer naming its own slot. */
static void check_index(shard_t *s)
{
    const expire_idx *x = &s->expires;
    assert_int_equal(x->n, s->volatile_keys);
    assert_true(x->n <= x->cap);
    for (uint32_t i = 0; i < x->n; i++) {
        kv_entry *e = x->v[i];
        assert_true(e->flags & KV_ENTRY_TTL);
        assert_int_equal(entry_ttl_slot(e), i);
        /* in the table, as this very entry (so also never twice) */
        assert_ptr_equal(ht_find(&s->table, e->hash, entry_key(e), e->klen), e);
    }
}

/* The shard's running counters must equal a recount of its entries. */
static void check_counters(shard_t *s)
{
    sums m = {0, 0};
    ht_foreach(&s->table, sum_visit, &m);
    assert_int_equal(m.bytes, s->entry_bytes);
    assert_int_equal(m.volatile_keys, s->volatile_keys);
    assert_int_equal(shard_mem(s),
                     s->entry_bytes + ht_mem(&s->table) + expire_idx_mem(&s->expires));
    check_index(s);
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
    /* the later TTLs first: the cycle's walk starts at the newest keys, and
     * a first loop that finds nothing due would end the cycle at once */
    for (uint32_t i = n + 100; i < n + 200; i++) put_key(&s, i, T0 + 1000000);
    for (uint32_t i = 0; i < n; i++) put_key(&s, i, T0 + 1 + i % 1000);
    for (uint32_t i = n; i < n + 100; i++) put_key(&s, i, -1);
    assert_int_equal(s.volatile_keys, n + 100);
    s.now_ms = T0 + 5000;
    /* budget 1 us: the clock is read every few loops of 20 keys, so one
     * cycle removes a handful of keys, not the whole expired set */
    size_t removed = shard_expire_cycle(&s, 1);
    assert_true(removed > 0 && removed < 2000);
    const int64_t budget = 1000;
    int cycles = 0, over = 0;
    while (s.volatile_keys > 100) {
        int64_t t0 = kv_mono_us();
        removed += shard_expire_cycle(&s, budget);
        /* the budget plus the clock reads around the cycle */
        if (kv_mono_us() - t0 > budget + 100) over++;
        cycles++;
        assert_true(cycles < 100000);
    }
    assert_true(cycles > 1);
    assert_int_equal(over, 0);
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

/* A big table where nothing is due: a cycle samples one loop of 20 keys
 * and stops, whatever its budget (the old walk visited the whole table). */
static void test_cycle_stops_early(void **state)
{
    (void)state;
    shard_t s;
    shard_init(&s, 2, &secret);
    s.now_ms = T0;
    const uint32_t n = 300000;
    for (uint32_t i = 0; i < n; i++) put_key(&s, i, T0 + 1000000);
    for (uint32_t i = n; i < n + 1000; i++) put_key(&s, i, -1);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(shard_expire_cycle(&s, 1000000), 0);
        assert_int_equal(s.expire.sampled, 20);
        assert_int_equal(s.expire.running, 0);
    }
    assert_int_equal(s.expire_stats.cap_reached, 0);
    assert_int_equal(shard_expire_stale_bp(&s), 0);
    /* no key with a TTL: nothing sampled */
    shard_t e;
    shard_init(&e, 5, &secret);
    e.now_ms = T0;
    for (uint32_t i = 0; i < 1000; i++) put_key(&e, i, -1);
    assert_int_equal(shard_expire_cycle(&e, 1000), 0);
    assert_int_equal(e.expire.sampled, 0);
    shard_destroy(&e);
    /* 1 % due: one loop finds at most a few, under 10 %: the cycle stops
     * after a loop or two instead of hunting them all */
    for (uint32_t i = 0; i < n; i += 100) {
        kv_entry *k = get_key(&s, i);
        shard_update(&s, k, entry_val(k), k->vlen, T0 + 1);
    }
    s.now_ms = T0 + 2;
    uint64_t sampled = 0;
    for (int i = 0; i < 100; i++) {
        shard_expire_cycle(&s, 1000000);
        sampled += s.expire.sampled;
    }
    assert_true(sampled < 100 * 20 * 3);
    check_counters(&s);
    shard_destroy(&s);
}

/* Many keys due: the cycle loops on, but a slice stops near its time and
 * the cycle at its budget, counted in cap_reached; slices resume it. */
static void test_cycle_budget_and_slices(void **state)
{
    (void)state;
    shard_t s;
    shard_init(&s, 6, &secret);
    s.now_ms = T0;
    const uint32_t n = 300000;
    for (uint32_t i = 0; i < n; i++) put_key(&s, i, T0 + 1 + i % 7);
    s.now_ms = T0 + 100;
    /* every cycle stops at its budget (the median is what was checked
     * against the real clock; with the fake one each cycle is checked) */
    int64_t took[7];
    uint64_t caps = s.expire_stats.cap_reached;
    for (int i = 0; i < 7; i++) {
        int64_t t0 = kv_mono_us();
        size_t got = shard_expire_cycle(&s, 300);
        took[i] = kv_mono_us() - t0;
        assert_true(got > 0 && got < n);
        assert_int_equal(s.expire_stats.cap_reached, ++caps);
    }
    for (int i = 0; i < 7; i++)
        for (int j = i + 1; j < 7; j++)
            if (took[j] < took[i]) {
                int64_t x = took[i];
                took[i] = took[j];
                took[j] = x;
            }
    for (int i = 0; i < 7; i++) assert_true(took[i] >= 300 && took[i] < 300 + 100);
    /* a cycle of 10 ms in slices of 100 us: each slice short, the cycle
     * goes on until its budget is spent */
    shard_expire_begin(&s, kv_mono_us(), 10000);
    int slices = 0;
    uint64_t before = s.stats.expired;
    while (shard_expire_run(&s, 100)) {
        slices++;
        assert_true(slices < 100000);
    }
    assert_true(slices >= 5 || s.volatile_keys == 0);
    assert_true(s.stats.expired > before);
    assert_true(s.expire_stats.cycle_ns > 0);
    /* a new cycle over an unfinished one counts the old one as capped */
    caps = s.expire_stats.cap_reached;
    if (s.volatile_keys > 0) {
        shard_expire_begin(&s, kv_mono_us(), 10000);
        shard_expire_run(&s, 50);
        shard_expire_begin(&s, kv_mono_us(), 10000);
        assert_int_equal(s.expire_stats.cap_reached, caps + 1);
    }
    assert_true(shard_expire_stale_bp(&s) > 0);
    shard_expire_reset_stats(&s);
    assert_int_equal(s.expire_stats.cap_reached, 0);
    assert_int_equal(shard_expire_stale_bp(&s), 0);
    check_counters(&s);
    shard_destroy(&s);
}

/* All keys due: repeated cycles reclaim every one and give the index's
 * memory back; keys without a TTL stay. */
static void test_cycle_reclaims(void **state)
{
    (void)state;
    shard_t s;
    shard_init(&s, 7, &secret);
    s.now_ms = T0;
    const uint32_t n = 200000;
    for (uint32_t i = 0; i < n; i++) put_key(&s, i, T0 + 10);
    for (uint32_t i = n; i < n + 50; i++) put_key(&s, i, -1);
    size_t idx_full = expire_idx_mem(&s.expires);
    assert_true(idx_full >= n * sizeof(kv_entry *));
    s.now_ms = T0 + 11;
    int cycles = 0;
    while (s.volatile_keys > 0) {
        shard_expire_cycle(&s, 2000);
        assert_true(++cycles < 100000);
    }
    assert_int_equal(s.stats.expired, n);
    assert_int_equal(ht_count(&s.table), 50);
    assert_true(expire_idx_mem(&s.expires) < 1024);
    assert_true(shard_expire_stale_bp(&s) > 0);
    check_counters(&s);
    shard_destroy(&s);
}

/* The index stays exact under a random mix of every change a shard sees:
 * SET with and without TTL, overwrite, EXPIRE/PERSIST (shard_update),
 * APPEND/SETRANGE growth (shard_resize_val), DEL, RENAME (shard_move),
 * type changes, hashes with a TTL and their last field going, eviction,
 * lazy and active expiry, FLUSHALL, while the table grows and shrinks. */
static void test_index_random_ops(void **state)
{
    (void)state;
    shard_t s;
    shard_init(&s, 8, &secret);
    s.now_ms = T0;
    uint64_t rng = 12345;
    const uint32_t keys = 4000;
    for (int round = 0; round < 40; round++) {
        uint32_t live = round % 10 < 5 ? keys : keys / 20; /* grow, then shrink the table */
        for (int op = 0; op < 5000; op++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            uint32_t i = (uint32_t)(rng >> 8) % live, what = (uint32_t)(rng >> 40) % 14;
            int64_t ttl = (rng >> 20) % 3 ? T0 + 1 + (int64_t)((rng >> 24) % 5000) : -1;
            char k[32], d[32];
            size_t kn = (size_t)sprintf(k, "key:%u", i);
            kv_entry *e = shard_lookup(&s, k, kn);
            switch (what) {
            case 0:
            case 1:
            case 2:
                put_key(&s, i, ttl);
                break;
            case 3:
                if (e) shard_update(&s, e, entry_val(e), e->vlen, ttl); /* (P)EXPIRE, PERSIST */
                break;
            case 4:
                if (e && e->type == KV_TYPE_STRING) shard_resize_val(&s, e, e->vlen + 1 + i % 300);
                break;
            case 5:
                if (e && e->type == KV_TYPE_STRING) shard_resize_val(&s, e, e->vlen / 3);
                break;
            case 6:
                shard_del(&s, k, kn);
                break;
            case 7:
                if (e) {
                    size_t dn = (size_t)sprintf(d, "key:%u", (i * 7 + 1) % live);
                    if (dn != kn || memcmp(d, k, kn) != 0) {
                        shard_del(&s, d, dn);
                        shard_move(&s, e, d, dn);
                    }
                }
                break;
            case 8:
            case 9: {
                kv_str f = {"f", 1}, v = {"vv", 2};
                if (e == NULL) {
                    hobj_t *h = hobj_new(&secret);
                    hobj_set(h, "f", 1, "v", 1);
                    shard_hash_put(&s, k, kn, h, ttl);
                } else if (e->type == KV_TYPE_HASH) {
                    shard_hash_set(&s, e, &f, &v);
                    if (what == 9) {
                        int gone = 0;
                        shard_hash_del(&s, e, &f, &gone);
                    }
                }
                break;
            }
            case 10:
                if (e) shard_drop_evicted(&s, e);
                break;
            case 11:
                if (e && e->type == KV_TYPE_STRING)
                    shard_update(&s, e, "a longer value than before, to move", 35, entry_expire(e));
                break;
            case 12:
                s.now_ms += 1;
                break;
            case 13:
                if (op % 50 == 0) shard_expire_cycle(&s, 50);
                break;
            }
        }
        check_counters(&s);
        if (round == 25) {
            shard_clear(&s);
            check_counters(&s);
            assert_int_equal(s.expires.n, 0);
        }
    }
    shard_destroy(&s);
}

/* The walk of expire_idx_next visits, in one pass, every entry present
 * for the whole pass, while others come and go. */
static void test_index_walk_covers(void **state)
{
    (void)state;
    shard_t s;
    shard_init(&s, 9, &secret);
    s.now_ms = T0;
    const uint32_t n = 5000;
    for (uint32_t i = 0; i < n; i++) put_key(&s, i, T0 + 100000);
    /* a pass starts when the cursor wraps: walk to that point first */
    while (s.expires.cursor != 0) expire_idx_next(&s.expires);
    uint8_t *seen = calloc(n, 1);
    uint32_t extra = n, steps = 0;
    for (;;) {
        kv_entry *e = expire_idx_next(&s.expires);
        unsigned id;
        assert_int_equal(sscanf(entry_key(e), "key:%u", &id), 1);
        if (id < n) seen[id] = 1;
        steps++;
        /* churn: odd ids < n/2 are deleted, new keys come */
        if (steps % 3 == 0 && steps / 3 < n / 2 && (steps / 3) % 2 == 1) {
            char k[32];
            size_t kn = (size_t)sprintf(k, "key:%u", steps / 3);
            shard_del(&s, k, kn);
            seen[steps / 3] = 1;
        }
        if (steps % 5 == 0) put_key(&s, extra++, T0 + 100000);
        if (s.expires.cursor == 0) break;
    }
    for (uint32_t i = 0; i < n; i++) assert_true(seen[i]);
    free(seen);
    check_counters(&s);
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
        cmocka_unit_test(test_lazy_expiry),
        cmocka_unit_test(test_update_counters),
        cmocka_unit_test(test_active_expiry_all),
        cmocka_unit_test(test_cycle_stops_early),
        cmocka_unit_test(test_cycle_budget_and_slices),
        cmocka_unit_test(test_cycle_reclaims),
        cmocka_unit_test(test_index_random_ops),
        cmocka_unit_test(test_index_walk_covers),
        cmocka_unit_test(test_expiry_under_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
