/* wal.c - segment files, group commit, sync and rotation of one shard's log.
 *
 * w->lock serializes syncing threads and keeps the fd stable while one of
 * them runs fdatasync (the actor takes it only to switch segments). The
 * fields both sides read - written, synced, broken, the counters - are
 * atomics, so the actor's commit never waits for a flusher's fdatasync.
 * Everything else is the actor's.
 */
#include "persist/wal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "persist/crc32c.h"
#include "persist/codec.h"
#include "persist/fileio.h"
#include "persist/wal_record.h"

static const char wal_magic[8] = {'M', 'K', 'V', 'W', 'A', 'L', '0', '\n'};

/* Where a live segment's bytes began in the running byte count, so that
 * log_bytes can drop the segments compaction made obsolete. */
typedef struct seg_mark {
    uint64_t seq;
    uint64_t start; /* w->cum_bytes when the segment was started */
} seg_mark;

struct wal {
    char *dir;      /* ro */
    uint32_t shard; /* ro */
    wal_opts opts;  /* ro */
    wal_io io;      /* ro */

    /* owner: actor */
    wal_buf pending;  /* appended, not yet written */
    wal_buf unsynced; /* written bytes [unsynced_base, written) not yet
                         known durable; kept only when fsync != NO */
    uint64_t unsynced_base;
    int append_err;     /* sticky; atomic (wal_status reads it) */
    int faulted;        /* 1: the current segment is broken, replace it */
    uint64_t cum_bytes; /* bytes ever written (initial_log_bytes at open) */
    seg_mark *marks;    /* live segments, oldest first */
    size_t nmarks, capmarks;
    uint64_t writes, rotations;

    /* fd and seq change only in seg_switch, by the actor, with lock held;
     * the actor may read them without it */
    pthread_mutex_t lock;
    int fd;
    uint64_t seq;
    /* atomics (__atomic builtins) */
    uint64_t written; /* bytes handed to write(), header included; actor stores */
    uint64_t synced;  /* bytes known durable; stored with lock held */
    int broken;       /* errno of the failure that broke the segment, 0 = fine */
    /* atomic, stored with lock held: the current segment was started
     * without a sync (lazy rotation); wal_sync makes its file and directory
     * entry durable */
    int fresh;
    uint64_t fresh_prev_end; /* ro while fresh: prev_end in its header */
    uint64_t syncs, failures;
    int last_errno;
    /* pending.cap + unsynced.cap, stored by the actor after every change
     * so that eviction (any thread) sees the buffers as they are, not as
     * they were at the last published figures: a burst of big values
     * grows and frees them many times between two publications */
    uint64_t heap;
};

/* ---- headers and names ---- */

void wal_seg_header_encode(char out[WAL_SEG_HEADER], const wal_seg_header *h)
{
    memcpy(out, wal_magic, 8);
    codec_put32(out + 8, h->version);
    codec_put32(out + 12, h->shard);
    codec_put64(out + 16, h->seq);
    codec_put64(out + 24, h->prev_end);
    codec_put32(out + 32, 0);
    codec_put32(out + 36, crc32c_mask(crc32c(out, 36)));
}

int wal_seg_header_decode(const void *p, size_t n, wal_seg_header *h, const char **why)
{
    const char *s = p;
    if (n < WAL_SEG_HEADER) return KV_EAGAIN;
    if (memcmp(s, wal_magic, 8)) {
        *why = "bad segment magic";
        return KV_EPROTO;
    }
    if (crc32c_unmask(codec_get32(s + 36)) != crc32c(s, 36)) {
        *why = "segment header checksum mismatch";
        return KV_EPROTO;
    }
    h->version = codec_get32(s + 8);
    h->shard = codec_get32(s + 12);
    h->seq = codec_get64(s + 16);
    h->prev_end = codec_get64(s + 24);
    if (h->version != WAL_FORMAT_VERSION) {
        *why = "unsupported segment format version";
        return KV_EPROTO;
    }
    if (codec_get32(s + 32) != 0) {
        *why = "reserved segment header bytes not zero";
        return KV_EPROTO;
    }
    return 0;
}

int wal_shard_dir(char *buf, size_t cap, const char *root, uint32_t shard)
{
    int n = snprintf(buf, cap, "%s/shard-%03u", root, shard);
    return n < 0 || (size_t)n >= cap ? KV_ERANGE : 0;
}

int wal_seg_path(char *buf, size_t cap, const char *shard_dir, uint64_t seq)
{
    int n = snprintf(buf, cap, "%s/wal-%020" PRIu64 ".log", shard_dir, seq);
    return n < 0 || (size_t)n >= cap ? KV_ERANGE : 0;
}

int wal_seg_parse_name(const char *name, uint64_t *seq)
{
    if (strlen(name) != 28 || memcmp(name, "wal-", 4) || strcmp(name + 24, ".log"))
        return KV_EINVAL;
    uint64_t v = 0;
    for (int i = 4; i < 24; i++) {
        if (name[i] < '0' || name[i] > '9') return KV_EINVAL;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return KV_EINVAL;
        v = v * 10 + d;
    }
    *seq = v;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int wal_list_segments(const char *shard_dir, uint64_t **seqs, size_t *n)
{
    *seqs = NULL;
    *n = 0;
    DIR *d = opendir(shard_dir);
    if (!d) return errno == ENOENT ? 0 : KV_EIO;
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        uint64_t seq;
        if (wal_seg_parse_name(de->d_name, &seq)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *p = realloc(*seqs, cap * sizeof *p);
            if (!p) {
                rc = KV_ENOMEM;
                break;
            }
            *seqs = p;
        }
        (*seqs)[(*n)++] = seq;
    }
    closedir(d);
    if (rc) {
        free(*seqs);
        *seqs = NULL;
        *n = 0;
        return rc;
    }
    if (*n) qsort(*seqs, *n, sizeof **seqs, cmp_u64);
    return 0;
}

int wal_prune(const char *shard_dir, uint64_t first_seq)
{
    uint64_t *seqs;
    size_t n;
    int rc = wal_list_segments(shard_dir, &seqs, &n);
    if (rc) return rc;
    char path[4096];
    size_t removed = 0;
    for (size_t i = 0; i < n && seqs[i] < first_seq; i++) {
        if (wal_seg_path(path, sizeof path, shard_dir, seqs[i])) continue;
        if (unlink(path) && errno != ENOENT) rc = KV_EIO;
        removed++;
    }
    free(seqs);
    if (removed && fileio_fsync_dir(shard_dir)) rc = KV_EIO;
    return rc;
}

/* ---- I/O through the hooks ---- */

static ssize_t sys_write(void *ctx, int fd, const void *p, size_t n)
{
    (void)ctx;
    return write(fd, p, n);
}

static int sys_fdatasync(void *ctx, int fd)
{
    (void)ctx;
    return fdatasync(fd);
}

/* Writes all of p; returns 0 or -errno. */
static int io_write_all(const wal_t *w, int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = w->io.write(w->io.ctx, fd, p, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (r == 0) return -EIO;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int io_sync(const wal_t *w, int fd)
{
    return w->io.fdatasync(w->io.ctx, fd) ? (errno ? -errno : -EIO) : 0;
}

/* ---- segment creation ---- */

/* Creates segment seq (replacing a file of that name with a new inode) with
 * the given prev_end and writes its header plus the extra bytes; if durable,
 * fdatasyncs it and the directory. Returns the fd or -errno; on failure the
 * file is removed (best effort). */
static int seg_create(wal_t *w, uint64_t seq, uint64_t prev_end, const wal_buf *a, const wal_buf *b,
                      int durable)
{
    char path[4096];
    if (wal_seg_path(path, sizeof path, w->dir, seq)) return -ENAMETOOLONG;
    (void)unlink(path); /* a broken fresh segment is replaced, never reused */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    char hdr[WAL_SEG_HEADER];
    wal_seg_header hd = {WAL_FORMAT_VERSION, w->shard, seq, prev_end};
    wal_seg_header_encode(hdr, &hd);
    int rc = io_write_all(w, fd, hdr, sizeof hdr);
    if (!rc && a && a->len) rc = io_write_all(w, fd, a->data, a->len);
    if (!rc && b && b->len) rc = io_write_all(w, fd, b->data, b->len);
    if (!rc && durable) rc = io_sync(w, fd);
    if (!rc && durable) rc = fileio_fsync_dir(w->dir);
    if (rc) {
        close(fd);
        unlink(path);
        return rc;
    }
    return fd;
}

static int mark_push(wal_t *w, uint64_t seq)
{
    if (w->nmarks == w->capmarks) {
        size_t cap = w->capmarks ? w->capmarks * 2 : 8;
        seg_mark *m = realloc(w->marks, cap * sizeof *m);
        if (!m) return KV_ENOMEM;
        w->marks = m;
        w->capmarks = cap;
    }
    w->marks[w->nmarks++] = (seg_mark){seq, w->cum_bytes};
    return 0;
}

/* Makes fd/seq (a new segment holding len bytes) current. Durable: all of
 * it is synced. Fresh (lazy rotation): nothing is, the segment holds the
 * header and then exactly w->unsynced, which stays in memory until a
 * wal_sync covers it. */
static void seg_switch(wal_t *w, int fd, uint64_t seq, uint64_t len, int durable, uint64_t prev_end)
{
    pthread_mutex_lock(&w->lock);
    int old = w->fd;
    w->fd = fd;
    w->seq = seq;
    __atomic_store_n(&w->fresh, !durable, __ATOMIC_RELAXED);
    w->fresh_prev_end = prev_end;
    __atomic_store_n(&w->synced, durable ? len : 0, __ATOMIC_RELEASE);
    __atomic_store_n(&w->broken, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&w->written, len, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w->lock);
    if (old >= 0) close(old);
    if (durable) w->unsynced.len = 0;
    w->unsynced_base = durable ? len : WAL_SEG_HEADER;
    w->faulted = 0;
    w->rotations++;
    (void)mark_push(w, seq); /* on OOM log_bytes just counts too much */
    w->cum_bytes += WAL_SEG_HEADER;
}

static void note_failure(wal_t *w, int err)
{
    __atomic_add_fetch(&w->failures, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&w->last_errno, err, __ATOMIC_RELAXED);
}

static void set_broken(wal_t *w, int err)
{
    int zero = 0;
    __atomic_compare_exchange_n(&w->broken, &zero, err ? err : EIO, 0, __ATOMIC_RELEASE,
                                __ATOMIC_RELAXED);
    note_failure(w, err);
    w->faulted = 1;
}

/* ---- lifecycle ---- */

int wal_open(wal_t **out, const char *shard_dir, uint32_t shard, uint64_t seq, uint64_t prev_end,
             const wal_opts *opts)
{
    assert(out && shard_dir);
    *out = NULL;
    if (seq == 0) return KV_EINVAL; /* 0 means "none" in the manifest */
    wal_t *w = calloc(1, sizeof *w);
    if (!w) return KV_ENOMEM;
    w->fd = -1;
    pthread_mutex_init(&w->lock, NULL);
    if (opts) w->opts = *opts;
    if (!w->opts.segment_max) w->opts.segment_max = WAL_DEFAULT_SEGMENT_MAX;
    w->io.write = w->opts.io && w->opts.io->write ? w->opts.io->write : sys_write;
    w->io.fdatasync = w->opts.io && w->opts.io->fdatasync ? w->opts.io->fdatasync : sys_fdatasync;
    w->io.ctx = w->opts.io ? w->opts.io->ctx : NULL;
    w->opts.io = NULL;
    w->shard = shard;
    wal_buf_init(&w->pending);
    wal_buf_init(&w->unsynced);
    w->dir = strdup(shard_dir);
    int rc = KV_ENOMEM;
    if (!w->dir || mark_push(w, 0)) goto fail; /* the segments before seq */
    w->cum_bytes = w->opts.initial_log_bytes;
    rc = KV_EIO;
    if (fileio_mkdir(shard_dir)) goto fail;
    int fd = seg_create(w, seq, prev_end, NULL, NULL, 1);
    if (fd < 0) goto fail;
    seg_switch(w, fd, seq, WAL_SEG_HEADER, 1, prev_end);
    w->rotations = 0;
    *out = w;
    return 0;
fail:
    wal_free(w);
    return rc;
}

void wal_free(wal_t *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    wal_buf_destroy(&w->pending);
    wal_buf_destroy(&w->unsynced);
    pthread_mutex_destroy(&w->lock);
    free(w->marks);
    free(w->dir);
    free(w);
}

/* ---- appends ---- */

/* Publishes the buffers' capacity (wal_buffer_bytes). Actor only. */
static void note_heap(wal_t *w)
{
    __atomic_store_n(&w->heap, (uint64_t)(w->pending.cap + w->unsynced.cap), __ATOMIC_RELAXED);
}

uint64_t wal_buffer_bytes(const wal_t *w)
{
    return __atomic_load_n(&w->heap, __ATOMIC_RELAXED);
}

static int append_result(wal_t *w, int rc)
{
    if (rc && !w->append_err) __atomic_store_n(&w->append_err, rc, __ATOMIC_RELAXED);
    note_heap(w);
    return rc;
}

int wal_append_put(wal_t *w, uint8_t vtype, const char *key, size_t klen, const char *val,
                   size_t vlen, int64_t expire_ms)
{
    return append_result(w, wal_record_put(&w->pending, vtype, key, klen, val, vlen, expire_ms));
}

int wal_append_del(wal_t *w, const char *key, size_t klen)
{
    return append_result(w, wal_record_del(&w->pending, key, klen));
}

int wal_append_db(wal_t *w, unsigned db)
{
    return append_result(w, wal_record_db(&w->pending, db));
}

int wal_append_clear(wal_t *w)
{
    return append_result(w, wal_record_clear(&w->pending));
}

int wal_append_hset(wal_t *w, const kv_str *key, const kv_str *field, const kv_str *val)
{
    return append_result(w, wal_record_hset(&w->pending, key, field, val));
}

int wal_append_hdel(wal_t *w, const kv_str *key, const kv_str *field)
{
    return append_result(w, wal_record_hdel(&w->pending, key, field));
}

int wal_append_expire(wal_t *w, const kv_str *key, int64_t expire_ms)
{
    return append_result(w, wal_record_expire(&w->pending, key, expire_ms));
}

size_t wal_pending(const wal_t *w)
{
    return w->pending.len;
}

int wal_insert_tx(wal_t *w, size_t at, uint64_t txid, const uint32_t *shards, uint32_t n)
{
    if (at > w->pending.len) return append_result(w, KV_EINVAL);
    size_t part = w->pending.len - at;
    int rc = wal_record_tx(&w->pending, txid, part, shards, n); /* appended at the end... */
    if (rc) return append_result(w, rc);
    size_t rlen = w->pending.len - at - part;
    char hdr[512]; /* a TX record of up to ~90 participants; more: the heap */
    char *tmp = rlen <= sizeof hdr ? hdr : malloc(rlen);
    if (tmp == NULL) {
        w->pending.len = at + part;
        return append_result(w, KV_ENOMEM);
    }
    /* ...then rotated in front of the part */
    memcpy(tmp, w->pending.data + at + part, rlen);
    memmove(w->pending.data + at + rlen, w->pending.data + at, part);
    memcpy(w->pending.data + at, tmp, rlen);
    if (tmp != hdr) free(tmp);
    return 0;
}

int wal_append_txfloor(wal_t *w, uint64_t floor)
{
    return append_result(w, wal_record_txfloor(&w->pending, floor));
}

int wal_append_txabort(wal_t *w, uint64_t txid)
{
    return append_result(w, wal_record_txabort(&w->pending, txid));
}

/* ---- commit, sync, rotation ---- */

/* Capacity an empty buffer may keep between batches. */
#define WAL_BUF_KEEP (16u << 10)

/* Drops the unsynced bytes a sync has made durable. */
static void trim_unsynced(wal_t *w)
{
    uint64_t s = __atomic_load_n(&w->synced, __ATOMIC_ACQUIRE);
    if (s <= w->unsynced_base) return;
    uint64_t n = s - w->unsynced_base;
    if (n >= w->unsynced.len) {
        w->unsynced.len = 0;
        /* don't keep a burst's worth of memory for an idle shard */
        if (w->unsynced.cap > WAL_BUF_KEEP) wal_buf_destroy(&w->unsynced);
    } else
        wal_buf_consume(&w->unsynced, (size_t)n);
    w->unsynced_base = s;
}

/* Replaces a broken segment: segment seq+1 says the broken one is valid up
 * to the last durable byte and holds everything after it. */
static int fault_rotate(wal_t *w)
{
    trim_unsynced(w);
    uint64_t written = __atomic_load_n(&w->written, __ATOMIC_ACQUIRE);
    /* With fsync=no we never promised durability and keep no copy, so the
     * written bytes count as valid. */
    uint64_t stable = w->opts.fsync == WAL_FSYNC_NO ? written : w->unsynced_base;
    uint64_t seq = w->seq + 1;
    if (__atomic_load_n(&w->fresh, __ATOMIC_RELAXED)) {
        /* Never synced, so maybe not even in the directory: replace it
         * under its own seq, or a crash could leave a gap before seq+1.
         * Nothing of it was durable (unsynced_base is its header). */
        seq = w->seq;
        stable = w->fresh_prev_end;
    }
    int fd = seg_create(w, seq, stable, &w->unsynced, &w->pending, 1);
    if (fd < 0) {
        note_failure(w, -fd);
        return KV_EIO;
    }
    uint64_t len = WAL_SEG_HEADER + w->unsynced.len + w->pending.len;
    w->cum_bytes += w->unsynced.len + w->pending.len;
    w->writes++;
    w->pending.len = 0;
    seg_switch(w, fd, seq, len, 1, stable);
    return 0;
}

/* Starts segment seq+1 after a healthy current one (pending is empty).
 *
 * With fsync always/interval the rotation waits for no disk: segment seq+1
 * says seq is valid up to its last durable byte (prev_end = unsynced_base)
 * and repeats the bytes after it, which are still in w->unsynced; the
 * next wal_sync makes the new file and its directory entry durable. The
 * old segment is never synced again and needs no sync: recovery reads it
 * only up to prev_end. So only the last segment is ever not durable, and a
 * compaction's start costs the actor an open and a write, not three
 * fsyncs. With fsync no nothing is kept in memory: sync the old segment
 * first, as the bytes after prev_end exist only there. */
static int rotate_clean(wal_t *w)
{
    int durable = w->opts.fsync == WAL_FSYNC_NO;
    /* a fresh segment is synced before it stops being the last one */
    int rc = durable || __atomic_load_n(&w->fresh, __ATOMIC_RELAXED) ? wal_sync(w) : 0;
    if (rc) return rc;
    trim_unsynced(w);
    uint64_t written = __atomic_load_n(&w->written, __ATOMIC_ACQUIRE);
    uint64_t prev_end = durable ? written : w->unsynced_base;
    const wal_buf *copy = durable ? NULL : &w->unsynced;
    int fd = seg_create(w, w->seq + 1, prev_end, copy, NULL, durable);
    if (fd < 0) {
        /* Nothing is lost: the current segment is intact. Keep appending to
         * it and try rotating again at the next commit. */
        note_failure(w, -fd);
        return KV_EIO;
    }
    uint64_t len = WAL_SEG_HEADER + (copy ? copy->len : 0);
    w->cum_bytes += len - WAL_SEG_HEADER;
    seg_switch(w, fd, w->seq + 1, len, durable, prev_end);
    return 0;
}

static int commit_batch(wal_t *w);

int wal_commit(wal_t *w)
{
    int rc = commit_batch(w);
    note_heap(w);
    return rc;
}

static int commit_batch(wal_t *w)
{
    if (w->append_err) return w->append_err;
    trim_unsynced(w);
    if (__atomic_load_n(&w->broken, __ATOMIC_ACQUIRE) || w->faulted) {
        w->faulted = 1;
        return fault_rotate(w);
    }
    if (w->pending.len == 0) return 0;
    /* Room for the copy kept until the bytes are synced, before writing:
     * a batch must never be written without a way to rewrite it. */
    if (w->opts.fsync != WAL_FSYNC_NO && w->unsynced.len &&
        wal_buf_reserve(&w->unsynced, w->pending.len))
        return KV_ENOMEM;
    int rc = io_write_all(w, w->fd, w->pending.data, w->pending.len);
    if (rc) {
        /* Part of the batch may be in the file; the segment is abandoned
         * at its last durable byte and the whole batch stays pending. */
        set_broken(w, -rc);
        return KV_EIO;
    }
    uint64_t len = w->pending.len;
    w->writes++;
    w->cum_bytes += len;
    if (w->opts.fsync != WAL_FSYNC_NO) {
        if (w->unsynced.len == 0) {
            wal_buf t = w->unsynced;
            w->unsynced = w->pending;
            w->pending = t;
        } else {
            (void)wal_buf_append(&w->unsynced, w->pending.data, w->pending.len); /* reserved */
        }
    }
    w->pending.len = 0;
    if (w->pending.cap > WAL_BUF_KEEP) wal_buf_destroy(&w->pending);
    uint64_t written = __atomic_add_fetch(&w->written, len, __ATOMIC_RELEASE);
    if (written >= w->opts.segment_max) {
        rc = rotate_clean(w);
        /* A failed rotation that left the segment healthy is not an error
         * for this batch: its bytes are written (and synced). */
        if (rc && wal_status(w)) return rc;
    }
    return 0;
}

int wal_sync(wal_t *w)
{
    pthread_mutex_lock(&w->lock);
    int rc = 0;
    uint64_t target = __atomic_load_n(&w->written, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&w->broken, __ATOMIC_ACQUIRE)) {
        rc = KV_EIO; /* never fdatasync a broken segment again */
    } else if (target > __atomic_load_n(&w->synced, __ATOMIC_RELAXED)) {
        /* (a fresh segment has synced == 0) */
        int fresh = __atomic_load_n(&w->fresh, __ATOMIC_RELAXED);
        rc = io_sync(w, w->fd);
        if (!rc && fresh) rc = fileio_fsync_dir(w->dir) ? -EIO : 0;
        if (!rc && fresh) __atomic_store_n(&w->fresh, 0, __ATOMIC_RELAXED);
        if (rc) {
            __atomic_store_n(&w->broken, -rc, __ATOMIC_RELEASE);
            note_failure(w, -rc);
            rc = KV_EIO;
        } else {
            __atomic_store_n(&w->synced, target, __ATOMIC_RELEASE);
            __atomic_add_fetch(&w->syncs, 1, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int wal_rotate(wal_t *w, uint64_t *new_seq)
{
    int rc = wal_commit(w);
    if (!rc) rc = rotate_clean(w);
    note_heap(w);
    if (rc) return rc;
    if (new_seq) *new_seq = w->seq;
    return 0;
}

void wal_compacted(wal_t *w, uint64_t seq)
{
    size_t i = 0;
    while (i + 1 < w->nmarks && w->marks[i + 1].seq <= seq) i++;
    if (i == 0) return;
    memmove(w->marks, w->marks + i, (w->nmarks - i) * sizeof *w->marks);
    w->nmarks -= i;
}

int wal_durable(wal_t *w)
{
    if (w->pending.len || wal_status(w) || w->faulted) return 0;
    if (w->opts.fsync == WAL_FSYNC_NO) return 1;
    return __atomic_load_n(&w->synced, __ATOMIC_ACQUIRE) >=
           __atomic_load_n(&w->written, __ATOMIC_ACQUIRE);
}

int wal_status(wal_t *w)
{
    int err = __atomic_load_n(&w->append_err, __ATOMIC_RELAXED);
    if (err) return err;
    return __atomic_load_n(&w->broken, __ATOMIC_ACQUIRE) ? KV_EIO : 0;
}

void wal_get_stats(wal_t *w, wal_stats *st)
{
    memset(st, 0, sizeof *st);
    st->seq = w->seq;
    st->seg_bytes = __atomic_load_n(&w->written, __ATOMIC_ACQUIRE);
    st->log_bytes = w->cum_bytes - (w->nmarks ? w->marks[0].start : 0);
    st->pending_bytes = w->pending.len;
    st->unsynced_bytes = w->unsynced.len;
    st->buffer_bytes = w->pending.cap + w->unsynced.cap;
    st->writes = w->writes;
    st->rotations = w->rotations;
    st->syncs = __atomic_load_n(&w->syncs, __ATOMIC_RELAXED);
    st->failures = __atomic_load_n(&w->failures, __ATOMIC_RELAXED);
    st->sys_errno = __atomic_load_n(&w->last_errno, __ATOMIC_RELAXED);
}

uint64_t wal_sync_count(wal_t *w)
{
    return __atomic_load_n(&w->syncs, __ATOMIC_RELAXED);
}

uint64_t wal_durable_seq(wal_t *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t seq = w->seq - (__atomic_load_n(&w->fresh, __ATOMIC_RELAXED) ? 1 : 0);
    pthread_mutex_unlock(&w->lock);
    return seq;
}
