/* wal_reader.c - sequential record reader over one file (wal_reader.h). */
#include "persist/wal_reader.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "persist/fileio.h"

int wal_reader_init(wal_reader *r, int fd, uint64_t start, uint64_t limit)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->limit = limit;
    r->buf_off = start;
    r->cap = 1 << 16;
    r->buf = malloc(r->cap);
    return r->buf ? 0 : KV_ENOMEM;
}

void wal_reader_destroy(wal_reader *r)
{
    if (!r) return;
    free(r->buf);
    r->buf = NULL;
}

/* Slides the window forward and reads more, up to limit; returns bytes added,
 * 0 at limit, or KV_EIO / KV_ENOMEM. */
static int64_t reader_fill(wal_reader *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->buf_off += r->pos;
        r->pos = 0;
    }
    uint64_t end = r->buf_off + r->len;
    if (end >= r->limit) return 0;
    if (r->len == r->cap) {
        char *p = realloc(r->buf, r->cap * 2);
        if (!p) return KV_ENOMEM;
        r->buf = p;
        r->cap *= 2;
    }
    size_t want = r->cap - r->len;
    if (want > r->limit - end) want = (size_t)(r->limit - end);
    ssize_t got = fileio_pread_all(r->fd, r->buf + r->len, want, (off_t)end);
    if (got < 0) return KV_EIO;
    if (got == 0) {
        /* The file is shorter than limit: nothing more to come. */
        r->limit = end;
        return 0;
    }
    r->len += (size_t)got;
    return got;
}

int64_t wal_reader_next(wal_reader *r, wal_rec *rec, uint64_t *off, const char **why)
{
    for (;;) {
        *off = r->buf_off + r->pos;
        int64_t n = wal_record_decode(r->buf + r->pos, r->len - r->pos, rec, why);
        if (n > 0) {
            r->pos += (size_t)n;
            return n;
        }
        if (n != KV_EAGAIN) return n;
        int64_t got = reader_fill(r);
        if (got < 0) return got;
        if (got == 0) return r->pos == r->len ? 0 : KV_EAGAIN;
    }
}
