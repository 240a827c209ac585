/* expire.c - active expiry: a time-boxed walk of the shard's table that
 * removes keys whose TTL has passed, so memory of keys nobody reads again
 * comes back. */
#include <stddef.h>

#include "kv.h"
#include "shard.h"

/* Entries (or empty buckets) examined between two looks at the clock: the
 * clock costs ~20 ns, a check a few ns, so this keeps the overshoot of the
 * budget to about a microsecond. */
#define EXPIRE_CLOCK_EVERY 32

typedef struct expire_walk {
    shard_t *s;
    size_t removed;
    size_t visited;
} expire_walk;

static void expire_visit(void *arg, kv_entry *e)
{
    expire_walk *w = arg;
    w->visited++;
    if (shard_expired(w->s, e)) {
        shard_drop_expired(w->s, e);
        w->removed++;
    }
}

size_t shard_expire_cycle(shard_t *s, int64_t budget_us)
{
    if (s->volatile_keys == 0) return 0;
    expire_walk w = {.s = s, .removed = 0, .visited = 0};
    int64_t start = kv_mono_us();
    size_t next_check = EXPIRE_CLOCK_EVERY;
    size_t calls = 0;

    /* at most one full pass per cycle: what remains waits for the next */
    for (;;) {
        s->expire_cursor = ht_scan(&s->table, s->expire_cursor, expire_visit, &w);
        calls++;
        if (s->expire_cursor == 0 || s->volatile_keys == 0) break;
        if (w.visited + calls >= next_check) {
            next_check = w.visited + calls + EXPIRE_CLOCK_EVERY;
            if (kv_mono_us() - start >= budget_us) break;
        }
    }
    return w.removed;
}
