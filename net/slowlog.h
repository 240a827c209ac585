/* slowlog.h - SLOWLOG: the commands that took longest, kept per network
 * thread and merged by id when read.
 *
 * Each network thread owns one ring (slowlog_ring) and is its only writer;
 * readers on other threads (SLOWLOG GET/LEN/RESET) take the ring's mutex,
 * which the writer also takes, only when it logs an entry (a slow command:
 * rare by definition). The settings and the id counter are shared atomics
 * (slowlog_conf).
 */
#ifndef MEMKV_SLOWLOG_H
#define MEMKV_SLOWLOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/cmd.h"

/* Redis's limits for what an entry keeps of a command. */
#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARG  128

/* Server-wide settings; fields atomic (CONFIG SET from any network thread). */
typedef struct slowlog_conf {
    _Atomic int64_t slower_than_us; /* slowlog-log-slower-than: < 0 off, 0 all */
    _Atomic int64_t max_len;        /* slowlog-max-len */
    _Atomic uint64_t next_id;       /* ids of entries, all threads */
} slowlog_conf;

typedef struct slowlog_entry slowlog_entry;

/* One network thread's entries, newest first. */
typedef struct slowlog_ring {
    pthread_mutex_t lock; /* taken by the owner to add, by readers to read */
    slowlog_entry *head;  /* newest */
    slowlog_entry *tail;  /* oldest */
    int64_t n;
} slowlog_ring;

void slowlog_conf_init(slowlog_conf *sc, int64_t slower_than_us, int64_t max_len);
int slowlog_ring_init(slowlog_ring *r);
void slowlog_ring_destroy(slowlog_ring *r);

/* Whether a command that took us microseconds is to be logged. Any thread. */
static inline int slowlog_wanted(slowlog_conf *sc, int64_t us)
{
    int64_t th = atomic_load_explicit(&sc->slower_than_us, memory_order_relaxed);
    return th >= 0 && us >= th;
}

/* Logs a command (argv copied, truncated as Redis does) in r; then drops
 * the oldest entries past slowlog-max-len. The owner thread of r. */
void slowlog_add(slowlog_conf *sc, slowlog_ring *r, int argc, const kv_str *argv, int64_t us,
                 int64_t unix_s, const char *addr, const char *name);

/* SLOWLOG GET count over rings[0..n): the count newest entries of all (at
 * most slowlog-max-len, count < 0: all) as Redis's reply. Any thread. */
void slowlog_reply_get(slowlog_conf *sc, slowlog_ring *const *rings, unsigned n, int64_t count,
                       kvbuf *out);
/* Entries SLOWLOG GET -1 would show. Any thread. */
int64_t slowlog_len(slowlog_conf *sc, slowlog_ring *const *rings, unsigned n);
/* Drops every entry of every ring. Any thread. */
void slowlog_reset(slowlog_ring *const *rings, unsigned n);

#endif
