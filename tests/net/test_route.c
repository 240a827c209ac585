/* Tests for net/route.c with actors/join.c and the real engine: commands
 * are split per shard (scatter), the parts run on real shards, and the
 * joined replies come back in the client's key order (gather). Staged
 * cross-shard commands and the cross-shard SCAN cursor are driven to the
 * end. No threads: the test plays the actor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"
#include "engine/reply.h"
#include "net/route.h"

#define NSHARDS 16
#define NACTORS 3

typedef struct fixture {
    server_t srv;
    netthr t;
    conn c;
    shard_t shards[NSHARDS];
    uint64_t parts_run;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    config_defaults(&f->srv.cfg);
    f->srv.cfg.shards = NSHARDS;
    f->srv.nactors = NACTORS;
    memset(f->srv.secret.k, 7, sizeof f->srv.secret.k);
    f->t.srv = &f->srv;
    f->t.out = calloc(NACTORS, sizeof *f->t.out);
    f->t.inflight = calloc(NACTORS, sizeof *f->t.inflight);
    f->t.rng = 1;
    assert_int_equal(obs_net_init(&f->t.obs), 0);
    f->c.t = &f->t;
    f->c.ps.proto = PARSE_RESP;
    for (unsigned s = 0; s < NSHARDS; s++) shard_init(&f->shards[s], s, &f->srv.secret);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    kv_slot *sl = f->c.head;
    while (sl) {
        kv_slot *n = sl->next;
        slot_free(sl);
        sl = n;
    }
    slot_cache_free(&f->t);
    for (unsigned s = 0; s < NSHARDS; s++) shard_destroy(&f->shards[s]);
    free(f->t.out);
    free(f->t.inflight);
    obs_net_destroy(&f->t.obs);
    free(f);
    return 0;
}

/* Plays every actor until no batch is left: runs each part on its shard,
 * then completes it as the network thread would. */
static void run_actors(fixture *f)
{
    for (;;) {
        int any = 0;
        for (unsigned a = 0; a < NACTORS; a++) {
            kv_batch *b = f->t.out[a];
            if (b == NULL) continue;
            f->t.out[a] = NULL;
            any = 1;
            for (kv_req *r = b->head; r; r = r->next) {
                assert_int_equal(actor_of_shard(r->shard, NACTORS), a);
                shard_t *s = &f->shards[r->shard];
                s->now_ms = kv_time_ms();
                cmd_call call = {.argc = r->argc,
                                 .argv = r->argv,
                                 .out = &r->reply,
                                 .env = r->env,
                                 .res = &r->res};
                r->fn(s, &call);
                f->parts_run++;
            }
            kv_req *r = b->head;
            while (r) {
                kv_req *next = r->next;
                kv_slot *sl = r->owner;
                if (--sl->pending == 0) slot_finish(&f->t, sl);
                r = next;
            }
            free(b);
        }
        if (!any) return;
    }
}

/* Dispatches one command given as words and returns its slot. */
static kv_slot *dispatch(fixture *f, int argc, const char **words)
{
    kv_str argv[64];
    assert_true(argc <= 64);
    for (int i = 0; i < argc; i++) argv[i] = (kv_str){words[i], strlen(words[i])};
    f->c.ps.argc = argc;
    f->c.ps.argv = argv;
    route_dispatch(&f->t, &f->c);
    return f->c.tail;
}

/* Runs a command to completion and compares its RESP reply. */
static void expect(fixture *f, const char *want, int argc, const char **words)
{
    kv_slot *sl = dispatch(f, argc, words);
    run_actors(f);
    assert_true(sl->ready);
    if (sl->reply.len != strlen(want) || memcmp(sl->reply.data, want, sl->reply.len) != 0)
        fail_msg("%s: got %.*s want %s", words[0], (int)sl->reply.len, sl->reply.data, want);
}

#define EXPECT(f, want, ...)                                                                       \
    do {                                                                                           \
        const char *w_[] = {__VA_ARGS__};                                                          \
        expect(f, want, (int)(sizeof w_ / sizeof w_[0]), w_);                                      \
    } while (0)

static void test_mget_scatters_and_keeps_order(void **state)
{
    fixture *f = *state;
    const char *mset[41] = {"MSET"};
    char keys[20][8], vals[20][8];
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        mset[1 + 2 * i] = keys[i];
        mset[2 + 2 * i] = vals[i];
    }
    expect(f, "+OK\r\n", 41, mset);

    const char *mget[23] = {"MGET"};
    for (int i = 0; i < 20; i++) mget[1 + i] = keys[19 - i];
    mget[21] = "missing";
    mget[22] = keys[0];
    kv_slot *sl = dispatch(f, 23, mget);
    /* one part per shard touched, never more parts than shards */
    assert_true(sl->nsub > 1 && sl->nsub <= NSHARDS);
    unsigned total = 0;
    for (unsigned i = 0; i < sl->nsub; i++) {
        kv_req *r = sl->subs[i];
        total += (unsigned)r->argc - 1;
        for (int k = 1; k < r->argc; k++)
            assert_int_equal(route_shard(&f->srv, r->argv[k].p, r->argv[k].len), r->shard);
    }
    assert_int_equal(total, 22);
    run_actors(f);
    kvbuf want;
    kvbuf_init(&want);
    reply_array(&want, 22);
    for (int i = 0; i < 20; i++) reply_bulk_cstr(&want, vals[19 - i]);
    reply_nil(&want);
    reply_bulk_cstr(&want, vals[0]);
    assert_int_equal(sl->reply.len, want.len);
    assert_memory_equal(sl->reply.data, want.data, want.len);
    kvbuf_destroy(&want);
}

/* Takes the finished slot at the head of the FIFO and frees it, as the
 * network thread does once its reply is out. */
static void free_head(fixture *f)
{
    kv_slot *sl = f->c.head;
    f->c.head = sl->next;
    if (f->c.head == NULL) f->c.tail = NULL;
    f->c.nslots--;
    slot_free(sl);
}

/* A freed small slot is reused with its reply buffers, and nothing of the
 * previous command shows through; a slot whose arguments do not fit in
 * SLOT_ROOM is freed, not cached. */
static void test_slot_reuse(void **state)
{
    fixture *f = *state;
    EXPECT(f, "+OK\r\n", "SET", "k1", "a-rather-long-value-to-grow-the-buffers");
    EXPECT(f, "$39\r\na-rather-long-value-to-grow-the-buffers\r\n", "GET", "k1");
    kv_slot *old = f->c.tail;
    free_head(f);
    free_head(f);
    assert_int_equal(f->t.nslot_cache, 2);
    EXPECT(f, "$-1\r\n", "GET", "k2");
    assert_ptr_equal(f->c.tail, old); /* last freed, first reused */
    assert_int_equal(f->t.nslot_cache, 1);
    EXPECT(f, ":1\r\n", "EXISTS", "k1", "k2");
    free_head(f);
    free_head(f);
    assert_int_equal(f->t.nslot_cache, 2);
    char big[SLOT_ROOM + 1];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    EXPECT(f, "+OK\r\n", "SET", "k3", big);
    assert_int_equal(f->t.nslot_cache, 2); /* not taken from the cache */
    free_head(f);
    assert_int_equal(f->t.nslot_cache, 2); /* nor put back */
}

static void test_sums_across_shards(void **state)
{
    fixture *f = *state;
    EXPECT(f, "+OK\r\n", "MSET", "a", "1", "b", "2", "c", "3", "d", "4");
    EXPECT(f, ":5\r\n", "EXISTS", "a", "b", "c", "d", "a", "zz");
    EXPECT(f, ":4\r\n", "DBSIZE");
    EXPECT(f, ":2\r\n", "DEL", "a", "c", "nope");
    EXPECT(f, ":2\r\n", "DBSIZE");
    EXPECT(f, "+OK\r\n", "FLUSHALL");
    EXPECT(f, ":0\r\n", "DBSIZE");
}

/* Two keys on different shards. */
static void two_shard_keys(fixture *f, char *a, char *b, size_t len)
{
    snprintf(a, len, "src");
    for (int i = 0;; i++) {
        snprintf(b, len, "dst%d", i);
        if (route_shard(&f->srv, a, strlen(a)) != route_shard(&f->srv, b, strlen(b))) return;
    }
}

static void test_rename_across_shards(void **state)
{
    fixture *f = *state;
    char a[16], b[16];
    two_shard_keys(f, a, b, sizeof a);
    EXPECT(f, "-ERR no such key\r\n", "RENAME", a, b);
    EXPECT(f, "+OK\r\n", "SET", a, "hello", "EX", "100");
    EXPECT(f, "+OK\r\n", "RENAME", a, b);
    EXPECT(f, "$-1\r\n", "GET", a);
    EXPECT(f, "$5\r\nhello\r\n", "GET", b);
    kv_slot *sl = dispatch(f, 2, (const char *[]){"TTL", b});
    run_actors(f);
    assert_true(sl->reply.len >= 4 && sl->reply.data[0] == ':' && atoi(sl->reply.data + 1) >= 99);
    /* RENAMENX: destination exists -> 0, source missing -> error */
    EXPECT(f, "+OK\r\n", "SET", a, "x");
    EXPECT(f, ":0\r\n", "RENAMENX", a, b);
    EXPECT(f, ":1\r\n", "DEL", b);
    EXPECT(f, ":1\r\n", "RENAMENX", a, b);
    EXPECT(f, "$1\r\nx\r\n", "GET", b);
    EXPECT(f, "-ERR no such key\r\n", "RENAMENX", a, b);
}

static void test_msetnx(void **state)
{
    fixture *f = *state;
    EXPECT(f, ":1\r\n", "MSETNX", "p", "1", "q", "2", "r", "3");
    EXPECT(f, ":0\r\n", "MSETNX", "s", "1", "q", "9");
    EXPECT(f, "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n", "MGET", "p", "q", "r", "s");
}

static void test_scan_covers_all_shards(void **state)
{
    fixture *f = *state;
    enum { N = 500 };
    char key[16];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        EXPECT(f, "+OK\r\n", "SET", key, "v");
    }
    char *seen = calloc(N, 1);
    char cursor[32] = "0";
    int calls = 0;
    do {
        kv_slot *sl = dispatch(f, 4, (const char *[]){"SCAN", cursor, "COUNT", "50"});
        run_actors(f);
        const char *p = sl->reply.data;
        assert_memory_equal(p, "*2\r\n$", 5);
        p = strchr(p + 5, '\n') + 1;
        size_t clen = strcspn(p, "\r");
        memcpy(cursor, p, clen);
        cursor[clen] = '\0';
        p += clen + 2;
        assert_int_equal(*p, '*');
        char *end;
        long n = strtol(p + 1, &end, 10);
        p = end + 2;
        for (long i = 0; i < n; i++) {
            long len = strtol(p + 1, &end, 10);
            p = end + 2;
            int idx = atoi(p + 4);
            assert_true(idx >= 0 && idx < N);
            seen[idx] = 1;
            p += len + 2;
        }
        calls++;
        assert_true(calls < 10000);
    } while (strcmp(cursor, "0") != 0);
    for (int i = 0; i < N; i++)
        if (!seen[i]) fail_msg("key:%d never returned by SCAN", i);
    free(seen);
    EXPECT(f, "-ERR invalid cursor\r\n", "SCAN", "abc");
}

static void test_errors_and_arity(void **state)
{
    fixture *f = *state;
    EXPECT(f, "-ERR wrong number of arguments for 'get' command\r\n", "GET");
    EXPECT(f, "-ERR wrong number of arguments for 'mset' command\r\n", "MSET", "a", "1", "b");
    EXPECT(f, "-ERR unknown command 'NOPE', with args beginning with: 'x' 'y' \r\n", "NOPE", "x",
           "y");
    EXPECT(f, "+PONG\r\n", "PING");
    EXPECT(f, "$2\r\nhi\r\n", "ECHO", "hi");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mget_scatters_and_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sums_across_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_across_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msetnx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_covers_all_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_and_arity, setup, teardown),
    };
    return cmocka_run_group_tests_name("net/route", tests, NULL, NULL);
}
