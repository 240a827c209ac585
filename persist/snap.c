/* snap.c - snapshot writer and reader. */
#include "persist/snap.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist/crc32c.h"
#include "persist/codec.h"
#include "persist/failpoint.h"
#include "persist/fileio.h"
#include "persist/wal_reader.h"

static const char snap_magic[8] = {'M', 'K', 'V', 'S', 'N', 'A', 'P', '\n'};

enum { SNAP_FLUSH_AT = 1 << 20 };

/* A full buffer waiting for the writing thread. */
typedef struct snap_chunk {
    struct snap_chunk *next;
    wal_buf b;
} snap_chunk;

struct snap_writer {
    char *dir; /* ro */
    char tmp[4096];
    char final[4096];
    int fd;           /* owner: the writing thread */
    wal_buf buf;      /* owner: the feeding thread, then (finish) the writer */
    uint64_t entries; /* owner: the feeding thread */
    pthread_mutex_t lock;
    snap_chunk *head, *tail; /* with lock held */
    /* atomics */
    uint64_t queued; /* bytes in chunks */
    uint64_t bytes;  /* written to the file */
    int err;         /* sticky */
};
int snap_path(char *buf, size_t cap, const char *shard_dir, uint64_t seq, int tmp)
{
    int n = snprintf(buf, cap, "%s/snap-%020" PRIu64 ".snap%s", shard_dir, seq, tmp ? ".tmp" : "");
    return n < 0 || (size_t)n >= cap ? KV_ERANGE : 0;
}

static void header_encode(char *out, uint32_t shard, uint64_t seq)
{
    memcpy(out, snap_magic, 8);
    codec_put32(out + 8, SNAP_FORMAT_VERSION);
    codec_put32(out + 12, shard);
    codec_put64(out + 16, seq);
    codec_put64(out + 24, 0); /* reserved */
    codec_put32(out + 32, 0); /* reserved */
    codec_put32(out + 36, crc32c_mask(crc32c(out, 36)));
}

static void writer_free(snap_writer_t *s, int remove_tmp)
{
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    if (remove_tmp && s->tmp[0]) unlink(s->tmp);
    for (snap_chunk *c = s->head, *next; c; c = next) {
        next = c->next;
        wal_buf_destroy(&c->b);
        free(c);
    }
    pthread_mutex_destroy(&s->lock);
    wal_buf_destroy(&s->buf);
    free(s->dir);
    free(s);
}

int snap_begin(snap_writer_t **out, const char *shard_dir, uint32_t shard, uint64_t seq)
{
    assert(out && shard_dir);
    *out = NULL;
    if (seq == 0) return KV_EINVAL;
    snap_writer_t *s = calloc(1, sizeof *s);
    if (!s) return KV_ENOMEM;
    s->fd = -1;
    wal_buf_init(&s->buf);
    pthread_mutex_init(&s->lock, NULL);
    int rc = KV_ERANGE;
    if (snap_path(s->tmp, sizeof s->tmp, shard_dir, seq, 1) ||
        snap_path(s->final, sizeof s->final, shard_dir, seq, 0)) {
        s->tmp[0] = 0;
        goto fail;
    }
    rc = KV_ENOMEM;
    if (!(s->dir = strdup(shard_dir))) goto fail;
    rc = KV_EIO;
    if (fileio_mkdir(shard_dir)) goto fail;
    s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) goto fail;
    rc = wal_buf_reserve(&s->buf, SNAP_HEADER);
    if (rc) goto fail;
    header_encode(s->buf.data, shard, seq);
    s->buf.len = SNAP_HEADER;
    *out = s;
    return 0;
fail:
    writer_free(s, 1);
    return rc;
}

static void set_err(snap_writer_t *s, int rc)
{
    int zero = 0;
    __atomic_compare_exchange_n(&s->err, &zero, rc, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* Feeding thread: hands the full buffer to the writing thread. */
static int queue_buf(snap_writer_t *s)
{
    snap_chunk *c = malloc(sizeof *c);
    if (!c) return KV_ENOMEM;
    c->next = NULL;
    c->b = s->buf;
    wal_buf_init(&s->buf);
    pthread_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    __atomic_add_fetch(&s->queued, c->b.len, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int write_buf(snap_writer_t *s, const wal_buf *b)
{
    size_t done;
    if (b->len && fileio_write_all(s->fd, b->data, b->len, &done)) return KV_EIO;
    __atomic_add_fetch(&s->bytes, b->len, __ATOMIC_RELAXED);
    return 0;
}

int snap_write_queued(snap_writer_t *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        snap_chunk *c = s->head;
        if (c) {
            s->head = c->next;
            if (!s->head) s->tail = NULL;
        }
        pthread_mutex_unlock(&s->lock);
        if (!c) break;
        int rc = __atomic_load_n(&s->err, __ATOMIC_ACQUIRE);
        if (!rc) rc = write_buf(s, &c->b);
        if (rc) set_err(s, rc);
        __atomic_sub_fetch(&s->queued, c->b.len, __ATOMIC_RELAXED);
        wal_buf_destroy(&c->b);
        free(c);
    }
    return __atomic_load_n(&s->err, __ATOMIC_ACQUIRE);
}

uint64_t snap_queued(const snap_writer_t *s)
{
    return __atomic_load_n(&s->queued, __ATOMIC_RELAXED);
}

int snap_add_entry(snap_writer_t *s, uint8_t vtype, const char *key, size_t klen, const char *val,
                   size_t vlen, int64_t expire_ms)
{
    int rc = __atomic_load_n(&s->err, __ATOMIC_ACQUIRE);
    if (rc) return rc;
    rc = wal_record_put(&s->buf, vtype, key, klen, val, vlen, expire_ms);
    if (!rc) s->entries++;
    if (!rc && s->buf.len >= SNAP_FLUSH_AT) rc = queue_buf(s);
    if (rc) set_err(s, rc);
    return rc;
}

int snap_add_db(snap_writer_t *s, unsigned db)
{
    int rc = __atomic_load_n(&s->err, __ATOMIC_ACQUIRE);
    if (rc) return rc;
    rc = wal_record_db(&s->buf, db);
    if (rc) set_err(s, rc);
    return rc;
}

int snap_add_hset(snap_writer_t *s, const kv_str *key, const kv_str *field, const kv_str *val)
{
    int rc = __atomic_load_n(&s->err, __ATOMIC_ACQUIRE);
    if (rc) return rc;
    rc = wal_record_hset(&s->buf, key, field, val);
    if (!rc && s->buf.len >= SNAP_FLUSH_AT) rc = queue_buf(s);
    if (rc) set_err(s, rc);
    return rc;
}

uint64_t snap_entries(const snap_writer_t *s)
{
    return s->entries;
}
uint64_t snap_bytes(const snap_writer_t *s)
{
    return __atomic_load_n(&s->bytes, __ATOMIC_RELAXED) + snap_queued(s) + s->buf.len;
}

int snap_finish(snap_writer_t *s)
{
    int rc = snap_write_queued(s);
    if (!rc) rc = wal_record_snap_end(&s->buf, s->entries);
    if (!rc) rc = write_buf(s, &s->buf);
    if (!rc) failpoint_hit("snap-written");
    /* fsync before rename: after a crash the final name must never refer
     * to a file whose data is not on disk. */
    if (!rc && fsync(s->fd)) rc = KV_EIO;
    if (!rc) failpoint_hit("snap-fsynced");
    if (!rc && close(s->fd)) rc = KV_EIO;
    if (!rc) s->fd = -1;
    if (!rc && rename(s->tmp, s->final)) rc = KV_EIO;
    if (!rc) {
        failpoint_hit("snap-renamed");
        s->tmp[0] = 0; /* the name is gone; nothing to remove */
        /* If the rename is not durable the caller must not switch the
         * manifest; the complete file left under either name is harmless
         * (only the manifest makes a snapshot live) and snap_prune removes
         * it later. */
        if (fileio_fsync_dir(s->dir)) rc = KV_EIO;
        if (!rc) failpoint_hit("snap-dir-fsynced");
    }
    writer_free(s, rc != 0);
    return rc;
}

void snap_abort(snap_writer_t *s)
{
    writer_free(s, 1);
}

/* ---- reader ---- */

static int load_header(int fd, uint32_t shard, uint64_t seq, const char **why)
{
    char h[SNAP_HEADER];
    ssize_t n = fileio_pread_all(fd, h, sizeof h, 0);
    if (n < 0) return KV_EIO;
    if (n < SNAP_HEADER) {
        *why = "short snapshot header";
        return KV_EPROTO;
    }
    if (memcmp(h, snap_magic, 8))
        *why = "bad snapshot magic";
    else if (crc32c_unmask(codec_get32(h + 36)) != crc32c(h, 36))
        *why = "snapshot header checksum mismatch";
    else if (codec_get32(h + 8) != SNAP_FORMAT_VERSION)
        *why = "unsupported snapshot format version";
    else if (codec_get32(h + 12) != shard)
        *why = "snapshot belongs to another shard";
    else if (codec_get64(h + 16) != seq)
        *why = "snapshot seq does not match its name";
    else if (codec_get64(h + 24) || codec_get32(h + 32))
        *why = "reserved snapshot header bytes not zero";
    return *why ? KV_EPROTO : 0;
}

int snap_load(const char *shard_dir, uint32_t shard, uint64_t seq, snap_entry_fn fn, void *ctx,
              uint64_t *entries, char *err, size_t errcap)
{
    char path[4096];
    if (snap_path(path, sizeof path, shard_dir, seq, 0)) return KV_ERANGE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fileio_err(err, errcap, "%s: %s", path, strerror(errno));
        return KV_EIO;
    }
    struct stat st;
    const char *why = NULL;
    uint64_t off = 0, count = 0;
    wal_reader rd = {.buf = NULL};
    int rc = fstat(fd, &st) ? KV_EIO : load_header(fd, shard, seq, &why);
    if (!rc) rc = wal_reader_init(&rd, fd, SNAP_HEADER, (uint64_t)st.st_size);
    int ended = 0;
    while (!rc) {
        wal_rec r;
        int64_t n = wal_reader_next(&rd, &r, &off, &why);
        if (n == 0) {
            if (!ended) {
                why = "snapshot has no end record";
                rc = KV_EPROTO;
            }
            break;
        }
        if (n < 0) {
            if (n == KV_EAGAIN) why = "snapshot ends inside a record";
            rc = n == KV_EAGAIN ? KV_EPROTO : (int)n;
            break;
        }
        if (ended) {
            why = "data after the snapshot end record";
            rc = KV_EPROTO;
        } else if (r.op == WAL_OP_SNAP_END) {
            ended = 1;
            if (r.count != count) {
                why = "snapshot entry count mismatch";
                rc = KV_EPROTO;
            }
        } else if (r.op == WAL_OP_DB) {
            rc = fn ? fn(ctx, &r) : 0; /* the next record's database */
        } else if (r.op == WAL_OP_HSET && count > 0) {
            rc = fn ? fn(ctx, &r) : 0; /* more fields of the last hash */
        } else if (r.op != WAL_OP_PUT) {
            why = "non-PUT record in snapshot";
            rc = KV_EPROTO;
        } else {
            count++;
            rc = fn ? fn(ctx, &r) : 0;
        }
    }
    if (rc == KV_EPROTO)
        fileio_err(err, errcap, "%s: corrupt at byte %" PRIu64 ": %s", path, off,
                   why ? why : "bad record");
    else if (rc == KV_EIO)
        fileio_err(err, errcap, "%s: read error", path);
    wal_reader_destroy(&rd);
    close(fd);
    if (!rc && entries) *entries = count;
    return rc;
}

static int parse_snap_name(const char *name, uint64_t *seq, int *tmp)
{
    size_t len = strlen(name);
    if (len != 30 && len != 34) return -1;
    if (memcmp(name, "snap-", 5) || memcmp(name + 25, ".snap", 5)) return -1;
    if (len == 34 && strcmp(name + 30, ".tmp")) return -1;
    uint64_t v = 0;
    for (int i = 5; i < 25; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *seq = v;
    *tmp = len == 34;
    return 0;
}

/* Removes (or, with discard, moves aside) every snapshot but keep_seq. */
static int snap_sweep(const char *shard_dir, uint64_t keep_seq, int discard)
{
    DIR *d = opendir(shard_dir);
    if (!d) return errno == ENOENT ? 0 : KV_EIO;
    int rc = 0, removed = 0;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        uint64_t seq;
        int tmp;
        if (parse_snap_name(de->d_name, &seq, &tmp)) continue;
        if (!tmp && seq == keep_seq && keep_seq) continue;
        if (snprintf(path, sizeof path, "%s/%s", shard_dir, de->d_name) >= (int)sizeof path)
            continue;
        if (discard ? fileio_discard(path) != 0 : unlink(path) && errno != ENOENT) rc = KV_EIO;
        removed++;
    }
    closedir(d);
    if (removed && fileio_fsync_dir(shard_dir)) rc = KV_EIO;
    return rc;
}

int snap_prune(const char *shard_dir, uint64_t keep_seq)
{
    return snap_sweep(shard_dir, keep_seq, 0);
}

int snap_discard(const char *shard_dir, uint64_t keep_seq)
{
    return snap_sweep(shard_dir, keep_seq, 1);
}
