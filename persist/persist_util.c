/* persist_util.c - file helpers shared by persist/. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist_internal.h"
#include "wal_record.h"

static const char *failpoint_name; /* set once at start-up, then read-only */

void persist__failpoint_init(void)
{
    const char *v = getenv("MEMKV_FAILPOINT");
    failpoint_name = v && *v ? v : NULL;
}

void persist__failpoint(const char *name)
{
    if (failpoint_name == NULL || strcmp(failpoint_name, name) != 0) return;
    char msg[160];
    int n = snprintf(msg, sizeof msg, "failpoint %s: exiting with code 99\n", name);
    if (n > 0) (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    _exit(99);
}

int persist__write_all(int fd, const void *p, size_t n, size_t *done)
{
    const char *s = p;
    size_t off = 0;
    int rc = 0;
    while (off < n) {
        ssize_t w = write(fd, s + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            rc = -errno;
            break;
        }
        if (w == 0) {
            rc = -EIO;
            break;
        }
        off += (size_t)w;
    }
    if (done) *done = off;
    return rc;
}

ssize_t persist__pread_all(int fd, void *p, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)p + got, n - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int persist__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) ? -errno : 0;
    close(fd);
    return rc;
}

int persist__mkdir(const char *dir)
{
    if (mkdir(dir, 0755) == 0 || errno == EEXIST) return 0;
    return -errno;
}

int persist__discard(const char *path)
{
    char to[4200];
    struct stat st;
    for (unsigned i = 0; i < 1000; i++) {
        int n = i ? snprintf(to, sizeof to, "%s.discarded.%u", path, i)
                  : snprintf(to, sizeof to, "%s.discarded", path);
        if (n < 0 || (size_t)n >= sizeof to) return KV_ERANGE;
        if (lstat(to, &st) == 0) continue;
        if (errno != ENOENT) return KV_EIO;
        return rename(path, to) ? KV_EIO : 0;
    }
    return KV_EIO;
}

int persist__reader_init(persist__reader *r, int fd, uint64_t start, uint64_t limit)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->limit = limit;
    r->buf_off = start;
    r->cap = 1 << 16;
    r->buf = malloc(r->cap);
    return r->buf ? 0 : KV_ENOMEM;
}

void persist__reader_destroy(persist__reader *r)
{
    if (!r) return;
    free(r->buf);
    r->buf = NULL;
}

/* Slides the window forward and reads more, up to limit; returns bytes added,
 * 0 at limit, or KV_EIO / KV_ENOMEM. */
static int64_t reader_fill(persist__reader *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->buf_off += r->pos;
        r->pos = 0;
    }
    uint64_t end = r->buf_off + r->len;
    if (end >= r->limit) return 0;
    if (r->len == r->cap) {
        char *p = realloc(r->buf, r->cap * 2);
        if (!p) return KV_ENOMEM;
        r->buf = p;
        r->cap *= 2;
    }
    size_t want = r->cap - r->len;
    if (want > r->limit - end) want = (size_t)(r->limit - end);
    ssize_t got = persist__pread_all(r->fd, r->buf + r->len, want, (off_t)end);
    if (got < 0) return KV_EIO;
    if (got == 0) {
        /* The file is shorter than limit: nothing more to come. */
        r->limit = end;
        return 0;
    }
    r->len += (size_t)got;
    return got;
}

int64_t persist__reader_next(persist__reader *r, wal_rec *rec, uint64_t *off, const char **why)
{
    for (;;) {
        *off = r->buf_off + r->pos;
        int64_t n = wal_record_decode(r->buf + r->pos, r->len - r->pos, rec, why);
        if (n > 0) {
            r->pos += (size_t)n;
            return n;
        }
        if (n != KV_EAGAIN) return n;
        int64_t got = reader_fill(r);
        if (got < 0) return got;
        if (got == 0) return r->pos == r->len ? 0 : KV_EAGAIN;
    }
}

int persist__all_zero(int fd, uint64_t off, uint64_t limit)
{
    char buf[4096];
    while (off < limit) {
        size_t want = sizeof buf;
        if (want > limit - off) want = (size_t)(limit - off);
        ssize_t got = persist__pread_all(fd, buf, want, (off_t)off);
        if (got < 0) return KV_EIO;
        if (got == 0) break;
        for (ssize_t i = 0; i < got; i++)
            if (buf[i]) return 0;
        off += (uint64_t)got;
    }
    return 1;
}

void persist__err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}
