/* The metadata of an entry, for rootless._untar's tree writer (rl_untar.c): owners (kept, or all
 * the unpacker's own with RL_UNTAR_ZERO_OWNERS), modes, xattrs, times, the opaque markers of
 * overlay directories, and the notes (each said once) that tell a user what could not be kept.
 * Paths are relative to the layer root and never followed; fd >= 0 means that open file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "rl_untar_int.h"

#define OPAQUE_XATTR "user.overlay.opaque"
#define TRUSTED_OPAQUE_XATTR "trusted.overlay.opaque"
#define NOTE_OWNERS "this user has no subordinate id range: every file of the image belongs to the " \
    "user (container uid 0); add a range in /etc/subuid and /etc/subgid to keep the image's owners"

void note(struct rl_untar *u, const char *key, const char *fmt, ...)
{
    if (map_get(&u->noted, key) || !map_put(&u->noted, key))
        return;
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n >= 0)
        buf_add(&u->notes, text, (size_t)n + 1);   /* NUL-separated */
    free(text);
}

int set_opaque(struct rl_untar *u, const char *rel)
{
    char *path = abs_path(u, rel);
    if (!path)
        return no_memory(u);
    int r = 0;
    if (lsetxattr(path, OPAQUE_XATTR, "y", 1, 0) < 0)
        r = fail(u, RL_UNTAR_ERR_OPAQUE, errno, "cannot mark %s opaque: setxattr " OPAQUE_XATTR ": %s",
                 path, strerror(errno));
    else if ((u->flags & RL_UNTAR_TRUSTED_XATTRS) && lsetxattr(path, TRUSTED_OPAQUE_XATTR, "y", 1, 0) < 0)
        note(u, "trusted", "could not set " TRUSTED_OPAQUE_XATTR "; overlay must use userxattr");
    free(path);
    return r;
}

/* fd >= 0: that file; else `rel` (never followed). */
int owner(struct rl_untar *u, int fd, const char *rel, const struct tar_member *m)
{
    if (u->flags & RL_UNTAR_ZERO_OWNERS) {
        note_zeroed_owner(u, m);
        return 0;
    }
    int r = -1;
    errno = EINVAL;                    /* ids no uid_t holds are outside any mapping */
    if (m->uid < 0xffffffffu && m->gid < 0xffffffffu)
        r = fd >= 0 ? fchown(fd, (uid_t)m->uid, (gid_t)m->gid)
                    : fchownat(u->rootfd, rel, (uid_t)m->uid, (gid_t)m->gid, AT_SYMLINK_NOFOLLOW);
    if (r == 0)
        return 0;
    if (errno != EINVAL)
        return fail_os(u, errno, rel);
    char key[48];
    snprintf(key, sizeof key, "id%llu:%llu", (unsigned long long)m->uid, (unsigned long long)m->gid);
    note(u, key, "%s: owner %llu:%llu is outside the id mapping; kept as 0:0", m->name,
         (unsigned long long)m->uid, (unsigned long long)m->gid);
    return 0;
}

static int set_xattrs(struct rl_untar *u, int fd, const char *rel, const struct tar_member *m)
{
    char *path = fd >= 0 ? NULL : abs_path(u, rel);
    if (fd < 0 && !path)
        return no_memory(u);
    for (size_t i = 0; i < m->nxattrs; i++) {
        const char *name = m->xattr_names[i];
        if (!strncmp(name, "trusted.", 8) || !strncmp(name, "user.overlay.", 13))
            continue;
        int r = fd >= 0 ? fsetxattr(fd, name, m->xattr_values[i], m->xattr_lens[i], 0)
                        : lsetxattr(path, name, m->xattr_values[i], m->xattr_lens[i], 0);
        if (r < 0) {
            char key[300];
            snprintf(key, sizeof key, "xattr%s", name);
            note(u, key, "could not set xattr %s (%s); skipped", name, strerror(errno));
        }
    }
    free(path);
    return 0;
}

int set_times(struct rl_untar *u, int fd, const char *rel, int64_t sec, long nsec)
{
    struct timespec ts[2] = {{.tv_sec = sec, .tv_nsec = nsec}, {.tv_sec = sec, .tv_nsec = nsec}};
    int r = fd >= 0 ? futimens(fd, ts) : utimensat(u->rootfd, rel, ts, AT_SYMLINK_NOFOLLOW);
    return r < 0 ? fail_os(u, errno, rel) : 0;
}

/* Owner, mode, xattrs and (but for directories: finish) times; chown first (it clears set-id). */
int metadata(struct rl_untar *u, int fd, const char *rel, const struct tar_member *m, int dir)
{
    if (owner(u, fd, rel, m) < 0)
        return -1;
    mode_t mode = m->mode & 07777;
    if ((fd >= 0 ? fchmod(fd, mode) : fchmodat(u->rootfd, rel, mode, 0)) < 0)
        return fail_os(u, errno, rel);
    if (m->nxattrs && set_xattrs(u, fd, rel, m) < 0)
        return -1;
    return dir ? 0 : set_times(u, fd, rel, m->mtime_sec, m->mtime_nsec);
}

char *abs_path(struct rl_untar *u, const char *rel)
{
    char *path = NULL;
    return asprintf(&path, "%s%s%s", u->root, *rel ? "/" : "", rel) < 0 ? NULL : path;
}

/* With RL_UNTAR_ZERO_OWNERS an owner other than 0:0 is not kept: say so, once. */
void note_zeroed_owner(struct rl_untar *u, const struct tar_member *m)
{
    if ((u->flags & RL_UNTAR_ZERO_OWNERS) && (m->uid || m->gid))
        note(u, "owners", NOTE_OWNERS);
}
