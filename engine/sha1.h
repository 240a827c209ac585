/* sha1.h - SHA-1 (FIPS 180-4), for naming Lua scripts as Redis does
 * (EVALSHA, SCRIPT LOAD, redis.sha1hex). Not for security. Pure functions;
 * any thread.
 */
#ifndef MEMKV_SHA1_H
#define MEMKV_SHA1_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha1_ctx {
    uint32_t h[5];     /* private */
    uint64_t nbytes;   /* private: bytes hashed so far */
    uint8_t block[64]; /* private: the partial block */
} sha1_ctx;

void sha1_init(sha1_ctx *c);
void sha1_update(sha1_ctx *c, const void *p, size_t n);
void sha1_final(sha1_ctx *c, uint8_t digest[20]);

/* The 40 lower-case hex digits of SHA-1(p[0..n)) and a NUL in hex[41]. */
void sha1_hex(const void *p, size_t n, char hex[41]);

#endif
