/* The streaming tar reader of rootless._untar: 512-byte headers (ustar/POSIX, GNU long names and
 * links, PAX extended and global headers, base-256 numbers), fed in chunks of any size; each entry
 * goes to the writer (rl_untar.c) or, with RL_UNTAR_LIST, to a record (rl_untar_records).
 *
 * Not read (refused as a corrupt layer, never unpacked wrongly): sparse files (GNU 'S', PAX
 * GNU.sparse.*) and multi-volume entries; container image tools do not write them. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_untar_int.h"

/* ---- buffers, errors ------------------------------------------------------------------------ */
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

int fail(struct rl_untar *u, int kind, int err, const char *fmt, ...)
{
    if (u->err_kind)
        return -1;
    u->err_kind = kind;
    u->err_errno = err;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&u->err, fmt, ap) < 0)
        u->err = NULL;
    va_end(ap);
    u->state = S_FAILED;
    return -1;
}

const char *quoted(const char *s)
{
    static __thread char ring[4][1024];
    static __thread int next;
    char *out = ring[next++ & 3];
    size_t n = 0;
    out[n++] = '\'';
    for (; *s && n < sizeof ring[0] - 8; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '\\')
            n += (size_t)snprintf(out + n, 5, "\\x%02x", c);
        else
            out[n++] = (char)c;
    }
    if (*s)
        n += (size_t)snprintf(out + n, 4, "...");
    out[n++] = '\'';
    out[n] = 0;
    return out;
}

static int corrupt(struct rl_untar *u, const char *what)
{
    return fail(u, RL_UNTAR_ERR_CORRUPT, 0, "%s", what);
}

/* ---- header fields ------------------------------------------------------------------------- */
static int octal(const unsigned char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '7' || v >> 61)
            return -1;
        v = v << 3 | (uint64_t)(p[i] - '0');
    }
    *out = v;
    return 0;
}

/* A numeric field: base-256 (GNU: first byte's top bit set), else octal text padded with spaces or
 * NULs ("0000644\0"), as tarfile reads it. */
static int number(struct rl_untar *u, const unsigned char *f, size_t n, uint64_t *out)
{
    if (f[0] & 0x80) {
        if (f[0] == 0xff)
            return corrupt(u, "negative number in a tar header");
        uint64_t v = f[0] & 0x7f;
        for (size_t i = 1; i < n; i++) {
            if (v >> 56)
                return corrupt(u, "number too large in a tar header");
            v = v << 8 | f[i];
        }
        *out = v;
        return 0;
    }
    size_t a = 0, b = n;
    while (a < b && (f[a] == ' ' || f[a] == 0))
        a++;
    while (b > a && (f[b - 1] == ' ' || f[b - 1] == 0))
        b--;
    if (a == b) {
        *out = 0;
        return 0;
    }
    if (octal(f + a, b - a, out) == 0)
        return 0;
    b = 0;   /* as tarfile: the text up to the first NUL, without white space */
    while (b < n && f[b])
        b++;
    a = 0;
    while (a < b && isspace(f[a]))
        a++;
    while (b > a && isspace(f[b - 1]))
        b--;
    if (a == b) {
        *out = 0;
        return 0;
    }
    if (octal(f + a, b - a, out) == 0)
        return 0;
    char text[24];
    size_t len = b - a < sizeof text - 1 ? b - a : sizeof text - 1;
    memcpy(text, f + a, len);
    text[len] = 0;
    return fail(u, RL_UNTAR_ERR_CORRUPT, 0, "invalid number %s in a tar header", quoted(text));
}

/* a text field: up to the first NUL */
static char *text(const unsigned char *f, size_t n)
{
    size_t len = strnlen((const char *)f, n);
    return strndup((const char *)f, len);
}

static int checksum_ok(struct rl_untar *u, const unsigned char *h, int *ok)
{
    uint64_t stored;
    if (number(u, h + 148, 8, &stored) < 0)
        return -1;
    uint64_t sum = 256;        /* the checksum field counts as 8 spaces */
    int64_t ssum = 256;        /* old tars summed signed bytes */
    for (size_t i = 0; i < TAR_BLOCK; i++) {
        if (i >= 148 && i < 156)
            continue;
        sum += h[i];
        ssum += (signed char)h[i];
    }
    *ok = stored == sum || (int64_t)stored == ssum;
    return 0;
}

/* ---- PAX ----------------------------------------------------------------------------------- */
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
static int parse_pax(struct rl_untar *u, const unsigned char *data, size_t n, struct pax_list *into)
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

static int apply_pax(struct rl_untar *u, struct tar_member *m, const struct pax_list *p)
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

void member_clear(struct tar_member *m)
{
    free(m->name);
    free(m->linkname);
    for (size_t i = 0; i < m->nxattrs; i++) {
        free(m->xattr_names[i]);
        free(m->xattr_values[i]);
    }
    free(m->xattr_names);
    free(m->xattr_values);
    free(m->xattr_lens);
    memset(m, 0, sizeof *m);
}

/* ---- one header block ---------------------------------------------------------------------- */
static int is_reg(char t) { return t == '0' || t == 0 || t == '7'; }

static int build_member(struct rl_untar *u, const unsigned char *h, char type, uint64_t size)
{
    struct tar_member *m = &u->m;
    member_clear(m);
    u->have_member = 1;
    uint64_t mode, mtime;
    m->name = text(h, 100);
    if (!m->name)
        return fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
    if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345]) {   /* the POSIX ustar prefix field */
        char *prefix = text(h + 345, 155), *joined = NULL;
        if (!prefix || asprintf(&joined, "%s/%s", prefix, m->name) < 0)
            joined = NULL;
        free(prefix);
        if (!joined)
            return fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
        free(m->name);
        m->name = joined;
    }
    m->type = type;
    if (number(u, h + 100, 8, &mode) < 0 || number(u, h + 108, 8, &m->uid) < 0
        || number(u, h + 116, 8, &m->gid) < 0 || number(u, h + 136, 12, &mtime) < 0)
        return -1;
    m->mode = (uint32_t)mode;
    m->mtime_sec = (int64_t)mtime;
    m->linkname = type == '1' || type == '2' ? text(h + 157, 100) : strdup("");
    if (!m->linkname)
        return fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
    if ((type == '3' || type == '4')
        && (number(u, h + 329, 8, &m->devmajor) < 0 || number(u, h + 337, 8, &m->devminor) < 0))
        return -1;
    m->size = size;
    if (u->longname) {
        free(m->name);
        m->name = u->longname;
        u->longname = NULL;
    }
    if (u->longlink) {
        free(m->linkname);
        m->linkname = u->longlink;
        u->longlink = NULL;
    }
    if (apply_pax(u, m, &u->globals) < 0 || apply_pax(u, m, &u->pax) < 0)
        return -1;
    pax_clear(&u->pax);
    if (type == 'S' || type == 'M')
        return corrupt(u, "sparse and multi-volume tar entries are not supported in layers");
    size_t len = strlen(m->name);
    if ((type == '0' || type == 0) && len && m->name[len - 1] == '/')
        m->type = '5';
    if (strchr("12345" "6", m->type) && m->type)
        m->size = 0;    /* header-only entries: no data follows, whatever the size field says */
    return 0;
}

static void start_data(struct rl_untar *u, uint64_t size)
{
    u->remaining = size;
    u->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
    u->state = size ? S_DATA : u->pad ? S_PAD : S_HEADER;
}

static int end_member(struct rl_untar *u)
{
    int r = 0;
    if (u->have_member && !(u->flags & RL_UNTAR_LIST))
        r = writer_end(u, &u->m);
    u->writing = 0;
    u->have_member = 0;
    return r;
}

static int on_ext_complete(struct rl_untar *u)
{
    const unsigned char *data = u->ext;
    size_t n = u->ext_len;
    int r = 0;
    if (u->ext_type == 'x' || u->ext_type == 'g') {
        r = parse_pax(u, data, n, u->ext_type == 'x' ? &u->pax : &u->globals);
    } else {
        char **into = u->ext_type == 'L' ? &u->longname : &u->longlink;
        free(*into);
        *into = text(data, n);
        if (!*into)
            r = fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
    }
    free(u->ext);
    u->ext = NULL;
    return r;
}

static int on_header(struct rl_untar *u)
{
    const unsigned char *h = u->block;
    size_t zero = 0;
    while (zero < TAR_BLOCK && !h[zero])
        zero++;
    if (zero == TAR_BLOCK) {
        u->state = S_END;
        return 0;
    }
    int ok;
    if (checksum_ok(u, h, &ok) < 0)
        return -1;
    if (!ok)
        return corrupt(u, "bad checksum in a tar header");
    char type = (char)h[156];
    uint64_t size;
    if (number(u, h + 124, 12, &size) < 0)
        return -1;
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
        if (size > TAR_EXT_MAX)
            return corrupt(u, "oversized tar extension header");
        u->ext_type = type;
        u->ext_len = (size_t)size;
        u->ext_fill = 0;
        u->ext = malloc(u->ext_len + 1);
        if (!u->ext)
            return fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
        u->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
        if (!size) {
            u->state = u->pad ? S_PAD : S_HEADER;
            return on_ext_complete(u);
        }
        u->state = S_EXT;
        return 0;
    }
    if (build_member(u, h, type, size) < 0)
        return -1;
    if (u->flags & RL_UNTAR_LIST) {
        if (record_member(u, &u->m) < 0)
            return -1;
        u->writing = is_reg(u->m.type);
    } else {
        if (writer_begin(u, &u->m) < 0)
            return -1;
        u->writing = u->fd >= 0;
    }
    start_data(u, u->m.size);
    if (u->state == S_DATA)
        return 0;
    return end_member(u);
}

/* ---- feeding ------------------------------------------------------------------------------- */
static int data_bytes(struct rl_untar *u, const unsigned char *p, size_t n)
{
    if (!u->writing)
        return 0;
    if (u->flags & RL_UNTAR_LIST)
        return buf_add(&u->records, p, n) < 0 ? fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory") : 0;
    return writer_data(u, p, n);
}

int rl_untar_feed(rl_untar *u, const unsigned char *data, size_t len)
{
    while (len && u->state != S_END && u->state != S_FAILED) {
        size_t take;
        switch (u->state) {
        case S_HEADER:
            take = TAR_BLOCK - u->block_fill < len ? TAR_BLOCK - u->block_fill : len;
            memcpy(u->block + u->block_fill, data, take);
            u->block_fill += take;
            if (u->block_fill == TAR_BLOCK) {
                u->block_fill = 0;
                if (on_header(u) < 0)
                    return -1;
            }
            break;
        case S_EXT:
            take = u->ext_len - u->ext_fill < len ? u->ext_len - u->ext_fill : len;
            memcpy(u->ext + u->ext_fill, data, take);
            u->ext_fill += take;
            if (u->ext_fill == u->ext_len) {
                u->state = u->pad ? S_PAD : S_HEADER;
                if (on_ext_complete(u) < 0)
                    return -1;
            }
            break;
        case S_DATA:
            take = u->remaining < len ? (size_t)u->remaining : len;
            if (data_bytes(u, data, take) < 0)
                return -1;
            u->remaining -= take;
            if (!u->remaining) {
                u->state = u->pad ? S_PAD : S_HEADER;
                if (end_member(u) < 0)
                    return -1;
            }
            break;
        case S_PAD:
            take = u->pad < len ? (size_t)u->pad : len;
            u->pad -= take;
            if (!u->pad)
                u->state = S_HEADER;
            break;
        default:
            take = len;
        }
        data += take;
        len -= take;
    }
    return u->state == S_FAILED ? -1 : u->state == S_END ? 1 : 0;
}

int rl_untar_finish(rl_untar *u)
{
    if (u->state == S_FAILED)
        return -1;
    if (u->state != S_END) {
        if (u->state == S_HEADER && !u->block_fill)
            return corrupt(u, "unexpected end of data (no end-of-archive marker)");
        return corrupt(u, "unexpected end of data");
    }
    if (u->flags & RL_UNTAR_LIST)
        return 0;
    return writer_finish(u);
}

/* ---- the recording sink -------------------------------------------------------------------- */
/* netstring-like fields "<len>:<bytes>": name, type, size, mode, uid, gid, mtime sec, nsec,
 * linkname, devmajor, devminor, the number of xattrs, each xattr's name and value; then, for a
 * regular file, its data (raw, `size` bytes). rootless.engine.image.untar.list_members reads it. */
static int field(struct buf *b, const void *data, size_t len)
{
    char head[24];
    int n = snprintf(head, sizeof head, "%zu:", len);
    return buf_add(b, head, (size_t)n) < 0 || buf_add(b, data, len) < 0 ? -1 : 0;
}

static int field_num(struct buf *b, long long v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", v);
    return field(b, num, (size_t)n);
}

int record_member(struct rl_untar *u, const struct tar_member *m)
{
    struct buf *b = &u->records;
    char type = m->type;
    int r = field(b, m->name, strlen(m->name)) | field(b, &type, 1) | field_num(b, (long long)m->size)
        | field_num(b, m->mode) | field_num(b, (long long)m->uid) | field_num(b, (long long)m->gid)
        | field_num(b, m->mtime_sec) | field_num(b, m->mtime_nsec)
        | field(b, m->linkname, strlen(m->linkname)) | field_num(b, (long long)m->devmajor)
        | field_num(b, (long long)m->devminor) | field_num(b, (long long)m->nxattrs);
    for (size_t i = 0; i < m->nxattrs; i++)
        r |= field(b, m->xattr_names[i], strlen(m->xattr_names[i]))
            | field(b, m->xattr_values[i], m->xattr_lens[i]);
    return r ? fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory") : 0;
}
