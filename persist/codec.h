/* codec.h - byte encoding of the persist/ file formats: little-endian
 * fixed-width integers and LEB128 varints (docs/persistence.md).
 *
 * A leaf: no state, no I/O, no other persist/ header. Every function is
 * pure and may be called from any thread. put functions write exactly the
 * field's width (a varint: codec_varint_len bytes) at p; the caller has
 * made room. get functions read the same widths.
 */
#ifndef MEMKV_PERSIST_CODEC_H
#define MEMKV_PERSIST_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Longest varint of a uint64_t. */
#define CODEC_VARINT_MAX 10

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

/* Bytes codec_varint_put takes for v (1..CODEC_VARINT_MAX). */
static inline size_t codec_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v as a varint at p; returns the byte after it. */
static inline char *codec_varint_put(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

/* Reads a varint of at most CODEC_VARINT_MAX bytes from p[*off..n) into
 * *out and moves *off past it. Returns 0, or -1 when it runs past n or is
 * over-long or not canonical (a needless trailing zero byte): such bytes
 * are corrupt, as each value has exactly one encoding. */
static inline int codec_varint_get(const unsigned char *p, size_t n, size_t *off, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0, i = 0; i < CODEC_VARINT_MAX; i++, shift += 7) {
        if (*off >= n) return -1;
        unsigned char c = p[(*off)++];
        if (i == CODEC_VARINT_MAX - 1 && c > 1) return -1;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (c == 0 && i > 0) return -1;
            *out = v;
            return 0;
        }
    }
    return -1;
}

#endif
