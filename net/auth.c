/* auth.c - requirepass storage and constant-time comparison (see auth.h). */
#include "net/auth.h"

#include <string.h>

#include "engine/kv.h"

int auth_init(auth_t *a, const char *pass)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    return pass ? auth_set(a, pass, strlen(pass)) : 0;
}

void auth_destroy(auth_t *a)
{
    if (a == NULL) return;
    memset(a->pass, 0, sizeof a->pass);
    pthread_mutex_destroy(&a->mu);
}

int auth_set(auth_t *a, const char *pass, size_t len)
{
    if (len >= AUTH_PASS_MAX) return KV_EINVAL;
    pthread_mutex_lock(&a->mu);
    memset(a->pass, 0, sizeof a->pass);
    memcpy(a->pass, pass, len);
    a->len = len;
    atomic_store_explicit(&a->required, len > 0, memory_order_relaxed);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* Every byte of the stored password is looked at, whatever the input: the
 * loop's length and its work do not depend on the first differing byte. */
static int equal_ct(const char *stored, size_t slen, const char *p, size_t n)
{
    volatile unsigned char diff = (unsigned char)(slen != n);
    for (size_t i = 0; i < slen; i++) {
        unsigned char b = i < n ? (unsigned char)p[i] : 0;
        diff |= (unsigned char)((unsigned char)stored[i] ^ b);
    }
    return diff == 0;
}

int auth_check(auth_t *a, const char *p, size_t n)
{
    pthread_mutex_lock(&a->mu);
    int ok = a->len > 0 && equal_ct(a->pass, a->len, p, n);
    pthread_mutex_unlock(&a->mu);
    return ok;
}

size_t auth_get(auth_t *a, char *buf, size_t cap)
{
    pthread_mutex_lock(&a->mu);
    size_t n = a->len < cap ? a->len : cap - 1;
    memcpy(buf, a->pass, n);
    buf[n] = '\0';
    pthread_mutex_unlock(&a->mu);
    return n;
}
