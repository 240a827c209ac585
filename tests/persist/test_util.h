/* test_util.h - helpers for the persist tests: temp dirs, a tiny key/value
 * model that recovery callbacks apply records to, and file pokes. */
#ifndef MEMKV_TEST_PERSIST_UTIL_H
#define MEMKV_TEST_PERSIST_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist/wal_record.h"

static inline char *tu_mkdtemp(void)
{
    char *p = strdup("/tmp/memkv-persist-XXXXXX");
    if (!p || !mkdtemp(p)) abort();
    return p;
}

static inline int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static inline void tu_rmtree(char *dir)
{
    if (!dir) return;
    nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static inline uint64_t tu_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? UINT64_MAX : (uint64_t)st.st_size;
}

static inline int tu_file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* XORs mask into the byte at off. */
static inline void tu_flip(const char *path, uint64_t off, unsigned char mask)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    if (fd < 0 || pread(fd, &c, 1, (off_t)off) != 1) abort();
    c ^= mask;
    if (pwrite(fd, &c, 1, (off_t)off) != 1) abort();
    close(fd);
}

static inline void tu_append(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n) abort();
    close(fd);
}

static inline void tu_copy(const char *from, const char *to)
{
    char buf[8192];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ssize_t n;
    if (in < 0 || out < 0) abort();
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) abort();
    close(in);
    close(out);
}

/* ---- a model of one shard: a flat array, fine for tests ---- */

typedef struct tu_item {
    char *key, *val;
    size_t klen, vlen;
    int64_t exp;
    uint8_t vtype;
} tu_item;

typedef struct tu_model {
    tu_item *it;
    size_t n, cap;
    uint64_t puts, dels, clears;
} tu_model;

static inline tu_item *tu_find(tu_model *m, const char *k, size_t klen)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->it[i].klen == klen && !memcmp(m->it[i].key, k, klen)) return &m->it[i];
    return NULL;
}

static inline void tu_del(tu_model *m, const char *k, size_t klen)
{
    tu_item *e = tu_find(m, k, klen);
    if (!e) return;
    free(e->key);
    free(e->val);
    *e = m->it[--m->n];
}

static inline void tu_put(tu_model *m, const char *k, size_t klen, const char *v, size_t vlen,
                          int64_t exp, uint8_t vtype)
{
    tu_del(m, k, klen);
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->it = realloc(m->it, m->cap * sizeof *m->it);
    }
    tu_item *e = &m->it[m->n++];
    e->key = malloc(klen + 1);
    e->val = malloc(vlen + 1);
    if (klen) memcpy(e->key, k, klen);
    if (vlen) memcpy(e->val, v, vlen);
    e->klen = klen;
    e->vlen = vlen;
    e->exp = exp;
    e->vtype = vtype;
}

static inline void tu_clear(tu_model *m)
{
    while (m->n) tu_del(m, m->it[0].key, m->it[0].klen);
}

static inline void tu_model_free(tu_model *m)
{
    tu_clear(m);
    free(m->it);
    memset(m, 0, sizeof *m);
}

/* 1 if a and b hold the same items. */
static inline int tu_model_eq(tu_model *a, tu_model *b)
{
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++) {
        tu_item *x = &a->it[i], *y = tu_find(b, x->key, x->klen);
        if (!y || y->vlen != x->vlen || memcmp(x->val, y->val, x->vlen) || x->exp != y->exp ||
            x->vtype != y->vtype)
            return 0;
    }
    return 1;
}

/* recover_ops callbacks applying to a tu_model */
static inline int tu_cb_put(void *ctx, const wal_rec *r)
{
    tu_model *m = ctx;
    m->puts++;
    tu_put(m, r->key.p, r->key.len, r->val.p, r->val.len, r->expire_ms, r->vtype);
    return 0;
}
static inline int tu_cb_del(void *ctx, const char *k, size_t klen)
{
    tu_model *m = ctx;
    m->dels++;
    tu_del(m, k, klen);
    return 0;
}
static inline int tu_cb_clear(void *ctx)
{
    tu_model *m = ctx;
    m->clears++;
    tu_clear(m);
    return 0;
}

#endif
