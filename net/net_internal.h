/* net_internal.h - structures shared by the files of net/: the server
 * context, network threads, connections and reply slots. Not an API.
 */
#ifndef MEMKV_NET_INTERNAL_H
#define MEMKV_NET_INTERNAL_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "actors/actor.h"
#include "net/auth.h"
#include "engine/buf.h"
#include "net/cmdtab.h"
#include "engine/config.h"
#include "engine/hash.h"
#include "net/latency.h"
#include "actors/mbox.h"
#include "net/monitor.h"
#include "actors/msg.h"
#include "net/obs.h"
#include "net/parse.h"
#include "persist/persist.h"
#include "net/pubsub.h"
#include "net/server.h"
#include "net/slowlog.h"

/* Replies a connection may have pending before it stops parsing input. */
#define CONN_MAX_SLOTS 1024
/* Output bytes a connection may have queued before it stops parsing. */
#define CONN_MAX_OUT (4u << 20)
/* Batches a network thread may have in flight per actor (credit). The
 * actor mailboxes are sized for all network threads' credits, so a
 * publish never finds a full ring. */
#define NET_MAX_INFLIGHT 256
/* Bytes of parsed arguments (slots bigger than SLOT_ROOM) a network thread
 * may hold in flight, commands read but not yet answered, before its
 * connections stop parsing: a pipeline of big values waits in the socket,
 * not in memory. The command that crosses it is still taken, so one
 * argument bigger than this works. These bytes do not count for eviction
 * (docs/memory.md); this bounds them. */
#define NET_INFLIGHT_MAX_BYTES (4 << 20)

struct netthr;
struct nblk;
struct blk_token;

/* One client reply in request order. */
typedef struct kv_slot {
    struct kv_slot *next; /* FIFO link; owner: net thread */
    struct conn *conn;
    const cmd_def *def;
    uint8_t proto;       /* parse_proto of the request */
    uint8_t ready;       /* reply complete */
    uint8_t close_after; /* close the connection once this reply is out */
    uint8_t stage;       /* staged commands: current step */
    uint8_t db;          /* the database its parts run in (the client's SELECT) */
    uint8_t mute;        /* CLIENT REPLY OFF/SKIP: the reply is dropped, not sent */
    uint32_t pending;    /* parts not yet completed */
    kvbuf reply;         /* the final RESP reply */
    int argc;            /* the command's own copy of its arguments */
    kv_str *argv;
    unsigned nsub; /* parts of this command (in subs) */
    kv_req **subs;
    uint16_t *key_sub;    /* MGET: part of each key */
    int64_t aux;          /* SCAN: the shard being scanned */
    struct kv_req *grave; /* parts of earlier stages, freed with the slot */
    struct multi_tx *mx;  /* EXEC: the transaction (multi.c), freed with the slot */
    kv_req one;           /* the part of a single-shard command */
    kv_req *one_ptr;
    uint64_t t_parse;        /* hist_clock_ns() when parsed, for the latency statistics */
    uint32_t room;           /* bytes after the struct for argv (SLOT_ROOM: reusable) */
    uint32_t nbigs;          /* arguments in buffers of their own (parse_take_big): */
    char **bigs;             /* their buffers (in the room), freed with the slot */
    struct kv_entry **keeps; /* per big bulk (in the room): the entry that took it as its
                                value (kv_take), pinned and unpinned with the slot, or NULL */
    size_t big_bytes;        /* their sizes, counted in the thread's inflight_bytes */
    kv_pin pin;              /* the stored value reply continues with (JOIN_SINGLE of a GET) */
    kv_pins pins;            /* the stored values MGET's reply refers to, in order (pin.at:
                                their places in reply) */
    struct nblk *blk;        /* a blocking command still waiting (blocking.c), else NULL */
} kv_slot;

/* A slot whose arguments fit in SLOT_ROOM bytes (argv array and copies) is
 * allocated with exactly that room and, when freed, kept on its network
 * thread's cache with its two reply buffers (if they stayed small), so a
 * GET or SET costs no malloc or free once the cache is warm. The cache
 * holds as many slots as 256 clients at pipeline 16 have in flight (50 at
 * 16 missed it by a third: each miss cost a calloc, a free and the reply
 * buffer's regrowth, ~350 instructions a request at P16); past the first
 * SLOT_CACHE_RICH slots only reply buffers of SLOT_KEEP_SMALL bytes stay,
 * so a full cache holds at most ~9 MB (4.5 MB before). */
#define SLOT_ROOM       256
#define SLOT_CACHE_MAX  4096
#define SLOT_CACHE_RICH 512
#define SLOT_KEEP_BYTES 4096
#define SLOT_KEEP_SMALL 256

/* A big reply queued for writing as it is, without a copy into conn.out:
 * it goes out after out's bytes up to mark. */
typedef struct conn_outseg {
    struct conn_outseg *next;
    size_t mark;          /* offset in conn.out that precedes it */
    size_t off;           /* bytes of buf already sent */
    kvbuf buf;            /* the reply (taken from its slot), or with pin set the
                             stored value's bytes (buf.data points into pin) */
    struct kv_entry *pin; /* a pinned value (kv_pin): unpinned, not freed, when sent */
} conn_outseg;

/* Replies at least this long are queued as they are (conn_outseg). */
#define CONN_OUT_SEG_MIN 4096

typedef struct conn {
    struct netthr *t; /* ro */
    int fd;           /* ro */
    uint64_t id;      /* ro: CLIENT ID */
    ev_io rw;         /* private: read watcher */
    ev_io ww;         /* private: write watcher */
    kvbuf in;         /* owner: net thread */
    size_t in_off;    /* parsed bytes at the front of in */
    parse_state ps;
    kvbuf out;                        /* replies ready to send */
    size_t out_off;                   /* bytes of out already sent */
    conn_outseg *seg_head, *seg_tail; /* big replies, in order with out's bytes */
    size_t seg_bytes;                 /* their bytes not yet sent */
    struct tls_conn *tls;             /* TLS port: its TLS state (tls.c); else NULL */
    kv_slot *head, *tail;             /* reply FIFO */
    unsigned nslots;
    kv_slot *blocker;      /* a staged command in progress: nothing after it runs */
    uint8_t eof;           /* peer closed its side: answer, then close */
    uint8_t closing;       /* parse nothing more */
    uint8_t close_ready;   /* the last reply (QUIT, protocol error) is queued */
    uint8_t closed;        /* fd closed; freed when the last slot completes */
    uint8_t dirty;         /* on the thread's dirty list */
    uint8_t reading;       /* read watcher started */
    uint8_t stalled;       /* on the thread's stalled list */
    uint8_t sendq;         /* on the thread's io_uring send list (netthr.sendq) */
    uint8_t recvq;         /* on the thread's io_uring read list (netthr.recvq) */
    uint8_t db;            /* SELECTed database */
    struct multi_conn *mx; /* MULTI / WATCH state (multi.c), NULL if never used */
    struct conn *next_dirty;
    struct conn *next_send;   /* the thread's io_uring send list */
    struct conn *next_recv;   /* the thread's io_uring read list */
    size_t recv_room;         /* io_uring read in flight: its direct piece's size */
    size_t read_want;         /* bytes the last read asked for (conn_read_iov) */
    uint8_t read_direct;      /* the last read had a big bulk's piece (conn_read_iov) */
    uint8_t read_big;         /* big bulks come: READ_BIG_CHUNK reads (conn_read_more) */
    struct conn *prev, *next; /* the thread's connection list; changed under t->conns_lock */
    char name[64];            /* CLIENT SETNAME; written under t->conns_lock */
    char addr[64];            /* ro: peer address, for CLIENT INFO */
    char laddr[64];           /* ro: local address the client connected to */
    struct monitor_sub *mon;  /* MONITOR: its entry in the server's hub, or NULL */
    uint8_t reply_off;        /* CLIENT REPLY OFF */
    uint8_t reply_skip;       /* CLIENT REPLY SKIP: commands whose reply to drop */
    uint8_t no_evict;         /* CLIENT NO-EVICT ON (a flag only: no client eviction) */
    uint8_t held;             /* CLIENT PAUSE: its next command waits (not parsed yet) */
    _Atomic uint8_t kill;     /* CLIENT KILL from another thread: close at its next wake-up */
    _Atomic uint8_t blocked;  /* written by its thread: waits in BLPOP & co. (CLIENT LIST b) */
    _Atomic uint8_t unblock;  /* CLIENT UNBLOCK from any thread: 1 TIMEOUT, 2 ERROR; taken
                                 with the kill flags (kill_pending) */
    int64_t created_ms;
    /* limits and access (climit.c): */
    uint8_t authed;        /* AUTH done, or no password when it connected */
    uint8_t obl_over;      /* queued replies passed the hard limit: close */
    int64_t last_ms;       /* last input or output, for --timeout */
    int64_t soft_since_ms; /* queued replies over the soft limit since, or 0 */
    kv_obl obl;            /* output budget shared with the actors */
    /* Pub/Sub (pubsub.c): */
    struct ps_conn *pubsub; /* its subscriptions, NULL if it never subscribed; owner: net thread */
    uint32_t ps_n[3];       /* channels, patterns, shard channels: written by the owner,
                             * read relaxed by CLIENT LIST on any thread */
} conn;

/* Bytes of replies queued on c and not yet sent. */
static inline size_t conn_out_pending(const conn *c)
{
    return c->out.len - c->out_off + c->seg_bytes;
}

/* Per-thread counters; written by the owner with relaxed atomics, read by
 * INFO/STATS on other threads. */
typedef struct net_stats {
    _Atomic uint64_t commands;
    _Atomic uint64_t connections; /* accepted, total */
    _Atomic uint64_t rejected;
    _Atomic uint64_t net_in, net_out;
    _Atomic int64_t clients;            /* open now */
    _Atomic uint64_t qbuf_limit_closed; /* client-query-buffer-limit disconnections */
    _Atomic uint64_t obl_limit_closed;  /* client-output-buffer-limit disconnections */
    _Atomic uint64_t timeout_closed;    /* idle clients closed by --timeout */
    _Atomic uint64_t auth_failures;     /* AUTH / HELLO AUTH with a wrong password */
    _Atomic uint64_t protected_denied;  /* connections refused by protected mode */
    _Atomic uint64_t unknown_commands;  /* commands not in the table */
} net_stats;

/* Most listening sockets per port: one per --bind address, or more when
 * a host name resolves to several. */
#define NET_MAX_LISTEN 32

/* The listening sockets of one port (ro after start). */
typedef struct net_listeners {
    int fd[NET_MAX_LISTEN];
    struct sockaddr_storage addr[NET_MAX_LISTEN];
    socklen_t addrlen[NET_MAX_LISTEN];
    unsigned n;
} net_listeners;

typedef struct netthr {
    struct server *srv;                 /* ro */
    unsigned id;                        /* ro */
    struct ev_loop *loop;               /* owner: this thread */
    ev_io accept_w[NET_MAX_LISTEN];     /* one per server.listen socket */
    ev_io tls_accept_w[NET_MAX_LISTEN]; /* one per server.tls_listen socket */
    int accept_stopped;                 /* stopping: the accept watchers are stopped */
    ev_async wake_w;                    /* completions and stop requests */
    ev_prepare flush_w;                 /* end of loop iteration: publish and write */
    ev_timer cron_w;                    /* CLIMIT_CRON_HZ: idle timeout, soft output limit */
    struct conn *cron_next;             /* climit_cron's place in conns; NULL: start over */
    mbox_t done;                        /* completed batches from actors (MPSC) */
    kv_batch **out;                     /* batch being filled per actor, or NULL */
    unsigned *inflight;                 /* batches in flight per actor */
    kv_batch *free_batches;
    kv_slot *slot_cache; /* freed slots of SLOT_ROOM, linked by next */
    unsigned nslot_cache;
    conn *conns; /* all open connections; changed under conns_lock */
    /* Guards the list and the names of conns, for CLIENT LIST/KILL from
     * other threads; the owner takes it only to change them. */
    pthread_mutex_t conns_lock;
    _Atomic int kill_pending; /* some connection's kill flag is set */
    slowlog_ring slow;        /* SLOWLOG entries of this thread's commands */
    ev_timer pause_w;         /* CLIENT PAUSE: resumes held connections when it ends */
    unsigned nheld;           /* owner: this thread: connections held by a pause */
    conn *dirty;              /* connections with output to write */
    struct net_uring *ur;     /* owner: this thread: its ring with --io-backend uring, or NULL */
    conn *sendq;              /* owner: this thread: connections whose output goes in ur next */
    conn *recvq;              /* owner: this thread: readable connections ur reads next */
    int paused;               /* out of credit towards some actor */
    int stalls;               /* owner: this thread: some connection is stalled */
    /* bytes of slots bigger than SLOT_ROOM alive on this thread; written by
     * this thread, read by the server's memory measure */
    _Atomic int64_t inflight_bytes;
    int capturing;       /* route_queue keeps parts off the batches (EXEC builds them) */
    int ordered_pending; /* some batch in out is ordered */
    uint64_t rng;
    net_stats stats;
    obs_net obs;                     /* command statistics; owner: this thread */
    ev_io metrics_w[NET_MAX_LISTEN]; /* thread 0 with --metrics-port: the HTTP listeners */
    struct mconn *mconns;            /* open /metrics connections */
    unsigned nmconns;
    /* --threads: this thread also hosts actor `id` (server.hosted) */
    ev_timer tick_w; /* the hosted actor's next expiry tick */
    ev_idle more_w;  /* the hosted actor has more work: do not block */
    int done_flag;   /* owner: this thread: counted in server.nnet_done */
    int busy;        /* owner: this thread: its hosted actor runs a script (netthr_script_busy) */
    /* Pub/Sub: subscribers of this thread with new messages (pubsub.c) */
    pthread_mutex_t ps_lock;  /* guards ps_ready and those subscribers' pending bytes */
    struct ps_conn *ps_ready; /* guarded by ps_lock */
    /* blocking commands (blocking.c): tokens served by actors, a stack
     * pushed by any actor and taken whole by this thread; and the blocked
     * commands of this thread not answered yet */
    _Atomic(struct blk_token *) blk_done;
    unsigned blk_live; /* owner: this thread */
    pthread_t thread;
    int started;
    _Atomic int stop;
} netthr;

struct server {
    kv_config cfg;         /* ro after start */
    kv_hash_secret secret; /* ro after start */
    evict_limits limits;   /* atomic: --maxmemory settings (CONFIG SET) and overhead */
    actor_pool_t *actors;
    unsigned nactors;
    persist_t *persist; /* NULL with --persistence off */
    netthr *net;
    unsigned nnet;
    net_listeners listen;         /* --port on each --bind address; none with --port 0 */
    net_listeners tls_listen;     /* --tls-port, or none */
    struct tls_ctx *tls;          /* ro after start; NULL without --tls-port */
    net_listeners metrics_listen; /* --metrics-port, or none */
    _Atomic uint64_t stats_gen;   /* CONFIG RESETSTAT generation */
    int64_t start_ms;
    char run_id[41];
    _Atomic uint64_t next_client_id;
    _Atomic int64_t clients; /* open connections, all threads */
    _Atomic int stop;
    int stop_efd; /* eventfd that wakes server_run */
    int hosted;   /* ro: --threads: network thread i also runs actor i */
    int uring;    /* ro: the network threads send through io_uring (net/uring.h) */
    /* Network threads publish the batches holding parts of commands over
     * several actors (multi-actor frozen runs, MGET, MSET, DEL, KEYS, ...)
     * under this lock, all of a thread's at once, so every actor receives
     * them in one global order. Held for a few mailbox pushes; nothing
     * else is done under it. */
    pthread_mutex_t fz_lock;
    _Atomic unsigned nnet_done; /* hosted: threads with nothing left to do */
    /* Settings CONFIG SET may change while running (cfg keeps the start-up
     * values of everything else): */
    auth_t auth;                /* requirepass */
    _Atomic int protected_mode; /* --protected-mode */
    _Atomic int timeout;        /* --timeout, seconds */
    struct script_env *scripts; /* ro after start: EVAL/EVALSHA (net/scripting.c) */
    slowlog_conf slow;          /* SLOWLOG settings and ids */
    latency_mon lat;            /* LATENCY events */
    /* Least time (ns) a command must take to matter to SLOWLOG or LATENCY
     * (UINT64_MAX: to neither); kept by server_watch_update. */
    _Atomic uint64_t watch_ns;
    monitor_hub mon;           /* MONITOR connections */
    struct pubsub_hub *pubsub; /* Pub/Sub registry (pubsub.h) */
    /* CLIENT PAUSE: until this kv_time_ms() commands (writes only if
     * pause_writes) wait; 0 = not paused. */
    _Atomic int64_t pause_until_ms;
    _Atomic int pause_writes;
    _Atomic int64_t blocked; /* clients waiting in a blocking command (INFO blocked_clients) */
};

/* netloop.c: network threads. */
int netthr_init(netthr *t, struct server *s, unsigned id);
void netthr_destroy(netthr *t);
int netthr_start(netthr *t);
/* Asks the thread to stop (it closes its connections and finishes its
 * in-flight batches); then netthr_join waits for it. Stop them all before
 * joining any: with hosted actors each thread serves the others' batches
 * until all are done. Start-up/main thread. */
void netthr_stop(netthr *t);
void netthr_join(netthr *t);
/* Hosted actors (actor_pool_opts.wake): wakes the loop of the thread that
 * hosts actor id. Any thread. */
void netthr_wake_actor(void *srv, unsigned id);
/* Called by actors (any actor thread) for each completed batch. */
void netthr_post_done(void *srv, kv_batch *b);
/* Busy mode (docs/architecture.md): runs one non-blocking iteration of t's
 * loop while t's hosted actor is inside a long Lua script, without running
 * any actor: replies of other actors are written, new connections accepted,
 * and each command read is answered -BUSY except SCRIPT KILL and SHUTDOWN
 * NOSAVE; a connection with a command in flight (the script's own) is not
 * parsed. Returns 1 once the server is stopping (the caller stops the
 * script). Only network thread t, from its hosted actor's script hook. */
int netthr_script_busy(netthr *t);

/* server.c: non-blocking listening sockets on port at every address of
 * bind_list (kv_config.bind); 0, or -1 with err set and nothing left open.
 * An address the host cannot have is skipped with a log line (IPv6 on a
 * host without it; EADDRNOTAVAIL for a '-' address), but at least one must
 * work. Start-up thread. */
int net_listen(net_listeners *l, const char *bind_list, int port, char *err, size_t errlen);
void net_listeners_close(net_listeners *l);
/* Bytes held outside the shards that do not count for eviction: the log's
 * buffers and the arguments of commands in flight. Any thread. */
uint64_t server_not_counted(struct server *s);

/* route.c: shard of a key. */
static inline uint32_t route_shard(const struct server *s, const char *key, size_t len)
{
    return kv_hash_shard(kv_hash(&s->secret, key, len), (uint32_t)s->cfg.shards);
}

/* route.c: called when the last part of a slot completed. */
void slot_finish(netthr *t, kv_slot *sl);
/* route.c: a command not in the table was refused. */
static inline void obs_unknown(netthr *t)
{
    obs_count(&t->stats.unknown_commands, 1);
}

/* conn.c: queue c for servicing (write, resume, close) at the end of
 * this loop iteration. */
void conn_mark_dirty(netthr *t, conn *c);

/* local.c: a command took ns (parse to reply): SLOWLOG and LATENCY. Its
 * network thread. */
void local_slow(conn *c, const kv_slot *sl, uint64_t ns);
/* local.c: recomputes server.watch_ns from the settings. Any thread. */
void server_watch_update(struct server *s);

/* local.c: gathered replies that need the server (INFO, STATS). */
void local_info_join(netthr *t, kv_slot *sl);
void local_stats_join(netthr *t, kv_slot *sl);

/* climit.c: limits and access control of client connections. */
/* Before a connection is set up: 1 if it must be refused (protected mode:
 * the explanation has been written to fd, unless tls). */
int climit_refuse(netthr *t, int fd, int tls);
/* Protected mode's answer for a peer, given getpeername()'s return value
 * and the address it filled: 1 to refuse (not loopback, or unknown because
 * getpeername failed). Pure; any thread. */
int climit_peer_refused(int peer_rc, const struct sockaddr_storage *ss);
/* Sets up c's keepalive, parse limits, authentication and output budget. */
void climit_conn_init(netthr *t, conn *c);
/* After reading and parsing: 1 if c passed client-query-buffer-limit and
 * was closed. */
int climit_input_over(netthr *t, conn *c);
/* Before a reply is queued: 1 if the queued replies are already over the
 * hard limit (the caller stops and closes). */
int climit_output_full(conn *c);
/* Before replies are queued and after they were written: closes c if it
 * passed the output limits (then its queued replies are dropped, as Redis
 * drops a client's replies when it closes it for this); returns 1 if it
 * did. Publishes the queued bytes to the actors. */
int climit_output_check(netthr *t, conn *c);
/* A reply slot's parts completed: give their bytes back to the budget. */
void climit_part_done(kv_req *r);
/* Command dispatch: 1 if c may not run def yet (a NOAUTH reply is queued). */
int climit_noauth(netthr *t, conn *c, const cmd_def *def);
/* AUTH succeeded on c: lift the unauthenticated limits. */
void climit_authed(netthr *t, conn *c);
/* The network thread's once-a-second timer. */
/* Ticks per second of climit_cron: each visits 1/CLIMIT_CRON_HZ of the
 * thread's connections, so every connection is checked once a second and
 * no tick walks 10 000 of them at once (about 1 ms). */
#define CLIMIT_CRON_HZ 10
void climit_cron(struct ev_loop *loop, ev_timer *w, int revents);

/* netloop.c: CLIENT PAUSE until until_ms (kv_time_ms; 0 = UNPAUSE), of
 * write commands only if writes; wakes every network thread. Any thread. */
void server_pause(struct server *s, int64_t until_ms, int writes);

/* conn.c: closes c's socket (the memory goes once no part is in flight). */
void conn_close(netthr *t, conn *c);

/* plain.c: converts one RESP reply into a plain-text line. */
void plain_from_resp(const cmd_def *def, const char *resp, size_t len, kvbuf *out);

#endif
