/* manifest.c - atomic manifest write, validated read. */
#include "persist/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist/crc32c.h"
#include "persist/codec.h"
#include "persist/fileio.h"

static const char manifest_magic[8] = {'M', 'K', 'V', 'M', 'A', 'N', 'I', '\n'};

/* Per shard: version 1 has snap_seq and first_seq, version 2 adds last_seq. */
enum { MANIFEST_FIXED = 48, MANIFEST_PER_SHARD_V1 = 16, MANIFEST_PER_SHARD = 24, MANIFEST_CRC = 4 };

static size_t per_shard(uint32_t version)
{
    return version == 1 ? MANIFEST_PER_SHARD_V1 : MANIFEST_PER_SHARD;
}

static size_t manifest_size(uint32_t version, uint32_t nshards)
{
    return MANIFEST_FIXED + (size_t)nshards * per_shard(version) + MANIFEST_CRC;
}

int manifest_init(manifest *m, uint32_t nshards, const kv_hash_secret *secret)
{
    memset(m, 0, sizeof *m);
    if (nshards == 0 || nshards > MANIFEST_MAX_SHARDS) return KV_EINVAL;
    m->shards = calloc(nshards, sizeof *m->shards);
    if (!m->shards) return KV_ENOMEM;
    m->version = MANIFEST_FORMAT_VERSION;
    m->nshards = nshards;
    if (secret) m->secret = *secret;
    for (uint32_t i = 0; i < nshards; i++) m->shards[i].first_seq = 1;
    return 0;
}

void manifest_destroy(manifest *m)
{
    if (!m) return;
    free(m->shards);
    memset(m, 0, sizeof *m);
}

static int path_of(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? KV_ERANGE : 0;
}

static const char *check_shards(const manifest *m)
{
    for (uint32_t i = 0; i < m->nshards; i++) {
        const manifest_shard *s = &m->shards[i];
        if (s->first_seq == 0) return "shard with first segment 0";
        if (s->snap_seq > s->first_seq) return "snapshot newer than the first live segment";
        if (s->last_seq && s->last_seq < s->first_seq)
            return "last segment older than the first live segment";
    }
    return NULL;
}

int manifest_read(const char *dir, manifest *m, char *err, size_t errcap)
{
    char path[4096];
    memset(m, 0, sizeof *m);
    if (path_of(path, sizeof path, dir, "MANIFEST")) return KV_ERANGE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 1;
        fileio_err(err, errcap, "%s: %s", path, strerror(errno));
        return KV_EIO;
    }
    struct stat st;
    char *buf = NULL;
    const char *why = NULL;
    int rc = KV_EIO;
    if (fstat(fd, &st)) goto out;
    rc = KV_EPROTO;
    if (st.st_size < (off_t)manifest_size(1, 1) ||
        st.st_size > (off_t)manifest_size(MANIFEST_FORMAT_VERSION, MANIFEST_MAX_SHARDS)) {
        why = "bad size";
        goto out;
    }
    size_t size = (size_t)st.st_size;
    rc = KV_ENOMEM;
    if (!(buf = malloc(size))) goto out;
    rc = KV_EIO;
    if (fileio_pread_all(fd, buf, size, 0) != (ssize_t)size) goto out;
    rc = KV_EPROTO;
    uint32_t nshards = codec_get32(buf + 12);
    uint32_t version = codec_get32(buf + 8);
    if (memcmp(buf, manifest_magic, 8))
        why = "bad magic";
    else if (crc32c_unmask(codec_get32(buf + size - 4)) != crc32c(buf, size - 4))
        why = "checksum mismatch";
    else if (version > MANIFEST_FORMAT_VERSION)
        why = "format version newer than this mem-kv-server supports: use a newer build";
    else if (version < 1)
        why = "unsupported format version";
    else if (nshards == 0 || nshards > MANIFEST_MAX_SHARDS ||
             manifest_size(version, nshards) != size)
        why = "shard count does not match the size";
    else if (codec_get32(buf + 40) || codec_get32(buf + 44))
        why = "reserved bytes not zero";
    if (why) goto out;
    rc = manifest_init(m, nshards, NULL);
    if (rc) goto out;
    m->version = version;
    memcpy(m->secret.k, buf + 16, 16);
    m->generation = codec_get64(buf + 32);
    for (uint32_t i = 0; i < nshards; i++) {
        const char *p = buf + MANIFEST_FIXED + (size_t)i * per_shard(version);
        m->shards[i].snap_seq = codec_get64(p);
        m->shards[i].first_seq = codec_get64(p + 8);
        m->shards[i].last_seq = version == 1 ? 0 : codec_get64(p + 16);
    }
    rc = (why = check_shards(m)) ? KV_EPROTO : 0;
out:
    if (rc == KV_EPROTO)
        fileio_err(err, errcap, "%s: corrupt manifest: %s", path, why ? why : "?");
    else if (rc == KV_EIO)
        fileio_err(err, errcap, "%s: read error", path);
    if (rc) manifest_destroy(m);
    free(buf);
    close(fd);
    return rc;
}

int manifest_write(const char *dir, manifest *m)
{
    char tmp[4096], final[4096];
    if (path_of(tmp, sizeof tmp, dir, "MANIFEST.tmp") ||
        path_of(final, sizeof final, dir, "MANIFEST"))
        return KV_ERANGE;
    if (m->nshards == 0 || m->nshards > MANIFEST_MAX_SHARDS || check_shards(m)) return KV_EINVAL;
    size_t size = manifest_size(MANIFEST_FORMAT_VERSION, m->nshards);
    char *buf = calloc(1, size);
    if (!buf) return KV_ENOMEM;
    memcpy(buf, manifest_magic, 8);
    codec_put32(buf + 8, MANIFEST_FORMAT_VERSION);
    codec_put32(buf + 12, m->nshards);
    memcpy(buf + 16, m->secret.k, 16);
    codec_put64(buf + 32, m->generation + 1);
    for (uint32_t i = 0; i < m->nshards; i++) {
        char *p = buf + MANIFEST_FIXED + (size_t)i * MANIFEST_PER_SHARD;
        codec_put64(p, m->shards[i].snap_seq);
        codec_put64(p + 8, m->shards[i].first_seq);
        codec_put64(p + 16, m->shards[i].last_seq);
    }
    codec_put32(buf + size - 4, crc32c_mask(crc32c(buf, size - 4)));

    int rc = KV_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) goto out;
    int bad = fileio_write_all(fd, buf, size, NULL) || fsync(fd);
    bad |= close(fd) != 0;
    if (bad) {
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, final)) {
        unlink(tmp);
        goto out;
    }
    if (fileio_fsync_dir(dir)) goto out;
    m->generation++;
    m->version = MANIFEST_FORMAT_VERSION;
    rc = 0;
out:
    free(buf);
    return rc;
}
