/* The tree writer of rootless._untar: applies each tar entry below the new directory `root`.
 *
 * What lands on disk is what rootless/engine/image/layer.py documents: `.wh.NAME` becomes a 0/0
 * character device (overlay's whiteout), `.wh..wh..opq` the user.overlay.opaque xattr (and
 * trusted.overlay.opaque as real root), owners kept or, with RL_UNTAR_ZERO_OWNERS, all the
 * unpacker's own (a note says so once), device nodes that cannot be made are skipped with a note.
 *
 * Safety: every entry is resolved against `kinds`, a model of what this unpack created (the
 * directory starts empty): an absolute name, a `..` component, a parent that is not a directory
 * this unpack made, or a hard link to anything but a file of this layer fails before anything is
 * written; files are created O_EXCL|O_NOFOLLOW, links replaced, never followed, and every system
 * call takes a path relative to `root` whose parents the model guarantees to be real directories.
 * Directory times are set last (finish), without following links, on entries still directories.
 * An entry's metadata is rl_untar_meta.c's, large files' data rl_untar_io.c's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "rl_untar_int.h"

enum kind { K_NONE, K_DIR, K_FILE, K_LINK, K_OTHER, K_WHITEOUT };
static const char *const KIND_NAMES[] = {"none", "dir", "file", "link", "other", "whiteout"};
#define F_SETGID 1   /* new entries in this directory get its group: chown them */
#define F_TIMED 2    /* in u->dirs already */

/* regular files this large, and simple (final mode and owner at creation), are written by the
 * data writer thread (rl_untar_io.c) */
#define IO_MIN (16u << 10)

/* ---- errors and the model ------------------------------------------------------------------ */
int fail_os(struct rl_untar *u, int err, const char *rel)
{
    return fail(u, RL_UNTAR_ERR_OS, err, "%s%s%s", u->root, *rel ? "/" : "", rel);
}

static int kind_of(struct rl_untar *u, const char *rel)
{
    struct map_entry *e = map_get(&u->kinds, rel);
    return e ? e->kind : K_NONE;
}

static int set_kind(struct rl_untar *u, const char *rel, int kind)
{
    struct map_entry *e = map_put(&u->kinds, rel);
    if (!e)
        return no_memory(u);
    e->kind = (unsigned char)kind;
    return 0;
}

/* ---- names --------------------------------------------------------------------------------- */
/* `name` without "", "." components, refused when absolute or with a ".." */
static int relative(struct rl_untar *u, const char *name, char **out)
{
    if (name[0] == '/')
        return fail(u, RL_UNTAR_ERR_UNSAFE, 0, "layer entry %s is an absolute path", quoted(name));
    char *rel = malloc(strlen(name) + 1);
    if (!rel)
        return no_memory(u);
    size_t len = 0;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            free(rel);
            return fail(u, RL_UNTAR_ERR_UNSAFE, 0, "layer entry %s contains '..'", quoted(name));
        }
        if (n && !(n == 1 && p[0] == '.')) {
            if (len)
                rel[len++] = '/';
            memcpy(rel + len, p, n);
            len += n;
        }
        p += n + (p[n] == '/');
    }
    rel[len] = 0;
    *out = rel;
    return 0;
}

/* ---- filesystem operations ----------------------------------------------------------------- */
static int remove_tree_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    int r = 0;
    struct dirent *de;
    while (!r && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        int isdir = de->d_type == DT_DIR;
        struct stat st;
        if (de->d_type == DT_UNKNOWN && fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            isdir = S_ISDIR(st.st_mode);
        if (isdir)
            r = remove_tree_at(fd, de->d_name);
        else if (unlinkat(fd, de->d_name, 0) < 0)
            r = -errno;
    }
    closedir(d);
    if (!r && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
        r = -errno;
    return r;
}

/* Remove what this layer already put at `rel` (later tar entries win). */
static int clear(struct rl_untar *u, const char *rel, int keep_dir)
{
    int kind = kind_of(u, rel);
    if (kind == K_NONE || (kind == K_DIR && keep_dir))
        return 0;
    if (kind == K_DIR) {
        int r = remove_tree_at(u->rootfd, rel);
        if (r < 0)
            return fail_os(u, -r, rel);
        map_del_under(&u->kinds, rel);
    } else if (unlinkat(u->rootfd, rel, 0) < 0) {
        return fail_os(u, errno, rel);
    }
    map_del(&u->kinds, rel);
    return 0;
}

static int make_dir(struct rl_untar *u, const char *rel, mode_t mode)
{
    if (mkdirat(u->rootfd, rel, mode) < 0)
        return fail_os(u, errno, rel);
    return set_kind(u, rel, K_DIR);
}

/* Create missing parents (0755) and check that every parent is a directory of this layer. */
static int parent_dir(struct rl_untar *u, char *rel, const char *name)
{
    char *slash = strrchr(rel, '/');
    if (!slash)
        return 0;                      /* the root */
    *slash = 0;
    int r = 0;
    if (kind_of(u, rel) != K_DIR) {
        for (char *p = rel;; p++) {
            if (*p && *p != '/')
                continue;
            char saved = *p;
            *p = 0;
            int kind = kind_of(u, rel);
            if (kind == K_WHITEOUT) {  /* `.wh.x` then `x/...`: x is a new, opaque directory */
                r = clear(u, rel, 0);
                r = r ? r : make_dir(u, rel, 0755);
                r = r ? r : set_opaque(u, rel);
            } else if (kind == K_NONE) {
                r = make_dir(u, rel, 0755);
            } else if (kind != K_DIR) {
                r = fail(u, RL_UNTAR_ERR_UNSAFE, 0, "layer entry %s: %s is a %s, not a directory",
                         quoted(name), quoted(rel), KIND_NAMES[kind]);
            }
            *p = saved;
            if (r < 0 || !saved)
                break;
        }
    }
    *slash = '/';
    return r;
}

/* Created with its final mode and owner already: no chown, no chmod needed. */
static int is_simple(struct rl_untar *u, char *rel, const struct tar_member *m)
{
    if ((m->mode & 07000) || u->umask || m->nxattrs)
        return 0;
    if (!(u->flags & RL_UNTAR_ZERO_OWNERS) && (m->uid != u->me_uid || m->gid != u->me_gid))
        return 0;
    char *slash = strrchr(rel, '/');
    if (slash)
        *slash = 0;
    struct map_entry *parent = map_get(&u->kinds, slash ? rel : "");
    if (slash)
        *slash = '/';
    return !(parent && (parent->flags & F_SETGID));
}

static int dir_time(struct rl_untar *u, const char *rel, const struct tar_member *m)
{
    struct map_entry *e = map_get(&u->kinds, rel);
    if (!e)
        return 0;
    e->sec = m->mtime_sec;             /* the last entry for a directory wins */
    e->nsec = m->mtime_nsec;
    if (e->flags & F_TIMED)
        return 0;
    e->flags |= F_TIMED;
    if (u->ndirs == u->capdirs) {
        size_t cap = u->capdirs ? u->capdirs * 2 : 256;
        char **grown = realloc(u->dirs, cap * sizeof *grown);
        if (!grown)
            return no_memory(u);
        u->dirs = grown;
        u->capdirs = cap;
    }
    if (!(u->dirs[u->ndirs] = strdup(rel)))
        return no_memory(u);
    u->ndirs++;
    return 0;
}

/* ---- one entry ------------------------------------------------------------------------------ */
static int whiteout(struct rl_untar *u, char *rel, const char *name)
{
    if (parent_dir(u, rel, name) < 0)
        return -1;
    char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (!strcmp(base, ".wh..wh..opq")) {
        if (slash)
            *slash = 0;
        int r = set_opaque(u, slash ? rel : "");
        if (slash)
            *slash = '/';
        return r;
    }
    if (!strncmp(base, ".wh..wh.", 8))
        return 0;                      /* aufs metadata (.wh..wh.plnk etc.): nothing to apply */
    const char *hidden = base + 4;
    if (!*hidden || !strcmp(hidden, ".") || !strcmp(hidden, ".."))
        return fail(u, RL_UNTAR_ERR_UNSAFE, 0, "layer entry %s is not a valid whiteout", quoted(name));
    char *target = NULL;
    if (asprintf(&target, "%.*s%s", slash ? (int)(slash - rel + 1) : 0, rel, hidden) < 0)
        return no_memory(u);
    int r = clear(u, target, 0);
    if (!r && mknodat(u->rootfd, target, S_IFCHR, makedev(0, 0)) < 0)
        r = fail_os(u, errno, target);
    r = r ? r : set_kind(u, target, K_WHITEOUT);
    free(target);
    return r;
}

static int directory(struct rl_untar *u, char *rel, const struct tar_member *m)
{
    int replaces_whiteout = kind_of(u, rel) == K_WHITEOUT;
    if (clear(u, rel, 1) < 0)
        return -1;
    int simple = 0;
    if (kind_of(u, rel) == K_NONE) {
        simple = is_simple(u, rel, m);
        if (make_dir(u, rel, simple ? m->mode & 0777 : 0700) < 0)
            return -1;
        if (replaces_whiteout && set_opaque(u, rel) < 0)   /* the lower layers' dir must not show */
            return -1;
    }
    struct map_entry *e = map_get(&u->kinds, rel);
    if (m->mode & S_ISGID)
        e->flags |= F_SETGID;
    else
        e->flags &= (unsigned char)~F_SETGID;
    if (!simple) {
        if (metadata(u, -1, rel, m, 1) < 0)
            return -1;
    } else {
        note_zeroed_owner(u, m);
    }
    return dir_time(u, rel, m);
}

static int regular(struct rl_untar *u, char *rel, const struct tar_member *m)
{
    int simple = is_simple(u, rel, m);
    int fd = openat(u->rootfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    simple ? m->mode & 0777 : 0600);
    if (fd < 0)
        return fail_os(u, errno, rel);
    u->fd = fd;
    u->cur_rel = rel;                  /* owned now: writer_end frees it (or hands it on) */
    u->cur_simple = simple;
    u->cur_async = simple && m->size >= IO_MIN && (u->io || (u->io = io_start()));
    u->size += m->size;
    return set_kind(u, rel, K_FILE);
}

static int symlink_entry(struct rl_untar *u, char *rel, const struct tar_member *m)
{
    if (set_kind(u, rel, K_LINK) < 0)
        return -1;
    if (symlinkat(m->linkname, u->rootfd, rel) < 0)
        return fail_os(u, errno, rel);
    if (!is_simple(u, rel, m) && owner(u, -1, rel, m) < 0)
        return -1;
    return set_times(u, -1, rel, m->mtime_sec, m->mtime_nsec);
}

static int hardlink(struct rl_untar *u, char *rel, const struct tar_member *m)
{
    char *target;
    if (relative(u, m->linkname, &target) < 0)
        return -1;
    int kind = kind_of(u, target), r = 0;
    if (kind != K_FILE && kind != K_LINK && kind != K_OTHER)
        r = fail(u, RL_UNTAR_ERR_UNSAFE, 0, "layer entry %s is a hard link to %s, which is not a file "
                 "of this layer", quoted(m->name), quoted(m->linkname));
    else if (linkat(u->rootfd, target, u->rootfd, rel, 0) < 0)
        r = fail_os(u, errno, rel);
    free(target);
    return r ? r : set_kind(u, rel, kind);
}

static int special(struct rl_untar *u, char *rel, const struct tar_member *m)
{
    mode_t type = m->type == '6' ? S_IFIFO : m->type == '3' ? S_IFCHR : S_IFBLK;
    dev_t dev = type == S_IFIFO ? 0 : makedev((unsigned)m->devmajor, (unsigned)m->devminor);
    if (mknodat(u->rootfd, rel, type | 0600, dev) < 0) {
        if (type != S_IFIFO && (errno == EPERM || errno == EACCES)) {
            note(u, "dev", "skipped device nodes (e.g. %s): not permitted without root; the "
                 "container's /dev provides the usual ones", m->name);
            return 0;
        }
        return fail_os(u, errno, rel);
    }
    if (set_kind(u, rel, K_OTHER) < 0)
        return -1;
    return metadata(u, -1, rel, m, 0);
}

static int add(struct rl_untar *u, char *rel, const struct tar_member *m)
{
    const char *slash = strrchr(rel, '/'), *base = slash ? slash + 1 : rel;
    if (!strncmp(base, ".wh.", 4))
        return whiteout(u, rel, m->name);
    if (!*rel) {                       /* "./": the layer root itself */
        if (m->type != '5')
            return 0;
        return metadata(u, u->rootfd, "", m, 1) < 0 ? -1 : dir_time(u, "", m);
    }
    if (parent_dir(u, rel, m->name) < 0)
        return -1;
    if (m->type == '5')
        return directory(u, rel, m);
    if (clear(u, rel, 0) < 0)
        return -1;
    switch (m->type) {
    case '0': case 0: case '7':
        return regular(u, rel, m);
    case '2':
        return symlink_entry(u, rel, m);
    case '1':
        return hardlink(u, rel, m);
    case '3': case '4': case '6':
        return special(u, rel, m);
    default: {
        char key[8];
        snprintf(key, sizeof key, "type%c", m->type);
        note(u, key, "skipped %s: unsupported tar entry type '%c'", m->name, m->type);
        return 0;
    }
    }
}

/* ---- the parser's calls -------------------------------------------------------------------- */
int writer_begin(struct rl_untar *u, const struct tar_member *m)
{
    char *rel;
    if (relative(u, m->name, &rel) < 0)
        return -1;
    int r = add(u, rel, m);
    if (u->cur_rel != rel)
        free(rel);
    return r;
}

/* a failure of the data writer thread: errno `err`, on `rel` (freed) or else the current file */
static int io_failed(struct rl_untar *u, int err, char *rel)
{
    int r = fail_os(u, err, rel ? rel : u->cur_rel ? u->cur_rel : "");
    free(rel);
    return r;
}

int writer_data(struct rl_untar *u, const unsigned char *data, size_t len)
{
    if (u->cur_async) {
        char *rel = NULL;
        int err = io_write(u->io, u->fd, u->cur_rel, data, len, &rel);
        return err ? io_failed(u, err, rel) : 0;
    }
    while (len) {
        ssize_t n = write(u->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail_os(u, n < 0 ? errno : EIO, u->cur_rel);
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int writer_end(struct rl_untar *u, const struct tar_member *m)
{
    if (u->fd < 0)
        return 0;
    int r;
    if (u->cur_simple)
        note_zeroed_owner(u, m);
    if (u->cur_async) {                /* the thread sets the times and closes; it owns both now */
        char *rel = NULL;
        int err = io_close(u->io, u->fd, u->cur_rel, m->mtime_sec, m->mtime_nsec, &rel);
        if (err) {
            r = io_failed(u, err, rel);
            close(u->fd);
            free(u->cur_rel);
        }
        u->fd = -1;
        u->cur_rel = NULL;
        u->cur_async = 0;
        return err ? r : 0;
    }
    if (u->cur_simple) {
        r = set_times(u, u->fd, u->cur_rel, m->mtime_sec, m->mtime_nsec);
    } else {
        r = metadata(u, u->fd, u->cur_rel, m, 0);
    }
    if (close(u->fd) < 0 && !r)
        r = fail_os(u, errno, u->cur_rel);
    u->fd = -1;
    free(u->cur_rel);
    u->cur_rel = NULL;
    return r;
}

int writer_finish(struct rl_untar *u)
{
    if (u->io) {                       /* every file written and closed before the directories' times */
        char *rel = NULL;
        int err = io_drain(u->io, &rel);
        if (err)
            return io_failed(u, err, rel);
    }
    for (size_t i = u->ndirs; i-- > 0;) {
        struct map_entry *e = map_get(&u->kinds, u->dirs[i]);
        if (!e || e->kind != K_DIR)
            continue;
        int fd = u->dirs[i][0] ? -1 : u->rootfd;
        if (set_times(u, fd, u->dirs[i], e->sec, e->nsec) < 0)
            return -1;
    }
    return 0;
}

/* ---- the object ---------------------------------------------------------------------------- */
rl_untar *rl_untar_new(const char *root, int flags)
{
    rl_untar *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->flags = flags;
    u->fd = u->rootfd = -1;
    u->state = S_HEADER;
    u->me_uid = geteuid();
    u->me_gid = getegid();
    u->umask = umask(0);
    umask(u->umask);
    if (flags & RL_UNTAR_LIST)
        return u;
    u->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    u->root = strdup(root);
    if (u->rootfd < 0 || !u->root || set_kind(u, "", K_DIR) < 0) {
        int e = u->rootfd < 0 ? errno : ENOMEM;
        rl_untar_free(u);
        errno = e;
        return NULL;
    }
    return u;
}

void rl_untar_free(rl_untar *u)
{
    if (!u)
        return;
    io_stop(u->io);                    /* first: it may still hold queued pieces of u->fd */
    if (u->fd >= 0)
        close(u->fd);
    if (u->rootfd >= 0)
        close(u->rootfd);
    member_clear(&u->m);
    pax_clear(&u->pax);
    pax_clear(&u->globals);
    free(u->pax.items);
    free(u->globals.items);
    free(u->ext);
    free(u->longname);
    free(u->longlink);
    free(u->records.data);
    free(u->root);
    free(u->cur_rel);
    map_free(&u->kinds);
    map_free(&u->noted);
    free(u->notes.data);
    for (size_t i = 0; i < u->ndirs; i++)
        free(u->dirs[i]);
    free(u->dirs);
    free(u->err);
    free(u);
}

int rl_untar_error_kind(const rl_untar *u) { return u->err_kind; }
int rl_untar_errno(const rl_untar *u) { return u->err_errno; }
const char *rl_untar_error(const rl_untar *u) { return u->err ? u->err : "out of memory"; }
unsigned long long rl_untar_size(const rl_untar *u) { return u->size; }

const char *rl_untar_notes(const rl_untar *u, size_t *len)
{
    *len = u->notes.len;
    return u->notes.data ? u->notes.data : "";
}

const char *rl_untar_records(const rl_untar *u, size_t *len)
{
    *len = u->records.len;
    return u->records.data ? u->records.data : "";
}
