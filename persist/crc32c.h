/* crc32c.h - CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78).
 *
 * Uses the CPU's CRC32C instructions when it has them, checked at run time:
 * SSE4.2 on x86 (cpuid), the ARMv8 CRC32 extension on aarch64 Linux
 * (getauxval(AT_HWCAP) & HWCAP_CRC32); a byte table otherwise. All give the
 * same results. Any thread; no state besides the cached CPU answer.
 */
#ifndef MEMKV_CRC32C_H
#define MEMKV_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (the result of an earlier call, or 0 to start) over n bytes.
 * crc32c_extend(crc32c_extend(0, a, n), b, m) == crc32c of a followed by b. */
uint32_t crc32c_extend(uint32_t crc, const void *p, size_t n);

static inline uint32_t crc32c(const void *p, size_t n)
{
    return crc32c_extend(0, p, n);
}

/* The two implementations, exposed for tests and benchmarks.
 * crc32c_hw_extend must only be called when crc32c_hw_available() is 1.
 * crc32c_hw_name names the hardware path this build has ("sse4.2",
 * "armv8-crc32", or "none" where there is none: then crc32c_hw_available()
 * is always 0), whether or not this CPU has it. Any thread. */
uint32_t crc32c_sw_extend(uint32_t crc, const void *p, size_t n);
uint32_t crc32c_hw_extend(uint32_t crc, const void *p, size_t n);
int crc32c_hw_available(void);
const char *crc32c_hw_name(void);

/* Stored CRCs are masked (rotated and offset) so that the CRC of a byte
 * string that itself contains embedded CRCs - a WAL segment stored as a
 * value, say - does not degenerate. mask/unmask are inverses. */
static inline uint32_t crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
static inline uint32_t crc32c_unmask(uint32_t masked)
{
    uint32_t rot = masked - 0xa282ead8u;
    return (rot >> 17) | (rot << 15);
}

#endif
