/* Tests for actors/join.c: gathering per-shard replies in client order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "actors/join.h"
#include "engine/reply.h"

/* Parts whose replies are the given RESP strings. */
static void parts_make(kv_req *reqs, kv_req **subs, const char **replies, unsigned n)
{
    memset(reqs, 0, n * sizeof *reqs);
    for (unsigned i = 0; i < n; i++) {
        kvbuf_init(&reqs[i].reply);
        kvbuf_append_str(&reqs[i].reply, replies[i]);
        subs[i] = &reqs[i];
    }
}

static void parts_free(kv_req *reqs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) kvbuf_destroy(&reqs[i].reply);
}

static void assert_buf(kvbuf *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
}

static void test_mget_client_order(void **state)
{
    /* keys k0..k4: k0,k3 on part 0; k1,k4 on part 1; k2 on part 2 (missing) */
    const char *r[] = {"$2\r\nv0\r\n$2\r\nv3\r\n", "$2\r\nv1\r\n$3\r\nv\r4\r\n", "$-1\r\n"};
    kv_req reqs[3], *subs[3];
    parts_make(reqs, subs, r, 3);
    uint16_t key_sub[] = {0, 1, 2, 0, 1};
    kvbuf out;
    kvbuf_init(&out);
    join_mget(&out, subs, 3, key_sub, 5);
    assert_buf(&out, "*5\r\n$2\r\nv0\r\n$2\r\nv1\r\n$-1\r\n$2\r\nv3\r\n$3\r\nv\r4\r\n");
    kvbuf_destroy(&out);
    parts_free(reqs, 3);
}

static void test_sum_and_error(void **state)
{
    const char *r[] = {":2\r\n", ":0\r\n", ":5\r\n"};
    kv_req reqs[3], *subs[3];
    parts_make(reqs, subs, r, 3);
    int64_t counts[] = {2, 0, 5};
    for (int i = 0; i < 3; i++) reqs[i].res = (cmd_res){.kind = CMD_RES_INT, .num = counts[i]};
    kvbuf out;
    kvbuf_init(&out);
    join_sum(&out, subs, 3);
    assert_buf(&out, ":7\r\n");
    assert_int_equal(join_sum_value(subs, 3), 7);
    parts_free(reqs, 3);

    const char *e[] = {"+OK\r\n", "-ERR boom\r\n", "-ERR second\r\n"};
    parts_make(reqs, subs, e, 3);
    kvbuf_reset(&out);
    join_ok(&out, subs, 3);
    assert_buf(&out, "-ERR boom\r\n");
    kvbuf_reset(&out);
    join_sum(&out, subs, 3);
    assert_buf(&out, "-ERR boom\r\n");
    assert_int_equal(join_sum_value(subs, 3), -1);
    kvbuf_destroy(&out);
    parts_free(reqs, 3);
}

static void test_ok_and_concat(void **state)
{
    /* KEYS parts: their keys' bulks, the count in type */
    const char *r[] = {"$1\r\na\r\n$1\r\nb\r\n", "", "$3\r\nccc\r\n"};
    kv_req reqs[3], *subs[3];
    parts_make(reqs, subs, r, 3);
    int64_t counts[] = {2, 0, 1};
    for (int i = 0; i < 3; i++) reqs[i].res = (cmd_res){.kind = CMD_RES_KEYS, .count = counts[i]};
    kvbuf out;
    kvbuf_init(&out);
    join_concat(&out, subs, 3);
    assert_buf(&out, "*3\r\n$1\r\na\r\n$1\r\nb\r\n$3\r\nccc\r\n");
    parts_free(reqs, 3);
    const char *ok[] = {"+OK\r\n", "+OK\r\n"};
    parts_make(reqs, subs, ok, 2);
    kvbuf_reset(&out);
    join_ok(&out, subs, 2);
    assert_buf(&out, "+OK\r\n");
    kvbuf_destroy(&out);
    parts_free(reqs, 2);
}

static void test_random_picks_non_nil(void **state)
{
    const char *r[] = {"$-1\r\n", "$3\r\nkey\r\n", "$-1\r\n"};
    kv_req reqs[3], *subs[3];
    parts_make(reqs, subs, r, 3);
    for (int i = 0; i < 3; i++) reqs[i].res = (cmd_res){.kind = CMD_RES_KEYS, .count = i == 1};
    uint64_t rng = 42;
    kvbuf out;
    kvbuf_init(&out);
    for (int i = 0; i < 20; i++) {
        kvbuf_reset(&out);
        join_random(&out, subs, 3, &rng);
        assert_buf(&out, "$3\r\nkey\r\n");
    }
    parts_free(reqs, 3);
    const char *none[] = {"$-1\r\n", "$-1\r\n"};
    parts_make(reqs, subs, none, 2);
    for (int i = 0; i < 2; i++) reqs[i].res = (cmd_res){.kind = CMD_RES_KEYS, .count = 0};
    kvbuf_reset(&out);
    join_random(&out, subs, 2, &rng);
    assert_buf(&out, "$-1\r\n");
    kvbuf_destroy(&out);
    parts_free(reqs, 2);
}

/* A part's figures (CMD_RES_FIGURES) with v[k] = base * (k + 1) and one
 * database db with keys, expires, ttl. */
static void part_figures(kv_req *r, int64_t base, uint32_t db, int64_t keys)
{
    cmd_figures *f = malloc(sizeof *f + sizeof f->db[0]);
    for (int k = 0; k < CMD_INFO_NFIELDS; k++) f->v[k] = base * (k + 1);
    f->ndb = 1;
    f->db[0] = (cmd_db_figures){.db = db, .keys = keys, .expires = 1, .ttl_ms = 100};
    r->res = (cmd_res){.kind = CMD_RES_FIGURES, .fig = f};
}

static void test_sum_fields(void **state)
{
    const char *r[] = {"", ""};
    kv_req reqs[2], *subs[2];
    parts_make(reqs, subs, r, 2);
    part_figures(&reqs[0], 1, 3, 4);
    part_figures(&reqs[1], 10, 3, 6);
    int64_t sums[CMD_INFO_NFIELDS];
    assert_int_equal(join_sum_fields(subs, 2, sums), 0);
    assert_int_equal(sums[0], 11);
    assert_int_equal(sums[1], 22);
    assert_int_equal(sums[CMD_INFO_NFIELDS - 1], 11 * CMD_INFO_NFIELDS);
    int64_t dbs[8][3];
    assert_int_equal(join_info_dbs(subs, 2, dbs, 8), 0);
    assert_int_equal(dbs[3][0], 10);
    assert_int_equal(dbs[3][1], 2);
    assert_int_equal(dbs[3][2], 200);
    assert_int_equal(dbs[0][0], 0);
    /* a refused part (no figures, its reply the error) fails the join */
    cmd_res_clear(&reqs[1].res);
    kvbuf_append_str(&reqs[1].reply, "-MISCONF x\r\n");
    assert_int_equal(join_sum_fields(subs, 2, sums), -1);
    kvbuf out;
    kvbuf_init(&out);
    assert_int_equal(join_first_error(&out, subs, 2), 1);
    assert_buf(&out, "-MISCONF x\r\n");
    kvbuf_destroy(&out);
    cmd_res_clear(&reqs[0].res);
    parts_free(reqs, 2);
}

/* A part that answered in type is never taken for an error, whatever its
 * reply's bytes: a TAKE of the value "-x" holds the raw bytes "-x". */
static void test_typed_part_is_no_error(void **state)
{
    const char *r[] = {"-x"};
    kv_req reqs[1], *subs[1];
    parts_make(reqs, subs, r, 1);
    reqs[0].res = (cmd_res){.kind = CMD_RES_TAKE, .num = -1, .type = 0};
    kvbuf out;
    kvbuf_init(&out);
    assert_int_equal(join_first_error(&out, subs, 1), 0);
    assert_int_equal(out.len, 0);
    kvbuf_destroy(&out);
    parts_free(reqs, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mget_client_order), cmocka_unit_test(test_sum_and_error),
        cmocka_unit_test(test_ok_and_concat),     cmocka_unit_test(test_random_picks_non_nil),
        cmocka_unit_test(test_sum_fields),        cmocka_unit_test(test_typed_part_is_no_error),
    };
    return cmocka_run_group_tests_name("actors/join", tests, NULL, NULL);
}
