/* cmd_zset_internal.h - helpers shared by cmd_zset.c and cmd_zset2.c. */
#ifndef MEMKV_CMD_ZSET_INTERNAL_H
#define MEMKV_CMD_ZSET_INTERNAL_H

#include "buf.h"
#include "kv.h"

/* Parses a score as Redis's strtod-based check: 0, or -1 (NaN, junk). Any
 * thread. */
int cmd_zparse_score(const kv_str *a, double *out);
/* Appends d as a bulk, formatted as Redis 7.0 ("%.17g", inf, -inf). Any
 * thread. */
void cmd_zreply_score(kvbuf *out, double d);

#endif
