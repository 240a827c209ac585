/* fault_shim.c - LD_PRELOAD shim for the fault-injection tests
 * (tests/integration/test_faults.py). Test-only; never linked into the server.
 *
 * It intercepts write, pwrite, fsync and fdatasync. While the file named by
 * the environment variable MEMKV_FAULT_CTL contains a line
 *
 *     write ENOSPC      (write and pwrite fail with ENOSPC)
 *     fsync EIO         (fsync and fdatasync fail with EIO)
 *
 * (any errno name of the table below), those calls fail - but only for file
 * descriptors whose path contains "/wal-" (the WAL segments); every other
 * file, socket and pipe is untouched. fd -> path comes from readlink of
 * /proc/self/fd/N and is cached per fd; close() forgets the cached answer.
 * The control file is re-read on each call on a WAL fd, so a test turns a
 * fault on and off by rewriting it (empty or missing: no fault).
 *
 * A line
 *
 *     getpeername ENOTCONN
 *
 * makes getpeername() fail on every socket (the protected-mode test of
 * tests/integration/test_peer_fault.py).
 *
 * A line
 *
 *     fsync-delay 300   (fsync and fdatasync of WAL files take 300 ms more)
 *
 * makes them slow instead of failing: an fsync stall (the LATENCY test of
 * tests/integration/test_toolkit.py).
 *
 * Each change of the injected error is reported on stderr ("fault_shim: ...").
 *
 * Under ASan, load libasan first: LD_PRELOAD=<libasan.so>:<this .so>. ASan's
 * interceptors then find these functions with dlsym(RTLD_NEXT), and these
 * find libc's the same way.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*sync_fn)(int);
typedef int (*close_fn)(int);
typedef int (*getpeername_fn)(int, struct sockaddr *, socklen_t *);

static write_fn real_write;
static pwrite_fn real_pwrite;
static sync_fn real_fsync, real_fdatasync;
static close_fn real_close;
static getpeername_fn real_getpeername;

enum { MAX_FD = 65536 };
static _Atomic signed char fd_kind[MAX_FD]; /* 0 unknown, 1 WAL segment, 2 other */
static _Atomic int last_write, last_sync;   /* errno last reported on stderr per op, 0 none */

static void resolve(void)
{
    if (real_write) return;
    real_pwrite = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
    real_fsync = (sync_fn)dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
    real_close = (close_fn)dlsym(RTLD_NEXT, "close");
    real_getpeername = (getpeername_fn)dlsym(RTLD_NEXT, "getpeername");
    real_write = (write_fn)dlsym(RTLD_NEXT, "write");
}

__attribute__((constructor)) static void shim_init(void)
{
    resolve();
}

static int is_wal_fd(int fd)
{
    if (fd < 0) return 0;
    if (fd < MAX_FD) {
        int k = atomic_load_explicit(&fd_kind[fd], memory_order_relaxed);
        if (k) return k == 1;
    }
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    int wal = 0;
    if (n > 0) {
        path[n] = 0;
        wal = strstr(path, "/wal-") != NULL;
    }
    if (fd < MAX_FD) atomic_store_explicit(&fd_kind[fd], wal ? 1 : 2, memory_order_relaxed);
    return wal;
}

static const struct {
    const char *name;
    int err;
} errnos[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO},           {"EDQUOT", EDQUOT},  {"EROFS", EROFS},
              {"EFBIG", EFBIG},   {"ENOTCONN", ENOTCONN}, {"ENOBUFS", ENOBUFS}};

/* The errno to inject for op ("write" or "fsync"), or 0. */
static int fault_for(const char *op)
{
    const char *ctl = getenv("MEMKV_FAULT_CTL");
    if (ctl == NULL || *ctl == 0) return 0;
    /* raw syscalls: no interception of our own reads, no errno games */
    int fd = (int)syscall(SYS_openat, AT_FDCWD, ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[512];
    ssize_t n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    size_t oplen = strlen(op);
    for (char *line = buf; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (strncmp(line, op, oplen) == 0 && line[oplen] == ' ') {
            const char *e = line + oplen + 1;
            for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
                if (strcmp(e, errnos[i].name) == 0) return errnos[i].err;
        }
        line = next;
    }
    return 0;
}

/* fsync-delay: milliseconds a WAL fsync is to take longer, or 0. */
static long delay_ms(void)
{
    const char *ctl = getenv("MEMKV_FAULT_CTL");
    if (ctl == NULL || *ctl == 0) return 0;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[512];
    ssize_t n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    const char *k = strstr(buf, "fsync-delay ");
    return k && (k == buf || k[-1] == '\n') ? strtol(k + 12, NULL, 10) : 0;
}

static void stall(int fd)
{
    if (!is_wal_fd(fd)) return;
    long ms = delay_ms();
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int inject(int fd, const char *op)
{
    if (!is_wal_fd(fd)) return 0;
    int e = fault_for(op);
    int prev = atomic_exchange(op[0] == 'w' ? &last_write : &last_sync, e);
    if (prev != e) {
        char msg[128];
        int m = snprintf(msg, sizeof msg, "fault_shim: %s on WAL files: %s\n", op,
                         e ? strerror(e) : "no fault");
        if (m > 0) syscall(SYS_write, 2, msg, (size_t)m);
    }
    return e;
}

ssize_t write(int fd, const void *p, size_t n)
{
    resolve();
    int e = inject(fd, "write");
    if (e) {
        errno = e;
        return -1;
    }
    return real_write(fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
    resolve();
    int e = inject(fd, "write");
    if (e) {
        errno = e;
        return -1;
    }
    return real_pwrite(fd, p, n, off);
}

int fsync(int fd)
{
    resolve();
    int e = inject(fd, "fsync");
    if (e) {
        errno = e;
        return -1;
    }
    stall(fd);
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    resolve();
    int e = inject(fd, "fsync");
    if (e) {
        errno = e;
        return -1;
    }
    stall(fd);
    return real_fdatasync(fd);
}

int close(int fd)
{
    resolve();
    if (fd >= 0 && fd < MAX_FD) atomic_store_explicit(&fd_kind[fd], 0, memory_order_relaxed);
    return real_close(fd);
}

int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    resolve();
    int e = fault_for("getpeername");
    if (e) {
        errno = e;
        return -1;
    }
    return real_getpeername(fd, addr, len);
}
