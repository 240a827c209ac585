/* keygen.c - RNG and key-index streams; see keygen.h. */
#include "bench/keygen.h"

#include <assert.h>
#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void keygen_rng_seed(keygen_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * UINT64_C(0xd1342543de82ef95));
    splitmix64(&x);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t keygen_rng_next(keygen_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t keygen_rng_below(keygen_rng *r, uint64_t n)
{
    assert(n > 0);
    unsigned __int128 m = (unsigned __int128)keygen_rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)keygen_rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double keygen_rng_double(keygen_rng *r)
{
    return (double)(keygen_rng_next(r) >> 11) * 0x1.0p-53;
}

/* log1p(x) / x, continuous at 0. */
static double helper1(double x)
{
    if (fabs(x) > 1e-8) return log1p(x) / x;
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

/* expm1(x) / x, continuous at 0. */
static double helper2(double x)
{
    if (fabs(x) > 1e-8) return expm1(x) / x;
    return 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

/* h(x) = x^-s and H, an antiderivative of h, with its inverse. */
static double zh(double s, double x)
{
    return exp(-s * log(x));
}
static double zH(double s, double x)
{
    double lx = log(x);
    return helper2((1.0 - s) * lx) * lx;
}
static double zHinv(double s, double x)
{
    double t = x * (1.0 - s);
    if (t < -1.0) t = -1.0; /* rounding guard */
    return exp(helper1(t) * x);
}

int keygen_zipf_init(keygen_zipf *z, uint64_t n, double s)
{
    if (n == 0 || !(s > 0)) return -1;
    z->n = n;
    z->s = s;
    z->h_x1 = zH(s, 1.5) - 1.0;
    z->h_n = zH(s, (double)n + 0.5);
    z->accept_s = 2.0 - zHinv(s, zH(s, 2.5) - zh(s, 2.0));
    return 0;
}

uint64_t keygen_zipf_sample(const keygen_zipf *z, keygen_rng *r)
{
    for (;;) {
        double u = z->h_n + keygen_rng_double(r) * (z->h_x1 - z->h_n);
        double x = zHinv(z->s, u);
        double kd = floor(x + 0.5);
        if (kd < 1.0) kd = 1.0;
        if (kd > (double)z->n) kd = (double)z->n;
        if (kd - x <= z->accept_s || u >= zH(z->s, kd + 0.5) - zh(z->s, kd)) return (uint64_t)kd;
    }
}

double keygen_zipf_prob(uint64_t n, double s, uint64_t k)
{
    double norm = 0;
    for (uint64_t i = n; i >= 1; i--) norm += pow((double)i, -s); /* small terms first */
    return pow((double)k, -s) / norm;
}

void keygen_init(keygen_t *kg, keygen_pattern p, uint64_t nkeys, const keygen_zipf *zipf,
                 uint64_t seed, uint64_t stream, uint64_t nstreams)
{
    assert(nkeys > 0);
    assert(p != KEYGEN_ZIPF || zipf != NULL);
    memset(kg, 0, sizeof(*kg));
    kg->pattern = p;
    kg->nkeys = nkeys;
    kg->zipf = zipf;
    keygen_rng_seed(&kg->rng, seed, stream);
    if (nstreams == 0) nstreams = 1;
    kg->stride = nstreams;
    kg->next = stream % nkeys;
}

uint64_t keygen_next(keygen_t *kg)
{
    switch (kg->pattern) {
    case KEYGEN_UNIFORM:
        return keygen_rng_below(&kg->rng, kg->nkeys);
    case KEYGEN_ZIPF:
        return keygen_zipf_sample(kg->zipf, &kg->rng) - 1;
    case KEYGEN_SEQUENTIAL: {
        uint64_t k = kg->next;
        kg->next = (kg->next + kg->stride) % kg->nkeys;
        return k;
    }
    }
    return 0;
}

int keygen_pattern_parse(const char *s, keygen_pattern *out)
{
    if (!strcmp(s, "uniform"))
        *out = KEYGEN_UNIFORM;
    else if (!strcmp(s, "zipf") || !strcmp(s, "zipfian"))
        *out = KEYGEN_ZIPF;
    else if (!strcmp(s, "sequential"))
        *out = KEYGEN_SEQUENTIAL;
    else
        return -1;
    return 0;
}

const char *keygen_pattern_name(keygen_pattern p)
{
    switch (p) {
    case KEYGEN_UNIFORM:
        return "uniform";
    case KEYGEN_ZIPF:
        return "zipf";
    case KEYGEN_SEQUENTIAL:
        return "sequential";
    }
    return "?";
}
