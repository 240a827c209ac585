/* auth.h - the server's password (requirepass): set at start-up and by
 * CONFIG SET, checked by AUTH and HELLO ... AUTH in constant time.
 *
 * One auth_t per server, shared by every network thread: auth_required is a
 * relaxed atomic load (it runs before every command of a client that has not
 * authenticated), the password itself sits behind a mutex (AUTH and CONFIG
 * are rare). Any thread.
 */
#ifndef MEMKV_AUTH_H
#define MEMKV_AUTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define AUTH_PASS_MAX 512

typedef struct auth_t {
    _Atomic int required; /* a password is set */
    pthread_mutex_t mu;   /* guards pass and len */
    char pass[AUTH_PASS_MAX];
    size_t len;
} auth_t;

/* pass may be NULL or "" for none. Returns 0 or KV_EINVAL (too long). */
int auth_init(auth_t *a, const char *pass);
void auth_destroy(auth_t *a);

static inline int auth_required(auth_t *a)
{
    return atomic_load_explicit(&a->required, memory_order_relaxed);
}

/* Replaces the password (len 0: none). Returns 0 or KV_EINVAL. */
int auth_set(auth_t *a, const char *pass, size_t len);

/* 1 if p[0..n) is the password. The time taken depends on the stored
 * password's length only, not on where the bytes differ. */
int auth_check(auth_t *a, const char *p, size_t n);

/* Copies the password (NUL-terminated) into buf of cap bytes; returns its
 * length. */
size_t auth_get(auth_t *a, char *buf, size_t cap);

#endif
