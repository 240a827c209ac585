/* glob.h - Redis-style glob matching (KEYS, SCAN MATCH): * ? [abc] [^a-z]
 * and backslash escapes, binary safe. Any thread. */
#ifndef MEMKV_GLOB_H
#define MEMKV_GLOB_H

#include <stddef.h>

/* Returns 1 if s matches pattern, 0 otherwise. */
int kv_glob_match(const char *pattern, size_t plen, const char *s, size_t slen, int nocase);

#endif
