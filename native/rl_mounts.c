/* The container's mount tree: see rl_mounts.h. The same steps, in the same order, as the Python
 * boot did (rootless/runtime/mounts.py before the C boot). */
#define _GNU_SOURCE
#include "rl_mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define RL_AT_RECURSIVE 0x8000
#define RL_MOUNT_ATTR_RDONLY 0x1

static const char *const DEFAULT_DEVICES[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};

int rl_fail(struct rl_err *e, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (errnum && n >= 0 && (size_t)n < sizeof e->msg)
        snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", strerror(errnum));
    snprintf(e->cls, sizeof e->cls, "OSError");
    e->hint[0] = '\0';
    return errnum ? -errnum : -1;
}

static int do_mount(const char *source, const char *target, const char *type, unsigned long flags,
                    const char *data, struct rl_err *err)
{
    if (mount(source, target, type, flags, data) == 0)
        return 0;
    int saved = errno;
    rl_fail(err, saved, "mount %s on %s", type ? type : source ? source : "none", target);
    return -saved;
}

/* --- paths ---------------------------------------------------------------------------------- */

/* Append "/<part>" (len bytes) to `cur` (of `size`). */
static int append(char *cur, size_t size, const char *part, size_t len)
{
    size_t at = strlen(cur);
    if (at && cur[at - 1] == '/')
        at--;
    if (at + 1 + len + 1 > size)
        return -ENAMETOOLONG;
    cur[at] = '/';
    memcpy(cur + at + 1, part, len);
    cur[at + 1 + len] = '\0';
    return 0;
}

int rl_resolve(const char *root, const char *dest, char *out, size_t size, struct rl_err *err)
{
    char rest[2 * PATH_MAX], link[PATH_MAX], next[2 * PATH_MAX];
    size_t rootlen = strlen(root);
    int hops = 0;
    if (rootlen + 1 > size || strlen(dest) + 1 > sizeof rest)
        return rl_fail(err, ENAMETOOLONG, "resolve %s", dest);
    memcpy(out, root, rootlen + 1);
    snprintf(rest, sizeof rest, "%s", dest);
    char *p = rest;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            return 0;
        size_t len = strcspn(p, "/");
        if ((len == 1 && p[0] == '.') || len == 0) {
            p += len;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {   /* never above the root */
            char *slash = strrchr(out, '/');
            if (strcmp(out, root) != 0 && slash)
                *(slash == out ? slash + 1 : slash) = '\0';
            p += len;
            continue;
        }
        size_t at = strlen(out);
        if (append(out, size, p, len) < 0)
            return rl_fail(err, ENAMETOOLONG, "resolve %s", dest);
        p += len;
        ssize_t n = readlink(out, link, sizeof link - 1);
        if (n < 0)
            continue;                          /* not a link (or not there): a plain component */
        link[n] = '\0';
        if (++hops > 40)
            return rl_fail(err, 0, "[Errno 40] too many levels of symbolic links in %s", dest);
        if (link[0] == '/')
            memcpy(out, root, rootlen + 1);
        else
            out[at] = '\0';
        if ((size_t)snprintf(next, sizeof next, "%s/%s", link, p) >= sizeof next)
            return rl_fail(err, ENAMETOOLONG, "resolve %s", dest);
        memcpy(rest, next, strlen(next) + 1);
        p = rest;
    }
}

static int mkdirs(char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        *slash = '\0';
        int rc = mkdirs(path);
        *slash = '/';
        if (rc < 0)
            return rc;
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int rl_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return errno = ENAMETOOLONG, -1;
    int rc = mkdirs(buf);
    return rc < 0 ? (errno = -rc, -1) : 0;
}

/* Create the mount point `path`: a directory, or an empty file for a file bind mount. */
static int ensure(const char *path, int is_dir, struct rl_err *err)
{
    struct stat st;
    char buf[PATH_MAX];
    if (lstat(path, &st) == 0)
        return 0;
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return rl_fail(err, ENAMETOOLONG, "mkdir %s", path);
    char *slash = strrchr(buf, '/');
    if (!is_dir && slash)
        *slash = '\0';
    int rc = buf[0] ? mkdirs(buf) : 0;
    if (rc < 0)
        return rl_fail(err, -rc, "mkdir %s", buf);
    if (!is_dir) {
        int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
            return rl_fail(err, errno, "create %s", path);
        close(fd);
    }
    return 0;
}

/* --- binds ---------------------------------------------------------------------------------- */

/* The flags of the mount at `path` a remount must keep (see rl_mounts.h). */
static unsigned long locked_flags(const char *path)
{
    static const struct { unsigned long st, ms; } LOCKED[] = {
        {ST_RDONLY, MS_RDONLY}, {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC},
        {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
    };
    struct statvfs sv;
    unsigned long out = 0;
    if (statvfs(path, &sv) < 0)
        return 0;
    for (size_t i = 0; i < sizeof LOCKED / sizeof *LOCKED; i++)
        if (sv.f_flag & LOCKED[i].st)
            out |= LOCKED[i].ms;
    return out;
}

int rl_bind(const char *source, const char *target, unsigned long flags, int recursive, struct rl_err *err)
{
    int rc = do_mount(source, target, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL, err);
    unsigned long extra = flags & ~(unsigned long)(MS_BIND | MS_REC);
    if (rc == 0 && extra)
        rc = do_mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | extra | locked_flags(target), NULL, err);
    if (rc == 0 && recursive && (extra & MS_RDONLY)) {
        /* MS_REMOUNT changed the top mount only: make the mounts below it read-only too */
        struct { uint64_t attr_set, attr_clr, propagation, userns_fd; } attr = {RL_MOUNT_ATTR_RDONLY, 0, 0, 0};
        if (syscall(SYS_mount_setattr, AT_FDCWD, target, RL_AT_RECURSIVE, &attr, sizeof attr) < 0
            && errno != ENOSYS && errno != EINVAL)   /* kernels before 5.12 */
            return rl_fail(err, errno, "mount_setattr %s", target);
    }
    return rc;
}

/* Mount the filesystem; when the kernel refuses it in this user namespace, bind the host's
 * (keeping ro, nosuid, nodev, noexec). */
static int mount_or_bind(const struct rl_mount *m, const char *dest, const char *host, struct rl_err *err)
{
    int rc = do_mount(m->source, dest, m->type, m->flags, m->data, err);
    if (rc != -EPERM && rc != -EACCES && rc != -EINVAL)
        return rc;
    return rl_bind(host, dest, m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC), 1, err);
}

/* devpts with gid=5 fails (EINVAL) when gid 5 is not mapped (a single-id user namespace): again
 * without the gid= option. */
static int mount_devpts(const struct rl_mount *m, const char *dest, struct rl_err *err)
{
    int rc = do_mount(m->source, dest, "devpts", m->flags, m->data, err);
    if (rc != -EINVAL || !m->data || !strstr(m->data, "gid="))
        return rc;
    char data[1024] = "";
    const char *p = m->data;
    while (*p) {
        size_t len = strcspn(p, ","), at = strlen(data);
        if (len && strncmp(p, "gid=", 4) != 0 && at + len + 2 < sizeof data)
            snprintf(data + at, sizeof data - at, "%s%.*s", at ? "," : "", (int)len, p);
        p += len + (p[len] == ',');
    }
    return do_mount(m->source, dest, "devpts", m->flags, data[0] ? data : NULL, err);
}

static int mount_one(const char *root, const struct rl_mount *m, struct rl_err *err)
{
    char dest[PATH_MAX];
    struct stat st;
    int is_dir = m->kind != RL_M_BIND || (stat(m->source, &st) == 0 && S_ISDIR(st.st_mode));
    int rc = rl_resolve(root, m->dest, dest, sizeof dest, err);
    if (rc == 0)
        rc = ensure(dest, is_dir, err);
    if (rc < 0)
        return rc;
    switch (m->kind) {
    case RL_M_BIND:
        rc = rl_bind(m->source, dest, m->flags, !!(m->flags & MS_REC), err);
        break;
    case RL_M_DEVPTS:
        rc = mount_devpts(m, dest, err);
        break;
    case RL_M_SYSFS:
        rc = mount_or_bind(m, dest, "/sys", err);
        break;
    case RL_M_MQUEUE:
        rc = mount_or_bind(m, dest, "/dev/mqueue", err);
        break;
    case RL_M_PROC:
        rc = mount_or_bind(m, dest, "/proc", err);
        break;
    case RL_M_CGROUP:   /* the host's tree read-only, best effort: no cgroup of our own here */
        rl_bind("/sys/fs/cgroup", dest, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 1, err);
        rc = 0;
        break;
    default:
        rc = do_mount(m->source, dest, m->type, m->flags, m->data, err);
    }
    if (rc == 0 && m->propagation)
        rc = do_mount(NULL, dest, NULL, m->propagation, NULL, err);
    return rc;
}

/* --- /dev ----------------------------------------------------------------------------------- */

/* posixpath.ismount: a mount point differs in device from its parent, or is its own parent. */
static int is_mount(const char *path)
{
    struct stat st, parent;
    char up[PATH_MAX + 4];
    if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
        return 0;
    snprintf(up, sizeof up, "%s/..", path);
    if (lstat(up, &parent) < 0)
        return 0;
    return st.st_dev != parent.st_dev || st.st_ino == parent.st_ino;
}

static int bind_device(const char *host, const char *target, struct rl_err *err)
{
    struct stat st;
    if (lstat(target, &st) == 0 && is_mount(target))
        return 0;
    int rc = ensure(target, 0, err);
    return rc < 0 ? rc : do_mount(host, target, NULL, MS_BIND, NULL, err);
}

/* Device nodes (bound from the host: a user namespace cannot mknod), /dev/ptmx, /dev/fd and the
 * stdio links, as the spec's "Default Devices" and runc do. */
static int setup_dev(const char *root, const char *const *devices, struct rl_err *err)
{
    static const char *const LINKS[][2] = {
        {"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},
    };
    char host[PATH_MAX], target[PATH_MAX];
    int rc = 0;
    for (size_t i = 0; rc == 0 && DEFAULT_DEVICES[i]; i++) {
        snprintf(host, sizeof host, "/dev/%s", DEFAULT_DEVICES[i]);
        snprintf(target, sizeof target, "%s/dev/%s", root, DEFAULT_DEVICES[i]);
        rc = bind_device(host, target, err);
    }
    for (size_t i = 0; rc == 0 && devices && devices[i]; i++) {
        rc = rl_resolve(root, devices[i], target, sizeof target, err);
        if (rc == 0)
            rc = bind_device(devices[i], target, err);
    }
    for (size_t i = 0; rc == 0 && i < sizeof LINKS / sizeof *LINKS; i++) {
        struct stat st;
        snprintf(target, sizeof target, "%s/dev/%s", root, LINKS[i][1]);
        if (lstat(target, &st) == 0)
            continue;          /* there already (a real ptmx node, or a link) */
        if (symlink(LINKS[i][0], target) < 0)
            rc = rl_fail(err, errno, "symlink %s", target);
    }
    return rc;
}

int rl_build(const char *root, const struct rl_mount *mounts, size_t n, int dev_tmpfs,
             const char *const *devices, unsigned long root_propagation, struct rl_err *err)
{
    int rc = do_mount(root, root, NULL, MS_BIND | MS_REC, NULL, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = mount_one(root, &mounts[i], err);
    if (rc == 0 && dev_tmpfs)
        rc = setup_dev(root, devices, err);
    if (rc == 0 && root_propagation)
        rc = do_mount(NULL, root, NULL, root_propagation, NULL, err);
    return rc;
}

/* --- after pivot_root ----------------------------------------------------------------------- */

int rl_pivot(const char *root, struct rl_err *err)
{
    if (chdir(root) < 0)
        return rl_fail(err, errno, "chdir %s", root);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return rl_fail(err, errno, "pivot_root %s", root);
    if (umount2(".", MNT_DETACH) < 0)
        return rl_fail(err, errno, "umount2 .");
    if (chdir("/") < 0)
        return rl_fail(err, errno, "chdir /");
    return 0;
}

static int mask_path(const char *path, struct rl_err *err)
{
    struct stat st;
    int rc;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        rc = do_mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k", err);
    else
        rc = do_mount("/dev/null", path, NULL, MS_BIND, NULL, err);
    return rc == -ENOENT ? 0 : rc;
}

static int readonly_path(const char *path, struct rl_err *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0;
    int rc = do_mount(path, path, NULL, MS_BIND | MS_REC, NULL, err);
    if (rc == 0)
        rc = do_mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(path), NULL, err);
    return rc;
}

int rl_finish(const char *const *masked, const char *const *readonly, int readonly_root, struct rl_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && masked && masked[i]; i++)
        rc = mask_path(masked[i], err);
    for (size_t i = 0; rc == 0 && readonly && readonly[i]; i++)
        rc = readonly_path(readonly[i], err);
    if (rc == 0 && readonly_root)
        rc = do_mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags("/"), NULL, err);
    return rc;
}
