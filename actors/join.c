#include "join.h"

#include <stdlib.h>
#include <string.h>

#include "reply.h"

int join_first_error(kvbuf *out, kv_req *const *subs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const kvbuf *r = &subs[i]->reply;
        if (r->len > 0 && r->data[0] == '-') {
            kvbuf_append(out, r->data, reply_elem_len(r->data, r->len));
            return 1;
        }
    }
    return 0;
}

void join_mget(kvbuf *out, kv_req *const *subs, unsigned n, const uint16_t *key_sub, unsigned nkeys)
{
    if (join_first_error(out, subs, n)) return;
    size_t *pos = kv_xcalloc(n ? n : 1, sizeof *pos);
    size_t total = 16; /* the array header */
    for (unsigned s = 0; s < n; s++) total += subs[s]->reply.len;
    kvbuf_reserve(out, total); /* once: no regrowth copying 10 x 16 KB values */
    reply_array(out, nkeys);
    for (unsigned i = 0; i < nkeys; i++) {
        unsigned s = key_sub[i];
        const kvbuf *r = &subs[s]->reply;
        size_t len = pos[s] < r->len ? reply_elem_len(r->data + pos[s], r->len - pos[s]) : 0;
        if (len == 0) {
            reply_nil(out); /* can't happen: a part answers every key */
            continue;
        }
        kvbuf_append(out, r->data + pos[s], len);
        pos[s] += len;
    }
    free(pos);
}

/* Reads ":<int>\r\n"; returns 0 or -1. */
static int int_reply(const kvbuf *r, int64_t *v)
{
    if (r->len < 4 || r->data[0] != ':') return -1;
    char *end;
    long long x = strtoll(r->data + 1, &end, 10);
    if (*end != '\r') return -1;
    *v = x;
    return 0;
}

int64_t join_sum_value(kv_req *const *subs, unsigned n)
{
    int64_t sum = 0, v;
    for (unsigned i = 0; i < n; i++) {
        if (int_reply(&subs[i]->reply, &v) != 0) return -1;
        sum += v;
    }
    return sum;
}

void join_sum(kvbuf *out, kv_req *const *subs, unsigned n)
{
    if (join_first_error(out, subs, n)) return;
    reply_int(out, join_sum_value(subs, n));
}

void join_ok(kvbuf *out, kv_req *const *subs, unsigned n)
{
    if (join_first_error(out, subs, n)) return;
    reply_ok(out);
}

/* Parses "*<n>\r\n" at the start of r; returns the header length or 0. */
static size_t array_header(const kvbuf *r, int64_t *count)
{
    if (r->len < 4 || r->data[0] != '*') return 0;
    char *end;
    long long x = strtoll(r->data + 1, &end, 10);
    if (end[0] != '\r' || (size_t)(end - r->data) + 2 > r->len) return 0;
    *count = x < 0 ? 0 : x;
    return (size_t)(end - r->data) + 2;
}

void join_concat(kvbuf *out, kv_req *const *subs, unsigned n)
{
    if (join_first_error(out, subs, n)) return;
    int64_t total = 0, c;
    for (unsigned i = 0; i < n; i++)
        if (array_header(&subs[i]->reply, &c)) total += c;
    reply_array(out, total);
    for (unsigned i = 0; i < n; i++) {
        const kvbuf *r = &subs[i]->reply;
        size_t h = array_header(r, &c);
        if (h) kvbuf_append(out, r->data + h, r->len - h);
    }
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

void join_random(kvbuf *out, kv_req *const *subs, unsigned n, uint64_t *rng)
{
    if (join_first_error(out, subs, n)) return;
    unsigned found = 0, pick = 0;
    for (unsigned i = 0; i < n; i++) {
        const kvbuf *r = &subs[i]->reply;
        if (r->len > 0 && r->data[0] == '$' && r->data[1] != '-') {
            /* reservoir sampling over the non-empty shards */
            found++;
            if (xorshift(rng) % found == 0) pick = i;
        }
    }
    if (found == 0) {
        reply_nil(out);
        return;
    }
    kvbuf_append(out, subs[pick]->reply.data, subs[pick]->reply.len);
}

int join_sum_fields(kv_req *const *subs, unsigned n, int64_t *sums, unsigned nfields)
{
    memset(sums, 0, nfields * sizeof *sums);
    for (unsigned i = 0; i < n; i++) {
        const kvbuf *r = &subs[i]->reply;
        int64_t count;
        size_t pos = array_header(r, &count);
        if (pos == 0 || count < (int64_t)nfields) return -1;
        for (unsigned f = 0; f < nfields; f++) {
            if (pos >= r->len || r->data[pos] != ':') return -1;
            char *end;
            sums[f] += strtoll(r->data + pos + 1, &end, 10);
            pos = (size_t)(end - r->data) + 2;
        }
    }
    return 0;
}

int join_info_dbs(kv_req *const *subs, unsigned n, unsigned nfields, int64_t (*dbs)[3],
                  unsigned ndbs)
{
    memset(dbs, 0, ndbs * sizeof *dbs);
    for (unsigned i = 0; i < n; i++) {
        const kvbuf *r = &subs[i]->reply;
        int64_t count;
        size_t pos = array_header(r, &count);
        if (pos == 0 || count < (int64_t)nfields || (count - nfields) % 4 != 0) return -1;
        int64_t v[4];
        for (int64_t f = 0; f < count; f++) {
            if (pos >= r->len || r->data[pos] != ':') return -1;
            char *end;
            long long x = strtoll(r->data + pos + 1, &end, 10);
            pos = (size_t)(end - r->data) + 2;
            if (f < (int64_t)nfields) continue;
            v[(f - nfields) % 4] = x;
            if ((f - nfields) % 4 != 3) continue;
            if (v[0] <= 0 || v[0] >= (int64_t)ndbs) continue;
            dbs[v[0]][0] += v[1];
            dbs[v[0]][1] += v[2];
            dbs[v[0]][2] += v[3];
        }
    }
    return 0;
}
