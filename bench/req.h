/* req.h - request formatting for the load generator.
 *
 * Keys are `prefix` + the key index in decimal, zero-padded to the width of
 * the largest index, so every key has the same length and the constant
 * parts of each request are computed once at init. Values are slices of a
 * pattern buffer made at init. Formatting writes into a caller buffer of at
 * least req_max_len() bytes and never allocates.
 */
#ifndef MEMKV_BENCH_REQ_H
#define MEMKV_BENCH_REQ_H

#include <stddef.h>
#include <stdint.h>

typedef enum req_type {
    REQ_SET = 0,
    REQ_GET = 1,
    REQ_MGET = 2,
    REQ_HSET = 3,  /* HSET key f0 v f1 v ... (--fields N), a feature-vector write */
    REQ_HMGET = 4, /* HMGET key f0 f1 ... (--fields N), a feature-vector read */
    REQ_NTYPES = 5
} req_type;

typedef struct req_fmt {
    int plain;          /* ro: 1 for the plain-text line protocol */
    char prefix[64];    /* ro */
    size_t prefix_len;  /* ro */
    unsigned width;     /* ro: digits of the key index */
    size_t key_len;     /* ro: prefix_len + width */
    char key_hdr[24];   /* ro: "$<key_len>\r\n" */
    size_t key_hdr_len; /* ro */
    char ttl[48];       /* ro: the EX part of SET, or "" */
    size_t ttl_len;     /* ro */
    size_t vmax;        /* ro */
    char *values;       /* private: vmax pattern bytes */
} req_fmt;

/* Returns 0, or -1 when the prefix is too long or memory runs out. nkeys >
 * 0; vmax >= 1. ttl 0 means no expiry. */
int req_fmt_init(req_fmt *f, int plain, const char *prefix, uint64_t nkeys, size_t vmax,
                 uint64_t ttl);
void req_fmt_destroy(req_fmt *f);

/* Upper bound of one formatted request of any type (fields: per HSET/HMGET). */
size_t req_max_len(const req_fmt *f, unsigned mget_keys, unsigned fields);

/* Each returns the number of bytes written to dst. */
size_t req_set(const req_fmt *f, char *dst, uint64_t key, size_t vlen);
size_t req_get(const req_fmt *f, char *dst, uint64_t key);
size_t req_mget(const req_fmt *f, char *dst, const uint64_t *keys, unsigned n);
/* HSET key f0 <vlen bytes> ... f<n-1> <vlen bytes>, and HMGET key f0 ... f<n-1>.
 * Field names are "f" and the index (the same n names for every key). */
size_t req_hset(const req_fmt *f, char *dst, uint64_t key, unsigned n, size_t vlen);
size_t req_hmget(const req_fmt *f, char *dst, uint64_t key, unsigned n);
/* AUTH password (RESP or plain); returns 0 if it does not fit in cap. */
size_t req_auth(const req_fmt *f, char *dst, size_t cap, const char *password);

/* Writes the key of index k (f->key_len bytes). */
void req_key(const req_fmt *f, char *dst, uint64_t k);

const char *req_type_name(req_type t);

#endif
