/* hash.h - the keyed 64-bit key hash (SipHash-1-3).
 *
 * One secret per data directory keeps an attacker from choosing colliding
 * keys (HashDoS). The high 32 bits choose the shard, the low 32 bits index
 * the shard's table. Any thread; the secret is read-only after start.
 */
#ifndef MEMKV_HASH_H
#define MEMKV_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct kv_hash_secret {
    uint8_t k[16];
} kv_hash_secret;

uint64_t kv_hash(const kv_hash_secret *secret, const void *p, size_t len);

/* Fills the secret from getrandom(); returns 0 or KV_EIO. */
int kv_hash_secret_random(kv_hash_secret *secret);

/* The shard of a hash: the high 32 bits scaled onto [0, nshards). */
static inline uint32_t kv_hash_shard(uint64_t h, uint32_t nshards)
{
    return (uint32_t)(((h >> 32) * (uint64_t)nshards) >> 32);
}

#endif
