/* hash.c - SipHash-1-3 with a 128-bit secret, 64-bit output.
 *
 * Written from the SipHash paper (Aumasson, Bernstein): one compression
 * round per message word and three finalization rounds, the variant Redis
 * and Rust's HashMap chose for hash tables, where speed matters more than
 * the extra margin of SipHash-2-4.
 */
#include "engine/hash.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "engine/kv.h"

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = rotl64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = rotl64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = rotl64(v2, 32);                                                                       \
    } while (0)

uint64_t kv_hash(const kv_hash_secret *secret, const void *p, size_t len)
{
    const uint8_t *in = p;
    uint64_t k0 = load_le64(secret->k), k1 = load_le64(secret->k + 8);
    uint64_t v0 = 0x736f6d6570736575ull ^ k0;
    uint64_t v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0;
    uint64_t v3 = 0x7465646279746573ull ^ k1;
    const uint8_t *end = in + (len & ~(size_t)7);
    uint64_t m;

    for (; in != end; in += 8) {
        m = load_le64(in);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    /* last block: the remaining bytes and the length's low byte on top */
    m = (uint64_t)len << 56;
    switch (len & 7) {
    case 7:
        m |= (uint64_t)in[6] << 48;
        /* fall through */
    case 6:
        m |= (uint64_t)in[5] << 40;
        /* fall through */
    case 5:
        m |= (uint64_t)in[4] << 32;
        /* fall through */
    case 4:
        m |= (uint64_t)in[3] << 24;
        /* fall through */
    case 3:
        m |= (uint64_t)in[2] << 16;
        /* fall through */
    case 2:
        m |= (uint64_t)in[1] << 8;
        /* fall through */
    case 1:
        m |= (uint64_t)in[0];
        break;
    default:
        break;
    }
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

int kv_hash_secret_random(kv_hash_secret *secret)
{
    size_t got = 0;
    while (got < sizeof secret->k) {
        ssize_t n = getrandom(secret->k + got, sizeof secret->k - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return KV_EIO;
        }
        got += (size_t)n;
    }
    return 0;
}
