/* uring.c - io_uring rings of the network threads (see uring.h). Built
 * with liburing when MEMKV_URING is on; without it every ring is
 * unavailable and the backend is epoll.
 */
#include "net/uring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/net_internal.h"

#ifdef MEMKV_HAVE_URING
#include <liburing.h>

#define URING_ENTRIES 256

/* The iovecs and message headers of the queued operations: the kernel
 * reads them when the operation is issued, inside io_uring_enter. */
typedef struct uring_op {
    struct msghdr msg;
    struct iovec iov[NET_URING_IOV_MAX];
} uring_op;

struct net_uring {
    struct io_uring ring;
    unsigned queued; /* operations prepared and not yet submitted */
    uring_op ops[URING_ENTRIES];
};

net_uring *net_uring_new(void)
{
    net_uring *u = calloc(1, sizeof *u);
    if (u == NULL) return NULL;
    /* no SQPOLL/IOPOLL: the thread itself enters once per loop iteration */
    if (io_uring_queue_init(URING_ENTRIES, &u->ring, 0) != 0) {
        free(u);
        return NULL;
    }
    return u;
}

void net_uring_free(net_uring *u)
{
    if (u == NULL) return;
    io_uring_queue_exit(&u->ring);
    free(u);
}

unsigned net_uring_room(const net_uring *u)
{
    return URING_ENTRIES - u->queued;
}

/* The next free op and its SQE, or NULL if full. */
static struct io_uring_sqe *uring_get(net_uring *u, uring_op **op)
{
    if (u->queued >= URING_ENTRIES) return NULL;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (sqe == NULL) return NULL;
    *op = &u->ops[u->queued++];
    return sqe;
}

int net_uring_send(net_uring *u, int fd, const struct iovec *iov, int n, void *ud)
{
    uring_op *op;
    struct io_uring_sqe *sqe = uring_get(u, &op);
    if (sqe == NULL) return -1;
    /* MSG_DONTWAIT: a full socket answers -EAGAIN (the caller waits for
     * EPOLLOUT as the epoll path does) instead of a poll parked in the ring */
    if (n == 1) {
        io_uring_prep_send(sqe, fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
        memcpy(op->iov, iov, (size_t)n * sizeof *iov);
        memset(&op->msg, 0, sizeof op->msg);
        op->msg.msg_iov = op->iov;
        op->msg.msg_iovlen = (size_t)n;
        io_uring_prep_sendmsg(sqe, fd, &op->msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data(sqe, ud);
    return 0;
}

int net_uring_read(net_uring *u, int fd, const struct iovec *iov, int n, void *ud)
{
    uring_op *op;
    struct io_uring_sqe *sqe = uring_get(u, &op);
    if (sqe == NULL) return -1;
    if (n == 1) {
        io_uring_prep_recv(sqe, fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT);
    } else {
        memcpy(op->iov, iov, (size_t)n * sizeof *iov);
        memset(&op->msg, 0, sizeof op->msg);
        op->msg.msg_iov = op->iov;
        op->msg.msg_iovlen = (size_t)n;
        io_uring_prep_recvmsg(sqe, fd, &op->msg, MSG_DONTWAIT);
    }
    io_uring_sqe_set_data(sqe, ud);
    return 0;
}

unsigned net_uring_submit(net_uring *u, void (*done)(void *arg, void *ud, int res), void *arg)
{
    unsigned left = u->queued, inflight = 0, got = 0;
    if (left == 0) return 0;
    /* Once submitted, the kernel has taken the iovecs and headers: done()
     * may queue new operations into the freed slots. */
    u->queued = 0;
    while (left > 0 || inflight > 0) {
        if (left > 0) {
            /* one io_uring_enter; operations that complete at once (all of
             * ours: MSG_DONTWAIT) have their completions posted on return */
            int rc = io_uring_submit(&u->ring);
            if (rc > 0) {
                left -= (unsigned)rc < left ? (unsigned)rc : left;
                inflight += (unsigned)rc;
            } else if (rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && inflight == 0) {
                /* the ring itself is unusable (can't happen: a bug) */
                kv_log_warn("io_uring_submit: %s", strerror(-rc));
                abort();
            }
        }
        struct io_uring_cqe *cqe;
        while (inflight > 0 && io_uring_peek_cqe(&u->ring, &cqe) == 0) {
            void *ud = io_uring_cqe_get_data(cqe);
            int res = cqe->res;
            io_uring_cqe_seen(&u->ring, cqe);
            inflight--;
            got++;
            done(arg, ud, res);
        }
        /* not posted yet (not seen in practice): wait for one */
        if (left == 0 && inflight > 0) {
            int w = io_uring_wait_cqe(&u->ring, &cqe);
            if (w != 0 && w != -EINTR) break;
        }
    }
    return got;
}

/* 0 if a ring can be made, else -errno. */
static int uring_probe(void)
{
    /* tests: the refusal without a kernel that refuses (tests/integration) */
    const char *off = getenv("MEMKV_TEST_NO_URING");
    if (off != NULL && strcmp(off, "1") == 0) return -EPERM;
    struct io_uring ring;
    int rc = io_uring_queue_init(8, &ring, 0); /* -errno */
    if (rc == 0) io_uring_queue_exit(&ring);
    return rc;
}
#define URING_BUILT 1

#else /* !MEMKV_HAVE_URING */

net_uring *net_uring_new(void)
{
    return NULL;
}
void net_uring_free(net_uring *u)
{
    (void)u;
}
unsigned net_uring_room(const net_uring *u)
{
    (void)u;
    return 0;
}
int net_uring_send(net_uring *u, int fd, const struct iovec *iov, int n, void *ud)
{
    (void)u, (void)fd, (void)iov, (void)n, (void)ud;
    return -1;
}
int net_uring_read(net_uring *u, int fd, const struct iovec *iov, int n, void *ud)
{
    (void)u, (void)fd, (void)iov, (void)n, (void)ud;
    return -1;
}
unsigned net_uring_submit(net_uring *u, void (*done)(void *arg, void *ud, int res), void *arg)
{
    (void)u, (void)done, (void)arg;
    return 0;
}
static int uring_probe(void)
{
    return -ENOSYS;
}
#define URING_BUILT 0
#endif

static int uring_choose(struct server *s, char *err, size_t errlen)
{
    s->uring = 0;
    if (s->cfg.io_backend == NET_IO_EPOLL) return 0;
    if (!URING_BUILT) {
        if (s->cfg.io_backend == NET_IO_URING) {
            snprintf(err, errlen,
                     "--io-backend uring: this build has no io_uring (built without liburing)");
            return -1;
        }
        return 0; /* auto: epoll, as built */
    }
    int rc = uring_probe();
    if (rc != 0) {
        if (s->cfg.io_backend == NET_IO_URING) {
            snprintf(err, errlen,
                     "--io-backend uring: io_uring is not available here (io_uring_setup: %s; "
                     "disabled by the kernel or a seccomp profile): use --io-backend epoll",
                     strerror(-rc));
            return -1;
        }
        kv_log_warn("io_uring is not available (io_uring_setup: %s): the network threads use "
                    "epoll",
                    strerror(-rc));
        return 0;
    }
    s->uring = 1;
    return 0;
}

int net_uring_resolve(struct server *s, char *err, size_t errlen)
{
    if (uring_choose(s, err, errlen) != 0) return -1;
    /* what runs, for CONFIG GET io-backend (the settings table formats it) */
    s->cfg.io_backend = s->uring ? NET_IO_URING : NET_IO_EPOLL;
    return 0;
}

const char *net_io_backend_name(const struct server *s)
{
    return s->uring ? "uring" : "epoll";
}
