/* plain.c - the original mem-kv's plain-text replies, made from RESP.
 *
 * One line per reply: status text (OK), the raw value, (nil), integers as
 * digits, arrays as their elements separated by single spaces, errors as
 * "ERR <message>". DEL answers OK as the original did (CMD_PLAIN_OK in its
 * row). Network thread.
 */
#include <string.h>

#include "net/net_internal.h"
#include "engine/reply.h"

/* Appends the plain form of the element at p; returns its RESP length. */
static size_t plain_elem(const char *p, size_t len, kvbuf *out)
{
    size_t n = reply_elem_len(p, len);
    if (n == 0) return len; /* malformed: cannot happen for our own replies */
    const char *line_end = memchr(p, '\r', n);
    size_t first = (size_t)(line_end - p); /* type byte + header text */
    switch (p[0]) {
    case '+':
    case ':':
        kvbuf_append(out, p + 1, first - 1);
        break;
    case '-':
        if (first - 1 < 4 || memcmp(p + 1, "ERR ", 4) != 0) kvbuf_append(out, "ERR ", 4);
        kvbuf_append(out, p + 1, first - 1);
        break;
    case '$':
        if (p[1] == '-')
            kvbuf_append(out, "(nil)", 5);
        else
            kvbuf_append(out, p + first + 2, n - first - 4);
        break;
    case '*': {
        if (p[1] == '-') {
            kvbuf_append(out, "(nil)", 5);
            break;
        }
        size_t pos = first + 2;
        int k = 0;
        while (pos < n) {
            if (k++) kvbuf_append(out, " ", 1);
            pos += plain_elem(p + pos, n - pos, out);
        }
        break;
    }
    }
    return n;
}

void plain_from_resp(const cmd_def *def, const char *resp, size_t len, kvbuf *out)
{
    if (def != NULL && (def->flags & CMD_PLAIN_OK) && len > 0 && resp[0] == ':')
        kvbuf_append(out, "OK", 2);
    else if (len > 0)
        plain_elem(resp, len, out);
    kvbuf_append(out, "\n", 1);
}
