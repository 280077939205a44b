/* The small data structures of rootless._untar: a string-keyed hash map (open addressing, FNV-1a,
 * tombstones; the writer's model of what a layer created, and the notes already given) and a
 * growable byte buffer (notes, records). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "rl_untar_int.h"

int buf_add(struct buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
    return 0;
}

char MAP_TOMBSTONE[1];

static uint64_t hash_of(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct map_entry *slot(const struct map *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1, i = h & mask;
    struct map_entry *tomb = NULL;
    for (;;) {
        struct map_entry *e = &m->slots[i];
        if (!e->key)
            return tomb ? tomb : e;
        if (e->key == MAP_TOMBSTONE) {
            if (!tomb)
                tomb = e;
        } else if (e->hash == h && strcmp(e->key, key) == 0) {
            return e;
        }
        i = (i + 1) & mask;
    }
}

struct map_entry *map_get(struct map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    struct map_entry *e = slot(m, key, hash_of(key));
    return e->key && e->key != MAP_TOMBSTONE ? e : NULL;
}

static int map_grow(struct map *m)
{
    size_t cap = 64;
    while (cap < m->live * 4)
        cap *= 2;
    struct map_entry *slots = calloc(cap, sizeof *slots), *old = m->slots;
    if (!slots)
        return -1;
    size_t oldcap = m->cap;
    m->slots = slots;
    m->cap = cap;
    m->used = m->live;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key && old[i].key != MAP_TOMBSTONE)
            *slot(m, old[i].key, old[i].hash) = old[i];
    free(old);
    return 0;
}

struct map_entry *map_put(struct map *m, const char *key)
{
    if ((m->used + 1) * 10 > m->cap * 7 && map_grow(m) < 0)
        return NULL;
    uint64_t h = hash_of(key);
    struct map_entry *e = slot(m, key, h);
    if (e->key && e->key != MAP_TOMBSTONE)
        return e;
    char *copy = strdup(key);
    if (!copy)
        return NULL;
    if (!e->key)
        m->used++;
    m->live++;
    *e = (struct map_entry){.key = copy, .hash = h};
    return e;
}

void map_del(struct map *m, const char *key)
{
    struct map_entry *e = map_get(m, key);
    if (e) {
        free(e->key);
        e->key = MAP_TOMBSTONE;
        m->live--;
    }
}

void map_free(struct map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != MAP_TOMBSTONE)
            free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* Delete every key below directory `dir` ("dir/..."), `dir` itself kept: O(capacity), for the
 * rare directory that a later entry replaces. */
void map_del_under(struct map *m, const char *dir)
{
    size_t n = strlen(dir);
    for (size_t i = 0; i < m->cap; i++) {
        struct map_entry *e = &m->slots[i];
        if (e->key && e->key != MAP_TOMBSTONE && !strncmp(e->key, dir, n) && e->key[n] == '/') {
            free(e->key);
            e->key = MAP_TOMBSTONE;
            m->live--;
        }
    }
}
