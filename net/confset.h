/* confset.h - settings that CONFIG SET may change while the server runs.
 *
 * One table row per setting (confset.c): its name, Redis's message for a
 * bad value, how to apply a parsed value and how to show the current one.
 * Values are parsed by engine/config.c's option table (config_set on a
 * scratch copy of the configuration), so the command line, the config file
 * and CONFIG SET accept the same words. Applying stores into atomics of the
 * server context that the other threads read (evict_limits for the memory
 * settings); a row for a new setting needs its own atomic (or another
 * thread-safe hand-over) and nothing else. Network thread.
 */
#ifndef MEMKV_CONFSET_H
#define MEMKV_CONFSET_H

#include <stddef.h>

#include "buf.h"
#include "kv.h"

struct server;

/* CONFIG SET name value [name value ...] (argv[0] = CONFIG, argv[1] = SET):
 * all values are checked before any is applied, as Redis does; appends
 * +OK or Redis's error to out. */
void confset_set(struct server *s, int argc, const kv_str *argv, kvbuf *out);

/* Number of live settings, and the i-th one's name (static) and current
 * value (written to buf) for CONFIG GET. */
size_t confset_count(void);
const char *confset_get(struct server *s, size_t i, char *buf, size_t len);

#endif
