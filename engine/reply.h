/* reply.h - RESP2 reply encoding into a kvbuf.
 *
 * Engine commands answer in RESP2 only; the network layer converts to the
 * plain-text protocol when the request came in that form. Error texts are
 * given without the leading '-' and trailing CRLF, exactly as Redis words
 * them ("ERR syntax error"). Any thread, on a buffer it owns.
 */
#ifndef MEMKV_REPLY_H
#define MEMKV_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"

/* Redis's wording, shared by every module that answers errors. */
#define KV_ERR_SYNTAX    "ERR syntax error"
#define KV_ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define KV_ERR_NOTINT    "ERR value is not an integer or out of range"
#define KV_ERR_NOTFLOAT  "ERR value is not a valid float"
#define KV_ERR_OVERFLOW  "ERR increment or decrement would overflow"
#define KV_ERR_NOKEY     "ERR no such key"
#define KV_ERR_DBINDEX   "ERR DB index is out of range"
#define KV_ERR_MAXSTRING "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

void reply_ok(kvbuf *b);                     /* +OK */
void reply_status(kvbuf *b, const char *s);  /* +s */
void reply_error(kvbuf *b, const char *msg); /* -msg */
void reply_errorf(kvbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* -ERR wrong number of arguments for 'name' command (name lower-cased) */
void reply_error_arity(kvbuf *b, const char *name, size_t len);
/* -ERR invalid expire time in 'name' command */
void reply_error_expire(kvbuf *b, const char *name, size_t len);
void reply_int(kvbuf *b, int64_t v);                /* :v */
void reply_bulk(kvbuf *b, const void *p, size_t n); /* $n\r\n...\r\n */
void reply_bulk_len(kvbuf *b, size_t n);            /* $n\r\n: a bulk's header only */
void reply_bulk_cstr(kvbuf *b, const char *s);
void reply_bulk_i64(kvbuf *b, int64_t v);
void reply_bulk_ld(kvbuf *b, long double v); /* as INCRBYFLOAT prints */
void reply_nil(kvbuf *b);                    /* $-1 */
void reply_array(kvbuf *b, int64_t n);       /* *n */
void reply_nil_array(kvbuf *b);              /* *-1 */

/* Length of the one complete RESP element at p (nested arrays included), or
 * 0 if p[0..len) does not hold a whole element. Used to walk sub-replies. */
size_t reply_elem_len(const char *p, size_t len);

#endif
