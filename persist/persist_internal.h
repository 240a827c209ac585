/* persist_internal.h - helpers shared by the files of persist/; not API. */
#ifndef MEMKV_PERSIST_INTERNAL_H
#define MEMKV_PERSIST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

static inline void persist__put32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (char)(v >> (8 * i));
}
static inline void persist__put64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (char)(v >> (8 * i));
}
static inline uint32_t persist__get32(const void *q)
{
    const unsigned char *p = q;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t persist__get64(const void *q)
{
    const unsigned char *p = q;
    return (uint64_t)persist__get32(p) | (uint64_t)persist__get32(p + 4) << 32;
}

struct wal_rec;

/* Writes all n bytes at the file offset (retrying short writes and EINTR).
 * Returns 0, or -errno with *done set to the bytes that did get written. */
int persist__write_all(int fd, const void *p, size_t n, size_t *done);
/* Reads up to n bytes from offset off, retrying EINTR and short reads;
 * returns the bytes read (less than n only at end of file) or -errno. */
ssize_t persist__pread_all(int fd, void *p, size_t n, off_t off);
/* fsync of a directory, so that a create, rename or unlink in it is durable.
 * Returns 0 or -errno. */
int persist__fsync_dir(const char *dir);
/* Creates dir if missing (mode 0755). Returns 0 or -errno. */
int persist__mkdir(const char *dir);
/* Moves path aside to path.discarded (path.discarded.1, .2, ... if that is
 * taken, so nothing discarded before is overwritten). Recovery uses it for
 * every segment or snapshot it gives up on: it never deletes one. The
 * caller fsyncs the directory. Returns 0, KV_EIO or KV_ERANGE. Needs the
 * data directory's lock (no other process renames there meanwhile). */
int persist__discard(const char *path);

/* Sequential record reader over one file, used for WAL segments and
 * snapshots. It keeps a window of the file in memory and hands out records
 * with their file offsets; a returned record's pointers stay valid until the
 * next persist__reader_next call. */
typedef struct persist__reader {
    int fd;
    uint64_t limit;   /* stop at this offset (file size or a bound) */
    uint64_t buf_off; /* file offset of buf[0] */
    char *buf;
    size_t len, cap, pos; /* window: buf[pos..len) not yet consumed */
} persist__reader;

/* Starts reading fd at offset start, stopping at limit. Returns 0 or KV_ENOMEM. */
int persist__reader_init(persist__reader *r, int fd, uint64_t start, uint64_t limit);
void persist__reader_destroy(persist__reader *r);
/* Next record: returns > 0 (its size; *off gets its offset), 0 at exactly
 * limit, KV_EAGAIN if the bytes up to limit end inside a record (*off = its
 * offset), KV_EPROTO if corrupt (*off, *why set), KV_EIO / KV_ENOMEM. */
int64_t persist__reader_next(persist__reader *r, struct wal_rec *rec, uint64_t *off,
                             const char **why);
/* 1 if every byte from off to limit is zero (a zero-filled tail), else 0;
 * <0 on read error. */
int persist__all_zero(int fd, uint64_t off, uint64_t limit);

/* Test-only failpoints (docs/persistence.md): persist__failpoint_init reads
 * MEMKV_FAILPOINT once (persist_open calls it); persist__failpoint(name)
 * then ends the process at once, like a crash (_exit(99), nothing synced or
 * flushed), when name equals that variable. Costs one pointer test when the
 * variable is unset. */
void persist__failpoint_init(void);
void persist__failpoint(const char *name);

/* snprintf into err (if err && cap) - the message side of an error return. */
void persist__err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
