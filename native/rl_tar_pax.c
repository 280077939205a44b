/* PAX extended headers for rootless._untar's tar reader (rl_tar.c): records "<length> <key>=<value>\n"
 * (POSIX.1-2001 pax format), kept per member and global, and applied to a member: path, linkpath,
 * size, uid, gid, mtime (with its fraction), SCHILY.xattr.* (values may hold NUL bytes); GNU.sparse.*
 * is refused. A later record of a key wins, as tarfile and Go's archive/tar read them. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rl_untar_int.h"

void pax_clear(struct pax_list *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].key);
        free(p->items[i].value);
    }
    p->n = 0;
}

static int pax_set(struct pax_list *p, const unsigned char *key, size_t klen,
                   const unsigned char *value, size_t vlen)
{
    size_t i = 0;
    while (i < p->n && !(strlen(p->items[i].key) == klen && memcmp(p->items[i].key, key, klen) == 0))
        i++;
    unsigned char *copy = malloc(vlen + 1);
    if (!copy)
        return -1;
    memcpy(copy, value, vlen);
    copy[vlen] = 0;
    if (i < p->n) {          /* a later record of the same key wins */
        free(p->items[i].value);
        p->items[i].value = copy;
        p->items[i].len = vlen;
        return 0;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct pax_kv *grown = realloc(p->items, cap * sizeof *grown);
        if (!grown) {
            free(copy);
            return -1;
        }
        p->items = grown;
        p->cap = cap;
    }
    char *k = strndup((const char *)key, klen);
    if (!k) {
        free(copy);
        return -1;
    }
    p->items[p->n++] = (struct pax_kv){k, copy, vlen};
    return 0;
}

/* records "<length> <key>=<value>\n" */
int parse_pax(struct rl_untar *u, const unsigned char *data, size_t n, struct pax_list *into)
{
    size_t pos = 0;
    while (pos < n) {
        const unsigned char *space = memchr(data + pos, ' ', n - pos);
        if (!space) {
            for (size_t i = pos; i < n; i++)
                if (data[i])
                    return corrupt(u, "invalid PAX header");
            break;
        }
        uint64_t length = 0;
        const unsigned char *p = data + pos;
        if (p == space)
            return corrupt(u, "invalid PAX header");
        for (; p < space; p++) {
            if (!isdigit(*p) || length > n)
                return corrupt(u, "invalid PAX header");
            length = length * 10 + (uint64_t)(*p - '0');
        }
        size_t head = (size_t)(space + 1 - (data + pos));
        if (length <= head || length > n - pos || data[pos + length - 1] != '\n')
            return corrupt(u, "invalid PAX header");
        const unsigned char *rec = space + 1, *end = data + pos + length - 1;
        const unsigned char *eq = memchr(rec, '=', (size_t)(end - rec));
        if (!eq)
            return corrupt(u, "invalid PAX header");
        if (pax_set(into, rec, (size_t)(eq - rec), eq + 1, (size_t)(end - eq - 1)) < 0)
            return fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
        pos += length;
    }
    return 0;
}

static int pax_uint(struct rl_untar *u, const struct pax_kv *kv, uint64_t *out)
{
    const unsigned char *p = kv->value, *end = kv->value + kv->len;
    while (p < end && isspace(*p))
        p++;
    while (end > p && isspace(end[-1]))
        end--;
    if (p < end && *p == '+')
        p++;
    if (p == end)
        return corrupt(u, "invalid PAX number");
    uint64_t v = 0;
    for (; p < end; p++) {
        if (!isdigit(*p) || v > (UINT64_MAX - 9) / 10)
            return corrupt(u, "invalid PAX number");
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

/* "1600000000.5", "-1.25": seconds and nanoseconds */
static int pax_time(struct rl_untar *u, const struct pax_kv *kv, int64_t *sec, long *nsec)
{
    const unsigned char *p = kv->value, *end = kv->value + kv->len;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    uint64_t s = 0;
    long ns = 0;
    int digits = 0;
    for (; p < end && isdigit(*p); p++, digits++) {
        if (s > (uint64_t)INT64_MAX / 10 - 1)
            return corrupt(u, "invalid PAX mtime");
        s = s * 10 + (uint64_t)(*p - '0');
    }
    if (p < end && *p == '.') {
        long scale = 100000000;
        for (p++; p < end && isdigit(*p); p++, digits++) {
            ns += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (p != end || !digits)
        return corrupt(u, "invalid PAX mtime");
    *sec = neg ? -(int64_t)s : (int64_t)s;
    *nsec = ns;
    if (neg && ns) {
        *sec -= 1;
        *nsec = 1000000000L - ns;
    }
    return 0;
}

static int pax_string(struct rl_untar *u, const struct pax_kv *kv, char **into)
{
    if (memchr(kv->value, 0, kv->len))
        return corrupt(u, "embedded null byte in a PAX path");
    char *copy = strdup((const char *)kv->value);
    if (!copy)
        return fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
    free(*into);
    *into = copy;
    return 0;
}

static int add_xattr(struct rl_untar *u, struct tar_member *m, const char *name,
                     const struct pax_kv *kv)
{
    size_t i = 0;
    while (i < m->nxattrs && strcmp(m->xattr_names[i], name) != 0)
        i++;
    unsigned char *value = malloc(kv->len + 1);
    if (!value)
        return fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
    memcpy(value, kv->value, kv->len);
    if (i == m->nxattrs) {
        char **names = realloc(m->xattr_names, (i + 1) * sizeof *names);
        if (names)
            m->xattr_names = names;
        unsigned char **values = realloc(m->xattr_values, (i + 1) * sizeof *values);
        if (values)
            m->xattr_values = values;
        size_t *lens = realloc(m->xattr_lens, (i + 1) * sizeof *lens);
        if (lens)
            m->xattr_lens = lens;
        char *copy = names && values && lens ? strdup(name) : NULL;
        if (!copy) {
            free(value);
            return fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
        }
        m->xattr_names[i] = copy;
        m->nxattrs++;
    } else {
        free(m->xattr_values[i]);
    }
    m->xattr_values[i] = value;
    m->xattr_lens[i] = kv->len;
    return 0;
}

int apply_pax(struct rl_untar *u, struct tar_member *m, const struct pax_list *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct pax_kv *kv = &p->items[i];
        const char *key = kv->key;
        int r = 0;
        if (strncmp(key, "GNU.sparse.", 11) == 0)
            return corrupt(u, "sparse files are not supported in layers");
        if (strcmp(key, "path") == 0)
            r = pax_string(u, kv, &m->name);
        else if (strcmp(key, "linkpath") == 0)
            r = pax_string(u, kv, &m->linkname);
        else if (strcmp(key, "size") == 0)
            r = pax_uint(u, kv, &m->size);
        else if (strcmp(key, "uid") == 0)
            r = pax_uint(u, kv, &m->uid);
        else if (strcmp(key, "gid") == 0)
            r = pax_uint(u, kv, &m->gid);
        else if (strcmp(key, "mtime") == 0)
            r = pax_time(u, kv, &m->mtime_sec, &m->mtime_nsec);
        else if (strncmp(key, "SCHILY.xattr.", 13) == 0 && key[13])
            r = add_xattr(u, m, key + 13, kv);
        if (r < 0)
            return -1;
    }
    return 0;
}
