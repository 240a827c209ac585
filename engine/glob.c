/* glob.c - glob matching with the semantics of Redis's KEYS patterns.
 *
 * Tokens: '*' any run of bytes, '?' any one byte, '[...]' a set (with '^'
 * negation, 'a-z' ranges in either order, '\x' for a literal x), '\x' a
 * literal x; anything else matches itself. An unterminated set ends at the
 * end of the pattern. Matching keeps only the last '*' as a backtrack point,
 * which is exact for globs (a later star can absorb anything an earlier
 * one could) and bounds the work by plen * slen, without recursion.
 */
#include "engine/glob.h"

#include <ctype.h>

static int fold(int c, int nocase)
{
    return nocase ? tolower(c) : c;
}

/* Matches byte c against the set starting just after '[' at p[0..n).
 * Stores the token length (after the '[') in *used. */
static int glob_set(const unsigned char *p, size_t n, int c, int nocase, size_t *used)
{
    size_t i = 0;
    int neg = 0, match = 0;

    if (i < n && p[i] == '^') {
        neg = 1;
        i++;
    }
    c = fold(c, nocase);
    while (i < n) {
        if (p[i] == '\\' && n - i >= 2) {
            if (fold(p[i + 1], nocase) == c) match = 1;
            i += 2;
        } else if (p[i] == ']') {
            i++;
            goto done;
        } else if (n - i >= 3 && p[i + 1] == '-') {
            int lo = fold(p[i], nocase), hi = fold(p[i + 2], nocase);
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            if (c >= lo && c <= hi) match = 1;
            i += 3;
        } else {
            if (fold(p[i], nocase) == c) match = 1;
            i++;
        }
    }
done:
    *used = i;
    return neg ? !match : match;
}

/* Matches one non-star token at p[0..n) against byte c; stores its length. */
static int glob_token(const unsigned char *p, size_t n, int c, int nocase, size_t *len)
{
    size_t used;
    int m;

    switch (p[0]) {
    case '?':
        *len = 1;
        return 1;
    case '[':
        m = glob_set(p + 1, n - 1, c, nocase, &used);
        *len = 1 + used;
        return m;
    case '\\':
        if (n >= 2) {
            *len = 2;
            return fold(p[1], nocase) == fold(c, nocase);
        }
        break; /* a trailing backslash is itself */
    default:
        break;
    }
    *len = 1;
    return fold(p[0], nocase) == fold(c, nocase);
}

int kv_glob_match(const char *pattern, size_t plen, const char *s, size_t slen, int nocase)
{
    const unsigned char *p = (const unsigned char *)pattern, *str = (const unsigned char *)s;
    size_t pi = 0, si = 0;
    size_t star_p = 0, star_s = 0;
    int have_star = 0;

    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            while (pi < plen && p[pi] == '*') pi++;
            if (pi == plen) return 1;
            have_star = 1;
            star_p = pi;
            star_s = si;
            continue;
        }
        size_t len;
        if (pi < plen && glob_token(p + pi, plen - pi, str[si], nocase, &len)) {
            pi += len;
            si++;
            continue;
        }
        if (!have_star) return 0;
        /* let the last star absorb one more byte and retry after it */
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*') pi++;
    return pi == plen;
}
