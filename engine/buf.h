/* buf.h - a growable byte buffer (kvbuf), owned by one thread at a time. */
#ifndef MEMKV_BUF_H
#define MEMKV_BUF_H

#include <stddef.h>

typedef struct kvbuf {
    char *data; /* rw: data[0..len) is valid */
    size_t len; /* rw */
    size_t cap; /* private */
} kvbuf;

void kvbuf_init(kvbuf *b);
/* Frees the memory; accepts a zeroed or already destroyed buffer. */
void kvbuf_destroy(kvbuf *b);
/* Makes room for extra more bytes; returns data + len. Aborts on OOM. */
char *kvbuf_reserve(kvbuf *b, size_t extra);
void kvbuf_append(kvbuf *b, const void *p, size_t n);
void kvbuf_append_str(kvbuf *b, const char *s);
void kvbuf_printf(kvbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len), moving the rest to the front. */
void kvbuf_consume(kvbuf *b, size_t n);
static inline void kvbuf_reset(kvbuf *b)
{
    b->len = 0;
}

#endif
