/* watch.c - watched keys of one shard: a table of (database, key) to the
 * list of its watchers. */
#include "engine/watch.h"

#include <stdlib.h>
#include <string.h>

#include "engine/entry.h"
#include "engine/table.h"

typedef struct watcher {
    uint64_t client;
    uint8_t dirty;   /* the key changed since WATCH */
    uint8_t expired; /* the key had expired (still in the table) at WATCH */
} watcher;

typedef struct watch_list {
    uint32_t n, cap;
    watcher w[];
} watch_list;

struct watch_set {
    ht_t keys; /* entries whose value is a watch_list pointer */
};

static watch_list *list_of(kv_entry *e)
{
    watch_list *l;
    memcpy(&l, entry_val(e), sizeof l);
    return l;
}

static void list_store(kv_entry *e, watch_list *l)
{
    memcpy(entry_val(e), &l, sizeof l);
}

static kv_entry *watch_find(shard_t *s, unsigned db, const char *key, size_t klen)
{
    if (s->watch == NULL) return NULL;
    return ht_find_db(&s->watch->keys, shard_hash(s, key, klen), db, key, klen);
}

static watcher *list_find(watch_list *l, uint64_t client)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->w[i].client == client) return &l->w[i];
    return NULL;
}

/* The key's entry in the table, expired or not (no lazy expiry here: the
 * watch must not change the keyspace). */
static kv_entry *key_entry(shard_t *s, unsigned db, const char *key, size_t klen)
{
    return ht_find_db(&s->table, shard_hash(s, key, klen), db, key, klen);
}

void watch_add(shard_t *s, uint64_t client, const kv_str *key)
{
    if (s->watch == NULL) {
        s->watch = kv_xcalloc(1, sizeof *s->watch);
        ht_init(&s->watch->keys);
    }
    kv_entry *e = watch_find(s, s->db, key->p, key->len);
    if (e == NULL) {
        watch_list *none = NULL;
        e = entry_new_db(shard_hash(s, key->p, key->len), s->db, key->p, key->len,
                         (const char *)&none, sizeof none, -1);
        ht_insert(&s->watch->keys, e);
    }
    watch_list *l = list_of(e);
    if (l != NULL && list_find(l, client) != NULL) return;
    if (l == NULL || l->n == l->cap) {
        uint32_t cap = l ? l->cap * 2 : 2;
        l = kv_xrealloc(l, sizeof *l + cap * sizeof l->w[0]);
        if (cap == 2) l->n = 0;
        l->cap = cap;
        list_store(e, l);
    }
    kv_entry *k = key_entry(s, s->db, key->p, key->len);
    l->w[l->n++] = (watcher){client, 0, (uint8_t)(k != NULL && shard_expired(s, k))};
}

void watch_remove(shard_t *s, uint64_t client, const kv_str *key)
{
    kv_entry *e = watch_find(s, s->db, key->p, key->len);
    if (e == NULL) return;
    watch_list *l = list_of(e);
    watcher *w = list_find(l, client);
    if (w == NULL) return;
    *w = l->w[--l->n];
    if (l->n > 0) return;
    free(l);
    ht_remove_db(&s->watch->keys, e->hash, s->db, key->p, key->len);
    entry_free(e);
    if (ht_count(&s->watch->keys) == 0) watch_free(s); /* back to no cost at all */
}

int watch_clean(shard_t *s, uint64_t client, const kv_str *key)
{
    kv_entry *e = watch_find(s, s->db, key->p, key->len);
    watcher *w = e ? list_find(list_of(e), client) : NULL;
    if (w == NULL || w->dirty) return 0;
    if (w->expired) return 1;
    kv_entry *k = key_entry(s, s->db, key->p, key->len);
    return !(k != NULL && shard_expired(s, k)); /* its TTL passed since WATCH */
}

/* A change to the key of e: dirty every watcher, except one that watched an
 * already expired key which is now gone (no logical change, as Redis). */
static void list_touch(shard_t *s, kv_entry *e, int exists)
{
    watch_list *l = list_of(e);
    for (uint32_t i = 0; i < l->n; i++) {
        watcher *w = &l->w[i];
        if (w->expired && !exists) {
            w->expired = 0;
            continue;
        }
        w->dirty = 1;
    }
}

void watch_touch(shard_t *s, unsigned db, const char *key, size_t klen)
{
    kv_entry *e = watch_find(s, db, key, klen);
    if (e == NULL) return;
    list_touch(s, e, key_entry(s, db, key, klen) != NULL);
}

typedef struct touch_walk {
    shard_t *s;
    int db;
} touch_walk;

static void touch_all_visit(void *arg, kv_entry *e)
{
    touch_walk *w = arg;
    if (w->db >= 0 && entry_db(e) != (unsigned)w->db) return;
    if (key_entry(w->s, entry_db(e), entry_key(e), e->klen) == NULL) return;
    list_touch(w->s, e, 0); /* the flush removes it */
}

void watch_touch_all(shard_t *s, int db)
{
    if (s->watch == NULL) return;
    touch_walk w = {s, db};
    ht_foreach(&s->watch->keys, touch_all_visit, &w);
}

static void free_list_visit(void *arg, kv_entry *e)
{
    (void)arg;
    free(list_of(e));
    list_store(e, NULL);
}

void watch_free(shard_t *s)
{
    if (s->watch == NULL) return;
    ht_foreach(&s->watch->keys, free_list_visit, NULL);
    ht_destroy(&s->watch->keys);
    free(s->watch);
    s->watch = NULL;
}
