/* fileio.c - the file operations of persist/ (fileio.h). */
#include "persist/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/kv.h"

int fileio_write_all(int fd, const void *p, size_t n, size_t *done)
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

ssize_t fileio_pread_all(int fd, void *p, size_t n, off_t off)
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

int fileio_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) ? -errno : 0;
    close(fd);
    return rc;
}

int fileio_mkdir(const char *dir)
{
    if (mkdir(dir, 0755) == 0 || errno == EEXIST) return 0;
    return -errno;
}

int fileio_discard(const char *path)
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

int fileio_all_zero(int fd, uint64_t off, uint64_t limit)
{
    char buf[4096];
    while (off < limit) {
        size_t want = sizeof buf;
        if (want > limit - off) want = (size_t)(limit - off);
        ssize_t got = fileio_pread_all(fd, buf, want, (off_t)off);
        if (got < 0) return KV_EIO;
        if (got == 0) break;
        for (ssize_t i = 0; i < got; i++)
            if (buf[i]) return 0;
        off += (uint64_t)got;
    }
    return 1;
}

void fileio_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}
