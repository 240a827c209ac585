/* reply_parser.c - RESP2 and plain-text reply parsers; see reply_parser.h. */
#include "bench/reply_parser.h"

#include <string.h>

void reply_parser_init(reply_parser *p)
{
    memset(p, 0, sizeof(*p));
}

/* Parses a signed decimal in [s, e); returns 0 or -1. */
static int parse_int(const char *s, const char *e, int64_t *out)
{
    int neg = 0;
    int64_t v = 0;
    if (s < e && *s == '-') neg = 1, s++;
    if (s == e || e - s > 18) return -1;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* One header line (without CRLF) has been read: updates the reply in
 * progress. Returns 0 or -1 for bad input. */
static int on_header(reply_parser *p, const char *line, size_t n)
{
    int top = p->pending == 0;
    int64_t v;
    reply_t *r = &p->cur;
    if (top) {
        memset(r, 0, sizeof(*r));
        p->pending = 1;
    }
    const char *body = line + 1, *end = line + n;
    switch (line[0]) {
    case '+':
    case '-':
        if (top) {
            r->kind = line[0] == '+' ? REPLY_STATUS : REPLY_ERROR;
            r->text = body;
            r->text_len = (size_t)(end - body);
        }
        p->pending--;
        return 0;
    case ':':
        if (parse_int(body, end, &v)) return -1;
        if (top) r->kind = REPLY_INT;
        p->pending--;
        return 0;
    case '$':
        if (parse_int(body, end, &v) || v < -1 || v > REPLY_MAX_BULK) return -1;
        if (v == -1) {
            if (top)
                r->kind = REPLY_NIL;
            else
                r->nils++;
            p->pending--;
        } else {
            if (top) r->kind = REPLY_BULK;
            p->bulk_left = v + 2;
        }
        return 0;
    case '*':
        if (parse_int(body, end, &v) || v < -1 || v > REPLY_MAX_ELEMS) return -1;
        if (top) {
            r->kind = v == -1 ? REPLY_NIL : REPLY_ARRAY;
            r->elems = v < 0 ? 0 : (uint32_t)v;
        } else if (v == -1) {
            r->nils++;
        }
        p->pending--;
        if (v > 0) p->pending += v;
        return 0;
    default:
        return -1;
    }
}

int reply_resp_feed(reply_parser *p, const char *buf, size_t len, size_t *used, reply_t *out)
{
    size_t off = 0;
    *used = 0;
    if (p->bad) return REPLY_BAD;
    while (off < len) {
        if (p->bulk_left > 0) {
            size_t avail = len - off;
            size_t take = (size_t)p->bulk_left < avail ? (size_t)p->bulk_left : avail;
            off += take;
            p->bulk_left -= (int64_t)take;
            if (p->bulk_left > 0) break;
            /* the CRLF may straddle two reads: check what is in this one */
            if (buf[off - 1] != '\n' || (take >= 2 && buf[off - 2] != '\r')) goto bad;
            p->pending--;
        } else {
            const char *nl = memchr(buf + off, '\n', len - off);
            if (!nl) {
                if (len - off > REPLY_MAX_LINE) goto bad;
                break;
            }
            size_t n = (size_t)(nl - (buf + off));
            if (n < 2 || nl[-1] != '\r') goto bad;
            if (on_header(p, buf + off, n - 1)) goto bad;
            off += n + 1;
        }
        if (p->pending == 0) {
            *used = off;
            *out = p->cur;
            return REPLY_DONE;
        }
    }
    *used = off;
    return REPLY_AGAIN;
bad:
    p->bad = 1;
    *used = off;
    return REPLY_BAD;
}

int reply_plain_feed(const char *buf, size_t len, size_t max_line, size_t *used, reply_t *out)
{
    const char *nl = memchr(buf, '\n', len);
    *used = 0;
    if (!nl) return len > max_line ? REPLY_BAD : REPLY_AGAIN;
    size_t n = (size_t)(nl - buf);
    *used = n + 1;
    if (n > 0 && buf[n - 1] == '\r') n--;
    memset(out, 0, sizeof(*out));
    out->text = buf;
    out->text_len = n;
    if (n == 2 && !memcmp(buf, "OK", 2))
        out->kind = REPLY_STATUS;
    else if (n >= 4 && !memcmp(buf, "ERR ", 4))
        out->kind = REPLY_ERROR;
    else if (n == 5 && !memcmp(buf, "(nil)", 5))
        out->kind = REPLY_NIL;
    else
        out->kind = REPLY_BULK;
    return REPLY_DONE;
}

void reply_plain_count(const char *line, size_t len, uint32_t *tokens, uint32_t *nils)
{
    uint32_t t = 0, z = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ') i++;
        if (i >= len) break;
        size_t s = i;
        while (i < len && line[i] != ' ') i++;
        t++;
        if (i - s == 5 && !memcmp(line + s, "(nil)", 5)) z++;
    }
    *tokens = t;
    *nils = z;
}
