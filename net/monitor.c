/* monitor.c - MONITOR lines to every monitoring connection (see monitor.h). */
#include "net/monitor.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "engine/kv.h"
#include "net/net_internal.h"

struct monitor_sub {
    monitor_sub *next;
    conn *c;       /* ro; its network thread owns it */
    kvbuf pending; /* lines not yet moved into c's output; guarded by the hub */
};

int monitor_hub_init(monitor_hub *h)
{
    atomic_init(&h->n, 0);
    h->subs = NULL;
    return pthread_mutex_init(&h->lock, NULL) ? KV_ENOMEM : 0;
}

void monitor_hub_destroy(monitor_hub *h)
{
    if (h == NULL) return;
    while (h->subs) {
        monitor_sub *s = h->subs;
        h->subs = s->next;
        kvbuf_destroy(&s->pending);
        free(s);
    }
    pthread_mutex_destroy(&h->lock);
}

void monitor_add(monitor_hub *h, conn *c)
{
    if (c->mon) return;
    monitor_sub *s = kv_xcalloc(1, sizeof *s);
    s->c = c;
    kvbuf_init(&s->pending);
    pthread_mutex_lock(&h->lock);
    s->next = h->subs;
    h->subs = s;
    __atomic_store_n(&c->mon, s, __ATOMIC_RELAXED); /* CLIENT LIST reads it */
    atomic_fetch_add_explicit(&h->n, 1, memory_order_relaxed);
    pthread_mutex_unlock(&h->lock);
}

void monitor_remove(monitor_hub *h, conn *c)
{
    monitor_sub *s = c->mon;
    if (s == NULL) return;
    pthread_mutex_lock(&h->lock);
    for (monitor_sub **p = &h->subs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    atomic_fetch_sub_explicit(&h->n, 1, memory_order_relaxed);
    pthread_mutex_unlock(&h->lock);
    __atomic_store_n(&c->mon, NULL, __ATOMIC_RELAXED);
    kvbuf_destroy(&s->pending);
    free(s);
}

/* Commands MONITOR does not show, as Redis hides administrative ones. */
static int monitor_hidden(int argc, const kv_str *argv)
{
    static const char *admin[] = {"config",   "slowlog", "latency", "monitor",
                                  "shutdown", "debug",   "compact"};
    const kv_str *a = &argv[0];
    for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++)
        if (a->len == strlen(admin[i]) && strncasecmp(a->p, admin[i], a->len) == 0) return 1;
    if (a->len == 6 && strncasecmp(a->p, "client", 6) == 0 && argc >= 2) {
        static const char *sub[] = {"kill", "pause", "unpause", "no-evict"};
        for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
            if (argv[1].len == strlen(sub[i]) && strncasecmp(argv[1].p, sub[i], argv[1].len) == 0)
                return 1;
    }
    return 0;
}

/* Arguments after argv[0] that are secrets: AUTH's, and HELLO's AUTH. */
static int monitor_redacted(int argc, const kv_str *argv, int i)
{
    const kv_str *a = &argv[0];
    if (a->len == 4 && strncasecmp(a->p, "auth", 4) == 0) return i >= 1;
    if (a->len == 5 && strncasecmp(a->p, "hello", 5) == 0) return i >= 2;
    (void)argc;
    return 0;
}

/* Appends a as a double-quoted string, escaped as Redis shows it. */
static void quote_arg(kvbuf *b, const char *p, size_t n)
{
    kvbuf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\':
            kvbuf_append(b, "\\\\", 2);
            break;
        case '"':
            kvbuf_append(b, "\\\"", 2);
            break;
        case '\n':
            kvbuf_append(b, "\\n", 2);
            break;
        case '\r':
            kvbuf_append(b, "\\r", 2);
            break;
        case '\t':
            kvbuf_append(b, "\\t", 2);
            break;
        case '\a':
            kvbuf_append(b, "\\a", 2);
            break;
        case '\b':
            kvbuf_append(b, "\\b", 2);
            break;
        default:
            if (ch >= 0x20 && ch < 0x7f)
                kvbuf_append(b, (const char *)&ch, 1);
            else
                kvbuf_printf(b, "\\x%02x", ch);
        }
    }
    kvbuf_append(b, "\"", 1);
}

void monitor_feed(monitor_hub *h, conn *c, int argc, const kv_str *argv)
{
    if (argc < 1 || c->mon != NULL || monitor_hidden(argc, argv)) return;
    if (cmdtab_lookup(argv[0].p, argv[0].len) == NULL) return; /* not run: not shown */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    kvbuf line;
    kvbuf_init(&line);
    kvbuf_printf(&line, "+%lld.%06ld [%u %s]", (long long)tv.tv_sec, (long)tv.tv_usec,
                 (unsigned)c->db, c->addr);
    for (int i = 0; i < argc; i++) {
        kvbuf_append(&line, " ", 1);
        if (monitor_redacted(argc, argv, i))
            quote_arg(&line, "(redacted)", 10);
        else
            quote_arg(&line, argv[i].p, argv[i].len);
    }
    kvbuf_append(&line, "\r\n", 2);
    pthread_mutex_lock(&h->lock);
    for (monitor_sub *s = h->subs; s; s = s->next) {
        int was_empty = s->pending.len == 0;
        kvbuf_append(&s->pending, line.data, line.len);
        if (was_empty) ev_async_send(s->c->t->loop, &s->c->t->wake_w);
    }
    pthread_mutex_unlock(&h->lock);
    kvbuf_destroy(&line);
}

void monitor_poll(monitor_hub *h, netthr *t)
{
    if (!monitor_active(h)) return;
    pthread_mutex_lock(&h->lock);
    for (monitor_sub *s = h->subs; s; s = s->next)
        if (s->c->t == t && s->pending.len > 0) conn_mark_dirty(t, s->c);
    pthread_mutex_unlock(&h->lock);
}

void monitor_take(monitor_hub *h, conn *c)
{
    monitor_sub *s = c->mon;
    if (s == NULL) return;
    pthread_mutex_lock(&h->lock);
    if (s->pending.len > 0) {
        kvbuf_append(&c->out, s->pending.data, s->pending.len);
        s->pending.len = 0;
        if (s->pending.cap > (1u << 20)) kvbuf_destroy(&s->pending);
    }
    pthread_mutex_unlock(&h->lock);
}
