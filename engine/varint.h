/* varint.h - LEB128 varints, as the engine's compact objects (lobj, hobj,
 * zobj, sobj) and the log's records (persist/codec.h) encode lengths.
 *
 * A leaf: no state. Every function is pure and may be called from any
 * thread. varint_put writes exactly varint_len(v) bytes; the caller has
 * made room.
 */
#ifndef MEMKV_ENGINE_VARINT_H
#define MEMKV_ENGINE_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* Longest varint of a uint64_t. */
#define VARINT_MAX 10

/* Bytes varint_put takes for v (1..VARINT_MAX). */
static inline size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v as a varint at p; returns the byte after it. */
static inline char *varint_put(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

/* Reads a varint of at most VARINT_MAX bytes from p[*off..n) into *out
 * and moves *off past it. Returns 0, or -1 when it runs past n or is
 * over-long or not canonical (a needless trailing zero byte): such bytes
 * are corrupt, as each value has exactly one encoding. */
static inline int varint_get(const char *p, size_t n, size_t *off, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0, i = 0; i < VARINT_MAX; i++, shift += 7) {
        if (*off >= n) return -1;
        unsigned char c = (unsigned char)p[(*off)++];
        if (i == VARINT_MAX - 1 && c > 1) return -1;
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
