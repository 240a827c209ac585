/* report.c - table, JSON, hgrm and SVG writers; see report.h. */
#include "bench/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_MS 1e6

static const double table_pcts[] = {50, 90, 99, 99.9, 99.99};
static const char *const table_pct_names[] = {"p50", "p90", "p99", "p99.9", "p99.99"};
#define NPCTS (sizeof(table_pcts) / sizeof(table_pcts[0]))

uint64_t report_errors(const report_run *r)
{
    /* lost and timed-out requests are already in the per-command errors */
    return r->cmds[REPORT_ALL].errors + r->conn_errors + r->proto_errors;
}

double report_throughput(const report_run *r)
{
    return r->elapsed_s > 0 ? (double)r->cmds[REPORT_ALL].count / r->elapsed_s : 0.0;
}

double report_send_rate(const report_run *r)
{
    double span = r->send_span_s > 0 ? r->send_span_s : r->elapsed_s;
    return span > 0 ? (double)r->cmds[REPORT_ALL].count / span : 0.0;
}

int report_rate_short(const report_run *r)
{
    return r->open_loop && r->rate > 0 && !r->interrupted && report_send_rate(r) < 0.95 * r->rate;
}

static double ms(uint64_t ns)
{
    return (double)ns / NS_PER_MS;
}

int report_table(FILE *out, const report_run *r)
{
    fprintf(out, "mem-kv-bench %s:%d, %s protocol, %s loop", r->host, r->port, r->protocol,
            r->open_loop ? "open" : "closed");
    if (r->open_loop) fprintf(out, " at %.0f req/s (latency from intended send times)", r->rate);
    fprintf(out, "\n  %u thread%s x %u connection%s, pipeline %u", r->threads,
            r->threads == 1 ? "" : "s", r->clients,
            r->clients == 1 ? " per thread" : "s per thread", r->pipeline);
    if (r->duration_s > 0)
        fprintf(out, ", %.1f s", r->duration_s);
    else
        fprintf(out, ", %llu requests per connection", (unsigned long long)r->requests_per_client);
    if (r->warmup_s > 0)
        fprintf(out, " after %.1f s warm-up (%llu requests, not recorded)", r->warmup_s,
                (unsigned long long)r->warmup_requests);
    fprintf(out, "\n  %llu keys %s", (unsigned long long)r->keys, r->pattern);
    if (!strcmp(r->pattern, "zipf")) fprintf(out, " (s=%.2f)", r->zipf_s);
    if (r->vmin == r->vmax)
        fprintf(out, ", values %zu B", r->vmax);
    else
        fprintf(out, ", values %zu-%zu B", r->vmin, r->vmax);
    if (r->ttl) fprintf(out, ", ttl %llu s", (unsigned long long)r->ttl);
    fprintf(out, ", SET:GET:MGET %u:%u:%u", r->ratio[0], r->ratio[1], r->ratio[2]);
    if (r->ratio[3] || r->ratio[4])
        fprintf(out, ", HSET:HMGET %u:%u (%u fields)", r->ratio[3], r->ratio[4], r->fields);
    if (r->ratio[2]) fprintf(out, " (%u keys per MGET)", r->mget_keys);
    if (r->load_requests)
        fprintf(out, "\n  loaded %llu keys in %.2f s", (unsigned long long)r->load_requests,
                r->load_s);
    fprintf(out, "\n\n%llu requests in %.2f s: %.1f requests/s, %llu errors%s\n\n",
            (unsigned long long)r->cmds[REPORT_ALL].count, r->elapsed_s, report_throughput(r),
            (unsigned long long)report_errors(r), r->interrupted ? " (interrupted)" : "");

    fprintf(out, "%-6s %10s", "", "count");
    for (unsigned i = 0; i < NPCTS; i++) fprintf(out, " %9s", table_pct_names[i]);
    fprintf(out, " %9s %9s %9s %9s  (latency in ms)\n", "max", "hits", "misses", "errors");
    for (int c = 0; c < REPORT_NCMDS; c++) {
        const report_cmd *rc = &r->cmds[c];
        if (c != REPORT_ALL && rc->count == 0 && rc->errors == 0) continue;
        fprintf(out, "%-6s %10llu", rc->name, (unsigned long long)rc->count);
        for (unsigned i = 0; i < NPCTS; i++)
            fprintf(out, " %9.3f", ms(hist_value_at(rc->hist, table_pcts[i])));
        fprintf(out, " %9.3f", ms(rc->hist->total ? rc->hist->max : 0));
        if (c == REPORT_GET || c == REPORT_MGET || c == REPORT_HMGET || c == REPORT_ALL)
            fprintf(out, " %9llu %9llu", (unsigned long long)rc->hits,
                    (unsigned long long)rc->misses);
        else
            fprintf(out, " %9s %9s", "-", "-");
        fprintf(out, " %9llu\n", (unsigned long long)rc->errors);
    }
    uint64_t reads = r->cmds[REPORT_ALL].hits + r->cmds[REPORT_ALL].misses;
    if (reads)
        fprintf(
            out,
            "\nhit rate %.2f %% of %llu keys read (an MGET counts per key, an HMGET per field)\n",
            100.0 * (double)r->cmds[REPORT_ALL].hits / (double)reads, (unsigned long long)reads);
    if (report_errors(r)) {
        fprintf(out,
                "\nerrors: %llu error replies, %llu connection errors, %llu protocol "
                "errors, %llu timed out, %llu requests never answered\n",
                (unsigned long long)(r->cmds[REPORT_ALL].errors - r->lost),
                (unsigned long long)r->conn_errors, (unsigned long long)r->proto_errors,
                (unsigned long long)r->timeouts, (unsigned long long)r->lost);
        if (r->first_error[0]) fprintf(out, "first error: %s\n", r->first_error);
    }
    return ferror(out) ? -1 : 0;
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

struct dist_ctx {
    FILE *out;
    int first;
};

static void json_dist_row(void *arg, uint64_t value, double pct, uint64_t cum, int is_last)
{
    struct dist_ctx *d = arg;
    fprintf(d->out, "%s[%.12g, %.6f, %llu]", d->first ? "" : ", ", pct, ms(value),
            (unsigned long long)cum);
    d->first = 0;
}

static void json_cmd(FILE *out, const report_cmd *c, int last)
{
    const hist_t *h = c->hist;
    fprintf(out,
            "    \"%s\": {\"count\": %llu, \"errors\": %llu, \"hits\": %llu, \"misses\": %llu,"
            " \"keys\": %llu,\n",
            c->name, (unsigned long long)c->count, (unsigned long long)c->errors,
            (unsigned long long)c->hits, (unsigned long long)c->misses,
            (unsigned long long)c->keys);
    fprintf(out, "      \"latency_ms\": {\"min\": %.6f, \"mean\": %.6f, \"stddev\": %.6f",
            ms(h->total ? h->min : 0), hist_mean(h) / NS_PER_MS, hist_stddev(h) / NS_PER_MS);
    for (unsigned i = 0; i < NPCTS; i++)
        fprintf(out, ", \"%s\": %.6f", table_pct_names[i], ms(hist_value_at(h, table_pcts[i])));
    fprintf(out, ", \"max\": %.6f},\n", ms(h->total ? h->max : 0));
    fprintf(out, "      \"distribution\": [");
    struct dist_ctx d = {out, 1};
    hist_foreach_percentile(h, 5, json_dist_row, &d);
    fprintf(out, "]}%s\n", last ? "" : ",");
}

int report_json(FILE *out, const report_run *r)
{
    fprintf(out, "{\n  \"tool\": \"mem-kv-bench\",\n  \"version\": ");
    json_str(out, r->version ? r->version : "");
    fprintf(out, ",\n  \"command_line\": ");
    json_str(out, r->command_line ? r->command_line : "");
    char when[40] = "";
    if (r->started_unix > 0) {
        time_t t = (time_t)r->started_unix;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03dZ",
                 (int)((r->started_unix - (double)t) * 1000));
    }
    fprintf(out, ",\n  \"started_utc\": ");
    json_str(out, when);
    fprintf(out, ",\n  \"started_unix\": %.3f,\n  \"config\": {\"host\": ", r->started_unix);
    json_str(out, r->host);
    fprintf(out,
            ", \"port\": %d, \"protocol\": \"%s\", \"threads\": %u, \"clients\": %u,"
            " \"pipeline\": %u,\n",
            r->port, r->protocol, r->threads, r->clients, r->pipeline);
    fprintf(out,
            "    \"mode\": \"%s\", \"rate\": %.3f, \"keys\": %llu, \"key_pattern\": \"%s\","
            " \"zipf_s\": %.4f,\n",
            r->open_loop ? "open" : "closed", r->open_loop ? r->rate : 0.0,
            (unsigned long long)r->keys, r->pattern, r->zipf_s);
    fprintf(out,
            "    \"value_min\": %zu, \"value_max\": %zu, \"ttl\": %llu, \"ratio\": [%u, %u, %u, "
            "%u, %u],"
            " \"mget_keys\": %u, \"fields\": %u, \"seed\": %llu,\n",
            r->vmin, r->vmax, (unsigned long long)r->ttl, r->ratio[0], r->ratio[1], r->ratio[2],
            r->ratio[3], r->ratio[4], r->mget_keys, r->fields, (unsigned long long)r->seed);
    fprintf(out, "    \"warmup_s\": %.3f, \"duration_s\": %.3f, \"requests_per_client\": %llu},\n",
            r->warmup_s, r->duration_s, (unsigned long long)r->requests_per_client);
    fprintf(out, "  \"mode\": \"%s\",\n  \"elapsed_s\": %.6f,\n  \"throughput_rps\": %.3f,\n",
            r->open_loop ? "open" : "closed", r->elapsed_s, report_throughput(r));
    if (r->open_loop)
        fprintf(out, "  \"rate_achieved\": %.6f,\n  \"rate_short\": %s,\n",
                r->rate > 0 ? report_send_rate(r) / r->rate : 0.0,
                report_rate_short(r) ? "true" : "false");
    fprintf(out, "  \"requests\": %llu,\n  \"errors\": %llu,\n",
            (unsigned long long)r->cmds[REPORT_ALL].count, (unsigned long long)report_errors(r));
    fprintf(out,
            "  \"error_detail\": {\"replies\": %llu, \"connections\": %llu, \"protocol\": %llu,"
            " \"timeouts\": %llu, \"lost\": %llu},\n",
            (unsigned long long)(r->cmds[REPORT_ALL].errors - r->lost),
            (unsigned long long)r->conn_errors, (unsigned long long)r->proto_errors,
            (unsigned long long)r->timeouts, (unsigned long long)r->lost);
    fprintf(out, "  \"first_error\": ");
    json_str(out, r->first_error);
    fprintf(out,
            ",\n  \"interrupted\": %s,\n  \"warmup_requests\": %llu,\n"
            "  \"load_requests\": %llu,\n  \"load_s\": %.6f,\n",
            r->interrupted ? "true" : "false", (unsigned long long)r->warmup_requests,
            (unsigned long long)r->load_requests, r->load_s);
    fprintf(out, "  \"commands\": {\n");
    for (int c = 0; c < REPORT_NCMDS; c++) json_cmd(out, &r->cmds[c], c == REPORT_NCMDS - 1);
    fprintf(out, "  },\n  \"series_complete\": %s,\n  \"series\": ",
            r->series_incomplete ? "false" : "true");
    if (r->series)
        series_json(out, r->series);
    else
        fputs("[]", out);
    fprintf(out, "\n}\n");
    return ferror(out) ? -1 : 0;
}

static void hgrm_row(void *arg, uint64_t value, double pct, uint64_t cum, int is_last)
{
    FILE *out = arg;
    double p = pct / 100.0;
    if (is_last)
        fprintf(out, "%12.4f %1.12f %10llu\n", ms(value), p, (unsigned long long)cum);
    else
        fprintf(out, "%12.4f %1.12f %10llu %14.2f\n", ms(value), p, (unsigned long long)cum,
                1.0 / (1.0 - p));
}

int report_hgrm(FILE *out, const hist_t *h)
{
    fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
            "1/(1-Percentile)");
    hist_foreach_percentile(h, 5, hgrm_row, out);
    fprintf(out, "#[Mean    = %12.4f, StdDeviation   = %12.4f]\n", hist_mean(h) / NS_PER_MS,
            hist_stddev(h) / NS_PER_MS);
    fprintf(out, "#[Max     = %12.4f, Total count    = %12llu]\n", ms(h->total ? h->max : 0),
            (unsigned long long)h->total);
    fprintf(out, "#[Buckets = %12u, SubBuckets     = %12u]\n", HIST_MAX_BITS - HIST_SUB_BITS + 1,
            2 * HIST_SUB_HALF);
    return ferror(out) ? -1 : 0;
}

static void series_row(void *arg, uint64_t value, double pct, uint64_t cum, int is_last)
{
    report_series *s = arg;
    if (is_last || pct >= 100.0 || s->n >= REPORT_SERIES_MAX) return;
    s->pct[s->n] = pct;
    s->ms[s->n] = ms(value);
    s->n++;
}

void report_series_from_hist(report_series *s, const char *label, const hist_t *h)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->label, sizeof(s->label), "%s", label);
    hist_foreach_percentile(h, 5, series_row, s);
}

int report_series_from_json(report_series *s, const char *label, const char *path, const char *cmd,
                            char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->label, sizeof(s->label), "%s", label);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *t = realloc(text, cap + 1);
            if (!t) break;
            text = t;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    fclose(f);
    if (!text) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    text[len] = 0;
    char key[32];
    snprintf(key, sizeof(key), "\"%s\": {", cmd);
    const char *p = strstr(text, "\"commands\"");
    p = p ? strstr(p, key) : NULL;
    p = p ? strstr(p, "\"distribution\": [") : NULL;
    if (!p) {
        snprintf(err, errlen, "%s: no %s distribution (not a mem-kv-bench --json file?)", path,
                 cmd);
        free(text);
        return -1;
    }
    p += strlen("\"distribution\": [");
    /* rows are [percentile, ms, count] */
    while (*p == ' ' || *p == '[' || *p == ',') {
        while (*p == ' ' || *p == ',') p++;
        if (*p != '[') break;
        char *e;
        double pct = strtod(p + 1, &e);
        if (*e != ',') break;
        double v = strtod(e + 1, &e);
        while (*e && *e != ']') e++;
        if (*e == ']') e++;
        p = e;
        if (pct < 100.0 && s->n < REPORT_SERIES_MAX) {
            s->pct[s->n] = pct;
            s->ms[s->n] = v;
            s->n++;
        }
    }
    free(text);
    if (s->n == 0) {
        snprintf(err, errlen, "%s: empty %s distribution", path, cmd);
        return -1;
    }
    return 0;
}

static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static double xpos(double pct)
{
    return log10(1.0 / (1.0 - pct / 100.0));
}

static void svg_text(FILE *out, const char *t)
{
    for (const char *c = t; *c; c++) {
        if (*c == '<')
            fputs("&lt;", out);
        else if (*c == '&')
            fputs("&amp;", out);
        else
            fputc(*c, out);
    }
}

/* The y position of latency v on the log axis [10^lo, 10^hi]. */
static double ylog(double v, double lo, double hi)
{
    double l = v > 0 ? log10(v) : lo;
    if (l < lo) l = lo;
    return (l - lo) / (hi - lo);
}

int report_svg(FILE *out, const report_series *s, unsigned n, const char *title)
{
    return report_svg_axis(out, s, n, title, 0);
}

int report_svg_axis(FILE *out, const report_series *s, unsigned n, const char *title, int logy)
{
    static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                         "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    const double W = 960, H = 540, L = 80, R = 200, T = 50, B = 70;
    const double pw = W - L - R, ph = H - T - B;
    double xmax = 2, ymax = 0, ymin = 0;
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < s[i].n; j++) {
            double x = xpos(s[i].pct[j]);
            if (x > xmax) xmax = x;
            if (s[i].ms[j] > ymax) ymax = s[i].ms[j];
            if (s[i].ms[j] > 0 && (ymin == 0 || s[i].ms[j] < ymin)) ymin = s[i].ms[j];
        }
    /* log axis: whole decades around the data, 10^lo .. 10^hi ms */
    double lo = floor(log10(ymin > 0 ? ymin : 1e-3)), hi = ceil(log10(ymax > 0 ? ymax : 1));
    if (hi <= lo) hi = lo + 1;
    xmax = ceil(xmax - 1e-9);
    if (xmax > 7) xmax = 7;
    if (ymax <= 0) ymax = 1;
    double ystep = nice_step(ymax, 6);
    ymax = ceil(ymax / ystep) * ystep;

    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out, "<text x=\"%.0f\" y=\"28\" font-size=\"16\" text-anchor=\"middle\">", L + pw / 2);
    svg_text(out, title);
    fprintf(out, "</text>\n");
    /* x grid: 0 %, 90 %, 99 %, 99.9 %, ... */
    for (int i = 0; i <= (int)xmax; i++) {
        double x = L + pw * i / xmax;
        char lab[32];
        if (i == 0)
            snprintf(lab, sizeof(lab), "0%%");
        else
            snprintf(lab, sizeof(lab), "%.*f%%", i > 2 ? i - 2 : 0, 100.0 - 100.0 * pow(10, -i));
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n", x,
                T, x, T + ph);
        fprintf(out, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", x,
                T + ph + 18, lab);
    }
    for (double d = lo; logy && d <= hi; d++) {
        double py = T + ph - ph * (d - lo) / (hi - lo);
        fprintf(out, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L,
                py, L + pw, py);
        fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", L - 6, py + 4,
                pow(10, d));
    }
    for (double y = 0; !logy && y <= ymax + ystep / 2; y += ystep) {
        double py = T + ph - ph * y / ymax;
        fprintf(out, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L,
                py, L + pw, py);
        fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", L - 6, py + 4,
                y);
    }
    fprintf(out,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
            "stroke=\"#444\"/>\n",
            L, T, pw, ph);
    fprintf(out,
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">percentile (log scale of "
            "1/(1-p))</text>\n",
            L + pw / 2, H - 22);
    fprintf(out,
            "<text transform=\"translate(20 %.0f) rotate(-90)\" text-anchor=\"middle\">"
            "latency (ms%s)</text>\n",
            T + ph / 2, logy ? ", log scale" : "");
    for (unsigned i = 0; i < n; i++) {
        const char *col = colors[i % (sizeof(colors) / sizeof(colors[0]))];
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (unsigned j = 0; j < s[i].n; j++) {
            double x = xpos(s[i].pct[j]);
            if (x > xmax) break;
            double fy = logy ? ylog(s[i].ms[j], lo, hi) : s[i].ms[j] / ymax;
            fprintf(out, "%.1f,%.1f ", L + pw * x / xmax, T + ph - ph * fy);
        }
        fprintf(out, "\"/>\n");
        double ly = T + 10 + 20.0 * i;
        fprintf(out,
                "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
                "stroke-width=\"3\"/>\n",
                L + pw + 12, ly, L + pw + 36, ly, col);
        fprintf(out, "<text x=\"%.0f\" y=\"%.0f\">", L + pw + 42, ly + 4);
        svg_text(out, s[i].label);
        fprintf(out, "</text>\n");
    }
    fprintf(out, "</svg>\n");
    return ferror(out) ? -1 : 0;
}

int report_svg_time(FILE *out, const series_t *s, const char *title)
{
    const double W = 960, H = 540, L = 80, R = 90, T = 50, B = 70;
    const double pw = W - L - R, ph = H - T - B;
    double tmax = 1, rmax = 0, pmax = 0;
    for (unsigned i = 0; i < s->n; i++) {
        const series_point *p = &s->pt[i];
        double r = p->len_s > 0 ? (double)p->count / p->len_s : 0;
        if (p->t_s + p->len_s > tmax) tmax = p->t_s + p->len_s;
        if (r > rmax) rmax = r;
        if ((double)p->p99_ns / NS_PER_MS > pmax) pmax = (double)p->p99_ns / NS_PER_MS;
    }
    if (rmax <= 0) rmax = 1;
    if (pmax <= 0) pmax = 1;
    double rstep = nice_step(rmax, 6), pstep = nice_step(pmax, 6), tstep = nice_step(tmax, 10);
    rmax = ceil(rmax / rstep) * rstep;
    pmax = ceil(pmax / pstep) * pstep;
    tmax = ceil(tmax / tstep) * tstep;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out, "<text x=\"%.0f\" y=\"28\" font-size=\"16\" text-anchor=\"middle\">", L + pw / 2);
    svg_text(out, title);
    fprintf(out, "</text>\n");
    for (double t = 0; t <= tmax + tstep / 2; t += tstep) {
        double x = L + pw * t / tmax;
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n", x,
                T, x, T + ph);
        fprintf(out, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%g</text>\n", x,
                T + ph + 18, t);
    }
    for (int i = 0; i <= (int)(rmax / rstep + 0.5); i++) {
        double py = T + ph - ph * i * rstep / rmax;
        fprintf(out, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L,
                py, L + pw, py);
        fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f77b4\">%g</text>\n",
                L - 6, py + 4, i * rstep);
    }
    for (int i = 0; i <= (int)(pmax / pstep + 0.5); i++) {
        double py = T + ph - ph * i * pstep / pmax;
        fprintf(out,
                "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"start\" fill=\"#d62728\">%g</text>\n",
                L + pw + 6, py + 4, i * pstep);
    }
    fprintf(out,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
            "stroke=\"#444\"/>\n",
            L, T, pw, ph);
    fprintf(out,
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">seconds into the measured "
            "run</text>\n",
            L + pw / 2, H - 22);
    fprintf(out,
            "<text transform=\"translate(20 %.0f) rotate(-90)\" text-anchor=\"middle\" "
            "fill=\"#1f77b4\">throughput (requests/s)</text>\n",
            T + ph / 2);
    fprintf(out,
            "<text transform=\"translate(%.0f %.0f) rotate(90)\" text-anchor=\"middle\" "
            "fill=\"#d62728\">p99 latency (ms)</text>\n",
            W - 20, T + ph / 2);
    static const char *const col[2] = {"#1f77b4", "#d62728"};
    for (int k = 0; k < 2; k++) {
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col[k]);
        for (unsigned i = 0; i < s->n; i++) {
            const series_point *p = &s->pt[i];
            double x = L + pw * (p->t_s + p->len_s / 2) / tmax;
            double v = k == 0 ? (p->len_s > 0 ? (double)p->count / p->len_s : 0) / rmax
                              : (double)p->p99_ns / NS_PER_MS / pmax;
            fprintf(out, "%.1f,%.1f ", x, T + ph - ph * v);
        }
        fprintf(out, "\"/>\n");
    }
    fprintf(out, "</svg>\n");
    return ferror(out) ? -1 : 0;
}
