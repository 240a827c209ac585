/* codec.h - byte encoding of the persist/ file formats: little-endian
 * fixed-width integers (docs/persistence.md); LEB128 varints are
 * engine/varint.h's, shared with the engine's compact objects.
 *
 * A leaf: no state, no I/O, no other persist/ header. Every function is
 * pure and may be called from any thread. put functions write exactly the
 * field's width at p; the caller has made room. get functions read the
 * same widths.
 */
#ifndef MEMKV_PERSIST_CODEC_H
#define MEMKV_PERSIST_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "engine/varint.h"

static inline void codec_put16(char *p, uint16_t v)
{
    p[0] = (char)v;
    p[1] = (char)(v >> 8);
}

static inline void codec_put32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (char)(v >> (8 * i));
}

static inline void codec_put64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (char)(v >> (8 * i));
}

static inline uint16_t codec_get16(const void *q)
{
    const unsigned char *p = q;
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t codec_get32(const void *q)
{
    const unsigned char *p = q;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t codec_get64(const void *q)
{
    const unsigned char *p = q;
    return (uint64_t)codec_get32(p) | (uint64_t)codec_get32(p + 4) << 32;
}

#endif
