/* fileio.h - the file operations persist/ builds its crash-safe writes on:
 * whole writes and reads that retry short transfers and EINTR, fsync of a
 * directory, mkdir, moving a file aside, and the zero-tail check.
 *
 * A leaf of persist/: it knows no file format. Any thread; no state. The
 * caller owns every fd and path it passes. Errors: -errno from the system
 * calls, or the KV_* codes of kv.h where a function says so.
 */
#ifndef MEMKV_PERSIST_FILEIO_H
#define MEMKV_PERSIST_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all n bytes at the file offset (retrying short writes and EINTR).
 * Returns 0, or -errno with *done (if not NULL) set to the bytes that did
 * get written. */
int fileio_write_all(int fd, const void *p, size_t n, size_t *done);

/* Reads up to n bytes from offset off, retrying EINTR and short reads;
 * returns the bytes read (less than n only at end of file) or -errno. */
ssize_t fileio_pread_all(int fd, void *p, size_t n, off_t off);

/* fsync of a directory, so that a create, rename or unlink in it is
 * durable. Returns 0 or -errno. */
int fileio_fsync_dir(const char *dir);

/* Creates dir if missing (mode 0755). Returns 0 or -errno. */
int fileio_mkdir(const char *dir);

/* Moves path aside to path.discarded (path.discarded.1, .2, ... if that is
 * taken, so nothing discarded before is overwritten). Recovery uses it for
 * every segment or snapshot it gives up on: it never deletes one. The
 * caller fsyncs the directory. Returns 0, KV_EIO or KV_ERANGE. Needs the
 * data directory's lock (no other process renames there meanwhile). */
int fileio_discard(const char *path);

/* 1 if every byte of fd from off to limit is zero (a zero-filled tail),
 * else 0; KV_EIO on read error. */
int fileio_all_zero(int fd, uint64_t off, uint64_t limit);

/* snprintf into err (if err && cap): the message side of an error return
 * of the persist/ functions that report one. */
void fileio_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
