#include "actors/join.h"

#include <stdlib.h>
#include <string.h>

#include "engine/reply.h"

int join_first_error(kvbuf *out, kv_req *const *subs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const kvbuf *r = &subs[i]->reply;
        if (subs[i]->res.kind != CMD_RES_NONE) continue; /* answered in type: no error */
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

int64_t join_sum_value(kv_req *const *subs, unsigned n)
{
    int64_t sum = 0;
    for (unsigned i = 0; i < n; i++) {
        if (subs[i]->res.kind != CMD_RES_INT) return -1;
        sum += subs[i]->res.num;
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

void join_concat(kvbuf *out, kv_req *const *subs, unsigned n)
{
    if (join_first_error(out, subs, n)) return;
    int64_t total = 0;
    for (unsigned i = 0; i < n; i++)
        if (subs[i]->res.kind == CMD_RES_KEYS) total += subs[i]->res.count;
    reply_array(out, total);
    for (unsigned i = 0; i < n; i++)
        if (subs[i]->res.kind == CMD_RES_KEYS)
            kvbuf_append(out, subs[i]->reply.data, subs[i]->reply.len);
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
        if (subs[i]->res.kind == CMD_RES_KEYS && subs[i]->res.count > 0) {
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

int join_sum_fields(kv_req *const *subs, unsigned n, int64_t *sums)
{
    memset(sums, 0, CMD_INFO_NFIELDS * sizeof *sums);
    for (unsigned i = 0; i < n; i++) {
        const cmd_figures *f = subs[i]->res.fig;
        if (subs[i]->res.kind != CMD_RES_FIGURES || f == NULL) return -1;
        for (unsigned k = 0; k < CMD_INFO_NFIELDS; k++) sums[k] += f->v[k];
    }
    return 0;
}

int join_info_dbs(kv_req *const *subs, unsigned n, int64_t (*dbs)[3], unsigned ndbs)
{
    memset(dbs, 0, ndbs * sizeof *dbs);
    for (unsigned i = 0; i < n; i++) {
        const cmd_figures *f = subs[i]->res.fig;
        if (subs[i]->res.kind != CMD_RES_FIGURES || f == NULL) return -1;
        for (uint32_t k = 0; k < f->ndb; k++) {
            const cmd_db_figures *d = &f->db[k];
            if (d->db == 0 || d->db >= ndbs) continue;
            dbs[d->db][0] += d->keys;
            dbs[d->db][1] += d->expires;
            dbs[d->db][2] += d->ttl_ms;
        }
    }
    return 0;
}
