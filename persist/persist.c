/* persist.c - the persistence orchestration's life cycle (persist.h):
 * persist_open (the data directory's lock and MANIFEST), persist_attach (a
 * WAL per shard), the figures (persist_get_stats) and persist_close; also
 * the log's outage state that every commit and sync reports to.
 *
 * The other parts of persist.h live by job: replay.c (persist_recover),
 * group.c (group commit, the sync threads, transactions over several
 * shards), compact.c (compaction), worker.c (the background worker) and
 * logops.c (the shard_log_ops onto a wal_t); persist_internal.h has the
 * state they share and who owns each field.
 *
 * Threads: persist_open and persist_attach on the start-up thread;
 * persist_close on the shutdown thread after the actors stopped;
 * persist__note on a shard's owner actor; persist__note_segments on one
 * thread at a time (start-up, then the worker, then shutdown); the stats
 * and accessors as their comments in persist.h say. */
#include "persist/persist.h"

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
#include <unistd.h>

#include "persist/failpoint.h"
#include "persist/fileio.h"
#include "engine/hist.h"
#include "persist/manifest.h"
#include "persist/persist_internal.h"
#include "persist/snap.h"
#include "persist/txlog.h"
#include "persist/wal.h"

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
void persist__note(persist_t *p, pshard *ps, int failed)
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

/* ---- open ------------------------------------------------------------- */

/* The pid written in a lock file, as text (digits only), or "unknown". */
static void lock_holder(int fd, char *out, size_t cap)
{
    char buf[32];
    ssize_t n = fileio_pread_all(fd, buf, sizeof buf - 1, 0);
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
    failpoint_init(); /* test-only: MEMKV_FAILPOINT */
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

/* ---- attach ------------------------------------------------------------ */

/* Records in the MANIFEST, per shard, the newest WAL segment that is
 * durable (last_seq), so that start-up can tell a deleted last segment from
 * a log that ended there. at_start (persist_attach, after the segments of
 * this run were created): every shard's last_seq becomes its new segment,
 * lower than before only when keep-prefix recovery gave segments up.
 * Otherwise (the worker, persist_close) last_seq only grows, and the
 * manifest is written only if one did. Start-up thread, then the worker
 * thread, then the shutdown thread: one at a time. Returns 0, or -1 with
 * err set (when given) if the manifest could not be written. */
int persist__note_segments(persist_t *p, int at_start, char *err, size_t errlen)
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
    return persist__note_segments(p, 1, err, errlen);
}

size_t persist_shard_buffer_bytes(persist_t *p, uint32_t shard)
{
    if (p == NULL || p->sh[shard].wal == NULL) return 0;
    return (size_t)wal_buffer_bytes(p->sh[shard].wal);
}

void persist_misconf(persist_t *p, uint32_t shard, char *buf, size_t cap)
{
    wal_stats st;
    wal_get_stats(p->sh[shard].wal, &st);
    snprintf(buf, cap, "MISCONF Errors writing to the write-ahead log: %s",
             st.sys_errno ? strerror(st.sys_errno) : kv_strerror(wal_status(p->sh[shard].wal)));
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
        if (p->worker_started) (void)persist__note_segments(p, 0, NULL, 0);
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
