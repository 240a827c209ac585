/* uring.h - io_uring for the network threads' socket I/O (--io-backend).
 *
 * One ring per network thread, used only by that thread. The thread
 * queues operations while it serves its connections and submits them all
 * with one io_uring_enter at the end of the loop iteration; every
 * operation is non-blocking (MSG_DONTWAIT: a full socket answers -EAGAIN,
 * nothing is parked in the kernel), so all completions are back when
 * net_uring_submit returns and no buffer outlives the call.
 */
#ifndef MEMKV_NET_URING_H
#define MEMKV_NET_URING_H

#include <stddef.h>
#include <sys/uio.h>

struct server;

/* --io-backend values (kv_config.io_backend). */
enum net_io_backend { NET_IO_AUTO = 0, NET_IO_EPOLL = 1, NET_IO_URING = 2 };

typedef struct net_uring net_uring; /* opaque */

/* Chooses the backend from s->cfg.io_backend and sets s->uring: auto
 * takes io_uring when this build has it and io_uring_setup works (else
 * epoll, with one log line), uring refuses to start without it (-1 with
 * err set). Start-up thread, before the network threads are made. */
int net_uring_resolve(struct server *s, char *err, size_t errlen);

/* "uring" or "epoll": the backend s runs (INFO io_backend). Any thread. */
const char *net_io_backend_name(const struct server *s);

/* A ring for one network thread; NULL if it cannot be made. Its owner
 * thread only from then on (made by the start-up thread before). */
net_uring *net_uring_new(void);
void net_uring_free(net_uring *u);

/* Operations a ring can hold before net_uring_submit must run. */
unsigned net_uring_room(const net_uring *u);

/* Queues a send of iov[0..n) (n <= NET_URING_IOV_MAX) on fd, tagged ud;
 * the iovecs are copied, the bytes they point to must stay unchanged until
 * net_uring_submit returns. 0, or -1 if the ring is full. Owner thread. */
#define NET_URING_IOV_MAX 32
int net_uring_send(net_uring *u, int fd, const struct iovec *iov, int n, void *ud);

/* Queues a read of fd into iov[0..n) (n <= 2), tagged ud; as
 * net_uring_send. Owner thread. */
int net_uring_read(net_uring *u, int fd, const struct iovec *iov, int n, void *ud);

/* Submits every queued operation with one io_uring_enter, waits for all
 * their completions (immediate: they never block) and calls done(arg, ud,
 * res) for each, res being the send's/read's byte count or -errno. Returns
 * the number of operations completed. Owner thread. */
unsigned net_uring_submit(net_uring *u, void (*done)(void *arg, void *ud, int res), void *arg);

#endif
