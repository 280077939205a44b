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
