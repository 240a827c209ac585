/* compare.c - two --json results side by side; see compare.h. */
#include "bench/compare.h"

#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *t = realloc(text, cap + 1);
            if (!t) {
                free(text);
                fclose(f);
                return NULL;
            }
            text = t;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    fclose(f);
    text[len] = 0;
    return text;
}

/* The number after "key": at or after `from` (before `limit` if given). */
static int num_after(const char *from, const char *limit, const char *key, double *v)
{
    char k[64];
    snprintf(k, sizeof(k), "\"%s\":", key);
    const char *p = from ? strstr(from, k) : NULL;
    if (!p || (limit && p >= limit)) return -1;
    char *end;
    *v = strtod(p + strlen(k), &end);
    return end == p + strlen(k) ? -1 : 0;
}

/* Where command `cmd`'s object starts inside "commands", or NULL. */
static const char *cmd_obj(const char *text, const char *cmd)
{
    const char *c = strstr(text, "\"commands\":");
    char k[32];
    snprintf(k, sizeof(k), "\"%s\": {", cmd);
    return c ? strstr(c, k) : NULL;
}

static void row(FILE *out, const char *name, double a, double b, int decimals)
{
    char sa[32], sb[32];
    snprintf(sa, sizeof(sa), "%.*f", decimals, a);
    snprintf(sb, sizeof(sb), "%.*f", decimals, b);
    fprintf(out, "%-18s %14s %14s", name, sa, sb);
    if (a > 0)
        fprintf(out, " %9.3f\n", b / a);
    else
        fprintf(out, " %9s\n", a == b ? "=" : "-");
}

int compare_files(FILE *out, const char *pa, const char *pb, char *err, size_t errlen)
{
    const char *path[2] = {pa, pb};
    char *t[2] = {NULL, NULL};
    double v[2][3];
    static const char *const top[3] = {"throughput_rps", "requests", "errors"};
    int rv = -1;
    for (int i = 0; i < 2; i++) {
        t[i] = slurp(path[i]);
        if (!t[i]) {
            snprintf(err, errlen, "%s: cannot read", path[i]);
            goto out;
        }
        for (int k = 0; k < 3; k++)
            if (num_after(t[i], NULL, top[k], &v[i][k]) || !cmd_obj(t[i], "ALL")) {
                snprintf(err, errlen, "%s: not a mem-kv-bench --json file (no %s)", path[i],
                         top[k]);
                goto out;
            }
    }
    fprintf(out, "%-18s %14s %14s %9s\n", "", "A", "B", "B/A");
    fprintf(out, "A: %s\nB: %s\n", pa, pb);
    row(out, "throughput req/s", v[0][0], v[1][0], 1);
    row(out, "requests", v[0][1], v[1][1], 0);
    row(out, "errors", v[0][2], v[1][2], 0);
    static const char *const cmds[] = {"ALL", "SET", "GET", "MGET", "HSET", "HMGET"};
    static const char *const lat[] = {"p50", "p90", "p99", "p99.9", "p99.99", "max"};
    for (unsigned c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
        const char *o[2] = {cmd_obj(t[0], cmds[c]), cmd_obj(t[1], cmds[c])};
        double n[2];
        if (!o[0] || !o[1] || num_after(o[0], NULL, "count", &n[0]) ||
            num_after(o[1], NULL, "count", &n[1]) || n[0] == 0 || n[1] == 0)
            continue;
        char name[40];
        fprintf(out, "%s (latency in ms)\n", cmds[c]);
        snprintf(name, sizeof(name), "  count");
        row(out, name, n[0], n[1], 0);
        for (unsigned k = 0; k < sizeof(lat) / sizeof(lat[0]); k++) {
            double x[2];
            const char *lm[2] = {strstr(o[0], "\"latency_ms\""), strstr(o[1], "\"latency_ms\"")};
            if (num_after(lm[0], NULL, lat[k], &x[0]) || num_after(lm[1], NULL, lat[k], &x[1]))
                continue;
            snprintf(name, sizeof(name), "  %s", lat[k]);
            row(out, name, x[0], x[1], 3);
        }
    }
    rv = ferror(out) ? -1 : 0;
    if (rv) snprintf(err, errlen, "write error");
out:
    free(t[0]);
    free(t[1]);
    return rv;
}
