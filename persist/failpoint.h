/* failpoint.h - test-only crash points of persist/ (docs/persistence.md).
 *
 * failpoint_init reads MEMKV_FAILPOINT once (persist_open calls it, on the
 * start-up thread, before any other thread exists); failpoint_hit(name)
 * then ends the process at once, like a crash (_exit(99), nothing synced
 * or flushed), when name equals that variable. Costs one pointer test when
 * the variable is unset. failpoint_hit: any thread (the name is read-only
 * after failpoint_init).
 */
#ifndef MEMKV_PERSIST_FAILPOINT_H
#define MEMKV_PERSIST_FAILPOINT_H

void failpoint_init(void);
void failpoint_hit(const char *name);

#endif
