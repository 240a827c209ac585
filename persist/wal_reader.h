/* wal_reader.h - sequential record reader over one file, for WAL segments
 * and snapshots: above wal_record (which decodes one record in memory) and
 * fileio (which reads the bytes).
 *
 * It keeps a window of the file in memory and hands out records with their
 * file offsets; a returned record's pointers stay valid until the next
 * wal_reader_next call. A reader is owned by one thread at a time; the
 * caller owns the fd.
 */
#ifndef MEMKV_PERSIST_WAL_READER_H
#define MEMKV_PERSIST_WAL_READER_H

#include <stddef.h>
#include <stdint.h>

#include "persist/wal_record.h"

typedef struct wal_reader {
    int fd;               /* private */
    uint64_t limit;       /* private: stop at this offset (file size or a bound) */
    uint64_t buf_off;     /* private: file offset of buf[0] */
    char *buf;            /* private */
    size_t len, cap, pos; /* private: window: buf[pos..len) not yet consumed */
} wal_reader;

/* Starts reading fd at offset start, stopping at limit. Returns 0 or
 * KV_ENOMEM; wal_reader_destroy is needed either way. */
int wal_reader_init(wal_reader *r, int fd, uint64_t start, uint64_t limit);

/* Frees the window; accepts NULL, a zeroed or a destroyed reader. */
void wal_reader_destroy(wal_reader *r);

/* Next record: returns > 0 (its size; *off gets its offset), 0 at exactly
 * limit, KV_EAGAIN if the bytes up to limit end inside a record (*off = its
 * offset), KV_EPROTO if corrupt (*off, *why set), KV_EIO / KV_ENOMEM. */
int64_t wal_reader_next(wal_reader *r, wal_rec *rec, uint64_t *off, const char **why);

#endif
