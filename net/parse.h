/* parse.h - the incremental request parser: bytes in, commands out.
 *
 * Three request forms, told apart by the first byte and the line end:
 *   '*'            RESP2 multibulk          -> PARSE_RESP, RESP replies
 *   line + CRLF    Redis inline command      -> PARSE_INLINE, RESP replies
 *   line + bare LF mem-kv plain-text command -> PARSE_PLAIN, plain replies
 * Inline and plain lines are split like Redis's sdssplitargs (spaces, and
 * "double" or 'single' quotes with escapes).
 *
 * Pure: never touches sockets, never writes replies. Resumable: after
 * PARSE_AGAIN the caller calls again with the same command start and more
 * bytes appended (the bytes may have moved in memory in between), and the
 * parser continues where it stopped instead of re-reading large requests.
 * After PARSE_BAD the error is sticky: ps->err holds Redis's error text
 * ("Protocol error: invalid multibulk length") and every later call returns
 * PARSE_BAD. One thread at a time (the connection's owner).
 */
#ifndef MEMKV_PARSE_H
#define MEMKV_PARSE_H

#include <stddef.h>

#include "kv.h"

enum { PARSE_AGAIN = 0, PARSE_BAD = -1 };

typedef enum parse_proto { PARSE_RESP = 0, PARSE_INLINE = 1, PARSE_PLAIN = 2 } parse_proto;

typedef struct parse_limits {
    size_t max_args;   /* multibulk count limit (Redis: 1024*1024) */
    size_t max_bulk;   /* proto-max-bulk-len (Redis: 512 MB) */
    size_t max_inline; /* longest inline/plain line (Redis: 64 KB) */
    int unauth;        /* a client that has not authenticated yet: multibulk
                          counts over PARSE_UNAUTH_ARGS and bulks over
                          PARSE_UNAUTH_BULK fail with Redis's
                          "unauthenticated ..." texts (CVE-2021-32675) */
} parse_limits;

#define PARSE_UNAUTH_ARGS 10
#define PARSE_UNAUTH_BULK 16384

/* Redis's defaults. */
void parse_limits_default(parse_limits *l);

typedef struct parse_state {
    /* ro for the caller after PARSE_DONE (return > 0): */
    int argc;
    kv_str *argv;      /* valid until the next parse_next/parse_reset call
                          or until the input bytes move */
    parse_proto proto; /* form of the command just parsed */
    const char *err;   /* ro: static error text after PARSE_BAD */

    /* private: */
    parse_limits lim;
    size_t pos;     /* bytes of the current command consumed so far */
    long long want; /* multibulk count of the command in progress, -1 none */
    long long bulk; /* length of the bulk being read, -1 if at its header */
    size_t nargs;   /* arguments complete so far */
    size_t cap;
    size_t *off; /* offsets of complete arguments from command start */
    size_t *len;
    char *scratch; /* unquoted inline arguments */
    size_t scratch_cap;
} parse_state;

void parse_init(parse_state *ps, const parse_limits *lim);
/* Replaces the limits; only between commands (after PARSE_DONE or before the
 * first call), so the command in progress is judged by one set of limits. */
void parse_set_limits(parse_state *ps, const parse_limits *lim);
void parse_destroy(parse_state *ps);

/* Parses the next command from buf[0..len), which starts at a command
 * boundary. Returns the number of bytes the command took (> 0) with argc
 * and argv set (argc may be 0: an empty line or "*0\r\n", to be ignored),
 * PARSE_AGAIN if the command is incomplete, or PARSE_BAD. */
long parse_next(parse_state *ps, const char *buf, size_t len);

#endif
