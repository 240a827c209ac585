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

#include "engine/kv.h"

enum { PARSE_AGAIN = 0, PARSE_BAD = -1 };

typedef enum parse_proto { PARSE_RESP = 0, PARSE_INLINE = 1, PARSE_PLAIN = 2 } parse_proto;

typedef struct parse_limits {
    size_t max_args;   /* multibulk count limit (Redis: 1024*1024) */
    size_t max_bulk;   /* proto-max-bulk-len (Redis: 512 MB) */
    size_t max_inline; /* longest inline/plain line (Redis: 64 KB) */
    size_t big_bulk;   /* bulks of at least this many bytes are read into a
                          buffer of their own, of their exact size (0: never;
                          default PARSE_BIG_BULK): see parse_direct */
    int unauth;        /* a client that has not authenticated yet: multibulk
                          counts over PARSE_UNAUTH_ARGS and bulks over
                          PARSE_UNAUTH_BULK fail with Redis's
                          "unauthenticated ..." texts (CVE-2021-32675) */
} parse_limits;

/* From this size on a bulk goes straight from the socket into a buffer of
 * its own instead of through the query buffer (Redis's PROTO_MBULK_BIG_ARG
 * is 32 KB): the size from which a string is stored in an allocation of its
 * own (ENTRY_SHARE_MIN, engine/entry.h), so that a SET's value buffer
 * becomes the stored value without a copy (entry_new_own). */
#define PARSE_BIG_BULK (16 * 1024)

/* A big bulk's buffer is never more than this many bytes (or as many as
 * have arrived, if more) ahead of the bytes that have arrived: the announced
 * length alone allocates nothing big (CVE-2021-41099). Values up to this
 * size get one buffer of their exact size. */
#define PARSE_BIG_AHEAD ((size_t)1024 * 1024)

#define PARSE_UNAUTH_ARGS 10
#define PARSE_UNAUTH_BULK 16384

/* Redis's defaults. */
void parse_limits_default(parse_limits *l);

typedef struct parse_state {
    /* ro for the caller after a command (parse_next returned > 0): */
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
    char *big;       /* payload of the big bulk in progress (malloc, big_cap
                        bytes: its exact size once all of it is there) */
    size_t big_have; /* bytes of it filled */
    size_t big_cap;  /* payload bytes ps->big can hold, <= the bulk's length */
    struct parse_big {
        size_t arg; /* its index in argv */
        char *p;    /* its buffer; NULL once taken */
    } * bigs;       /* the big bulks of the command, in argument order */
    size_t nbigs, bigs_cap;
    size_t big_copied; /* payload bytes of big bulks copied out of the
                          caller's buffer since parse_big_copied */
} parse_state;

void parse_init(parse_state *ps, const parse_limits *lim);
/* Replaces the limits; only between commands (after parse_next returned > 0,
 * or before the first call), so the command in progress is judged by one set of limits. */
void parse_set_limits(parse_state *ps, const parse_limits *lim);
void parse_destroy(parse_state *ps);

/* Parses the next command from buf[0..len), which starts at a command
 * boundary. Returns the number of bytes the command took (> 0) with argc
 * and argv set (argc may be 0: an empty line or "*0\r\n", to be ignored),
 * PARSE_AGAIN if the command is incomplete, or PARSE_BAD. */
long parse_next(parse_state *ps, const char *buf, size_t len);

/* Big bulks (lim.big_bulk bytes or more; never for lim.unauth clients) are
 * copied into a buffer of their own as their bytes come (no NUL after the
 * payload, unlike the arguments slot_make copies: readers use the length;
 * the buffer is the one a stored value takes as it is, see big_grow): a caller may read the rest of
 * the payload from its socket straight into that buffer, and take the buffer with the command
 * instead of copying it. The buffer grows with the bytes that arrive (at most PARSE_BIG_AHEAD, or
 * twice what arrived, allocated), and ends at the exact size: one allocation for values up to
 * PARSE_BIG_AHEAD.
 *
 * After PARSE_AGAIN: where the next bytes of a big payload go, and *room,
 * how many fit there now (at most the bytes still missing); NULL if the
 * parser is not inside a big payload, if only the CRLF after it is
 * missing, if the buffer could not grow, or if buffered (the bytes the
 * caller holds from the command start) is not all the parser has taken. After writing n <= *room
 * bytes there, the caller calls parse_direct_done(ps, n), then parse_next as usual (with the same
 * buffer: those bytes are not in it). */
char *parse_direct(parse_state *ps, size_t buffered, size_t *room);
void parse_direct_done(parse_state *ps, size_t n);

/* Payload bytes of big bulks that parse_next copied out of the caller's
 * buffer (they came in the same read as their header) rather than the
 * caller reading them in place (parse_direct), since the last call; resets
 * the count. Tells the caller that big bulks come with their headers (it
 * reads more at a time then). Same thread as parse_next. */
size_t parse_big_copied(parse_state *ps);

/* Bytes of the command in progress held in big bulks' own buffers (for
 * client-query-buffer-limit: they are the query buffer's bytes). */
size_t parse_big_bytes(const parse_state *ps);
/* After a command (parse_next > 0): the number of arguments in buffers of their own. */
size_t parse_nbig(const parse_state *ps);
/* After a command (parse_next > 0): the k-th of them (k < parse_nbig, argument order), its
 * argv index in *arg. The caller owns the buffer (argv[*arg].p, argv[*arg].len
 * bytes, no NUL after them) and frees it with free(). Buffers not taken are freed
 * by the next parse_next or parse_destroy. */
char *parse_take_big(parse_state *ps, size_t k, int *arg);

#endif
