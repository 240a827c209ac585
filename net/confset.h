/* confset.h - CONFIG GET and CONFIG SET over engine/config.c's settings
 * table.
 *
 * The table (config_setting rows) says which settings CONFIG GET answers
 * (CONFIG_GET, CONFIG_LIVE, CONFIG_VIEW), which CONFIG SET may change
 * (CONFIG_LIVE), how a value is parsed (the same words as the command line
 * and the config file) and shown, and Redis's message for a bad value.
 * This module adds the run-time half of each CONFIG_LIVE row, a hook keyed
 * by the row's name (confset.c, hooks[]): apply stores a checked value into
 * atomics of the server context that the other threads read (evict_limits
 * for the memory settings), load reads it back for CONFIG GET. A new live
 * setting needs its row, its atomic (or another thread-safe hand-over) and
 * its hook. Network thread.
 */
#ifndef MEMKV_CONFSET_H
#define MEMKV_CONFSET_H

#include <stddef.h>

#include "engine/buf.h"
#include "engine/kv.h"

struct server;

/* CONFIG SET name value [name value ...] (argv[0] = CONFIG, argv[1] = SET):
 * all values are checked before any is applied, as Redis does; appends
 * +OK or Redis's error to out. */
void confset_set(struct server *s, int argc, const kv_str *argv, kvbuf *out);

/* CONFIG GET pattern [pattern ...]: appends the name and value of every
 * setting that CONFIG GET answers and that some pattern (a glob, in any
 * case) matches, once each, in the table's order; the live value for the
 * CONFIG SET settings, the start-up value for the others. */
void confset_get(struct server *s, int argc, const kv_str *argv, kvbuf *out);

/* 0 if every CONFIG_LIVE row of the settings table has a hook and every
 * hook names a CONFIG_LIVE row; else -1 with err naming the first that
 * does not (for tests). Any thread. */
int confset_check_hooks(char *err, size_t errlen);

#endif
