/* test_entry.c - entries of big strings carry a reference count
 * (KV_ENTRY_SHARED): a pinned value's bytes never change or go away while
 * the pin is held, whatever the table does to the key meanwhile; small
 * values and unpinned big ones are changed in place as before. Run under
 * ASan in the Debug build: a value freed too early is a use after free. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/entry.h"

#define BIG (ENTRY_SHARE_MIN + 100)

static char *pattern(size_t n, char c)
{
    char *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (char)(c + i % 7);
    return p;
}

static kv_entry *big_entry(char c, int64_t expire_ms)
{
    char *v = pattern(BIG, c);
    kv_entry *e = entry_new(1, "key", 3, v, BIG, expire_ms);
    free(v);
    return e;
}

static void test_shared_only_when_big(void **state)
{
    (void)state;
    kv_entry *small = entry_new(1, "k", 1, "v", 1, -1);
    assert_false(small->flags & KV_ENTRY_SHARED);
    kv_entry *big = big_entry('a', -1);
    assert_true(big->flags & KV_ENTRY_SHARED);
    assert_memory_equal(entry_key(big), "key", 3);
    /* shrinking below the threshold drops the count; growing adds it */
    big = entry_resize_val(big, 10);
    assert_false(big->flags & KV_ENTRY_SHARED);
    small = entry_resize_val(small, BIG);
    assert_true(small->flags & KV_ENTRY_SHARED);
    assert_int_equal(entry_val(small)[0], 'v');
    assert_int_equal(entry_val(small)[BIG - 1], 0);
    entry_free(small);
    entry_free(big);
}

/* Pinned, then overwritten, resized, re-expired and freed by the table:
 * the pinned bytes stay as they were until unpinned. */
static void test_pinned_bytes_stay(void **state)
{
    (void)state;
    char *want = pattern(BIG, 'a');
    char *other = pattern(BIG + 5000, 'q');
    kv_entry *e = big_entry('a', 5000);
    entry_set_ttl_slot(e, 42);
    entry_pin(e);
    const char *p = entry_val(e);

    kv_entry *n = entry_rebuild(e, other, BIG + 5000, 6000); /* SET over it */
    assert_ptr_not_equal(n, e);
    assert_int_equal(entry_ttl_slot(n), 42);
    assert_memory_equal(p, want, BIG);
    entry_pin(n);
    const char *p2 = entry_val(n);
    kv_entry *m = entry_resize_val(n, BIG + 6000); /* APPEND on it */
    memcpy(entry_val(m) + BIG + 5000, "tail", 4);
    assert_memory_equal(p2, other, BIG + 5000);
    kv_entry *x = entry_rebuild(m, entry_val(m), m->vlen, 7000); /* EXPIRE */
    assert_int_equal(entry_expire(x), 7000);
    entry_free(x);                     /* DEL: the table lets go */
    assert_memory_equal(p, want, BIG); /* both pins still readable */
    assert_memory_equal(p2, other, BIG + 5000);
    entry_unpin(e);
    entry_unpin(n); /* the last reference: freed here (ASan checks) */
    free(want);
    free(other);
}

/* Without a pin a big value is changed in place, as before. */
static void test_unpinned_in_place(void **state)
{
    (void)state;
    kv_entry *e = big_entry('a', -1);
    entry_pin(e);
    entry_unpin(e); /* a reply came and went */
    char *v = entry_val(e);
    kv_entry *n = entry_rebuild(e, v, BIG - 10, -1); /* a prefix: in place */
    assert_ptr_equal(n, e);
    assert_int_equal(n->vlen, BIG - 10);
    entry_free(n);
}

/* A buffer of the parser's kind for a value of n bytes: exact, page
 * aligned under jemalloc as parse.c makes them. */
static char *parser_buffer(size_t n, char c)
{
#ifdef MEMKV_JEMALLOC
    char *p = aligned_alloc(4096, (n + 4095) / 4096 * 4096);
#else
    char *p = malloc(n);
#endif
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (char)(c + i % 7);
    return p;
}

/* A big value's buffer becomes the stored value (no copy); *own is NULL
 * then, and the bytes are the caller's. A small value is copied and the
 * buffer left to the caller. */
static void test_new_own_takes_buffer(void **state)
{
    (void)state;
    size_t sizes[] = {ENTRY_SHARE_MIN, ENTRY_SHARE_MIN + 1, 64 * 1024, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        char *want = pattern(n, 'c');
        char *buf = parser_buffer(n, 'c'), *own = buf;
        kv_entry *e = entry_new_own(1, 0, "key", 3, buf, n, 5000, &own);
        assert_null(own);
        assert_true(e->flags & KV_ENTRY_SHARED);
        assert_int_equal(e->vlen, n);
        assert_int_equal(entry_expire(e), 5000);
        assert_memory_equal(entry_val(e), want, n);
        /* no bigger than kv_xmalloc_pages would have made it */
#ifdef MEMKV_JEMALLOC
        kv_entry *ref = entry_new(1, "key", 3, want, n, 5000);
        assert_true(entry_mem(e) <= entry_mem(ref));
        entry_free(ref);
#endif
        entry_free(e);
        free(want);
    }
    char *small = parser_buffer(100, 's'), *own = small;
    kv_entry *e = entry_new_own(1, 0, "key", 3, small, 100, -1, &own);
    assert_ptr_equal(own, small); /* copied: still the caller's */
    assert_false(e->flags & KV_ENTRY_SHARED);
    assert_memory_equal(entry_val(e), small, 100);
    free(small);
    entry_free(e);
}

/* SET over a big value with a buffer to give: in place when nobody holds
 * the old value, a fresh entry around the buffer when a reply pins it (the
 * pinned bytes stay); over a small value, the layout changes. */
static void test_rebuild_own(void **state)
{
    (void)state;
    size_t n = 3 * ENTRY_SHARE_MIN;
    char *want_old = pattern(BIG, 'a');
    kv_entry *e = big_entry('a', -1);
    char *buf = parser_buffer(n, 'x'), *own = buf;
    kv_entry *n1 = entry_rebuild_own(e, buf, n, -1, &own);
    assert_null(own);
    assert_ptr_equal(n1, e); /* same layout, nobody else holds it */
    assert_ptr_equal(entry_val(n1), buf);
    assert_int_equal(entry_expire(n1), -1);

    entry_pin(n1); /* a GET's reply is being written */
    const char *p = entry_val(n1);
    char *want = pattern(n, 'x');
    char *buf2 = parser_buffer(BIG, 'a');
    own = buf2;
    kv_entry *n2 = entry_rebuild_own(n1, buf2, BIG, -1, &own);
    assert_null(own);
    assert_ptr_not_equal(n2, n1);
    assert_ptr_equal(entry_val(n2), buf2);
    assert_memory_equal(entry_val(n2), want_old, BIG);
    assert_memory_equal(p, want, n); /* the pinned bytes did not change */
    entry_unpin(n1);

    kv_entry *s = entry_new(1, "key", 3, "v", 1, 100);
    entry_set_ttl_slot(s, 9);
    char *buf3 = parser_buffer(BIG, 'a');
    own = buf3;
    kv_entry *s2 = entry_rebuild_own(s, buf3, BIG, 200, &own);
    assert_null(own);
    assert_true(s2->flags & KV_ENTRY_SHARED);
    assert_int_equal(entry_ttl_slot(s2), 9);
    assert_int_equal(entry_expire(s2), 200);
    assert_memory_equal(entry_val(s2), want_old, BIG);
    entry_free(s2);
    entry_free(n2);
    free(want);
    free(want_old);
}

/* APPEND's growth (entry_append_val): crossing into a value stored apart
 * leaves room for as much again, and a growth that fits the room is done
 * in place even while the value is pinned: the pin's bytes (the first
 * vlen) do not change, so no copy of the whole value is needed. */
static void test_append_grows_in_place(void **state)
{
    (void)state;
    char *v = pattern(ENTRY_SHARE_MIN - 100, 'a');
    kv_entry *e = entry_new(1, "key", 3, v, ENTRY_SHARE_MIN - 100, -1);
    e = entry_resize_val(e, BIG); /* crosses 16 KB: stored apart, with room */
    assert_true(e->flags & KV_ENTRY_SHARED);
    assert_memory_equal(entry_val(e), v, ENTRY_SHARE_MIN - 100);
    assert_true(malloc_usable_size(entry_val(e)) >= 2 * (size_t)BIG);
    entry_pin(e); /* a GET's reply is sending it */
    const char *p = entry_val(e);
    kv_entry *n = entry_append_val(e, BIG + 4000);
    assert_ptr_equal(n, e);
    assert_ptr_equal(entry_val(n), p);
    memset(entry_val(n) + BIG, 'z', 4000);
    assert_memory_equal(p, v, ENTRY_SHARE_MIN - 100); /* the pinned bytes */
    /* past the room while pinned: a copy, the pinned bytes stay */
    kv_entry *m = entry_append_val(n, 4 * (size_t)BIG);
    assert_ptr_not_equal(entry_val(m), p);
    assert_memory_equal(entry_val(m), v, ENTRY_SHARE_MIN - 100);
    assert_int_equal(entry_val(m)[BIG + 3999], 'z');
    assert_memory_equal(p, v, ENTRY_SHARE_MIN - 100);
    entry_free(m);
    entry_unpin(e); /* the last reference of the old one */
    free(v);
}

/* SETRANGE's growth (entry_resize_val) writes inside the old bytes: while
 * the value is pinned it gets a copy even when the growth fits the room, so
 * a GET's reply still being sent keeps the bytes it had. */
static void test_resize_pinned_copies(void **state)
{
    (void)state;
    char *v = pattern(ENTRY_SHARE_MIN - 100, 'a');
    kv_entry *e = entry_new(1, "key", 3, v, ENTRY_SHARE_MIN - 100, -1);
    e = entry_append_val(e, BIG); /* stored apart, with room */
    assert_true(malloc_usable_size(entry_val(e)) >= 2 * (size_t)BIG);
    entry_pin(e);
    const char *p = entry_val(e);
    kv_entry *n = entry_resize_val(e, BIG + 4000);
    assert_ptr_not_equal(entry_val(n), p);
    memset(entry_val(n), 'Z', BIG + 4000);            /* SETRANGE key 0 ... */
    assert_memory_equal(p, v, ENTRY_SHARE_MIN - 100); /* the pinned bytes */
    entry_free(n);
    entry_unpin(e);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_only_when_big), cmocka_unit_test(test_pinned_bytes_stay),
        cmocka_unit_test(test_unpinned_in_place),    cmocka_unit_test(test_new_own_takes_buffer),
        cmocka_unit_test(test_rebuild_own),          cmocka_unit_test(test_append_grows_in_place),
        cmocka_unit_test(test_resize_pinned_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
