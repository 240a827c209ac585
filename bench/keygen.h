/* keygen.h - random numbers and key-index streams for the load generator.
 *
 * Every connection owns one keygen_t, seeded from (seed, stream id), so a run
 * with the same --seed and the same shape replays the same key stream per
 * connection. Key indexes are in [0, nkeys). Plain caller-owned structs; no
 * allocation; one thread.
 */
#ifndef MEMKV_BENCH_KEYGEN_H
#define MEMKV_BENCH_KEYGEN_H

#include <stdint.h>

/* xoshiro256** state, seeded through splitmix64. */
typedef struct keygen_rng {
    uint64_t s[4];
} keygen_rng;

void keygen_rng_seed(keygen_rng *r, uint64_t seed, uint64_t stream);
uint64_t keygen_rng_next(keygen_rng *r);
/* Uniform in [0, n), n > 0 (Lemire's multiply-shift with rejection). */
uint64_t keygen_rng_below(keygen_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double keygen_rng_double(keygen_rng *r);

typedef enum keygen_pattern {
    KEYGEN_UNIFORM,
    KEYGEN_ZIPF,
    KEYGEN_SEQUENTIAL,
} keygen_pattern;

/* Zipf(s) over ranks 1..n by rejection-inversion (Hormann and Derflinger,
 * 1996): O(1) memory and time per sample, for any s > 0 (s != 1 handled
 * continuously). Constant after init; can be shared read-only by threads. */
typedef struct keygen_zipf {
    uint64_t n;
    double s;
    double h_x1;     /* H(1.5) - 1 */
    double h_n;      /* H(n + 0.5) */
    double accept_s; /* 2 - Hinv(H(2.5) - h(2)) */
} keygen_zipf;

/* Returns 0, or -1 when n == 0 or s <= 0. */
int keygen_zipf_init(keygen_zipf *z, uint64_t n, double s);
/* A rank in [1, n]; rank 1 is the most frequent. */
uint64_t keygen_zipf_sample(const keygen_zipf *z, keygen_rng *r);
/* The exact probability of rank k (for tests): k^-s / sum_{i<=n} i^-s. */
double keygen_zipf_prob(uint64_t n, double s, uint64_t k);

typedef struct keygen {
    keygen_pattern pattern;
    uint64_t nkeys;
    const keygen_zipf *zipf; /* borrowed; KEYGEN_ZIPF only */
    keygen_rng rng;
    uint64_t next;   /* KEYGEN_SEQUENTIAL: next index */
    uint64_t stride; /* KEYGEN_SEQUENTIAL: step between this stream's keys */
} keygen_t;

/* A stream of key indexes. Sequential streams are interleaved: stream j of
 * `nstreams` yields j, j + nstreams, j + 2 nstreams, ... (mod nkeys), so all
 * streams together walk the key space once in order. zipf must outlive kg. */
void keygen_init(keygen_t *kg, keygen_pattern p, uint64_t nkeys, const keygen_zipf *zipf,
                 uint64_t seed, uint64_t stream, uint64_t nstreams);
uint64_t keygen_next(keygen_t *kg);

/* Parses "uniform", "zipf", "sequential"; returns 0 or -1. */
int keygen_pattern_parse(const char *s, keygen_pattern *out);
const char *keygen_pattern_name(keygen_pattern p);

#endif
