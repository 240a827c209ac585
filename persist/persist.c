/* persist.c - the persistence orchestration: manifest at start, parallel
 * recovery, one WAL per shard with group commit, the background worker
 * (interval fsyncs, finishing compactions) and fuzzy-snapshot compaction
 * driven by the owner actor in time-boxed slices. */
#include "persist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "entry.h"
#include "hist.h"
#include "hobj.h"
#include "lobj.h"
#include "sobj.h"
#include "manifest.h"
#include "persist_internal.h"
#include "recover.h"
#include "snap.h"
#include "table.h"
#include "txlog.h"
#include "wal.h"

/* Compaction of one shard, a small state machine. The owner actor moves
 * it from IDLE to SCANNING and feeds the snapshot; the worker finishes it
 * (fsyncs, manifest switch, deletes); the actor then takes DONE to IDLE. */
/* Compaction of one shard. The actor moves IDLE -> SCANNING -> FINISHING or
 * ABORTING, and DONE/FAILED -> IDLE; the worker FINISHING -> DONE/FAILED and
 * ABORTING -> FAILED. The snapshot writer belongs to the worker from
 * FINISHING or ABORTING on; while SCANNING the actor feeds it and the worker
 * writes what it queued. */
enum compact_state { C_IDLE, C_SCANNING, C_FINISHING, C_ABORTING, C_DONE, C_FAILED };

/* How often the worker records the newest durable WAL segments in the
 * MANIFEST (a manifest write only when a rotation happened since). */
#define PERSIST_SEG_NOTE_US 100000

/* A scanning shard pauses while this much snapshot data waits for the
 * worker's write()s. */
#define PERSIST_SNAP_MAX_QUEUED (8u << 20)

typedef struct pshard {
    uint32_t id;              /* ro */
    char dir[PATH_MAX];       /* ro */
    wal_t *wal;               /* owner: actor (wal_sync: any thread) */
    int failed;               /* owner: actor: the last commit failed (persist_note) */
    int sync_failed;          /* a sync thread's result for the owner actor (sync_set) */
    _Atomic int want_compact; /* set by any thread (COMPACT) */
    _Atomic int state;        /* enum compact_state; see above for who moves it */
    snap_writer_t *snap;      /* owner: see enum compact_state */
    uint64_t snap_seq;        /* the snapshot being built */
    uint64_t cursor;          /* SCANNING: ht_scan position */
    int scan_started;
    _Atomic uint64_t snap_bytes; /* size of the live snapshot */
    _Atomic uint64_t log_bytes;  /* published by the actor for stats */
    uint64_t next_seq, prev_end; /* start-up: where recovery says the log goes on */
    int lossy;                   /* start-up: keep-prefix recovery gave up records or segments */
    int64_t retry_at_us;         /* owner: actor: next retry of a failed log */
    int64_t compact_fail_us;     /* owner: actor: when a compaction last failed */
    hist_t *fsync_ns;            /* fdatasync durations: written by the one thread
                                    that syncs this shard (actor or worker) */
    /* transactions over several shards (persist_tx_begin/end) */
    size_t tx_start;               /* the running tx's part starts here in pending;
                                      written by the actor running a frozen run */
    _Atomic uint64_t tx_added;     /* newest txid with a part appended (same writer) */
    _Atomic uint64_t tx_committed; /* tx_added as of the owner's last good commit */
    int tx_open;                   /* in a transaction (same writer as tx_start) */
} pshard;

/* A set of fdatasyncs one actor needs done before its replies leave: the
 * actor and the sync threads take items with an atomic counter, so the
 * syncs of one group commit run in parallel (with 16 shards per actor they
 * are otherwise 16 device flushes in a row). Lives on the actor's stack. */
typedef struct sync_set {
    pshard **items;
    unsigned n;
    _Atomic unsigned next;      /* next item to take */
    _Atomic unsigned remaining; /* items not finished */
    _Atomic unsigned failed;
    struct sync_set *link; /* guarded by sync_lock */
    int queued;            /* guarded by sync_lock: on the queue */
    unsigned users;        /* guarded by sync_lock: threads working on it */
} sync_set;

#define PERSIST_SYNC_THREADS 4

struct persist {
    persist_opts o; /* ro; o.dir points at dir */
    char dir[PATH_MAX];
    int lock_fd; /* <dir>/LOCK, flock'ed for the life of p; -1 before */
    uint32_t nshards;
    manifest man; /* guarded by man_lock */
    pthread_mutex_t man_lock;
    pshard *sh;
    pthread_t worker;
    int worker_started;
    int64_t next_seg_note_us; /* worker: when to record the newest segments next */
    /* --fsync always: threads that help actors run a group's syncs */
    pthread_t sync_th[PERSIST_SYNC_THREADS];
    int nsync_th;
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_work, sync_done;
    sync_set *sync_queue; /* sets with items left to take */
    _Atomic int stop;
    /* counters: written by actors and the worker with relaxed atomics */
    _Atomic uint64_t batches, writes, max_writes, bytes, fsyncs, fsync_us_total, fsync_us_max,
        failures, compactions;
    /* the log's outage state, kept by the shards' actors (persist_note) */
    _Atomic int nfailing;           /* shards whose log fails now */
    _Atomic int64_t outage_ms;      /* wall-clock start of the current outage, 0: none */
    _Atomic int64_t fail_log_us;    /* when the last failure line was logged */
    _Atomic int outage_logged;      /* the current outage's failure line was logged */
    _Atomic uint64_t fail_unlogged; /* failures not logged since the last line */
    _Atomic int last_errno;         /* errno of the newest failure */
    _Atomic uint64_t txid_next;     /* next transaction id (persist_tx_end) */
    txlog *tx;                      /* start-up: recovery's decision, until persist_attach */
    uint64_t tx_dropped;            /* transactions recovery dropped */
};

/* At most one "the log fails" line per this many microseconds. */
#define PERSIST_FAIL_LOG_US (10 * 1000000)

static const char *errno_name(int e)
{
    const char *n = e ? strerrorname_np(e) : NULL;
    return n ? n : "EIO";
}

/* Owner actor of ps, after each commit, sync or retry of its log: keeps
 * ps->failed and the outage state, and logs (rate-limited) the first
 * failure of an outage with the errno's name, and the end of the outage. */
static void persist_note(persist_t *p, pshard *ps, int failed)
{
    if (failed == ps->failed) return;
    ps->failed = failed;
    if (failed) {
        wal_stats st;
        wal_get_stats(ps->wal, &st);
        int e = st.sys_errno ? st.sys_errno : EIO;
        atomic_store(&p->last_errno, e);
        if (atomic_fetch_add(&p->nfailing, 1) == 0) atomic_store(&p->outage_ms, kv_time_ms());
        int64_t now = kv_mono_us(), last = atomic_load(&p->fail_log_us);
        if ((last != 0 && now - last < PERSIST_FAIL_LOG_US) ||
            !atomic_compare_exchange_strong(&p->fail_log_us, &last, now)) {
            atomic_fetch_add(&p->fail_unlogged, 1);
            return;
        }
        uint64_t more = atomic_exchange(&p->fail_unlogged, 0);
        atomic_store(&p->outage_logged, 1);
        kv_log_warn("Writing the WAL of shard %u in %s failed: %s (%s). Writes to the failing "
                    "shards get -MISCONF and have no effect until the disk takes them again; "
                    "reads go on.%s",
                    ps->id, p->dir, strerror(e), errno_name(e),
                    more ? " (earlier failures were not logged)" : "");
        return;
    }
    if (atomic_fetch_sub(&p->nfailing, 1) != 1) return;
    int64_t since = atomic_exchange(&p->outage_ms, 0);
    if (atomic_exchange(&p->outage_logged, 0))
        kv_log_warn("The WAL in %s is writable again after %.1f s; writes are accepted.", p->dir,
                    since ? (double)(kv_time_ms() - since) / 1000.0 : 0.0);
}

static void counter_max(_Atomic uint64_t *c, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(c, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

static void counter_add(_Atomic uint64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* ---- open ------------------------------------------------------------- */

/* The pid written in a lock file, as text (digits only), or "unknown". */
static void lock_holder(int fd, char *out, size_t cap)
{
    char buf[32];
    ssize_t n = persist__pread_all(fd, buf, sizeof buf - 1, 0);
    size_t i = 0;
    while (n > 0 && i < (size_t)n && i + 1 < cap && buf[i] >= '0' && buf[i] <= '9') {
        out[i] = buf[i];
        i++;
    }
    snprintf(out + i, cap - i, "%s", i ? "" : "unknown");
}

/* Takes <dir>/LOCK with flock(LOCK_EX | LOCK_NB) before anything else in
 * the directory is read or written, and keeps the fd (O_CLOEXEC) open until
 * persist_close: a second server on the same directory is refused, and the
 * kernel releases the lock when the process dies, however it dies. Our pid
 * goes into the file for the message the second server prints. Start-up
 * thread. Returns 0 or -1 with err set. */
static int persist_lock(persist_t *p, char *err, size_t errlen)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/LOCK", p->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the lock file %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[24];
        lock_holder(fd, pid, sizeof pid);
        if (e == EWOULDBLOCK)
            snprintf(err, errlen,
                     "the data directory '%s' is in use by another mem-kv-server (pid %s holds "
                     "%s): two servers on one directory would overwrite each other's files",
                     p->dir, pid, path);
        else
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        close(fd);
        return -1;
    }
    char pid[24];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    /* write, then cut: a reader never sees an empty file */
    if (pwrite(fd, pid, (size_t)n, 0) != n || ftruncate(fd, n) != 0)
        kv_log_warn("cannot write the pid into %s: %s", path, strerror(errno));
    p->lock_fd = fd;
    return 0;
}

/* 1 if a shard-* directory of dir holds a WAL segment or a snapshot (its
 * name into found), 0 if none does, -1 if dir cannot be listed. */
static int persist_find_data(const char *dir, char *found, size_t cap)
{
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "shard-", 6) != 0) continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) >= (int)sizeof sub) continue;
        DIR *sd = opendir(sub);
        if (sd == NULL) continue; /* not a directory */
        struct dirent *f;
        while ((f = readdir(sd)) != NULL)
            if (strncmp(f->d_name, "wal-", 4) == 0 || strncmp(f->d_name, "snap-", 5) == 0) {
                snprintf(found, cap, "%s/%s", sub, f->d_name);
                rc = 1;
                break;
            }
        closedir(sd);
    }
    closedir(d);
    return rc;
}

/* No MANIFEST: a fresh directory gets one with a new random secret. A
 * directory that already holds segments or snapshots lost its MANIFEST:
 * a new one (new secret, no snapshot, first segment 1) would make recovery
 * ignore or misroute the data and the next compaction delete it, so it is
 * refused, whatever the recovery mode. Start-up thread. */
static int persist_create_manifest(persist_t *p, uint32_t nshards, kv_hash_secret *secret,
                                   char *err, size_t errlen)
{
    char found[PATH_MAX + 300];
    int has = persist_find_data(p->dir, found, sizeof found);
    if (has != 0) {
        if (has > 0)
            snprintf(err, errlen,
                     "the data directory '%s' has no MANIFEST but holds data files (%s): the "
                     "MANIFEST was deleted or lost. Refusing to start (in every recovery mode), "
                     "as a new one would not match them: restore %s/MANIFEST, or move the "
                     "shard-* directories away to start empty",
                     p->dir, found, p->dir);
        else
            snprintf(err, errlen, "cannot list the data directory '%s': %s", p->dir,
                     strerror(errno));
        return -1;
    }
    if (kv_hash_secret_random(secret) != 0 || manifest_init(&p->man, nshards, secret) != 0 ||
        manifest_write(p->dir, &p->man) != 0) {
        snprintf(err, errlen, "cannot create the MANIFEST in '%s': %s", p->dir, strerror(errno));
        return -1;
    }
    kv_log("Created data directory %s (%u shards)", p->dir, nshards);
    return 0;
}

persist_t *persist_open(const persist_opts *o, uint32_t nshards, kv_hash_secret *secret, char *err,
                        size_t errlen)
{
    persist_t *p = kv_xcalloc(1, sizeof *p);
    p->o = *o;
    snprintf(p->dir, sizeof p->dir, "%s", o->dir);
    p->o.dir = p->dir;
    p->lock_fd = -1;
    atomic_init(&p->txid_next, 1);
    p->nshards = nshards;
    persist__failpoint_init(); /* test-only: MEMKV_FAILPOINT */
    pthread_mutex_init(&p->man_lock, NULL);
    pthread_mutex_init(&p->sync_lock, NULL);
    pthread_cond_init(&p->sync_work, NULL);
    pthread_cond_init(&p->sync_done, NULL);
    if (mkdir(p->dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data directory '%s': %s", p->dir, strerror(errno));
        goto fail;
    }
    if (persist_lock(p, err, errlen) != 0) goto fail;
    char why[256] = "";
    int rc = manifest_read(p->dir, &p->man, why, sizeof why);
    if (rc == 1) {
        if (persist_create_manifest(p, nshards, secret, err, errlen) != 0) goto fail;
    } else if (rc != 0) {
        snprintf(err, errlen, "cannot read %s/MANIFEST: %s", p->dir,
                 why[0] ? why : kv_strerror(rc));
        goto fail;
    } else if (p->man.nshards != nshards) {
        snprintf(err, errlen,
                 "the data directory '%s' holds %u shards but --shards is %u: start with "
                 "--shards %u (re-sharding an existing directory is not supported yet)",
                 p->dir, p->man.nshards, nshards, p->man.nshards);
        goto fail;
    } else {
        *secret = p->man.secret;
    }
    p->sh = kv_xcalloc(nshards, sizeof *p->sh);
    for (uint32_t s = 0; s < nshards; s++) {
        p->sh[s].id = s;
        p->sh[s].fsync_ns = kv_xmalloc(sizeof *p->sh[s].fsync_ns);
        hist_init(p->sh[s].fsync_ns);
        if (wal_shard_dir(p->sh[s].dir, sizeof p->sh[s].dir, p->dir, s) != 0) {
            snprintf(err, errlen, "data directory path too long: '%s'", p->dir);
            goto fail;
        }
    }
    return p;
fail:
    persist_close(p);
    return NULL;
}

/* ---- whole hashes as records --------------------------------------------- */

/* A hash's PUT record holds at most this much of its encoding; the other
 * fields follow as HSET records, so no record nears WAL_REC_MAX_PAYLOAD. */
#define PERSIST_HASH_CHUNK (64u << 20)

/* Sinks for persist_write_hash: the PUT record of the hash (val: the
 * hobj_encode bytes of some of its fields) and one HSET per other field. */
typedef int persist_put_fn(void *ctx, const kv_entry *e, const kv_str *val);
typedef int persist_hset_fn(void *ctx, const kv_str *key, const kv_str *f, const kv_str *v);

typedef struct hash_writer {
    kvbuf body;    /* pairs of the PUT record */
    uint64_t n;    /* pairs in body */
    uint64_t seen; /* fields visited by the current pass */
    int overflow;  /* a field did not fit in body */
    kv_str key;
    persist_hset_fn *hset;
    void *ctx;
    int rc;
} hash_writer;

static void hash_chunk_visit(void *arg, const kv_str *f, const kv_str *v)
{
    hash_writer *w = arg;
    if (w->overflow) return;
    if (w->n > 0 && w->body.len + f->len + v->len + 20 > PERSIST_HASH_CHUNK) {
        w->overflow = 1;
        return;
    }
    hobj_encode_pair(&w->body, f, v);
    w->n++;
}

static void hash_rest_visit(void *arg, const kv_str *f, const kv_str *v)
{
    hash_writer *w = arg;
    if (w->seen++ < w->n || w->rc != 0) return;
    w->rc = w->hset(w->ctx, &w->key, f, v);
}

/* Writes hash e whole: PUT (with the expiry) then HSETs. Returns 0 or the
 * first sink error. */
static int persist_write_hash(const kv_entry *e, persist_put_fn *put, persist_hset_fn *hset,
                              void *ctx)
{
    kv_entry *m = (kv_entry *)(uintptr_t)e; /* only read */
    hobj_t *h = entry_hobj(m);
    hash_writer w = {.key = {entry_key(m), e->klen}, .hset = hset, .ctx = ctx};
    kvbuf_init(&w.body);
    hobj_foreach(h, hash_chunk_visit, &w);
    kvbuf val;
    kvbuf_init(&val);
    hobj_encode_varint(&val, w.n);
    kvbuf_append(&val, w.body.data, w.body.len);
    kvbuf_destroy(&w.body);
    kv_str v = {val.data, val.len};
    w.rc = put(ctx, e, &v);
    kvbuf_destroy(&val);
    if (w.rc == 0 && w.overflow) hobj_foreach(h, hash_rest_visit, &w);
    return w.rc;
}

/* ---- recovery ----------------------------------------------------------- */

typedef struct recover_job {
    persist_t *p;
    shard_t *shards;
    _Atomic uint32_t next; /* next shard to take */
    _Atomic int failed;
    pthread_mutex_t lock; /* guards the totals and err below */
    persist_recovery total;
    char err[700];
    int rc;
    int scan; /* the transactions' pre-pass: nothing applied */
} recover_job;

/* The entry of key without lazy expiry: replay must see keys whose TTL
 * passed while the server was down, because later field records still
 * apply to them (the sweep after replay removes what is expired). */
static kv_entry *rec_find(shard_t *s, const kv_str *key)
{
    return ht_find_db(&s->table, shard_hash(s, key->p, key->len), s->db, key->p, key->len);
}

static int rec_put_hash(shard_t *s, const wal_rec *r)
{
    hobj_t *h = hobj_decode(s->secret, r->val.p, r->val.len);
    if (h == NULL || hobj_len(h) == 0) {
        hobj_free(h);
        return KV_EPROTO;
    }
    kv_entry *old = rec_find(s, &r->key);
    if (old != NULL) shard_remove(s, old);
    shard_hash_put(s, r->key.p, r->key.len, h, r->expire_ms);
    return 0;
}

/* A list or set PUT: the whole value (lobj_encode / sobj_encode bytes). */
static int rec_put_obj(shard_t *s, const wal_rec *r)
{
    void *obj = entry_obj_decode(s->secret, r->vtype, r->val.p, r->val.len);
    if (obj == NULL) return KV_EPROTO;
    kv_entry *old = rec_find(s, &r->key);
    if (old != NULL) shard_remove(s, old);
    if (r->expire_ms >= 0 && r->expire_ms <= s->now_ms) {
        entry_obj_free(r->vtype, obj); /* expired while we were down */
        return 0;
    }
    shard_obj_put(s, r->key.p, r->key.len, r->vtype, obj, r->expire_ms);
    return 0;
}

static int rec_put(void *ctx, const wal_rec *r)
{
    shard_t *s = ctx;
    if (r->vtype == KV_TYPE_HASH) return rec_put_hash(s, r);
    if (r->vtype == KV_TYPE_LIST || r->vtype == KV_TYPE_SET || r->vtype == KV_TYPE_ZSET)
        return rec_put_obj(s, r);
    if (r->vtype == KV_TYPE_LIST_DELTA)
        return cmd_list_replay(s, &r->key, r->val.p, r->val.len) ? KV_EPROTO : 0;
    if (r->vtype == KV_TYPE_SET_DELTA)
        return cmd_set_replay(s, &r->key, r->val.p, r->val.len) ? KV_EPROTO : 0;
    if (r->vtype != KV_TYPE_STRING) return KV_EPROTO;
    if (r->expire_ms >= 0 && r->expire_ms <= s->now_ms) {
        shard_del(s, r->key.p, r->key.len); /* expired while we were down */
        return 0;
    }
    shard_put(s, r->key.p, r->key.len, r->val.p, r->val.len, r->expire_ms);
    return 0;
}

static int rec_hset(void *ctx, const wal_rec *r)
{
    shard_t *s = ctx;
    kv_entry *e = rec_find(s, &r->key);
    if (e != NULL && e->type != KV_TYPE_HASH) {
        shard_remove(s, e);
        e = NULL;
    }
    if (e == NULL) e = shard_hash_add(s, r->key.p, r->key.len);
    shard_hash_set(s, e, &r->field, &r->val);
    return 0;
}

static int rec_hdel(void *ctx, const wal_rec *r)
{
    shard_t *s = ctx;
    int gone;
    kv_entry *e = rec_find(s, &r->key);
    if (e != NULL && e->type == KV_TYPE_HASH) shard_hash_del(s, e, &r->field, &gone);
    return 0;
}

static int rec_expire(void *ctx, const wal_rec *r)
{
    shard_t *s = ctx;
    kv_entry *e = rec_find(s, &r->key);
    if (e != NULL) shard_update(s, e, entry_val(e), e->vlen, r->expire_ms);
    return 0;
}

static void rec_sweep_visit(void *arg, kv_entry *e)
{
    shard_t *s = arg;
    if (shard_expired(s, e)) shard_drop_expired(s, e);
}

/* Removes the keys whose TTL passed while the server was down. */
static void rec_sweep(shard_t *s)
{
    if (s->volatile_keys > 0) ht_foreach(&s->table, rec_sweep_visit, s);
}

static int rec_del(void *ctx, const char *key, size_t klen)
{
    shard_del(ctx, key, klen);
    return 0;
}

static int rec_clear(void *ctx)
{
    shard_clear(ctx);
    return 0;
}

static int rec_db(void *ctx, unsigned db)
{
    shard_t *s = ctx;
    s->db = (uint8_t)db;
    return 0;
}

static int rec_clear_db(void *ctx, unsigned db)
{
    shard_clear_db(ctx, db);
    return 0;
}

static void *recover_thread(void *arg)
{
    recover_job *j = arg;
    persist_t *p = j->p;
    static const recover_ops ops = {rec_put,  rec_del,    rec_clear, rec_hset,
                                    rec_hdel, rec_expire, rec_db,    rec_clear_db};
    uint32_t s;
    while (!atomic_load(&j->failed) && (s = atomic_fetch_add(&j->next, 1)) < p->nshards) {
        shard_t *sh = &j->shards[s];
        sh->now_ms = kv_time_ms();
        recover_tx_ops txo = {txlog_part, txlog_abort, txlog_floor, txlog_keep, p->tx};
        recover_opts ro = {.shard_dir = p->sh[s].dir,
                           .shard = s,
                           .snap_seq = p->man.shards[s].snap_seq,
                           .first_seq = p->man.shards[s].first_seq,
                           .last_seq = p->man.shards[s].last_seq,
                           .keep_prefix = p->o.keep_prefix,
                           .scan_only = j->scan,
                           .tx = &txo};
        recover_result *res = kv_xcalloc(1, sizeof *res);
        int rc = recover_shard(&ro, &ops, sh, res);
        if (rc == 0 && !j->scan) rec_sweep(sh);
        pthread_mutex_lock(&j->lock);
        if (rc == 0 && j->scan) {
            pthread_mutex_unlock(&j->lock);
            free(res);
            continue;
        }
        if (rc != 0) {
            if (!atomic_exchange(&j->failed, 1)) {
                j->rc = rc;
                snprintf(j->err, sizeof j->err, "recovery of shard %u failed: %s", s,
                         res->msg[0] ? res->msg : kv_strerror(rc));
            }
        } else {
            j->total.snap_entries += res->snap_entries;
            j->total.records += res->records;
            j->total.cut_bytes += res->cut_bytes;
            j->total.keys += ht_count(&sh->table);
            if (res->missing_to)
                kv_log_warn("shard %u: WAL segments %llu..%llu are MISSING (the MANIFEST records "
                            "them as written): keeping what is there, their records are lost",
                            s, (unsigned long long)res->missing_from,
                            (unsigned long long)res->missing_to);
            if (res->cut_bytes || res->stopped) kv_log_warn("shard %u: %s", s, res->msg);
            if (res->tx_skipped)
                kv_log_warn("shard %u: dropped %llu part(s) (%llu records) of transactions "
                            "whose other parts are not all in the log",
                            s, (unsigned long long)res->tx_skipped,
                            (unsigned long long)res->tx_skipped_records);
            p->sh[s].lossy = res->stopped || res->missing_to;
            /* where the new segment starts, for persist_attach */
            atomic_store(&p->sh[s].log_bytes, res->log_bytes);
            p->sh[s].next_seq = res->next_seq;
            p->sh[s].prev_end = res->prev_end;
        }
        pthread_mutex_unlock(&j->lock);
        free(res);
    }
    return NULL;
}

/* Runs job j (every shard, nthreads at a time). */
static void recover_run(recover_job *j, unsigned nthreads)
{
    pthread_t *th = kv_xcalloc(nthreads, sizeof *th);
    unsigned started = 0;
    for (unsigned i = 1; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, recover_thread, j) == 0) started++;
    recover_thread(j); /* this thread works too */
    for (unsigned i = 1; i <= started; i++) pthread_join(th[i], NULL);
    free(th);
}

int persist_recover(persist_t *p, shard_t *shards, unsigned nthreads, persist_recovery *out,
                    char *err, size_t errlen)
{
    if (nthreads < 1) nthreads = 1;
    if (nthreads > p->nshards) nthreads = p->nshards;
    /* Pre-pass: which transactions over several shards have every part in
     * the logs (or compacted); the replay applies only those. */
    int64_t t0 = kv_mono_us();
    txlog_free(p->tx);
    p->tx = txlog_new(p->nshards);
    if (p->tx == NULL) {
        snprintf(err, errlen, "recovery: out of memory");
        return KV_ENOMEM;
    }
    recover_job pre = {.p = p, .shards = shards, .scan = 1};
    atomic_init(&pre.next, 0);
    atomic_init(&pre.failed, 0);
    pthread_mutex_init(&pre.lock, NULL);
    recover_run(&pre, nthreads);
    pthread_mutex_destroy(&pre.lock);
    if (atomic_load(&pre.failed)) {
        snprintf(err, errlen, "%s", pre.err);
        return pre.rc ? pre.rc : KV_EIO;
    }
    if (txlog_decide(p->tx, &p->tx_dropped) != 0) {
        snprintf(err, errlen, "recovery: out of memory");
        return KV_ENOMEM;
    }
    atomic_store(&p->txid_next, txlog_next_id(p->tx));
    if (p->tx_dropped)
        kv_log_warn("recovery: dropped %llu transaction(s) over several shards whose parts were "
                    "not all written before the crash (none of their changes is applied)",
                    (unsigned long long)p->tx_dropped);
    recover_job j = {.p = p, .shards = shards};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.lock, NULL);
    recover_run(&j, nthreads);
    pthread_mutex_destroy(&j.lock);
    j.total.elapsed_us = kv_mono_us() - t0;
    *out = j.total;
    if (atomic_load(&j.failed)) {
        snprintf(err, errlen, "%s", j.err);
        return j.rc ? j.rc : KV_EIO;
    }
    return 0;
}

/* ---- attach and the worker ---------------------------------------------- */

/* Records in the MANIFEST, per shard, the newest WAL segment that is
 * durable (last_seq), so that start-up can tell a deleted last segment from
 * a log that ended there. at_start (persist_attach, after the segments of
 * this run were created): every shard's last_seq becomes its new segment,
 * lower than before only when keep-prefix recovery gave segments up.
 * Otherwise (the worker, persist_close) last_seq only grows, and the
 * manifest is written only if one did. Start-up thread, then the worker
 * thread, then the shutdown thread: one at a time. Returns 0, or -1 with
 * err set (when given) if the manifest could not be written. */
static int persist_note_segments(persist_t *p, int at_start, char *err, size_t errlen)
{
    pthread_mutex_lock(&p->man_lock);
    int changed = 0;
    for (uint32_t s = 0; s < p->nshards; s++) {
        if (p->sh[s].wal == NULL) continue;
        uint64_t seq = wal_durable_seq(p->sh[s].wal);
        manifest_shard *m = &p->man.shards[s];
        if (seq == m->last_seq || (!at_start && seq < m->last_seq)) continue;
        m->last_seq = seq;
        changed = 1;
    }
    int rc = changed ? manifest_write(p->dir, &p->man) : 0;
    pthread_mutex_unlock(&p->man_lock);
    if (rc == 0) return 0;
    /* In memory last_seq stays ahead: the next write that succeeds has it. */
    if (err)
        snprintf(err, errlen, "cannot update %s/MANIFEST: %s", p->dir, kv_strerror(rc));
    else
        kv_log_warn("cannot record the newest WAL segments in %s/MANIFEST: %s", p->dir,
                    kv_strerror(rc));
    return -1;
}

/* Start-up, after wal_open: a TXABORT for every part of a transaction
 * recovery dropped, in the part's shard, written and synced before any
 * request: a later compaction of another participant (its TXFLOOR above
 * the txid) must not make the part look complete to the next recovery. */
static int persist_write_aborts(persist_t *p)
{
    if (p->tx == NULL) return 0;
    int rc = 0;
    for (size_t i = 0; i < txlog_ndrops(p->tx) && rc == 0; i++) {
        uint32_t s;
        uint64_t id;
        txlog_drop(p->tx, i, &s, &id);
        if (s < p->nshards) rc = wal_append_txabort(p->sh[s].wal, id);
    }
    for (uint32_t s = 0; s < p->nshards && rc == 0; s++) {
        if (wal_pending(p->sh[s].wal) == 0) continue;
        rc = wal_commit(p->sh[s].wal);
        if (rc == 0) rc = wal_sync(p->sh[s].wal);
    }
    txlog_free(p->tx);
    p->tx = NULL;
    return rc;
}

int persist_attach(persist_t *p, shard_t *shards, char *err, size_t errlen)
{
    for (uint32_t s = 0; s < p->nshards; s++) {
        pshard *ps = &p->sh[s];
        wal_opts wo = {.segment_max = p->o.segment_max,
                       .fsync = p->o.fsync,
                       .initial_log_bytes = atomic_load(&ps->log_bytes)};
        uint64_t seq = ps->next_seq ? ps->next_seq : p->man.shards[s].first_seq;
        uint64_t prev_end = ps->next_seq ? ps->prev_end : WAL_PREV_ANY;
        int rc = wal_open(&ps->wal, ps->dir, s, seq, prev_end, &wo);
        if (rc != 0) {
            snprintf(err, errlen, "cannot open the WAL of shard %u in %s: %s", s, ps->dir,
                     strerror(errno));
            return rc;
        }
        /* Leftovers of a compaction that crashed before its manifest switch
         * (or before its deletes): obsolete, as recovery found the log
         * complete - unless keep-prefix gave records up, when such a
         * snapshot may hold the only copy of them: then it is moved aside. */
        if (ps->lossy)
            snap_discard(ps->dir, p->man.shards[s].snap_seq);
        else
            snap_prune(ps->dir, p->man.shards[s].snap_seq);
        if (p->man.shards[s].snap_seq) {
            char path[PATH_MAX + 64];
            struct stat st;
            if (snap_path(path, sizeof path, ps->dir, p->man.shards[s].snap_seq, 0) == 0 &&
                stat(path, &st) == 0)
                atomic_store(&ps->snap_bytes, (uint64_t)st.st_size);
        }
        shards[s].log = &persist_wal_log_ops;
        shards[s].log_ctx = ps->wal;
    }
    if (persist_write_aborts(p) != 0) {
        snprintf(err, errlen, "cannot record the dropped transactions in the WAL in %s: %s", p->dir,
                 strerror(errno));
        return KV_EIO;
    }
    return persist_note_segments(p, 1, err, errlen);
}

/* How long a compaction waits for another shard to write its transaction
 * parts before it gives up (and is retried later). */
#define PERSIST_TX_WAIT_US 2000000

/* Worker, compaction step 5: the snapshot may hold the changes of a
 * transaction whose other parts are in other shards' logs; once the
 * MANIFEST names the snapshot, this shard's part is gone from its log and
 * its TXFLOOR says "compacted past it", so those other parts must be
 * durable first. Waits until every shard has written the parts appended
 * so far (each owner commits at the end of its round) and syncs them.
 * Returns 0, or KV_EIO (a log fails, or too long a wait). */
static int tx_parts_durable(persist_t *p, pshard *self)
{
    for (uint32_t s = 0; s < p->nshards; s++) {
        pshard *ps = &p->sh[s];
        uint64_t want = atomic_load_explicit(&ps->tx_added, memory_order_acquire);
        if (ps == self || want == 0) continue;
        int64_t deadline = kv_mono_us() + PERSIST_TX_WAIT_US;
        while (atomic_load_explicit(&ps->tx_committed, memory_order_acquire) < want) {
            if (wal_status(ps->wal) != 0 || atomic_load(&p->stop) || kv_mono_us() > deadline)
                return KV_EIO;
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (wal_sync(ps->wal) != 0) return KV_EIO;
    }
    return 0;
}

/* Worker: finishes one compaction whose snapshot has been fed. */
static void worker_finish(persist_t *p, pshard *ps)
{
    uint64_t bytes = snap_bytes(ps->snap);
    int rc = snap_finish(ps->snap); /* trailer, fsync, rename, fsync dir */
    ps->snap = NULL;
    if (rc == 0) rc = tx_parts_durable(p, ps); /* the other parts of its transactions */
    if (rc == 0) rc = wal_sync(ps->wal);       /* the redo from snap_seq is durable */
    if (rc == 0) persist__failpoint("compact-wal-synced");
    if (rc == 0) {
        pthread_mutex_lock(&p->man_lock);
        manifest_shard old = p->man.shards[ps->id];
        p->man.shards[ps->id].snap_seq = ps->snap_seq;
        p->man.shards[ps->id].first_seq = ps->snap_seq;
        /* segment snap_seq is durable (the wal_sync above, or an earlier
         * one before a later rotation): last_seq never falls below it */
        if (p->man.shards[ps->id].last_seq < ps->snap_seq)
            p->man.shards[ps->id].last_seq = ps->snap_seq;
        rc = manifest_write(p->dir, &p->man);
        if (rc != 0) p->man.shards[ps->id] = old; /* not switched: delete nothing */
        if (rc == 0) persist__failpoint("compact-manifest-switched");
        pthread_mutex_unlock(&p->man_lock);
    }
    if (rc == 0) {
        wal_prune(ps->dir, ps->snap_seq);
        snap_prune(ps->dir, ps->snap_seq);
        persist__failpoint("compact-pruned");
        atomic_store(&ps->snap_bytes, bytes);
        counter_add(&p->compactions, 1);
        kv_log("shard %u: compaction done, snapshot %llu (%llu bytes)", ps->id,
               (unsigned long long)ps->snap_seq, (unsigned long long)bytes);
        atomic_store(&ps->state, C_DONE);
    } else {
        kv_log_warn("shard %u: compaction failed: %s", ps->id, kv_strerror(rc));
        atomic_store(&ps->state, C_FAILED);
    }
}

/* Syncs a shard's log and counts the time if an fdatasync happened. */
static int timed_sync(persist_t *p, pshard *ps)
{
    uint64_t before = wal_sync_count(ps->wal);
    uint64_t t0 = hist_clock_ns();
    int rc = wal_sync(ps->wal);
    uint64_t ns = hist_clock_ns() - t0, us = ns / 1000;
    if (wal_sync_count(ps->wal) != before) {
        hist_record(ps->fsync_ns, ns);
        counter_add(&p->fsyncs, 1);
        counter_add(&p->fsync_us_total, us);
        counter_max(&p->fsync_us_max, us);
    }
    if (rc != 0) counter_add(&p->failures, 1);
    return rc;
}

static void worker_sync(persist_t *p, pshard *ps)
{
    (void)timed_sync(p, ps);
}

static void *worker_main(void *arg)
{
    persist_t *p = arg;
    int64_t next_sync = kv_mono_us();
    int64_t period = (int64_t)(p->o.fsync_interval_ms > 0 ? p->o.fsync_interval_ms : 100) * 1000;
    while (!atomic_load(&p->stop)) {
        int64_t now = kv_mono_us();
        if (p->o.fsync == WAL_FSYNC_INTERVAL && now >= next_sync) {
            for (uint32_t s = 0; s < p->nshards; s++) worker_sync(p, &p->sh[s]);
            next_sync = now + period;
        }
        if (now >= p->next_seg_note_us) { /* segments rotations made durable */
            (void)persist_note_segments(p, 0, NULL, 0);
            p->next_seg_note_us = now + PERSIST_SEG_NOTE_US;
        }
        for (uint32_t s = 0; s < p->nshards; s++) {
            pshard *ps = &p->sh[s];
            switch (atomic_load(&ps->state)) {
            case C_SCANNING:                       /* the actor feeds it: write what it queued */
                (void)snap_write_queued(ps->snap); /* an error stops the feeder */
                break;
            case C_FINISHING:
                worker_finish(p, ps);
                break;
            case C_ABORTING:
                snap_abort(ps->snap);
                ps->snap = NULL;
                atomic_store(&ps->state, C_FAILED);
                break;
            default:
                break;
            }
        }
        struct timespec ts = {0, 5 * 1000 * 1000}; /* 5 ms: compaction hand-offs */
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void *sync_thread(void *arg);

int persist_start(persist_t *p)
{
    if (pthread_create(&p->worker, NULL, worker_main, p) != 0) return KV_ENOMEM;
    p->worker_started = 1;
    if (p->o.fsync == WAL_FSYNC_ALWAYS)
        for (int i = 0; i < PERSIST_SYNC_THREADS; i++) {
            if (pthread_create(&p->sync_th[i], NULL, sync_thread, p) != 0) break;
            p->nsync_th++;
        }
    return 0;
}

/* ---- per batch ---------------------------------------------------------- */

/* Takes and runs items of set until none is left to take. */
static void sync_set_work(persist_t *p, sync_set *set)
{
    unsigned i;
    while ((i = atomic_fetch_add(&set->next, 1)) < set->n) {
        if (timed_sync(p, set->items[i]) != 0) {
            set->items[i]->sync_failed = 1; /* owner actor reads it after the wait */
            atomic_fetch_add(&set->failed, 1);
        }
        atomic_fetch_sub(&set->remaining, 1);
    }
}

/* Sync threads: help with the set at the head of the queue. A set is only
 * touched by a thread that registered as its user under sync_lock, and the
 * actor waits for its users to leave before its stack frame goes. */
static void *sync_thread(void *arg)
{
    persist_t *p = arg;
    pthread_mutex_lock(&p->sync_lock);
    while (!atomic_load(&p->stop)) {
        sync_set *set = p->sync_queue;
        if (set == NULL) {
            pthread_cond_wait(&p->sync_work, &p->sync_lock);
            continue;
        }
        if (atomic_load(&set->next) >= set->n) {
            p->sync_queue = set->link; /* nothing left to take: unlink it */
            set->queued = 0;
            continue;
        }
        set->users++;
        pthread_mutex_unlock(&p->sync_lock);
        sync_set_work(p, set);
        pthread_mutex_lock(&p->sync_lock);
        if (--set->users == 0) pthread_cond_broadcast(&p->sync_done);
    }
    pthread_mutex_unlock(&p->sync_lock);
    return NULL;
}

/* Runs the syncs of items[0..n) in parallel with the sync threads; returns
 * the number that failed. Owner actor. */
static unsigned sync_parallel(persist_t *p, pshard **items, unsigned n)
{
    sync_set set = {.items = items, .n = n, .queued = 1};
    atomic_init(&set.next, 0);
    atomic_init(&set.remaining, n);
    atomic_init(&set.failed, 0);
    pthread_mutex_lock(&p->sync_lock);
    set.link = p->sync_queue;
    p->sync_queue = &set;
    pthread_cond_broadcast(&p->sync_work);
    pthread_mutex_unlock(&p->sync_lock);

    sync_set_work(p, &set);

    pthread_mutex_lock(&p->sync_lock);
    if (set.queued) /* still queued: unlink it so no new user finds it */
        for (sync_set **q = &p->sync_queue; *q; q = &(*q)->link)
            if (*q == &set) {
                *q = set.link;
                break;
            }
    while (set.users > 0) pthread_cond_wait(&p->sync_done, &p->sync_lock);
    pthread_mutex_unlock(&p->sync_lock);
    /* every item was taken; the users that took the last ones are gone */
    return atomic_load(&set.failed);
}

/* Most bytes the log buffers of one actor's shards may hold (records
 * written and kept until synced, with fsync interval): past it the actor
 * syncs them itself, so a write burst waits for the disk instead of
 * growing the buffers without bound. */
#define PERSIST_BUF_MAX (8u << 20)

/* Owner actor: syncs the actor's shards whose written bytes are still kept
 * in memory once they hold more than PERSIST_BUF_MAX together, then frees
 * the copies. Returns the number of shards whose sync failed. */
static unsigned persist_bound_buffers(persist_t *p, unsigned first, unsigned stride)
{
    uint64_t held = 0;
    for (unsigned s = first; s < p->nshards; s += stride) {
        wal_stats st;
        wal_get_stats(p->sh[s].wal, &st);
        held += st.unsynced_bytes;
    }
    if (held <= PERSIST_BUF_MAX) return 0;
    unsigned failed = 0;
    for (unsigned s = first; s < p->nshards; s += stride) {
        pshard *ps = &p->sh[s];
        if (ps->failed) continue;
        int rc = timed_sync(p, ps);
        if (rc == 0) rc = wal_commit(ps->wal); /* nothing pending: trims the copy */
        persist_note(p, ps, rc != 0);
        failed += rc != 0;
    }
    return failed;
}

/* Owner actor, after a good wal_commit: the transaction parts appended
 * so far are written (tx_parts_durable waits for this). */
static void tx_note_commit(pshard *ps)
{
    uint64_t a = atomic_load_explicit(&ps->tx_added, memory_order_relaxed);
    if (a != atomic_load_explicit(&ps->tx_committed, memory_order_relaxed))
        atomic_store_explicit(&ps->tx_committed, a, memory_order_release);
}

int persist_batch_commit(persist_t *p, unsigned first, unsigned stride)
{
    if (p == NULL) return 0;
    pshard *touched[64];
    unsigned ntouched = 0, failed = 0, writes = 0;
    for (unsigned s = first; s < p->nshards; s += stride) {
        pshard *ps = &p->sh[s];
        size_t pending = wal_pending(ps->wal);
        if (pending == 0 && !ps->failed && wal_status(ps->wal) == 0) continue;
        int rc = wal_commit(ps->wal);
        writes += pending > 0;
        counter_add(&p->bytes, pending);
        if (rc == 0) tx_note_commit(ps);
        persist_note(p, ps, rc != 0);
        if (rc != 0) {
            failed++;
            counter_add(&p->failures, 1);
        } else if (p->o.fsync == WAL_FSYNC_ALWAYS && !wal_durable(ps->wal)) {
            if (ntouched < 64) {
                touched[ntouched++] = ps;
            } else {
                persist_note(p, ps, timed_sync(p, ps) != 0);
                failed += ps->failed;
            }
        }
    }
    /* fsync always: every write of the batch is out; now one fdatasync per
     * touched shard, in parallel */
    if (ntouched == 1) {
        touched[0]->sync_failed = timed_sync(p, touched[0]) != 0;
    } else if (ntouched > 1) {
        sync_parallel(p, touched, ntouched);
    }
    for (unsigned i = 0; i < ntouched; i++) {
        persist_note(p, touched[i], touched[i]->sync_failed);
        failed += touched[i]->sync_failed;
        touched[i]->sync_failed = 0;
    }
    if (p->o.fsync == WAL_FSYNC_INTERVAL) failed += persist_bound_buffers(p, first, stride);
    if (writes > 0) {
        counter_add(&p->batches, 1);
        counter_add(&p->writes, writes);
        counter_max(&p->max_writes, writes);
    }
    return (int)failed;
}

/* Owner actor: one more attempt at a failing log, at most every 10 ms:
 * a commit (which moves to a fresh segment and rewrites what was not
 * durable) and, with fsync always, the sync. */
static void persist_retry(persist_t *p, pshard *ps)
{
    int64_t now = kv_mono_us();
    if (now < ps->retry_at_us) return;
    ps->retry_at_us = now + 10000;
    int rc = wal_commit(ps->wal);
    if (rc == 0) tx_note_commit(ps);
    if (rc == 0 && p->o.fsync == WAL_FSYNC_ALWAYS) rc = timed_sync(p, ps);
    persist_note(p, ps, rc != 0 || wal_status(ps->wal) != 0);
}

int persist_shard_failed(persist_t *p, uint32_t shard)
{
    if (p == NULL) return 0;
    pshard *ps = &p->sh[shard];
    if (!ps->failed && wal_status(ps->wal) == 0) return 0;
    /* A write is waiting: try the log again now (at most every 10 ms)
     * rather than at the next tick, so writes resume as soon as the disk
     * takes them again, on every shard. */
    persist_retry(p, ps);
    return ps->failed || wal_status(ps->wal) != 0;
}

int persist_shard_ok(persist_t *p, uint32_t shard)
{
    return p == NULL || (!p->sh[shard].failed && wal_status(p->sh[shard].wal) == 0);
}

int persist_shard_durable(persist_t *p, uint32_t shard)
{
    if (p == NULL) return 1;
    pshard *ps = &p->sh[shard];
    if (!ps->failed && wal_durable(ps->wal)) return 1;
    persist_retry(p, ps);
    if (!ps->failed && !wal_durable(ps->wal) && p->o.fsync == WAL_FSYNC_ALWAYS)
        persist_note(p, ps, timed_sync(p, ps) != 0);
    return !ps->failed && wal_durable(ps->wal);
}

size_t persist_shard_buffer_bytes(persist_t *p, uint32_t shard)
{
    if (p == NULL || p->sh[shard].wal == NULL) return 0;
    wal_stats st;
    wal_get_stats(p->sh[shard].wal, &st);
    return (size_t)st.buffer_bytes;
}

void persist_misconf(persist_t *p, uint32_t shard, char *buf, size_t cap)
{
    wal_stats st;
    wal_get_stats(p->sh[shard].wal, &st);
    snprintf(buf, cap, "MISCONF Errors writing to the write-ahead log: %s",
             st.sys_errno ? strerror(st.sys_errno) : kv_strerror(wal_status(p->sh[shard].wal)));
}

/* ---- compaction, on the owner actor ------------------------------------- */

typedef struct slice_ctx {
    shard_t *s;
    snap_writer_t *snap;
    int rc;
    unsigned db; /* the database of the entry being written */
} slice_ctx;

static int slice_put(void *ctx, const kv_entry *e, const kv_str *val)
{
    slice_ctx *c = ctx;
    kv_entry *m = (kv_entry *)(uintptr_t)e;
    int rc = entry_db(e) ? snap_add_db(c->snap, entry_db(e)) : 0;
    if (rc) return rc;
    return snap_add_entry(c->snap, e->type, entry_key(m), e->klen, val->p, val->len,
                          entry_expire(e));
}

static int slice_hset(void *ctx, const kv_str *key, const kv_str *f, const kv_str *v)
{
    slice_ctx *c = ctx;
    int rc = c->db ? snap_add_db(c->snap, c->db) : 0;
    if (rc) return rc;
    return snap_add_hset(c->snap, key, f, v);
}

static void slice_add(void *arg, kv_entry *e)
{
    slice_ctx *c = arg;
    if (c->rc != 0 || shard_expired(c->s, e)) return;
    c->db = entry_db(e);
    if (e->type == KV_TYPE_HASH) {
        c->rc = persist_write_hash(e, slice_put, slice_hset, c);
        return;
    }
    if (c->db) c->rc = snap_add_db(c->snap, c->db);
    if (c->rc == 0 && kv_type_is_obj(e->type)) { /* a list or set: its whole encoding */
        kvbuf enc;
        kvbuf_init(&enc);
        entry_obj_encode(e, &enc);
        c->rc = snap_add_entry(c->snap, e->type, entry_key(e), e->klen, enc.data, enc.len,
                               entry_expire(e));
        kvbuf_destroy(&enc);
    } else if (c->rc == 0) {
        c->rc = snap_add_entry(c->snap, e->type, entry_key(e), e->klen, entry_val(e), e->vlen,
                               entry_expire(e));
    }
}

static void compact_begin(persist_t *p, pshard *ps)
{
    uint64_t seq;
    if (wal_rotate(ps->wal, &seq) != 0) {
        if (ps->compact_fail_us == 0) /* once per outage: retried every second */
            kv_log_warn("shard %u: compaction not started: cannot rotate the WAL", ps->id);
        ps->compact_fail_us = kv_mono_us();
        return;
    }
    /* TXFLOOR: every transaction with a part here and an id below it ran
     * before the rotation; written now, so that the step-5 sync covers it */
    if (wal_append_txfloor(ps->wal, atomic_load(&p->txid_next)) != 0 || wal_commit(ps->wal) != 0) {
        if (ps->compact_fail_us == 0)
            kv_log_warn("shard %u: compaction not started: cannot write the WAL", ps->id);
        ps->compact_fail_us = kv_mono_us();
        return;
    }
    tx_note_commit(ps);
    if (snap_begin(&ps->snap, ps->dir, ps->id, seq) != 0) {
        if (ps->compact_fail_us == 0)
            kv_log_warn("shard %u: compaction not started: cannot create the snapshot: %s", ps->id,
                        strerror(errno));
        ps->compact_fail_us = kv_mono_us();
        return;
    }
    ps->snap_seq = seq;
    ps->cursor = 0;
    ps->scan_started = 0;
    atomic_store(&ps->state, C_SCANNING);
}

/* One time-boxed slice of the fuzzy snapshot: at most t->budget_us, and
 * only PERSIST_SLICE_MIN_US once t->yield says requests are waiting. */
static void compact_slice(pshard *ps, shard_t *s, const persist_tick_opts *t)
{
    if (t->budget_us <= 0) return;                                /* paced: no credit */
    if (snap_queued(ps->snap) >= PERSIST_SNAP_MAX_QUEUED) return; /* the disk is behind */
    slice_ctx c = {s, ps->snap, 0, 0};
    int64_t now = kv_mono_us();
    int64_t end = now + t->budget_us, min_end = now + PERSIST_SLICE_MIN_US;
    do {
        ps->cursor = ht_scan(&s->table, ps->cursor, slice_add, &c);
        ps->scan_started = 1;
        now = kv_mono_us();
    } while (ps->cursor != 0 && c.rc == 0 && now < end &&
             (now < min_end || t->yield == NULL || !t->yield(t->yield_ctx)));
    if (c.rc != 0) {
        kv_log_warn("shard %u: compaction abandoned: %s", ps->id, kv_strerror(c.rc));
        atomic_store(&ps->state, C_ABORTING); /* the worker frees the writer */
        return;
    }
    if (ps->cursor == 0) atomic_store(&ps->state, C_FINISHING); /* the worker takes over */
}

/* A compaction that failed (or could not begin: the disk is full) is not
 * tried again for this long. */
#define PERSIST_COMPACT_BACKOFF_US 1000000

/* Microseconds left of the back-off after a failed compaction; 0: none. */
static int64_t compact_backoff(const pshard *ps)
{
    if (ps->compact_fail_us == 0) return 0;
    int64_t left = ps->compact_fail_us + PERSIST_COMPACT_BACKOFF_US - kv_mono_us();
    return left > 0 ? left : 0;
}

/* The log size at which shard ps is due for compaction (its share of
 * --compact-log-size, or twice its snapshot if that is larger); 0 when
 * only COMPACT compacts. */
static uint64_t compact_threshold(const persist_t *p, const pshard *ps)
{
    if (p->o.compact_log_bytes == 0) return 0;
    uint64_t share = p->o.compact_log_bytes / p->nshards, snap2 = 2 * atomic_load(&ps->snap_bytes);
    return share > snap2 ? share : snap2;
}

static int compact_due(persist_t *p, pshard *ps, const wal_stats *st)
{
    if (atomic_exchange(&ps->want_compact, 0)) return 1;
    uint64_t thr = compact_threshold(p, ps);
    if (thr == 0 || compact_backoff(ps) > 0) return 0;
    uint64_t total = 0;
    for (uint32_t s = 0; s < p->nshards; s++) total += atomic_load(&p->sh[s].log_bytes);
    /* past the soft bound a shard goes whatever the others hold */
    return (total >= p->o.compact_log_bytes || st->log_bytes >= PERSIST_LOG_SOFT * thr) &&
           st->log_bytes > thr;
}

/* How far past its threshold shard ps's log is, in 1/1000 (1000: at the
 * threshold); COMPACT asked for comes first. */
static uint64_t compact_urgency(const persist_t *p, const pshard *ps)
{
    uint64_t log = atomic_load_explicit(&ps->log_bytes, memory_order_relaxed);
    if (atomic_load(&ps->want_compact)) return UINT64_MAX / 2 + log / 1024;
    uint64_t thr = compact_threshold(p, ps);
    return thr ? log * 1000 / thr : 0;
}

int persist_compact_pick(persist_t *p, unsigned first, unsigned stride)
{
    if (p == NULL) return -1;
    int best = -1;
    uint64_t best_u = 1000; /* at least at the threshold */
    for (unsigned s = first; s < p->nshards; s += stride) {
        pshard *ps = &p->sh[s];
        if (atomic_load(&ps->state) != C_IDLE || ps->failed || compact_backoff(ps) > 0) continue;
        uint64_t u = compact_urgency(p, ps);
        if (u > best_u || (u == best_u && best < 0)) {
            best = (int)s;
            best_u = u;
        }
    }
    return best;
}

int persist_log_pressure(persist_t *p, uint32_t shard)
{
    if (p == NULL) return 0;
    pshard *ps = &p->sh[shard];
    uint64_t thr = compact_threshold(p, ps);
    if (thr == 0 || ps->failed) return 0;
    uint64_t log = atomic_load_explicit(&ps->log_bytes, memory_order_relaxed);
    if (log < PERSIST_LOG_SOFT * thr) return 0;
    /* writers wait only for a compaction that can make progress */
    int state = atomic_load(&ps->state);
    int progress = state == C_SCANNING || state == C_FINISHING || state == C_DONE ||
                   (state == C_IDLE && compact_backoff(ps) == 0);
    return log >= PERSIST_LOG_HARD * thr && progress ? 2 : 1;
}

int persist_tick(persist_t *p, shard_t *s, const persist_tick_opts *t)
{
    if (p == NULL) return 0;
    pshard *ps = &p->sh[s->id];
    if (ps->failed || wal_status(ps->wal) != 0) persist_retry(p, ps);
    wal_stats st;
    wal_get_stats(ps->wal, &st);
    /* An idle shard still frees the copies the flusher has made durable
     * (wal_commit trims them even with nothing pending). */
    if (st.unsynced_bytes > 0 && st.pending_bytes == 0 && !ps->failed)
        persist_note(p, ps, wal_commit(ps->wal) != 0); /* writes nothing: pending is empty */
    atomic_store_explicit(&ps->log_bytes, st.log_bytes, memory_order_relaxed);
    switch (atomic_load(&ps->state)) {
    case C_IDLE:
        if (t->may_begin && !ps->failed && compact_due(p, ps, &st)) compact_begin(p, ps);
        return atomic_load(&ps->state) == C_SCANNING;
    case C_SCANNING:
        compact_slice(ps, s, t);
        return atomic_load(&ps->state) == C_SCANNING;
    case C_DONE:
        ps->compact_fail_us = 0;
        wal_compacted(ps->wal, ps->snap_seq);
        atomic_store(&ps->state, C_IDLE);
        return 0;
    case C_FAILED:
        ps->compact_fail_us = kv_mono_us();
        atomic_store(&ps->state, C_IDLE);
        return 0;
    default: /* C_FINISHING, C_ABORTING: the worker has it */
        return 0;
    }
}

/* ---- transactions over several shards ----------------------------------- */

/* Shard s is in the transaction: inv[s % stride], or without inv the
 * shards of one actor (s % stride == first). */
static int tx_involved(const uint8_t *inv, unsigned first, unsigned stride, uint32_t s)
{
    return inv ? inv[s % stride] != 0 : s % stride == first;
}

/* Opens a transaction on the involved shards; 0 (and nothing done) when
 * one of them is in one already: a script inside a MULTI is part of the
 * EXEC's transaction. */
static int tx_begin(persist_t *p, const uint8_t *inv, unsigned first, unsigned stride)
{
    if (p == NULL) return 0;
    for (uint32_t s = 0; s < p->nshards; s++)
        if (tx_involved(inv, first, stride, s) && p->sh[s].tx_open) return 0;
    for (uint32_t s = 0; s < p->nshards; s++) {
        if (!tx_involved(inv, first, stride, s)) continue;
        p->sh[s].tx_start = wal_pending(p->sh[s].wal);
        p->sh[s].tx_open = 1;
    }
    return 1;
}

static int tx_grew(persist_t *p, const uint8_t *inv, unsigned first, unsigned stride, uint32_t s)
{
    return tx_involved(inv, first, stride, s) && wal_pending(p->sh[s].wal) > p->sh[s].tx_start;
}

static void tx_end(persist_t *p, const uint8_t *inv, unsigned first, unsigned stride)
{
    if (p == NULL) return;
    uint32_t local[64], *list = local;
    uint32_t n = 0;
    for (uint32_t s = 0; s < p->nshards; s++) {
        n += tx_grew(p, inv, first, stride, s);
        if (tx_involved(inv, first, stride, s)) p->sh[s].tx_open = 0;
    }
    if (n < 2) return; /* one shard's records are all or none by themselves */
    if (n > 64) list = kv_xmalloc(n * sizeof *list);
    n = 0;
    for (uint32_t s = 0; s < p->nshards; s++)
        if (tx_grew(p, inv, first, stride, s)) list[n++] = s;
    uint64_t id = atomic_fetch_add_explicit(&p->txid_next, 1, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        pshard *ps = &p->sh[list[i]];
        (void)wal_insert_tx(ps->wal, ps->tx_start, id, list, n); /* a failure is sticky */
        atomic_store_explicit(&ps->tx_added, id, memory_order_relaxed);
    }
    if (list != local) free(list);
}

void persist_tx_begin(persist_t *p, const uint8_t *inv, unsigned stride)
{
    (void)tx_begin(p, inv, 0, stride);
}

void persist_tx_end(persist_t *p, const uint8_t *inv, unsigned stride)
{
    tx_end(p, inv, 0, stride);
}

int persist_tx_begin_actor(persist_t *p, unsigned first, unsigned stride)
{
    return tx_begin(p, NULL, first, stride);
}

void persist_tx_end_actor(persist_t *p, unsigned first, unsigned stride)
{
    tx_end(p, NULL, first, stride);
}

void persist_compact_all(persist_t *p)
{
    if (p == NULL) return;
    for (uint32_t s = 0; s < p->nshards; s++) atomic_store(&p->sh[s].want_compact, 1);
}

const char *persist_errno_text(int e)
{
    switch (e) {
    case 0:
        return "";
    case ENOSPC:
        return "ENOSPC No space left on device";
    case EIO:
        return "EIO Input/output error";
    case EDQUOT:
        return "EDQUOT Disk quota exceeded";
    case EROFS:
        return "EROFS Read-only file system";
    case EFBIG:
        return "EFBIG File too large";
    case ENOMEM:
        return "ENOMEM Cannot allocate memory";
    default:
        return errno_name(e);
    }
}

void persist_get_stats(persist_t *p, persist_stats *st)
{
    memset(st, 0, sizeof *st);
    if (p == NULL) return;
#define LOAD(f) st->f = atomic_load_explicit(&p->f, memory_order_relaxed)
    LOAD(batches);
    LOAD(writes);
    LOAD(max_writes);
    LOAD(bytes);
    LOAD(fsyncs);
    LOAD(fsync_us_total);
    LOAD(fsync_us_max);
    LOAD(failures);
    LOAD(compactions);
#undef LOAD
    hist_t *all = kv_xmalloc(sizeof *all);
    hist_init(all);
    for (uint32_t s = 0; s < p->nshards; s++) hist_merge(all, p->sh[s].fsync_ns);
    st->fsync_us_p99 = hist_value_at(all, 99.0) / 1000;
    free(all);
    for (uint32_t s = 0; s < p->nshards; s++) {
        int state = atomic_load(&p->sh[s].state);
        st->compacting += state == C_SCANNING || state == C_FINISHING;
        st->log_bytes += atomic_load(&p->sh[s].log_bytes);
        st->snapshot_bytes += atomic_load(&p->sh[s].snap_bytes);
        if (p->sh[s].wal && wal_status(p->sh[s].wal) != 0) st->broken_shards++;
    }
    st->failing_shards = atomic_load(&p->nfailing);
    st->last_errno = atomic_load(&p->last_errno);
    int64_t since = atomic_load(&p->outage_ms);
    st->failing_ms = since ? kv_time_ms() - since : 0;
}

void persist_close(persist_t *p)
{
    if (p == NULL) return;
    atomic_store(&p->stop, 1);
    if (p->worker_started) pthread_join(p->worker, NULL);
    pthread_mutex_lock(&p->sync_lock);
    pthread_cond_broadcast(&p->sync_work);
    pthread_mutex_unlock(&p->sync_lock);
    for (int i = 0; i < p->nsync_th; i++) pthread_join(p->sync_th[i], NULL);
    if (p->sh) {
        for (uint32_t s = 0; s < p->nshards; s++) {
            pshard *ps = &p->sh[s];
            if (ps->snap) snap_abort(ps->snap); /* an unfinished compaction: redo covers it */
            if (ps->wal && (wal_commit(ps->wal) != 0 || wal_sync(ps->wal) != 0))
                kv_log_warn("shard %u: final WAL sync failed", s);
        }
        if (p->worker_started) (void)persist_note_segments(p, 0, NULL, 0);
        for (uint32_t s = 0; s < p->nshards; s++) {
            wal_free(p->sh[s].wal);
            free(p->sh[s].fsync_ns);
        }
        free(p->sh);
    }
    manifest_destroy(&p->man);
    txlog_free(p->tx);
    if (p->lock_fd >= 0) close(p->lock_fd); /* releases the directory */
    pthread_mutex_destroy(&p->man_lock);
    pthread_mutex_destroy(&p->sync_lock);
    pthread_cond_destroy(&p->sync_work);
    pthread_cond_destroy(&p->sync_done);
    free(p);
}

/* ---- shard_log_ops onto a wal_t ----------------------------------------- */

/* entry.h's accessors take a non-const entry; the log only reads. */
static const char *entry_key_c(const kv_entry *e)
{
    return e->data + entry_key_off(e->flags);
}

static int log_hash_put(void *ctx, const kv_entry *e, const kv_str *val)
{
    return wal_append_put(ctx, e->type, entry_key_c(e), e->klen, val->p, val->len, entry_expire(e));
}

static int log_hash_hset(void *ctx, const kv_str *key, const kv_str *f, const kv_str *v)
{
    return wal_append_hset(ctx, key, f, v);
}

/* A hash of another database than 0: each HSET after the PUT (which
 * shard.c's db call prefixed) needs its own DB record. */
typedef struct log_db_ctx {
    wal_t *w;
    unsigned db;
} log_db_ctx;

static int log_hash_put_db(void *ctx, const kv_entry *e, const kv_str *val)
{
    return log_hash_put(((log_db_ctx *)ctx)->w, e, val);
}

static int log_hash_hset_db(void *ctx, const kv_str *key, const kv_str *f, const kv_str *v)
{
    log_db_ctx *c = ctx;
    int rc = wal_append_db(c->w, c->db);
    return rc ? rc : wal_append_hset(c->w, key, f, v);
}

static void log_put(void *ctx, uint32_t shard, const kv_entry *e)
{
    (void)shard;
    if (e->type == KV_TYPE_HASH && entry_db(e) != 0) {
        log_db_ctx c = {ctx, entry_db(e)};
        (void)persist_write_hash(e, log_hash_put_db, log_hash_hset_db, &c);
        return;
    }
    if (e->type == KV_TYPE_HASH) {
        (void)persist_write_hash(e, log_hash_put, log_hash_hset, ctx);
        return;
    }
    const char *k = entry_key_c(e);
    if (kv_type_is_obj(
            e->type)) { /* a list or set: its whole encoding (the db record came first) */
        kvbuf enc;
        kvbuf_init(&enc);
        entry_obj_encode((kv_entry *)(uintptr_t)e, &enc);
        (void)wal_append_put(ctx, e->type, k, e->klen, enc.data, enc.len, entry_expire(e));
        kvbuf_destroy(&enc);
        return;
    }
    (void)wal_append_put(ctx, e->type, k, e->klen, entry_val((kv_entry *)(uintptr_t)e), e->vlen,
                         entry_expire(e));
}

static void log_hset(void *ctx, uint32_t shard, const kv_str *key, const kv_str *field,
                     const kv_str *val)
{
    (void)shard;
    (void)wal_append_hset(ctx, key, field, val);
}

static void log_hdel(void *ctx, uint32_t shard, const kv_str *key, const kv_str *field)
{
    (void)shard;
    (void)wal_append_hdel(ctx, key, field);
}

static void log_expire(void *ctx, uint32_t shard, const kv_str *key, int64_t expire_ms)
{
    (void)shard;
    (void)wal_append_expire(ctx, key, expire_ms);
}

static void log_del(void *ctx, uint32_t shard, const char *key, size_t klen)
{
    (void)shard;
    (void)wal_append_del(ctx, key, klen);
}

static void log_clear(void *ctx, uint32_t shard)
{
    (void)shard;
    (void)wal_append_clear(ctx);
}

static void log_db(void *ctx, uint32_t shard, unsigned db)
{
    (void)shard;
    (void)wal_append_db(ctx, db);
}

const shard_log_ops persist_wal_log_ops = {log_put,  log_del,    log_clear, log_hset,
                                           log_hdel, log_expire, log_db};
