/* compare.h - `mem-kv-bench compare A.json B.json`: two runs saved with
 * --json side by side, with the ratio B/A of each figure (throughput,
 * requests, errors, and per command type count and latency percentiles).
 * Main thread; no global state. */
#ifndef MEMKV_BENCH_COMPARE_H
#define MEMKV_BENCH_COMPARE_H

#include <stddef.h>
#include <stdio.h>

/* Prints the comparison to out. Returns 0, or -1 with a message in err when
 * a file cannot be read or is not a mem-kv-bench --json file. */
int compare_files(FILE *out, const char *a, const char *b, char *err, size_t errlen);

#endif
