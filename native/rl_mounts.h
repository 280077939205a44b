/* The container's mount tree, built by _rl_boot's container process inside its user and mount
 * namespaces (the C form of what rootless/runtime/mounts.py planned): the rootfs bound onto itself,
 * the OCI mounts, the device nodes, pivot_root, masked and read-only paths, a read-only root.
 *
 * Everything that does not depend on the container's own view (option parsing, flags, ordering)
 * is decided in Python and arrives as numbers; what does (where a destination lands once the
 * image's symlinks are followed, whether a bind source is a directory: it may be in the rootfs)
 * is decided here, after the rootfs is mounted.
 *
 * Kernel rules followed (mount_namespaces(7), an unprivileged user namespace):
 * - a remount of a bind mount must keep the flags locked on it (nosuid, nodev, noexec, atime
 *   flags, rdonly) or it fails with EPERM: they are read with statvfs and added back;
 * - sysfs may be mounted only by the owner of the network namespace, proc only with a pid
 *   namespace of our own: otherwise the host's is bound;
 * - device nodes cannot be created: null, zero, full, random, urandom and tty are bind mounts.
 *
 * Functions return 0 or -errno and then fill `err` with a message naming the call and the path. */
#ifndef RL_MOUNTS_H
#define RL_MOUNTS_H

#include <stddef.h>

/* What a failed step reports to the runtime's caller: "E <cls>\0<msg>\0<hint>" on the ready pipe. */
struct rl_err {
    char cls[32];
    char msg[1024];
    char hint[256];
};

/* Fill `e` with "<what>: <strerror(errnum)>" (errnum 0: no strerror), class OSError; returns
 * -errnum (or -1). */
int rl_fail(struct rl_err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* How a mount of config.json "mounts" is made (rootless/runtime/mounts.py: plan_mounts). */
enum rl_mount_kind { RL_M_PLAIN, RL_M_BIND, RL_M_DEVPTS, RL_M_SYSFS, RL_M_MQUEUE, RL_M_PROC, RL_M_CGROUP };

struct rl_mount {
    const char *dest;          /* inside the container: resolved under the rootfs here */
    const char *source;
    const char *type;          /* NULL for a bind */
    const char *data;          /* NULL when empty */
    unsigned long flags;       /* MS_* of the options */
    unsigned long propagation; /* MS_PRIVATE... or 0 */
    enum rl_mount_kind kind;
};

/* `dest` (a path inside the container) as a host path under `root` in `out`, following symlinks
 * as the container would see them, so that a link in the image cannot point a mount outside the
 * rootfs. -ELOOP after 40 links, -ENAMETOOLONG past `size`. */
int rl_resolve(const char *root, const char *dest, char *out, size_t size, struct rl_err *err);

/* mkdir -p; 0, or -1 with errno. */
int rl_mkdirs(const char *path);

/* Bind mounts and remounts keeping the locked flags. */
int rl_bind(const char *source, const char *target, unsigned long flags, int recursive, struct rl_err *err);

/* Before pivot_root: the rootfs bound on itself, `n` mounts, the device nodes when /dev is a
 * mount of its own (`dev_tmpfs`; `devices`: extra host device paths, NULL-terminated), then the
 * rootfs's propagation (0: none). */
int rl_build(const char *root, const struct rl_mount *mounts, size_t n, int dev_tmpfs,
             const char *const *devices, unsigned long root_propagation, struct rl_err *err);

/* pivot_root(".", ".") into `root`: the old root is stacked under the new one and detached. */
int rl_pivot(const char *root, struct rl_err *err);

/* After pivot_root: masked paths (/dev/null over files, an empty read-only tmpfs over
 * directories), read-only paths, a read-only root. Lists NULL-terminated. */
int rl_finish(const char *const *masked, const char *const *readonly, int readonly_root, struct rl_err *err);

#endif
