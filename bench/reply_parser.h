/* reply_parser.h - incremental parsers for server replies (RESP2 and plain text).
 *
 * The bench only needs to know where each reply ends, what kind it is, and
 * for arrays how many elements were nil, so nothing is copied: bulk
 * payloads are skipped even when they arrive split over many reads. The
 * parser is resumable: feed it whatever bytes arrived, it consumes what it
 * can and says DONE (one reply complete), AGAIN (feed more) or BAD (sticky).
 * On AGAIN it leaves at most one partial header line unconsumed; the caller
 * keeps those bytes and feeds them again with the next read.
 */
#ifndef MEMKV_BENCH_REPLY_PARSER_H
#define MEMKV_BENCH_REPLY_PARSER_H

#include <stddef.h>
#include <stdint.h>

enum { REPLY_BAD = -1, REPLY_AGAIN = 0, REPLY_DONE = 1 };

typedef enum reply_kind {
    REPLY_STATUS, /* +OK, or a plain-text OK line */
    REPLY_ERROR,  /* -ERR ..., or a plain-text "ERR ..." line */
    REPLY_INT,
    REPLY_BULK, /* a value */
    REPLY_NIL,  /* $-1, *-1, or the plain-text "(nil)" */
    REPLY_ARRAY,
} reply_kind;

typedef struct reply {
    reply_kind kind;
    uint32_t elems;   /* REPLY_ARRAY: top-level element count */
    uint32_t nils;    /* REPLY_ARRAY: nil elements */
    const char *text; /* STATUS/ERROR (and plain lines): the line without
                         its prefix and terminator; valid until the buffer
                         passed to the call that returned it changes */
    size_t text_len;
} reply_t;

/* Hard limits, as in Redis's client: anything beyond is BAD. */
#define REPLY_MAX_BULK  (512LL * 1024 * 1024)
#define REPLY_MAX_ELEMS (1LL << 24)
#define REPLY_MAX_LINE  (64 * 1024)

typedef struct reply_parser {
    int64_t pending;   /* private: elements still expected (0: between replies) */
    int64_t bulk_left; /* private: payload + CRLF bytes still to skip */
    reply_t cur;       /* private */
    int bad;           /* ro: sticky, set once BAD was returned */
} reply_parser;

void reply_parser_init(reply_parser *p);

/* RESP2. Consumes bytes from buf[0..len) and stores how many in *used
 * (also on AGAIN: those bytes are done with). On DONE, *out is the reply. */
int reply_resp_feed(reply_parser *p, const char *buf, size_t len, size_t *used, reply_t *out);

/* Plain text: one reply per line ending in "\n" (a "\r" before it is
 * dropped). Stateless. DONE: *used covers the line and *out its kind
 * (OK -> STATUS, "ERR ..." -> ERROR, "(nil)" -> NIL, anything else BULK)
 * and text. AGAIN: no complete line yet (*used = 0). BAD: a line longer
 * than max_line. */
int reply_plain_feed(const char *buf, size_t len, size_t max_line, size_t *used, reply_t *out);

/* An MGET plain-text reply: counts space-separated tokens and the "(nil)"
 * ones among them. */
void reply_plain_count(const char *line, size_t len, uint32_t *tokens, uint32_t *nils);

#endif
