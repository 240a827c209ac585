/* parse.c - the incremental request parser (see parse.h).
 *
 * Progress is kept as offsets from the command start, so the caller may move
 * its buffer between calls. What the private fields of parse_state mean:
 *
 *   RESP, count header not read yet:  want == -1, pos = bytes of the header
 *                                     line known to hold no '\r'.
 *   RESP, after the count header:     want = count, pos = start of the next
 *                                     bulk header or payload, nargs bulks done.
 *       at a bulk header:             bulk = -1 - (bytes after pos known to
 *                                     hold no '\r'), so -1 means none yet.
 *       in a payload:                 bulk = its length (>= 0).
 *   inline/plain line:                want == -1, pos = bytes known to hold
 *                                     no '\n'.
 *
 * So however the input is split, no byte is searched twice for a line end,
 * and a payload is never scanned at all: it is complete once enough bytes
 * have arrived. A line is split into words once, when its '\n' is there.
 *
 * Where Redis 7.0 is followed, and where not on purpose:
 *   - Header lines end at '\r'; the byte after it is skipped unchecked, and
 *     so are the two bytes after a bulk payload (Redis does not check that
 *     they are "\r\n" either: "*1\r\n$4\r\nPINGxy" is a valid PING).
 *   - A bulk header not starting with '$' fails as soon as its first byte is
 *     there; Redis waits for the end of the line (and says "too big bulk
 *     count string" if none comes within 64 KB).
 *   - Lines longer than max_inline fail whether or not their '\n' has
 *     arrived, so the result does not depend on how the input was split.
 *   - NUL is an ordinary byte in lines (Redis stops reading a line at NUL).
 *   - The multibulk count is limited to max_args (Redis 7.0: INT_MAX).
 *
 * Error texts are full Redis error lines without the leading '-', as
 * reply_error() wants them: "ERR Protocol error: invalid bulk length".
 * Allocation failure is a sticky PARSE_BAD with "ERR out of memory".
 */
#include "net/parse.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_MBULK_LEN    "ERR Protocol error: invalid multibulk length"
#define ERR_BULK_LEN     "ERR Protocol error: invalid bulk length"
#define ERR_MBULK_BIG    "ERR Protocol error: too big mbulk count string"
#define ERR_BULK_BIG     "ERR Protocol error: too big bulk count string"
#define ERR_INLINE_BIG   "ERR Protocol error: too big inline request"
#define ERR_QUOTES       "ERR Protocol error: unbalanced quotes in request"
#define ERR_DOLLAR       "ERR Protocol error: expected '$', got '%c'"
#define ERR_DOLLAR_SHORT "ERR Protocol error: expected '$'"
#define ERR_NOMEM        "ERR out of memory"
#define ERR_MBULK_UNAUTH "ERR Protocol error: unauthenticated multibulk length"
#define ERR_BULK_UNAUTH  "ERR Protocol error: unauthenticated bulk length"

/* Argument arrays bigger than this are freed between commands, so that one
 * huge command does not pin memory for the life of the connection. */
#define ARGS_KEEP 1024

void parse_limits_default(parse_limits *l)
{
    assert(l != NULL);
    l->max_args = 1024 * 1024;
    l->max_bulk = (size_t)512 * 1024 * 1024;
    l->max_inline = 64 * 1024;
    l->big_bulk = PARSE_BIG_BULK;
    l->unauth = 0;
}

static void bigs_clear(parse_state *ps);

/* lim may be NULL for Redis's defaults. */
void parse_init(parse_state *ps, const parse_limits *lim)
{
    assert(ps != NULL);
    memset(ps, 0, sizeof *ps);
    if (lim != NULL)
        ps->lim = *lim;
    else
        parse_limits_default(&ps->lim);
    if (ps->lim.max_args > INT_MAX) ps->lim.max_args = INT_MAX; /* argc is an int */
    ps->want = -1;
    ps->bulk = -1;
}

void parse_set_limits(parse_state *ps, const parse_limits *lim)
{
    assert(ps != NULL && lim != NULL);
    assert(ps->pos == 0 && ps->want < 0);
    ps->lim = *lim;
    if (ps->lim.max_args > INT_MAX) ps->lim.max_args = INT_MAX;
}

/* Accepts NULL and zeroed states; leaves ps as parse_init would with no
 * arrays, keeping the limits. */
void parse_destroy(parse_state *ps)
{
    if (ps == NULL) return;
    bigs_clear(ps);
    free(ps->bigs);
    free(ps->big);
    free(ps->argv);
    free(ps->off);
    free(ps->len);
    free(ps->scratch);
    parse_limits lim = ps->lim;
    memset(ps, 0, sizeof *ps);
    ps->lim = lim;
    ps->want = -1;
    ps->bulk = -1;
}

/* ---- state helpers ------------------------------------------------------ */

/* Frees the big bulks of the last command that were not taken. */
static void bigs_clear(parse_state *ps)
{
    for (size_t k = 0; k < ps->nbigs; k++) free(ps->bigs[k].p);
    ps->nbigs = 0;
}

static int bigs_push(parse_state *ps, size_t arg, char *p)
{
    if (ps->nbigs == ps->bigs_cap) {
        size_t ncap = ps->bigs_cap ? ps->bigs_cap * 2 : 4;
        struct parse_big *b = realloc(ps->bigs, ncap * sizeof *b);
        if (b == NULL) return -1;
        ps->bigs = b;
        ps->bigs_cap = ncap;
    }
    ps->bigs[ps->nbigs].arg = arg;
    ps->bigs[ps->nbigs].p = p;
    ps->nbigs++;
    return 0;
}

static void args_free(parse_state *ps)
{
    free(ps->argv);
    free(ps->off);
    free(ps->len);
    ps->argv = NULL;
    ps->off = ps->len = NULL;
    ps->cap = 0;
}

/* Makes room for one more argument. Returns 0, or -1 on out of memory (the
 * arrays stay as they were). */
static int args_grow(parse_state *ps)
{
    if (ps->nargs < ps->cap) return 0;
    size_t ncap = ps->cap ? ps->cap * 2 : 8;
    if (ncap > SIZE_MAX / sizeof(kv_str)) return -1;
    /* Each array is replaced only once its bigger copy exists, so a failure
     * part-way leaves every array at least ps->cap long. */
    kv_str *argv = realloc(ps->argv, ncap * sizeof *argv);
    if (argv == NULL) return -1;
    ps->argv = argv;
    size_t *off = realloc(ps->off, ncap * sizeof *off);
    if (off == NULL) return -1;
    ps->off = off;
    size_t *len = realloc(ps->len, ncap * sizeof *len);
    if (len == NULL) return -1;
    ps->len = len;
    ps->cap = ncap;
    return 0;
}

static int args_push(parse_state *ps, size_t off, size_t len)
{
    if (args_grow(ps) != 0) return -1;
    ps->off[ps->nargs] = off;
    ps->len[ps->nargs] = len;
    ps->nargs++;
    return 0;
}

/* Returns 0 with ps->scratch at least n bytes long, or -1. */
static int scratch_reserve(parse_state *ps, size_t n)
{
    if (n <= ps->scratch_cap && ps->scratch != NULL) return 0;
    size_t ncap = n < 64 ? 64 : n;
    char *p = realloc(ps->scratch, ncap);
    if (p == NULL) return -1;
    ps->scratch = p;
    ps->scratch_cap = ncap;
    return 0;
}

/* Forgets the command in progress (not the arrays, not a sticky error). */
static void state_clear(parse_state *ps)
{
    ps->pos = 0;
    ps->want = -1;
    ps->bulk = -1;
    ps->nargs = 0;
}

static long fail(parse_state *ps, const char *err)
{
    ps->err = err;
    ps->argc = 0;
    return PARSE_BAD;
}

/* Finishes a command that took n bytes: argv points at base + off[i]. */
static long done(parse_state *ps, parse_proto proto, const char *base, size_t n)
{
    for (size_t i = 0; i < ps->nargs; i++) {
        ps->argv[i].p = base + ps->off[i];
        ps->argv[i].len = ps->len[i];
    }
    for (size_t k = 0; k < ps->nbigs; k++) ps->argv[ps->bigs[k].arg].p = ps->bigs[k].p;
    ps->argc = (int)ps->nargs;
    ps->proto = proto;
    state_clear(ps);
    return (long)n;
}

/* ---- RESP multibulk ----------------------------------------------------- */

/* Parses p[0..n) as a whole signed decimal the way Redis's string2ll does:
 * no sign other than a leading '-', no leading zeros, no "-0", no spaces.
 * Returns 1 and sets *out, or 0. */
static int parse_ll(const char *p, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (n == 0 || n > 20) return 0;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return 1;
    }
    if (p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || p[i] < '1' || p[i] > '9') return 0;
    unsigned long long v = 0;
    const unsigned long long lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (lim - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    else
        *out = (long long)v;
    return 1;
}

/* Finds the end of the header line starting at buf[start]: a '\r' with one
 * more byte after it. *clean counts the bytes after start known to hold no
 * '\r' and is advanced, so each byte is looked at once. Returns 1 with *cr
 * set, 0 if more bytes are needed, -1 if the line is longer than max_inline
 * (also when its '\r' has already arrived, for split independence). */
static int header_end(const parse_state *ps, const char *buf, size_t len, size_t start,
                      size_t *clean, size_t *cr)
{
    size_t avail = len - start;
    size_t stop = avail > ps->lim.max_inline ? ps->lim.max_inline + 1 : avail;
    const char *hit = NULL;
    if (*clean < stop) hit = memchr(buf + start + *clean, '\r', stop - *clean);
    if (hit == NULL) {
        *clean = stop;
        return avail > ps->lim.max_inline ? -1 : 0;
    }
    size_t at = (size_t)(hit - buf);
    *clean = at - start;
    if (at + 1 >= len) return 0;
    *cr = at;
    return 1;
}

static long fail_dollar(parse_state *ps, char got)
{
    /* Redis turns CR and LF in error texts into spaces; NUL would cut our
     * C string short, so it gets the same treatment. */
    if (got == '\r' || got == '\n' || got == '\0') got = ' ';
    size_t need = sizeof ERR_DOLLAR;
    if (scratch_reserve(ps, need) != 0) return fail(ps, ERR_DOLLAR_SHORT);
    snprintf(ps->scratch, need, ERR_DOLLAR, got);
    return fail(ps, ps->scratch);
}

/* Reads "*<count>\r\n". Sets *go_on if the bulks follow; otherwise returns
 * the parse_next result: PARSE_AGAIN, PARSE_BAD, or the header's length for
 * a count <= 0 (a command with argc 0). */
static long resp_count(parse_state *ps, const char *buf, size_t len, int *go_on)
{
    size_t clean = ps->pos, cr = 0;
    int r = header_end(ps, buf, len, 0, &clean, &cr);
    ps->pos = clean;
    *go_on = 0;
    if (r == 0) return PARSE_AGAIN;
    if (r < 0) return fail(ps, ERR_MBULK_BIG);
    long long n;
    if (!parse_ll(buf + 1, cr - 1, &n) || n > INT_MAX) return fail(ps, ERR_MBULK_LEN);
    /* Redis's order: counts up to INT_MAX are "unauthenticated" before AUTH */
    if (ps->lim.unauth && n > PARSE_UNAUTH_ARGS) return fail(ps, ERR_MBULK_UNAUTH);
    if (n > 0 && (unsigned long long)n > ps->lim.max_args) return fail(ps, ERR_MBULK_LEN);
    if (n <= 0) return done(ps, PARSE_RESP, buf, cr + 2);
    ps->want = n;
    ps->pos = cr + 2;
    ps->bulk = -1;
    *go_on = 1;
    return 0;
}

/* Reads "$<len>\r\n" at ps->pos. Returns 1 with ps->bulk set, 0 for more
 * bytes, or PARSE_BAD. */
static long resp_bulk_header(parse_state *ps, const char *buf, size_t len)
{
    if (ps->pos >= len) return 0;
    if (buf[ps->pos] != '$') return fail_dollar(ps, buf[ps->pos]);
    size_t clean = (size_t)(-1 - ps->bulk), cr = 0;
    int r = header_end(ps, buf, len, ps->pos, &clean, &cr);
    ps->bulk = -1 - (long long)clean;
    if (r == 0) return 0;
    if (r < 0) return fail(ps, ERR_BULK_BIG);
    long long n;
    size_t start = ps->pos + 1;
    if (!parse_ll(buf + start, cr - start, &n) || n < 0 || (unsigned long long)n > ps->lim.max_bulk)
        return fail(ps, ERR_BULK_LEN);
    if (ps->lim.unauth && n > PARSE_UNAUTH_BULK) return fail(ps, ERR_BULK_UNAUTH);
    ps->bulk = n;
    ps->pos = cr + 2;
    return 1;
}

/* The capacity ps->big should have once `have` of its n payload bytes are
 * there: at most PARSE_BIG_AHEAD or `have` bytes more than arrived, so a
 * client announcing a huge bulk gets memory only as its bytes come (the
 * announced length is a claim, not a commitment), and values up to
 * PARSE_BIG_AHEAD get one allocation of their exact size. Past that the
 * buffer doubles, and its last size is the exact one. */
static size_t big_target(size_t n, size_t have)
{
    size_t ahead = have > PARSE_BIG_AHEAD ? have : PARSE_BIG_AHEAD;
    return n - have <= ahead ? n : have + ahead;
}

/* A new buffer of n bytes in the layout of kv_xmalloc_pages (page aligned
 * under jemalloc, so that no random offset makes it touch one page more);
 * NULL on out of memory. */
static char *big_alloc(size_t n)
{
#ifdef MEMKV_JEMALLOC
    size_t page = 4096;
    return aligned_alloc(page, n ? (n + page - 1) / page * page : page);
#else
    return malloc(n);
#endif
}

/* Makes ps->big (NULL at first) hold at least need payload bytes, growing
 * it to big_target of the `arrived` bytes (need <= big_target(arrived)).
 * Returns 0, or -1 on out of memory (ps->big unchanged). */
static int big_grow(parse_state *ps, size_t arrived, size_t need)
{
    size_t n = (size_t)ps->bulk;
    if (ps->big != NULL && need <= ps->big_cap) return 0;
    size_t cap = big_target(n, arrived);
    assert(need <= cap);
    /* No NUL after the payload: a first buffer of the exact size is the
     * one a stored value takes as it is (entry_new_own), page aligned as
     * kv_xmalloc_pages makes them; one byte more would cost a size class
     * more at sizes of whole pages (and page faults on every SET, as the
     * freed values no longer fit the next buffers). */
    char *p = ps->big == NULL && cap == n ? big_alloc(cap) : realloc(ps->big, cap ? cap : 1);
    if (p == NULL) return -1;
    if (ps->big == NULL) ps->big_have = 0;
    ps->big = p;
    ps->big_cap = cap;
    return 0;
}

/* The payload of a big bulk (ps->bulk bytes) at ps->pos: copies what buf
 * holds of it into ps->big, taking those bytes. Returns 1 once the payload
 * and the two bytes after it are there, 0 for more bytes, or PARSE_BAD. */
static long resp_big_payload(parse_state *ps, const char *buf, size_t len)
{
    size_t n = (size_t)ps->bulk;
    size_t have = ps->big != NULL ? ps->big_have : 0;
    size_t take = n - have;
    if (take > len - ps->pos) take = len - ps->pos;
    if (big_grow(ps, have + take, have + take) != 0) return fail(ps, ERR_NOMEM);
    memcpy(ps->big + ps->big_have, buf + ps->pos, take);
    ps->big_have += take;
    ps->big_copied += take;
    ps->pos += take;
    if (ps->big_have < n || len - ps->pos < 2) return 0;
    assert(ps->big_cap == n);
    if (args_push(ps, 0, n) != 0 || bigs_push(ps, ps->nargs - 1, ps->big) != 0)
        return fail(ps, ERR_NOMEM);
    ps->big = NULL;
    ps->big_have = ps->big_cap = 0;
    ps->pos += 2;
    ps->bulk = -1;
    return 1;
}

char *parse_direct(parse_state *ps, size_t buffered, size_t *room)
{
    assert(ps != NULL && room != NULL);
    if (ps->big == NULL || ps->err != NULL || buffered != ps->pos) return NULL;
    size_t n = (size_t)ps->bulk;
    if (ps->big_have == n) return NULL; /* only the CRLF is missing */
    /* A full buffer grows now: its bytes have all arrived. */
    if (ps->big_have == ps->big_cap && big_grow(ps, ps->big_have, ps->big_have + 1) != 0)
        return NULL; /* the bytes go through the caller's buffer, and
                        parse_next reports the out of memory */
    *room = ps->big_cap - ps->big_have;
    return ps->big + ps->big_have;
}

void parse_direct_done(parse_state *ps, size_t n)
{
    assert(ps->big != NULL && n <= ps->big_cap - ps->big_have);
    ps->big_have += n;
}

size_t parse_big_copied(parse_state *ps)
{
    size_t n = ps->big_copied;
    ps->big_copied = 0;
    return n;
}

size_t parse_big_bytes(const parse_state *ps)
{
    size_t n = ps->big ? ps->big_have : 0;
    if (ps->argc == 0)
        for (size_t k = 0; k < ps->nbigs; k++) n += ps->len[ps->bigs[k].arg];
    return n;
}

size_t parse_nbig(const parse_state *ps)
{
    return ps->argc > 0 ? ps->nbigs : 0;
}

char *parse_take_big(parse_state *ps, size_t k, int *arg)
{
    assert(k < ps->nbigs);
    char *p = ps->bigs[k].p;
    *arg = (int)ps->bigs[k].arg;
    ps->bigs[k].p = NULL;
    return p;
}

static long parse_resp(parse_state *ps, const char *buf, size_t len)
{
    if (ps->want < 0) {
        int go_on;
        long r = resp_count(ps, buf, len, &go_on);
        if (!go_on) return r;
    }
    while (ps->nargs < (size_t)ps->want) {
        if (ps->bulk < 0) {
            long r = resp_bulk_header(ps, buf, len);
            if (r <= 0) return r == 0 ? PARSE_AGAIN : r;
        }
        /* Never before AUTH: PARSE_UNAUTH_BULK is below PARSE_BIG_BULK, and a
         * lower big_bulk must not give unauthenticated clients buffers. */
        if (ps->lim.big_bulk && !ps->lim.unauth && (size_t)ps->bulk >= ps->lim.big_bulk) {
            long r = resp_big_payload(ps, buf, len);
            if (r <= 0) return r == 0 ? PARSE_AGAIN : r;
            continue;
        }
        /* The payload and the two bytes after it; no overflow as pos <= len. */
        size_t n = (size_t)ps->bulk, avail = len - ps->pos;
        if (avail < n || avail - n < 2) return PARSE_AGAIN;
        if (args_push(ps, ps->pos, n) != 0) return fail(ps, ERR_NOMEM);
        ps->pos += n + 2;
        ps->bulk = -1;
    }
    return done(ps, PARSE_RESP, buf, ps->pos);
}

/* ---- RESP fast path ----------------------------------------------------- */

/* Reads the decimal header number at buf[*at..len) of the forms the fast
 * path takes: "0" (if zero_ok) or 1-9 digits without a leading zero,
 * followed by '\r' and one more byte. Returns it and advances *at past
 * those two, or -1 for anything else (other forms, too long, not all there):
 * the general path then decides, with Redis's errors. */
static long long fast_num(const char *buf, size_t len, size_t *at, int zero_ok)
{
    size_t i = *at, end = len - i > 11 ? i + 11 : len; /* 9 digits, '\r', one byte */
    if (i >= end || buf[i] < '0' || buf[i] > '9') return -1;
    if (buf[i] == '0') {
        if (!zero_ok || i + 2 >= end || buf[i + 1] != '\r') return -1;
        *at = i + 3;
        return 0;
    }
    long long v = 0;
    for (; i < end && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (buf[i] - '0');
    if (i + 1 >= end || buf[i] != '\r') return -1;
    *at = i + 2;
    return v;
}

/* Makes argv, off and len hold at least n arguments. 0, or -1. */
static int args_reserve(parse_state *ps, size_t n)
{
    size_t keep = ps->nargs;
    int rc = 0;
    while (ps->cap < n && rc == 0) {
        ps->nargs = ps->cap; /* args_grow grows a full array */
        rc = args_grow(ps);
    }
    ps->nargs = keep;
    return rc;
}

/* A whole RESP command of small bulks, all of it in buf, in the common
 * forms: parsed in one pass, argv pointing into buf. Returns its length,
 * or 0 when the general path must take it (incomplete, a big bulk, an
 * unauthenticated client, any unusual or bad header); nothing in ps has
 * changed then but the arrays' capacity. Only at a command boundary. */
static long resp_fast(parse_state *ps, const char *buf, size_t len)
{
    size_t at = 1;
    if (ps->lim.unauth || ps->lim.max_inline < 16) return 0; /* header limits: the general path */
    long long want = fast_num(buf, len, &at, 0);
    if (want <= 0 || (unsigned long long)want > ps->lim.max_args || want > 64) return 0;
    if (ps->cap < (size_t)want && args_reserve(ps, (size_t)want) != 0) return 0;
    size_t big = ps->lim.big_bulk ? ps->lim.big_bulk : SIZE_MAX;
    for (long long i = 0; i < want; i++) {
        if (at >= len || buf[at] != '$') return 0;
        at++;
        long long n = fast_num(buf, len, &at, 1);
        if (n < 0 || (unsigned long long)n > ps->lim.max_bulk || (size_t)n >= big) return 0;
        if (len - at < (size_t)n + 2) return 0;
        ps->argv[i].p = buf + at;
        ps->argv[i].len = (size_t)n;
        at += (size_t)n + 2;
    }
    ps->argc = (int)want;
    ps->proto = PARSE_RESP;
    return (long)at;
}

/* ---- inline and plain lines -------------------------------------------- */

/* isspace() in the C locale, without the locale. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* What a backslash and c stand for in double quotes. */
static char unescape(char c)
{
    static const char from[] = "nrtba", to[] = "\n\r\t\b\a";
    const char *hit = memchr(from, c, sizeof from - 1);
    return hit != NULL ? to[hit - from] : c;
}

/* Copies the double-quoted word at s[*i] (just after the opening quote) to
 * out[*w], up to and past its closing quote. Returns 0, or -1 if the quote is
 * unbalanced or not followed by a space or the end. */
static int split_dquoted(const char *s, size_t n, size_t *i, char *out, size_t *w)
{
    size_t k = *i;
    for (;;) {
        if (k == n) return -1;
        char c = s[k];
        if (c == '\\' && k + 3 < n && s[k + 1] == 'x' && hex_val(s[k + 2]) >= 0 &&
            hex_val(s[k + 3]) >= 0) {
            out[(*w)++] = (char)(hex_val(s[k + 2]) * 16 + hex_val(s[k + 3]));
            k += 4;
        } else if (c == '\\' && k + 1 < n) {
            out[(*w)++] = unescape(s[k + 1]);
            k += 2;
        } else if (c == '"') {
            if (k + 1 < n && !is_space(s[k + 1])) return -1;
            *i = k + 1;
            return 0;
        } else {
            out[(*w)++] = c;
            k++;
        }
    }
}

/* Like split_dquoted for 'single quotes', where only \' is an escape. */
static int split_squoted(const char *s, size_t n, size_t *i, char *out, size_t *w)
{
    size_t k = *i;
    for (;;) {
        if (k == n) return -1;
        char c = s[k];
        if (c == '\\' && k + 1 < n && s[k + 1] == '\'') {
            out[(*w)++] = '\'';
            k += 2;
        } else if (c == '\'') {
            if (k + 1 < n && !is_space(s[k + 1])) return -1;
            *i = k + 1;
            return 0;
        } else {
            out[(*w)++] = c;
            k++;
        }
    }
}

/* Splits the line s[0..n) into words in ps->scratch the way Redis's
 * sdssplitargs does, pushing their offsets. A word ends at a space, tab, CR
 * or LF, or after a closing quote; a quote inside a word opens a quoted part
 * of it ("ab\"cd\"" is abcd). Returns 0, -1 for unbalanced quotes, -2 for out
 * of memory. */
static int split_line(parse_state *ps, const char *s, size_t n)
{
    if (scratch_reserve(ps, n) != 0) return -2;
    char *out = ps->scratch;
    size_t i = 0, w = 0;
    for (;;) {
        while (i < n && is_space(s[i])) i++;
        if (i == n) return 0;
        size_t start = w;
        int word = 1;
        while (word && i < n) {
            char c = s[i];
            int r = 0;
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                word = 0;
            } else if (c == '"') {
                i++;
                r = split_dquoted(s, n, &i, out, &w);
                word = 0;
            } else if (c == '\'') {
                i++;
                r = split_squoted(s, n, &i, out, &w);
                word = 0;
            } else {
                out[w++] = c;
                i++;
            }
            if (r != 0) return -1;
        }
        if (args_push(ps, start, w - start) != 0) return -2;
    }
}

static long parse_line(parse_state *ps, const char *buf, size_t len)
{
    size_t max = ps->lim.max_inline;
    size_t stop = len > max ? max + 1 : len;
    const char *nl = ps->pos < stop ? memchr(buf + ps->pos, '\n', stop - ps->pos) : NULL;
    if (nl == NULL) {
        ps->pos = stop;
        return len > max ? fail(ps, ERR_INLINE_BIG) : PARSE_AGAIN;
    }
    size_t at = (size_t)(nl - buf);
    parse_proto proto = at > 0 && buf[at - 1] == '\r' ? PARSE_INLINE : PARSE_PLAIN;
    size_t n = proto == PARSE_INLINE ? at - 1 : at;
    ps->nargs = 0;
    int r = split_line(ps, buf, n);
    if (r == -1) return fail(ps, ERR_QUOTES);
    if (r != 0) return fail(ps, ERR_NOMEM);
    return done(ps, proto, ps->scratch, at + 1);
}

/* ---- entry point -------------------------------------------------------- */

long parse_next(parse_state *ps, const char *buf, size_t len)
{
    assert(ps != NULL);
    assert(buf != NULL || len == 0);
    if (ps->err != NULL) return PARSE_BAD;
    ps->argc = 0;
    if (ps->pos > len) {
        /* The caller broke the contract (fewer bytes than last time); start
         * the command over rather than read out of bounds. */
        assert(!"parse_next: input shrank between calls");
        state_clear(ps);
        free(ps->big);
        ps->big = NULL;
        ps->big_have = ps->big_cap = 0;
    }
    int fresh = ps->pos == 0 && ps->want < 0;
    if (fresh) bigs_clear(ps); /* the last command's, not taken */
    if (fresh && ps->cap > ARGS_KEEP) args_free(ps);
    if (len == 0) return PARSE_AGAIN;
    if (buf[0] == '*') {
        long r = fresh ? resp_fast(ps, buf, len) : 0;
        return r > 0 ? r : parse_resp(ps, buf, len);
    }
    return parse_line(ps, buf, len);
}
