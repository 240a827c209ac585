/* buf.c - growable byte buffer. */
#include "engine/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kv.h"

void kvbuf_init(kvbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void kvbuf_destroy(kvbuf *b)
{
    if (b == NULL) return;
    free(b->data);
    kvbuf_init(b);
}

char *kvbuf_reserve(kvbuf *b, size_t extra)
{
    if (b->cap - b->len < extra) {
        size_t need = b->len + extra;
        size_t cap = b->cap ? b->cap : 64;
        /* Doubling keeps appends amortized O(1); one reservation past
         * twice the buffer (a big value's reply) gets its exact size, not
         * up to twice that, which the allocator would map and fault in. */
        if (need > 2 * cap) cap = need;
        while (cap < need) cap = cap < (SIZE_MAX / 2) ? cap * 2 : need;
        b->data = kv_xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void kvbuf_append(kvbuf *b, const void *p, size_t n)
{
    if (n == 0) return;
    char *dst = kvbuf_reserve(b, n);
    memcpy(dst, p, n);
    b->len += n;
}

void kvbuf_append_str(kvbuf *b, const char *s)
{
    kvbuf_append(b, s, strlen(s));
}

void kvbuf_printf(kvbuf *b, const char *fmt, ...)
{
    va_list ap;
    char *dst = kvbuf_reserve(b, 128);
    size_t room = b->cap - b->len;

    va_start(ap, fmt);
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= room) {
        dst = kvbuf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(dst, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void kvbuf_consume(kvbuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
