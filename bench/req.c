/* req.c - request formatting; see req.h. */
#include "bench/req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned digits(uint64_t v)
{
    unsigned d = 1;
    while (v >= 10) v /= 10, d++;
    return d;
}

/* Decimal of v into dst; returns its length. */
static size_t put_u64(char *dst, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
    return n;
}

int req_fmt_init(req_fmt *f, int plain, const char *prefix, uint64_t nkeys, size_t vmax,
                 uint64_t ttl)
{
    memset(f, 0, sizeof(*f));
    size_t pl = strlen(prefix);
    if (pl >= sizeof(f->prefix) || nkeys == 0 || vmax == 0) return -1;
    f->plain = plain;
    memcpy(f->prefix, prefix, pl);
    f->prefix_len = pl;
    f->width = digits(nkeys - 1);
    f->key_len = pl + f->width;
    f->key_hdr_len = (size_t)snprintf(f->key_hdr, sizeof(f->key_hdr), "$%zu\r\n", f->key_len);
    if (ttl) {
        char t[24];
        size_t tl = put_u64(t, ttl);
        if (plain)
            f->ttl_len = (size_t)snprintf(f->ttl, sizeof(f->ttl), " EX %.*s", (int)tl, t);
        else
            f->ttl_len = (size_t)snprintf(f->ttl, sizeof(f->ttl), "$2\r\nEX\r\n$%zu\r\n%.*s\r\n",
                                          tl, (int)tl, t);
    }
    f->vmax = vmax;
    f->values = malloc(vmax);
    if (!f->values) return -1;
    /* printable, no spaces: plain-text MGET replies are space-separated */
    static const char pat[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (size_t i = 0; i < vmax; i++) f->values[i] = pat[(i * 7 + i / 61) % (sizeof(pat) - 1)];
    return 0;
}

void req_fmt_destroy(req_fmt *f)
{
    if (!f) return;
    free(f->values);
    f->values = NULL;
}

size_t req_max_len(const req_fmt *f, unsigned mget_keys, unsigned fields)
{
    size_t key = f->key_hdr_len + f->key_len + 2;
    size_t set = 32 + key + 24 + f->vmax + 2 + f->ttl_len;
    size_t get = 32 + key;
    size_t mget = 32 + (size_t)mget_keys * key;
    size_t field = 24; /* "$<n>\r\nf<index>\r\n" */
    size_t hset = 40 + key + (size_t)fields * (field + 24 + f->vmax + 2);
    size_t m = set > get ? set : get;
    m = m > mget ? m : mget;
    return m > hset ? m : hset;
}

void req_key(const req_fmt *f, char *dst, uint64_t k)
{
    memcpy(dst, f->prefix, f->prefix_len);
    char *d = dst + f->key_len;
    for (unsigned i = 0; i < f->width; i++) *--d = (char)('0' + k % 10), k /= 10;
}

#define PUT(lit) (memcpy(p, lit, sizeof(lit) - 1), p += sizeof(lit) - 1)

static char *put_key(const req_fmt *f, char *p, uint64_t k)
{
    if (!f->plain) {
        memcpy(p, f->key_hdr, f->key_hdr_len);
        p += f->key_hdr_len;
    }
    req_key(f, p, k);
    p += f->key_len;
    if (!f->plain) PUT("\r\n");
    return p;
}

size_t req_set(const req_fmt *f, char *dst, uint64_t key, size_t vlen)
{
    char *p = dst;
    if (vlen > f->vmax) vlen = f->vmax;
    if (f->plain) {
        PUT("SET ");
        p = put_key(f, p, key);
        *p++ = ' ';
        memcpy(p, f->values, vlen);
        p += vlen;
        memcpy(p, f->ttl, f->ttl_len);
        p += f->ttl_len;
        *p++ = '\n';
        return (size_t)(p - dst);
    }
    if (f->ttl_len)
        PUT("*5\r\n$3\r\nSET\r\n");
    else
        PUT("*3\r\n$3\r\nSET\r\n");
    p = put_key(f, p, key);
    *p++ = '$';
    p += put_u64(p, vlen);
    PUT("\r\n");
    memcpy(p, f->values, vlen);
    p += vlen;
    PUT("\r\n");
    memcpy(p, f->ttl, f->ttl_len);
    p += f->ttl_len;
    return (size_t)(p - dst);
}

size_t req_get(const req_fmt *f, char *dst, uint64_t key)
{
    char *p = dst;
    if (f->plain) {
        PUT("GET ");
        p = put_key(f, p, key);
        *p++ = '\n';
    } else {
        PUT("*2\r\n$3\r\nGET\r\n");
        p = put_key(f, p, key);
    }
    return (size_t)(p - dst);
}

size_t req_mget(const req_fmt *f, char *dst, const uint64_t *keys, unsigned n)
{
    char *p = dst;
    if (f->plain) {
        PUT("MGET");
        for (unsigned i = 0; i < n; i++) {
            *p++ = ' ';
            p = put_key(f, p, keys[i]);
        }
        *p++ = '\n';
    } else {
        *p++ = '*';
        p += put_u64(p, (uint64_t)n + 1);
        PUT("\r\n$4\r\nMGET\r\n");
        for (unsigned i = 0; i < n; i++) p = put_key(f, p, keys[i]);
    }
    return (size_t)(p - dst);
}

/* Writes field name i ("f<i>") as a bulk (RESP) or a word (plain). */
static char *put_field(const req_fmt *f, char *p, unsigned i)
{
    char name[24]; /* "f" + up to 20 digits: put_u64 takes a uint64_t */
    name[0] = 'f';
    size_t n = 1 + put_u64(name + 1, i);
    if (!f->plain) {
        *p++ = '$';
        p += put_u64(p, n);
        PUT("\r\n");
    } else {
        *p++ = ' ';
    }
    memcpy(p, name, n);
    p += n;
    if (!f->plain) PUT("\r\n");
    return p;
}

/* "*<argc>\r\n$<len>\r\n<name>\r\n" or "<name> " */
static char *put_head(const req_fmt *f, char *p, const char *name, uint64_t argc)
{
    size_t n = strlen(name);
    if (f->plain) {
        memcpy(p, name, n);
        p += n;
        *p++ = ' ';
        return p;
    }
    *p++ = '*';
    p += put_u64(p, argc);
    PUT("\r\n$");
    p += put_u64(p, n);
    PUT("\r\n");
    memcpy(p, name, n);
    p += n;
    PUT("\r\n");
    return p;
}

size_t req_hset(const req_fmt *f, char *dst, uint64_t key, unsigned n, size_t vlen)
{
    char *p = put_head(f, dst, "HSET", 2 + 2 * (uint64_t)n);
    if (vlen > f->vmax) vlen = f->vmax;
    p = put_key(f, p, key);
    for (unsigned i = 0; i < n; i++) {
        p = put_field(f, p, i);
        if (f->plain) {
            *p++ = ' ';
        } else {
            *p++ = '$';
            p += put_u64(p, vlen);
            PUT("\r\n");
        }
        memcpy(p, f->values, vlen);
        p += vlen;
        if (!f->plain) PUT("\r\n");
    }
    if (f->plain) *p++ = '\n';
    return (size_t)(p - dst);
}

size_t req_hmget(const req_fmt *f, char *dst, uint64_t key, unsigned n)
{
    char *p = put_head(f, dst, "HMGET", 2 + (uint64_t)n);
    p = put_key(f, p, key);
    for (unsigned i = 0; i < n; i++) p = put_field(f, p, i);
    if (f->plain) *p++ = '\n';
    return (size_t)(p - dst);
}

size_t req_auth(const req_fmt *f, char *dst, size_t cap, const char *password)
{
    int n;
    if (f->plain)
        n = snprintf(dst, cap, "AUTH %s\n", password);
    else
        n = snprintf(dst, cap, "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n", strlen(password), password);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

const char *req_type_name(req_type t)
{
    static const char *const names[] = {"SET", "GET", "MGET", "HSET", "HMGET"};
    return t < REQ_NTYPES ? names[t] : "?";
}
