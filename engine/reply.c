/* reply.c - RESP2 reply encoding. */
#include "engine/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/kv.h"

/* Appends "<prefix><v>\r\n" without going through printf. */
static void reply_prefixed_i64(kvbuf *b, char prefix, int64_t v)
{
    char tmp[24];
    char *end = tmp + sizeof tmp, *p = end;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    size_t n = (size_t)(end - p);
    char *dst = kvbuf_reserve(b, n + 3);
    dst[0] = prefix;
    memcpy(dst + 1, p, n);
    dst[n + 1] = '\r';
    dst[n + 2] = '\n';
    b->len += n + 3;
}

void reply_ok(kvbuf *b)
{
    kvbuf_append(b, "+OK\r\n", 5);
}

void reply_status(kvbuf *b, const char *s)
{
    kvbuf_append(b, "+", 1);
    kvbuf_append_str(b, s);
    kvbuf_append(b, "\r\n", 2);
}

/* Appends msg as an error line; CR and LF inside would break the protocol,
 * so they become spaces (as Redis does). */
static void reply_error_len(kvbuf *b, const char *msg, size_t n)
{
    char *dst = kvbuf_reserve(b, n + 3);
    dst[0] = '-';
    for (size_t i = 0; i < n; i++) dst[1 + i] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    dst[n + 1] = '\r';
    dst[n + 2] = '\n';
    b->len += n + 3;
}

void reply_error(kvbuf *b, const char *msg)
{
    reply_error_len(b, msg, strlen(msg));
}

void reply_errorf(kvbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof tmp) n = (int)sizeof tmp - 1;
    reply_error_len(b, tmp, (size_t)n);
}

/* Copies name lower-cased into dst (cap bytes), for error messages. */
static void lower_name(char *dst, size_t cap, const char *name, size_t len)
{
    if (len >= cap) len = cap - 1;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    dst[len] = '\0';
}

void reply_error_arity(kvbuf *b, const char *name, size_t len)
{
    char low[128];
    lower_name(low, sizeof low, name, len);
    reply_errorf(b, "ERR wrong number of arguments for '%s' command", low);
}

void reply_error_expire(kvbuf *b, const char *name, size_t len)
{
    char low[128];
    lower_name(low, sizeof low, name, len);
    reply_errorf(b, "ERR invalid expire time in '%s' command", low);
}

void reply_int(kvbuf *b, int64_t v)
{
    reply_prefixed_i64(b, ':', v);
}

void reply_bulk_len(kvbuf *b, size_t n)
{
    reply_prefixed_i64(b, '$', (int64_t)n);
}

void reply_bulk(kvbuf *b, const void *p, size_t n)
{
    reply_prefixed_i64(b, '$', (int64_t)n);
    char *dst = kvbuf_reserve(b, n + 2);
    if (n) memcpy(dst, p, n);
    dst[n] = '\r';
    dst[n + 1] = '\n';
    b->len += n + 2;
}

void reply_bulk_cstr(kvbuf *b, const char *s)
{
    reply_bulk(b, s, strlen(s));
}

void reply_bulk_i64(kvbuf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    reply_bulk(b, tmp, (size_t)n);
}

void reply_bulk_ld(kvbuf *b, long double v)
{
    char tmp[5120];
    size_t n = kv_format_ld(tmp, sizeof tmp, v);
    reply_bulk(b, tmp, n);
}

void reply_nil(kvbuf *b)
{
    kvbuf_append(b, "$-1\r\n", 5);
}

void reply_array(kvbuf *b, int64_t n)
{
    reply_prefixed_i64(b, '*', n);
}

void reply_nil_array(kvbuf *b)
{
    kvbuf_append(b, "*-1\r\n", 5);
}

/* Parses the line at p (after the type byte) as an integer up to CRLF.
 * Returns the line length including CRLF, or 0 if incomplete or bad. */
static size_t line_int(const char *p, size_t len, int64_t *v)
{
    const char *cr = memchr(p, '\r', len);
    if (cr == NULL || (size_t)(cr - p) + 1 >= len || cr[1] != '\n') return 0;
    if (kv_parse_i64(p + 1, (size_t)(cr - p) - 1, v) != 0) return 0;
    return (size_t)(cr - p) + 2;
}

/* Arrays nest; an explicit stack of remaining counts keeps deep nesting from
 * growing the C stack. Depth beyond the stack counts as malformed. */
#define REPLY_MAX_DEPTH 64

size_t reply_elem_len(const char *p, size_t len)
{
    int64_t pending[REPLY_MAX_DEPTH];
    int depth = 0;
    size_t pos = 0;

    for (;;) {
        if (pos >= len) return 0;
        const char *q = p + pos;
        size_t rem = len - pos;
        int64_t v;
        size_t l;
        switch (q[0]) {
        case '+':
        case '-': {
            const char *cr = memchr(q, '\r', rem);
            if (cr == NULL || (size_t)(cr - q) + 1 >= rem || cr[1] != '\n') return 0;
            pos += (size_t)(cr - q) + 2;
            break;
        }
        case ':':
            l = line_int(q, rem, &v);
            if (l == 0) return 0;
            pos += l;
            break;
        case '$':
            l = line_int(q, rem, &v);
            if (l == 0 || v < -1) return 0;
            if (v >= 0) {
                if ((uint64_t)v > rem - l || rem - l - (size_t)v < 2) return 0;
                if (q[l + (size_t)v] != '\r' || q[l + (size_t)v + 1] != '\n') return 0;
                l += (size_t)v + 2;
            }
            pos += l;
            break;
        case '*':
            l = line_int(q, rem, &v);
            if (l == 0 || v < -1) return 0;
            pos += l;
            if (v > 0) {
                if (depth == REPLY_MAX_DEPTH) return 0;
                pending[depth++] = v;
                continue; /* the first child comes next */
            }
            break;
        default:
            return 0;
        }
        /* one element finished: pop the arrays it completes */
        while (depth > 0 && --pending[depth - 1] == 0) depth--;
        if (depth == 0) return pos;
    }
}
