/* test_cmd_list.c - the log records of list and set commands: a fuzzy
 * snapshot (each key copied at its own moment, after some of the records
 * were written) plus a replay of every record from before the first copy
 * must give the final state. That is what recovery does after a compaction
 * that ran while clients wrote (docs/persistence.md). */
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
#include "engine/entry.h"
#include "engine/kv.h"
#include "engine/lobj.h"
#include "engine/shard.h"
#include "engine/sobj.h"

static kv_hash_secret secret = {{9, 8, 7, 6}};

#define NKEYS  4
#define NSTEPS 3000
static const char *keys[NKEYS] = {"la", "lb", "sa", "sb"};

typedef struct rec {
    int type; /* entry type of a PUT, or -1 for DEL */
    char key[8];
    char *val;
    size_t vlen;
} rec;

typedef struct journal {
    rec *r;
    size_t n, cap;
} journal;

static void j_add(journal *j, int type, const char *k, size_t klen, const char *v, size_t vlen)
{
    if (j->n == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 1024;
        j->r = realloc(j->r, j->cap * sizeof *j->r);
    }
    rec *r = &j->r[j->n++];
    r->type = type;
    assert_true(klen < sizeof r->key);
    memcpy(r->key, k, klen);
    r->key[klen] = '\0';
    r->val = malloc(vlen ? vlen : 1);
    memcpy(r->val, v, vlen);
    r->vlen = vlen;
}

static void log_put(void *ctx, uint32_t shard, const kv_entry *e)
{
    (void)shard;
    kv_entry *m = (kv_entry *)(uintptr_t)e;
    if (kv_type_is_obj(e->type)) {
        kvbuf b;
        kvbuf_init(&b);
        entry_obj_encode(m, &b);
        j_add(ctx, e->type, entry_key(m), e->klen, b.data, b.len);
        kvbuf_destroy(&b);
        return;
    }
    j_add(ctx, e->type, entry_key(m), e->klen, entry_val(m), e->vlen);
}

static void log_del(void *ctx, uint32_t shard, const char *key, size_t klen)
{
    (void)shard;
    j_add(ctx, -1, key, klen, "", 0);
}

static const shard_log_ops ops = {.put = log_put, .del = log_del};

/* The encoded state of key: "" if absent; a list with its version; a set
 * as its sorted members. */
typedef struct snap {
    int type;
    kvbuf enc;
} snap;

static int cmp_str(const void *a, const void *b)
{
    const kv_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

typedef struct members {
    kv_str v[4096];
    size_t n;
} members;

static void add_member(void *arg, const kv_str *m)
{
    members *x = arg;
    assert_true(x->n < 4096);
    x->v[x->n++] = *m;
}

static void take(shard_t *s, const char *key, snap *out)
{
    out->type = -1;
    kvbuf_init(&out->enc);
    kv_entry *e = shard_lookup(s, key, strlen(key));
    if (e == NULL) return;
    out->type = e->type;
    if (e->type == KV_TYPE_LIST) {
        lobj_encode(entry_lobj(e), &out->enc);
        return;
    }
    static members m;
    m.n = 0;
    sobj_foreach(entry_sobj(e), add_member, &m);
    qsort(m.v, m.n, sizeof m.v[0], cmp_str);
    for (size_t i = 0; i < m.n; i++) {
        kvbuf_append(&out->enc, m.v[i].p, m.v[i].len);
        kvbuf_append(&out->enc, "\n", 1);
    }
}

/* Restores key from a fuzzy-snapshot copy (the encoding of the live entry). */
static void restore(shard_t *s, const char *key, shard_t *from_state, const snap *sn, kvbuf *raw)
{
    (void)from_state;
    (void)sn;
    if (raw->len == 0) return;
    int type = raw->data[0];
    void *obj = entry_obj_decode(&secret, (unsigned)type, raw->data + 1, raw->len - 1);
    assert_non_null(obj);
    shard_obj_put(s, key, strlen(key), (unsigned)type, obj, -1);
}

static void replay(shard_t *s, const rec *r)
{
    kv_str key = {r->key, strlen(r->key)};
    if (r->type < 0) {
        shard_del(s, key.p, key.len);
    } else if (r->type == KV_TYPE_LIST_DELTA) {
        assert_int_equal(cmd_list_replay(s, &key, r->val, r->vlen), 0);
    } else if (r->type == KV_TYPE_SET_DELTA) {
        assert_int_equal(cmd_set_replay(s, &key, r->val, r->vlen), 0);
    } else {
        assert_true(r->type == KV_TYPE_LIST || r->type == KV_TYPE_SET);
        void *obj = entry_obj_decode(&secret, (unsigned)r->type, r->val, r->vlen);
        assert_non_null(obj);
        shard_del(s, key.p, key.len);
        shard_obj_put(s, key.p, key.len, (unsigned)r->type, obj, -1);
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void run(shard_t *s, cmd_fn *fn, int argc, const char **av)
{
    kv_str argv[16];
    kvbuf out;
    kvbuf_init(&out);
    for (int i = 0; i < argc; i++) argv[i] = (kv_str){av[i], strlen(av[i])};
    cmd_call c = {.argc = argc, .argv = argv, .out = &out};
    fn(s, &c);
    kvbuf_destroy(&out);
}

static void random_command(shard_t *s)
{
    static const char *el[] = {"a", "b", "c", "", "dd", "e"};
    const char *e1 = el[rnd() % 6], *e2 = el[rnd() % 6], *e3 = el[rnd() % 6];
    const char *lk = keys[rnd() % 2], *sk = keys[2 + rnd() % 2];
    char n1[8], n2[8];
    snprintf(n1, sizeof n1, "%d", (int)(rnd() % 7) - 3);
    snprintf(n2, sizeof n2, "%d", (int)(rnd() % 4));
    /* mostly the commands logged as changes; the ones logged whole (LINSERT,
     * LREM, LTRIM, a rotation, a STORE) rarely, so records must be skipped */
    uint64_t r = rnd() % 100;
    int pick = r < 98 ? (int)(r % 5 == 4 ? 9 + r % 4 : r % 5) : 5 + (int)(rnd() % 4);
    if (r == 99 && rnd() % 2) pick = 13;
    switch (pick) {
    case 0:
        run(s, cmd_lpush, 4, (const char *[]){"lpush", lk, e1, e2});
        break;
    case 1:
        run(s, cmd_rpush, 5, (const char *[]){"rpush", lk, e1, e2, e3});
        break;
    case 2:
        run(s, cmd_lpop, 3, (const char *[]){"lpop", lk, n2});
        break;
    case 3:
        run(s, cmd_rpop, 2, (const char *[]){"rpop", lk});
        break;
    case 4:
        run(s, cmd_lset, 4, (const char *[]){"lset", lk, n1, e1});
        break;
    case 5:
        run(s, cmd_linsert, 5, (const char *[]){"linsert", lk, "before", e1, e2});
        break;
    case 6:
        run(s, cmd_lrem, 4, (const char *[]){"lrem", lk, n1, e1});
        break;
    case 7:
        run(s, cmd_ltrim, 4, (const char *[]){"ltrim", lk, "1", "-1"});
        break;
    case 8:
        run(s, cmd_lmove, 5, (const char *[]){"lmove", lk, keys[rnd() % 2], "left", "right"});
        break;
    case 9:
        run(s, cmd_sadd, 5, (const char *[]){"sadd", sk, e1, e2, e3});
        break;
    case 10:
        run(s, cmd_srem, 4, (const char *[]){"srem", sk, e1, e2});
        break;
    case 11:
        run(s, cmd_spop, 3, (const char *[]){"spop", sk, n2});
        break;
    case 12:
        run(s, cmd_smove, 4, (const char *[]){"smove", sk, keys[2 + rnd() % 2], e1});
        break;
    default:
        run(s, cmd_sunionstore, 4, (const char *[]){"sunionstore", sk, keys[2], keys[3]});
        break;
    }
}

/* The live entry of key encoded as restore() wants it: type byte + bytes. */
static void copy_live(shard_t *s, const char *key, kvbuf *out)
{
    kvbuf_init(out);
    kv_entry *e = shard_lookup(s, key, strlen(key));
    if (e == NULL) return;
    char t = (char)e->type;
    kvbuf_append(out, &t, 1);
    entry_obj_encode(e, out);
}

static void test_fuzzy_snapshot_plus_replay(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        shard_t a;
        journal j = {0};
        shard_init(&a, 0, &secret);
        a.log = &ops;
        a.log_ctx = &j;
        /* each key is copied at its own random step (a fuzzy snapshot) */
        int at[NKEYS];
        kvbuf copy[NKEYS];
        /* late copies: few whole-value records after them to hide a replay
         * that applies a change twice */
        for (int k = 0; k < NKEYS; k++) at[k] = NSTEPS - 1 - (int)(rnd() % 60);
        /* the log is replayed from the rotation, a little before the first
         * copy (the records before it are in the copies) */
        int first = NSTEPS;
        for (int k = 0; k < NKEYS; k++) first = at[k] < first ? at[k] : first;
        int rotation = first - (int)(rnd() % 30);
        size_t from = 0;
        for (int step = 0; step < NSTEPS; step++) {
            if (step == rotation) from = j.n;
            for (int k = 0; k < NKEYS; k++)
                if (at[k] == step) copy_live(&a, keys[k], &copy[k]);
            random_command(&a);
        }
        shard_t b;
        shard_init(&b, 0, &secret);
        for (int k = 0; k < NKEYS; k++) {
            restore(&b, keys[k], NULL, NULL, &copy[k]);
            kvbuf_destroy(&copy[k]);
        }
        for (size_t i = from; i < j.n; i++) replay(&b, &j.r[i]);
        for (int k = 0; k < NKEYS; k++) {
            snap x, y;
            take(&a, keys[k], &x);
            take(&b, keys[k], &y);
            assert_int_equal(x.type, y.type);
            assert_int_equal(x.enc.len, y.enc.len);
            if (x.enc.len) assert_memory_equal(x.enc.data, y.enc.data, x.enc.len);
            kvbuf_destroy(&x.enc);
            kvbuf_destroy(&y.enc);
        }
        for (size_t i = 0; i < j.n; i++) free(j.r[i].val);
        free(j.r);
        shard_destroy(&a);
        shard_destroy(&b);
    }
}

static void test_replay_rejects_malformed(void **state)
{
    (void)state;
    shard_t s;
    shard_init(&s, 0, &secret);
    kv_str key = {"k", 1};
    assert_int_equal(cmd_list_replay(&s, &key, "", 0), -1);
    assert_int_equal(cmd_list_replay(&s, &key, "\x09\x01", 2), -1);         /* unknown op */
    assert_int_equal(cmd_list_replay(&s, &key, "\x01\x01\x02\x01", 4), -1); /* 2 elems, 0 */
    assert_int_equal(cmd_set_replay(&s, &key,
                                    "\x01\x01\x05"
                                    "ab",
                                    5),
                     -1);                                          /* past end */
    assert_int_equal(cmd_set_replay(&s, &key, "\x03\x00", 2), -1); /* unknown op */
    assert_int_equal(cmd_set_replay(&s, &key,
                                    "\x01\x01\x01"
                                    "ab",
                                    5),
                     -1); /* trailing */
    assert_int_equal(cmd_set_replay(&s, &key,
                                    "\x01\x01\x01"
                                    "a",
                                    4),
                     0);
    assert_non_null(shard_lookup(&s, "k", 1));
    shard_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzzy_snapshot_plus_replay),
        cmocka_unit_test(test_replay_rejects_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
