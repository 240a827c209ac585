/* test_entry.c - entries of big strings carry a reference count
 * (KV_ENTRY_SHARED): a pinned value's bytes never change or go away while
 * the pin is held, whatever the table does to the key meanwhile; small
 * values and unpinned big ones are changed in place as before. Run under
 * ASan in the Debug build: a value freed too early is a use after free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "entry.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_only_when_big),
        cmocka_unit_test(test_pinned_bytes_stay),
        cmocka_unit_test(test_unpinned_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
