/* recover.c - snapshot load and WAL replay for one shard. */
#include "persist/recover.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist/fileio.h"
#include "persist/snap.h"
#include "persist/wal.h"
#include "persist/wal_reader.h"

/* One live segment, as found by the header pass. */
typedef struct seg_info {
    uint64_t seq;
    uint64_t size;
    wal_seg_header h;
} seg_info;

typedef struct rec_ctx {
    const recover_opts *o;
    const recover_ops *ops;
    void *ctx;
    recover_result *res;
    seg_info *segs;
    size_t n;
    int hdr_stop; /* keep_prefix: the header pass stopped after segs[n-1] */
    int has_db;   /* a DB record came: the next record is about database db */
    unsigned db;
    uint64_t part_end; /* file offset where the open transaction part ends; 0: none */
    int part_skip;     /* replay: the open part is not applied */
    wal_rec part;      /* scan_only: the open part's TX record (parts copied to part_buf) */
    char *part_buf;
    char path[4096];
} rec_ctx;

static int apply(rec_ctx *c, const wal_rec *r);

static int snap_put(void *ctx, const wal_rec *r)
{
    return apply(ctx, r);
}

/* Applies r, which a DB record put in database c->db. */
static int apply_in_db(rec_ctx *c, const wal_rec *r)
{
    int rc;
    c->has_db = 0;
    if (r->op == WAL_OP_CLEAR) return c->ops->clear_db ? c->ops->clear_db(c->ctx, c->db) : 0;
    if (c->ops->db && (rc = c->ops->db(c->ctx, c->db)) != 0) return rc;
    rc = apply(c, r);
    if (c->ops->db) c->ops->db(c->ctx, 0);
    return rc;
}

static int apply(rec_ctx *c, const wal_rec *r)
{
    if (r->op == WAL_OP_DB) {
        c->has_db = 1;
        c->db = r->db;
        return 0;
    }
    if (c->has_db) return apply_in_db(c, r);
    switch (r->op) {
    case WAL_OP_HSET:
        return c->ops->hset ? c->ops->hset(c->ctx, r) : 0;
    case WAL_OP_HDEL:
        return c->ops->hdel ? c->ops->hdel(c->ctx, r) : 0;
    case WAL_OP_EXPIRE:
        return c->ops->expire ? c->ops->expire(c->ctx, r) : 0;
    case WAL_OP_PUT:
        return c->ops->put ? c->ops->put(c->ctx, r) : 0;
    case WAL_OP_DEL:
        return c->ops->del ? c->ops->del(c->ctx, r->key.p, r->key.len) : 0;
    case WAL_OP_CLEAR:
        return c->ops->clear ? c->ops->clear(c->ctx) : 0;
    default:
        return KV_EPROTO;
    }
}

static void seg_path(rec_ctx *c, uint64_t seq)
{
    if (wal_seg_path(c->path, sizeof c->path, c->o->shard_dir, seq)) c->path[0] = 0;
}

/* Reports corruption at (seq, off). With keep_prefix it becomes the stop
 * point and 0 is returned; the caller then ends replay. */
static int bad(rec_ctx *c, uint64_t seq, uint64_t off, const char *why)
{
    seg_path(c, seq);
    c->res->bad_seq = seq;
    c->res->bad_offset = off;
    fileio_err(c->res->msg, sizeof c->res->msg, "%s: corrupt at byte %" PRIu64 ": %s%s", c->path,
               off, why, c->o->keep_prefix ? " (keeping the prefix before it)" : "");
    if (!c->o->keep_prefix) return KV_EPROTO;
    c->res->stopped = 1;
    return 0;
}

static int cut_file(const char *path, uint64_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return KV_EIO;
    int rc = ftruncate(fd, (off_t)len) || fsync(fd) ? KV_EIO : 0;
    close(fd);
    return rc;
}

/* Header pass: fills c->segs with the segments >= first_seq. A last segment
 * too short for its header is removed (it was being created). */
static int scan_headers(rec_ctx *c)
{
    uint64_t *seqs;
    size_t n;
    int rc = wal_list_segments(c->o->shard_dir, &seqs, &n);
    if (rc) return rc;
    size_t lo = 0;
    while (lo < n && seqs[lo] < c->o->first_seq) lo++;
    c->segs = calloc(n - lo + 1, sizeof *c->segs);
    if (!c->segs) {
        free(seqs);
        return KV_ENOMEM;
    }
    for (size_t i = lo; i < n && !rc; i++) {
        seg_info *s = &c->segs[c->n];
        s->seq = seqs[i];
        uint64_t want = c->n ? c->segs[c->n - 1].seq + 1 : c->o->first_seq;
        if (s->seq != want) {
            char why[96];
            snprintf(why, sizeof why, "segment %" PRIu64 " is missing", want);
            rc = bad(c, s->seq, 0, why);
            c->hdr_stop = 1;
            break;
        }
        seg_path(c, s->seq);
        int fd = open(c->path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) {
            if (fd >= 0) close(fd);
            rc = KV_EIO;
            break;
        }
        char hb[WAL_SEG_HEADER];
        ssize_t got = fileio_pread_all(fd, hb, sizeof hb, 0);
        int zero = got >= 0 ? fileio_all_zero(fd, 0, (uint64_t)st.st_size) : 0;
        close(fd);
        if (got < 0 || zero < 0) {
            rc = KV_EIO;
            break;
        }
        s->size = (uint64_t)st.st_size;
        const char *why = NULL;
        int hrc = wal_seg_header_decode(hb, (size_t)got, &s->h, &why);
        if (hrc && i == n - 1 && (hrc == KV_EAGAIN || zero) && s->seq > c->o->last_seq) {
            /* Died while creating the last segment: its header never
             * reached the disk, so nothing after it was acknowledged under
             * --fsync always (replies wait for a sync of the file and its
             * name); under interval it is within the interval's loss.
             * (A segment up to last_seq had a durable header: not this.)
             * Moved aside, not deleted: recovery never deletes a segment. */
            if (c->o->scan_only) break; /* the replay pass moves it */
            if (fileio_discard(c->path) || fileio_fsync_dir(c->o->shard_dir)) rc = KV_EIO;
            c->res->cut_bytes += s->size;
            fileio_err(c->res->msg, sizeof c->res->msg,
                       "%s: moved aside (.discarded) a segment whose header was never completed",
                       c->path);
            break;
        }
        if (!hrc && (s->h.shard != c->o->shard || s->h.seq != s->seq)) {
            hrc = KV_EPROTO;
            why = s->h.shard != c->o->shard ? "segment of another shard" : "seq differs from name";
        }
        if (hrc) {
            rc = bad(c, s->seq, 0, hrc == KV_EAGAIN ? "short segment header" : why);
            c->hdr_stop = 1;
            break;
        }
        c->n++;
    }
    free(seqs);
    return rc;
}

/* After the header pass: every segment up to the manifest's last_seq was
 * created durably, so a shorter list means segments were deleted (or lost)
 * behind the server's back - the last ones, which the hole check above
 * cannot see. Strict: KV_EPROTO. keep_prefix: 0, with the gap reported. */
static int check_last_seq(rec_ctx *c)
{
    uint64_t have = c->n ? c->segs[c->n - 1].seq : c->o->first_seq - 1;
    if (c->o->last_seq == 0 || have >= c->o->last_seq) return 0;
    seg_path(c, have + 1);
    fileio_err(c->res->msg, sizeof c->res->msg,
               "%s: missing: the MANIFEST records WAL segments up to %" PRIu64
               " as written, but the newest one in %s is %" PRIu64
               " (segments deleted or lost; --recover-mode keep-prefix starts without them)",
               c->path, c->o->last_seq, c->o->shard_dir, have);
    if (!c->o->keep_prefix) return KV_EPROTO;
    c->res->missing_from = have + 1;
    c->res->missing_to = c->o->last_seq;
    return 0;
}

/* The transaction bookkeeping of one decoded record (end: the offset after
 * it), then the record applied unless it is in a part being skipped.
 * Returns NULL, or why the record is corrupt here. *rc: a callback's error. */
static const char *on_record(rec_ctx *c, const seg_info *s, const wal_rec *r, uint64_t end, int *rc)
{
    const recover_tx_ops *tx = c->o->tx;
    c->res->records++;
    if (c->part_end && end > c->part_end) return "record crosses the end of its transaction part";
    switch (r->op) {
    case WAL_OP_TX:
        if (c->part_end) return "transaction part inside another";
        if (r->part_bytes == 0) return "empty transaction part";
        c->part_end = end + r->part_bytes;
        c->part_skip = 0;
        if (c->o->scan_only) {
            char *b = realloc(c->part_buf, r->parts.len + 1);
            if (b == NULL) {
                *rc = KV_ENOMEM;
                return NULL;
            }
            memcpy(b, r->parts.p, r->parts.len);
            c->part_buf = b;
            c->part = *r;
            c->part.parts.p = b;
        } else if (tx && tx->keep) {
            c->part_skip = !tx->keep(tx->ctx, c->o->shard, r);
            c->res->tx_skipped += c->part_skip;
        }
        return NULL;
    case WAL_OP_TXFLOOR:
        if (c->o->scan_only && tx && tx->floor && s->seq == c->o->snap_seq)
            *rc = tx->floor(tx->ctx, c->o->shard, r->txid);
        break;
    case WAL_OP_TXABORT:
        if (c->o->scan_only && tx && tx->abort) *rc = tx->abort(tx->ctx, c->o->shard, r->txid);
        break;
    default:
        if (c->part_end && c->part_skip)
            c->res->tx_skipped_records++;
        else if (!c->o->scan_only)
            *rc = apply(c, r);
        break;
    }
    if (c->part_end && end == c->part_end) {
        c->part_end = 0;
        if (c->o->scan_only && tx && tx->part && *rc == 0)
            *rc = tx->part(tx->ctx, c->o->shard, &c->part);
    }
    return NULL;
}

/* Replays segment i. Returns 0 (and sets *stop when keep_prefix stopped
 * here), KV_EPROTO, KV_EIO or a callback error. */
static int replay_seg(rec_ctx *c, size_t i, int *stop)
{
    seg_info *s = &c->segs[i];
    int last = i + 1 == c->n;
    uint64_t limit = s->size;
    int bounded = !last && c->segs[i + 1].h.prev_end != WAL_PREV_ANY;
    char gap[128] = "";
    if (bounded) {
        limit = c->segs[i + 1].h.prev_end;
        if (limit < WAL_SEG_HEADER) {
            *stop = 1;
            return bad(c, c->segs[i + 1].seq, 24, "prev_end shorter than a segment header");
        }
        if (limit > s->size) {
            /* Bytes the successor counted on are gone. keep_prefix replays
             * what is there and stops at the hole. */
            snprintf(gap, sizeof gap,
                     "segment is %" PRIu64 " bytes but its successor says %" PRIu64, s->size,
                     limit);
            if (!c->o->keep_prefix) {
                *stop = 1;
                return bad(c, s->seq, s->size, gap);
            }
            limit = s->size;
            bounded = 0;
        }
    }
    seg_path(c, s->seq);
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return KV_EIO;
    wal_reader rd;
    int rc = wal_reader_init(&rd, fd, WAL_SEG_HEADER, limit);
    uint64_t off = WAL_SEG_HEADER;
    c->has_db = 0;   /* a DB record and its record are never split across files */
    c->part_end = 0; /* nor is a transaction part */
    while (!rc) {
        wal_rec r;
        const char *why = NULL;
        int64_t n = wal_reader_next(&rd, &r, &off, &why);
        if (n == 0) break;
        if (n > 0 && r.op == WAL_OP_SNAP_END) {
            n = KV_EPROTO;
            why = "snapshot record in a WAL segment";
        }
        if (n > 0) {
            why = on_record(c, s, &r, off + (uint64_t)n, &rc);
            if (why == NULL) continue;
            n = KV_EPROTO;
        }
        if (n != KV_EAGAIN && n != KV_EPROTO) {
            rc = (int)n;
            break;
        }
        int zero = n == KV_EPROTO && last ? fileio_all_zero(fd, off, limit) : 0;
        if (zero < 0) {
            rc = KV_EIO;
            break;
        }
        if (last && (n == KV_EAGAIN || zero) && c->o->scan_only) break; /* replay cuts it */
        if (last && (n == KV_EAGAIN || zero)) {
            /* The writer died mid-append: cut the torn tail. */
            rc = cut_file(c->path, off);
            c->res->cut_bytes += s->size - off;
            fileio_err(c->res->msg, sizeof c->res->msg,
                       "%s: cut a torn tail of %" PRIu64 " bytes at byte %" PRIu64, c->path,
                       s->size - off, off);
            s->size = off;
            break;
        }
        if (n == KV_EAGAIN)
            why = bounded ? "record crosses the end its successor recorded"
                          : "truncated record before the last segment";
        *stop = 1;
        rc = bad(c, s->seq, off, why ? why : "bad record");
        s->size = off; /* the valid prefix, for prev_end */
        break;
    }
    if (!rc && !*stop && bounded) s->size = limit;
    if (!rc && !*stop && gap[0]) {
        *stop = 1;
        rc = bad(c, s->seq, s->size, gap);
    }
    wal_reader_destroy(&rd);
    close(fd);
    return rc;
}

/* keep_prefix: moves every segment after seq (and >= first_seq) out of the
 * way, so the log continues from the stop point. */
static int discard_after(rec_ctx *c, uint64_t seq)
{
    uint64_t *seqs;
    size_t n;
    int rc = wal_list_segments(c->o->shard_dir, &seqs, &n);
    for (size_t j = 0; !rc && j < n; j++) {
        if (seqs[j] <= seq || seqs[j] < c->o->first_seq) continue;
        seg_path(c, seqs[j]);
        rc = fileio_discard(c->path) ? KV_EIO : 0;
        c->res->discarded++;
    }
    free(seqs);
    if (!rc && c->res->discarded && fileio_fsync_dir(c->o->shard_dir)) rc = KV_EIO;
    return rc;
}

int recover_shard(const recover_opts *o, const recover_ops *ops, void *ctx, recover_result *res)
{
    memset(res, 0, sizeof *res);
    if (!o || !ops || !o->shard_dir || o->first_seq == 0) return KV_EINVAL;
    rec_ctx c = {.o = o, .ops = ops, .ctx = ctx, .res = res};
    int rc = 0;
    if (o->snap_seq && !o->scan_only) {
        rc = snap_load(o->shard_dir, o->shard, o->snap_seq, snap_put, &c, &res->snap_entries,
                       res->msg, sizeof res->msg);
        if (rc) return rc;
    }
    c.has_db = 0;
    rc = scan_headers(&c);
    if (!rc && !c.hdr_stop) rc = check_last_seq(&c);
    int stop = c.hdr_stop;
    for (size_t i = 0; !rc && i < c.n; i++) {
        int seg_stop = 0;
        rc = replay_seg(&c, i, &seg_stop);
        res->segments++;
        if (seg_stop) {
            c.n = i + 1;
            stop = 1;
        }
    }
    if (!rc && stop && !o->scan_only) rc = discard_after(&c, c.n ? c.segs[c.n - 1].seq : 0);
    if (!rc) {
        if (c.n) {
            seg_info *l = &c.segs[c.n - 1];
            res->next_seq = l->seq + 1;
            res->prev_end = l->size;
        } else {
            res->next_seq = o->first_seq;
            res->prev_end = WAL_PREV_ANY;
        }
        for (size_t j = 0; j < c.n; j++) res->log_bytes += c.segs[j].size;
    }
    free(c.segs);
    free(c.part_buf);
    return rc;
}
