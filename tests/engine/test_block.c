/* test_block.c - the waiter registry of blocked clients (engine/block.c)
 * and the serving of blocked list commands on a shard (cmd_list.c): FIFO
 * order per key, stale registrations dropped, exactly one claim per token,
 * reference counting, delivery order, a token registered on two shards
 * served by one only (the other shard's element stays), list and
 * sorted-set waiters on one key served each in their own order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/block.h"
#include "engine/buf.h"
#include "engine/cmd.h"
#include "engine/kv.h"
#include "engine/lobj.h"
#include "engine/shard.h"

static kv_hash_secret secret = {{1, 2, 3, 4}};

/* Delivery records the order and drops the delivery's reference. */
static blk_token *delivered[16];
static int ndelivered;

static void deliver(blk_token *t)
{
    delivered[ndelivered++] = t;
}

static blk_token *tok_new(void)
{
    blk_token *t = malloc(sizeof *t);
    blk_token_init(t, deliver);
    return t;
}

static void test_fifo_and_stale(void **state)
{
    (void)state;
    blk_reg *r = blk_reg_new();
    blk_token *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = tok_new();
        blk_reg_add(r, 42, 0, "k", 1, t[i], 0, 0, 0, NULL);
    }
    assert_int_equal(blk_reg_waits(r), 3);
    blk_reg_signal(r, 42, 1, "k", 1); /* another database: nobody waits there */
    assert_null(blk_reg_next_ready(r));
    blk_reg_signal(r, 42, 0, "k", 1);
    blk_reg_signal(r, 42, 0, "k", 1); /* once on the ready list */
    blk_key *k = blk_reg_next_ready(r);
    assert_non_null(k);
    assert_null(blk_reg_next_ready(r));
    /* the first one timed out: the front is the second */
    assert_true(blk_token_claim(t[0], BLK_GONE));
    assert_false(blk_token_claim(t[0], BLK_SERVED));
    blk_wait *w = blk_key_front(r, k);
    assert_ptr_equal(w->tok, t[1]);
    assert_int_equal(blk_reg_waits(r), 2);
    assert_true(blk_token_claim(t[1], BLK_SERVED));
    assert_int_equal(blk_key_pop(r, k, 1), 0); /* t[1]'s reference goes to the caller */
    blk_token_unref(t[1]);
    w = blk_key_front(r, k);
    assert_ptr_equal(w->tok, t[2]);
    /* a new registration prunes the stale ones of its key */
    assert_true(blk_token_claim(t[2], BLK_GONE));
    blk_token *t3 = tok_new();
    blk_reg_add(r, 42, 0, "k", 1, t3, 0, 0, 0, NULL);
    assert_int_equal(blk_reg_waits(r), 1);
    for (int i = 0; i < 3; i++) blk_token_unref(t[i]);
    blk_token_unref(t3);
    blk_reg_free(r); /* drops the last references (ASan: nothing leaks) */
}

/* List and sorted-set waiters on one key: each kind is served in its own
 * FIFO order, the other kind keeping its place. */
static void test_front_kind(void **state)
{
    (void)state;
    blk_reg *r = blk_reg_new();
    blk_token *t[4];
    int zset[4] = {0, 1, 0, 1};
    for (int i = 0; i < 4; i++) {
        t[i] = tok_new();
        blk_wait *w = blk_reg_add(r, 7, 0, "m", 1, t[i], 0, 0, 0, NULL);
        w->zset = (uint8_t)zset[i];
    }
    blk_reg_signal(r, 7, 0, "m", 1);
    blk_key *k = blk_reg_next_ready(r);
    assert_non_null(k);
    blk_wait *w = blk_key_front_kind(r, k, 1); /* the first sorted-set waiter */
    assert_ptr_equal(w->tok, t[1]);
    assert_ptr_equal(blk_key_front(r, k), w); /* moved to the front */
    assert_int_equal(blk_key_pop(r, k, 0), 0);
    assert_ptr_equal(blk_key_front_kind(r, k, 0)->tok, t[0]); /* lists: in order */
    assert_int_equal(blk_key_pop(r, k, 0), 0);
    assert_true(blk_token_claim(t[3], BLK_GONE)); /* a stale one is skipped */
    assert_null(blk_key_front_kind(r, k, 1));
    assert_ptr_equal(blk_key_front_kind(r, k, 0)->tok, t[2]);
    assert_int_equal(blk_key_pop(r, k, 0), 0); /* t[3]'s stale registration left */
    assert_null(blk_key_front(r, k));
    assert_int_equal(blk_key_pop(r, k, 0), 1); /* the key is freed */
    for (int i = 0; i < 4; i++) blk_token_unref(t[i]);
    blk_reg_free(r);
}

static void test_deliver_order(void **state)
{
    (void)state;
    blk_reg *r = blk_reg_new();
    blk_token *a = tok_new(), *b = tok_new();
    ndelivered = 0;
    blk_reg_served(r, a);
    blk_reg_served(r, b);
    assert_int_equal(blk_reg_deliver(r), 2);
    assert_ptr_equal(delivered[0], a);
    assert_ptr_equal(delivered[1], b);
    assert_int_equal(blk_reg_deliver(r), 0);
    blk_token_unref(a);
    blk_token_unref(b);
    blk_reg_free(r);
}

static kvbuf run(shard_t *s, cmd_fn *fn, void *env, int argc, const char **av)
{
    kv_str argv[8];
    for (int i = 0; i < argc; i++) argv[i] = (kv_str){av[i], strlen(av[i])};
    kvbuf out;
    kvbuf_init(&out);
    cmd_call c = {.argc = argc, .argv = argv, .out = &out, .env = env};
    fn(s, &c);
    return out;
}

static void expect(kvbuf *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
    kvbuf_destroy(b);
}

static void test_serve_on_shards(void **state)
{
    (void)state;
    shard_t a, b;
    shard_init(&a, 0, &secret);
    shard_init(&b, 1, &secret);
    blk_token *t1 = tok_new(), *t2 = tok_new();
    /* t1 waits on q in both shards (one BLPOP over two shards), t2 on q in a */
    kvbuf o = run(&a, cmd_bpop_try, t1, 3, (const char *[]){"blpop", "left", "q"});
    expect(&o, "");
    o = run(&b, cmd_bpop_try, t1, 3, (const char *[]){"blpop", "left", "q"});
    expect(&o, "");
    o = run(&a, cmd_bpop_try, t2, 3, (const char *[]){"brpop", "right", "q"});
    expect(&o, "");
    /* a push on b serves t1 there */
    o = run(&b, cmd_rpush, NULL, 3, (const char *[]){"rpush", "q", "x"});
    expect(&o, ":1\r\n");
    ndelivered = 0;
    assert_int_equal(cmd_list_serve(&b), 1);
    assert_int_equal(blk_token_state(t1), BLK_SERVED);
    expect(&t1->reply, "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    kvbuf_init(&t1->reply);
    assert_int_equal(blk_reg_deliver(b.blk), 1);
    blk_token_unref(delivered[0]);
    o = run(&b, cmd_llen, NULL, 2, (const char *[]){"llen", "q"});
    expect(&o, ":0\r\n");
    /* a push on a skips t1 (stale there) and serves t2 from the tail */
    o = run(&a, cmd_rpush, NULL, 4, (const char *[]){"rpush", "q", "1", "2"});
    expect(&o, ":2\r\n");
    assert_int_equal(cmd_list_serve(&a), 1);
    expect(&t2->reply, "*2\r\n$1\r\nq\r\n$1\r\n2\r\n");
    kvbuf_init(&t2->reply);
    assert_int_equal(blk_reg_deliver(a.blk), 1);
    blk_token_unref(delivered[1]);
    o = run(&a, cmd_lrange, NULL, 4, (const char *[]){"lrange", "q", "0", "-1"});
    expect(&o, "*1\r\n$1\r\n1\r\n"); /* the element nobody waits for stays */
    assert_int_equal(blk_reg_waits(a.blk), 0);
    /* a try on a non-empty list claims and pops at once; a claimed token pops nothing */
    blk_token *t3 = tok_new();
    o = run(&a, cmd_bpop_try, t3, 4, (const char *[]){"blpop", "left", "none", "q"});
    expect(&o, "*2\r\n$1\r\nq\r\n$1\r\n1\r\n");
    o = run(&a, cmd_rpush, NULL, 3, (const char *[]){"rpush", "q", "z"});
    expect(&o, ":1\r\n");
    o = run(&a, cmd_bpop_try, t3, 3, (const char *[]){"blpop", "left", "q"});
    expect(&o, "");
    o = run(&a, cmd_llen, NULL, 2, (const char *[]){"llen", "q"});
    expect(&o, ":1\r\n");
    blk_token_unref(t1);
    blk_token_unref(t2);
    blk_token_unref(t3);
    shard_destroy(&a);
    shard_destroy(&b);
}

static void test_timeout_parse(void **state)
{
    (void)state;
    int64_t ms;
    const char *err;
    struct {
        const char *in;
        int64_t ms; /* -1: error */
    } cases[] = {{"0", 0},    {"1.5", 1500}, {"0.0001", 0}, {"-0.0001", 0}, {"-1", -1},
                 {"abc", -1}, {"", -1},      {"1e30", -1},  {"0.1", 100}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kv_str a = {cases[i].in, strlen(cases[i].in)};
        int rc = cmd_block_timeout(&a, &ms, &err);
        if (cases[i].ms < 0) {
            assert_int_equal(rc, -1);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(ms, cases[i].ms);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_stale), cmocka_unit_test(test_front_kind),
        cmocka_unit_test(test_deliver_order),  cmocka_unit_test(test_serve_on_shards),
        cmocka_unit_test(test_timeout_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
