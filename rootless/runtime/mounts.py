"""The container's mount tree, built by its first process inside its user+mount namespace:
private propagation, the rootfs bound onto itself, the OCI `mounts` (proc, /dev on tmpfs with
device nodes bound from the host, devpts, shm, mqueue, sysfs, bind and tmpfs mounts), then
pivot_root, masked and read-only paths, and a read-only root.

Kernel rules this follows, for an unprivileged user namespace (mount_namespaces(7)):
- a remount of a bind mount must keep the flags that are locked on it (nosuid, nodev, noexec, the
  atime flags, rdonly) or it fails with EPERM: we read them with statvfs and add them back;
- sysfs may be mounted only by the owner of the network namespace: without one we bind the host's;
- device nodes cannot be created: null, zero, full, random, urandom and tty are bind mounts.
"""

from __future__ import annotations

import os

from rootless.runtime import syscalls as sc

MS_SYNCHRONOUS, MS_MANDLOCK, MS_DIRSYNC, MS_NODIRATIME, MS_RELATIME = 16, 64, 128, 2048, 1 << 21

#: mount option -> (flag, set it?)
OPTION_FLAGS = {
    "ro": (sc.MS_RDONLY, True), "rw": (sc.MS_RDONLY, False),
    "nosuid": (sc.MS_NOSUID, True), "suid": (sc.MS_NOSUID, False),
    "nodev": (sc.MS_NODEV, True), "dev": (sc.MS_NODEV, False),
    "noexec": (sc.MS_NOEXEC, True), "exec": (sc.MS_NOEXEC, False),
    "sync": (MS_SYNCHRONOUS, True), "async": (MS_SYNCHRONOUS, False),
    "dirsync": (MS_DIRSYNC, True), "mand": (MS_MANDLOCK, True), "nomand": (MS_MANDLOCK, False),
    "noatime": (sc.MS_NOATIME, True), "atime": (sc.MS_NOATIME, False),
    "nodiratime": (MS_NODIRATIME, True), "diratime": (MS_NODIRATIME, False),
    "relatime": (MS_RELATIME, True), "norelatime": (MS_RELATIME, False),
    "strictatime": (sc.MS_STRICTATIME, True), "nostrictatime": (sc.MS_STRICTATIME, False),
    "bind": (sc.MS_BIND, True), "rbind": (sc.MS_BIND | sc.MS_REC, True),
}
PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
}
#: options meant for the engine (podman/docker spellings), not the kernel
IGNORED = frozenset({"z", "Z", "U", "tmpcopyup", "notmpcopyup", "copy", "nocopy", "idmap", "O"})
#: statvfs f_flag bit -> mount flag, for the flags the kernel locks on a mount made in another userns
LOCKED = ((1, sc.MS_RDONLY), (2, sc.MS_NOSUID), (4, sc.MS_NODEV), (8, sc.MS_NOEXEC),
          (1024, sc.MS_NOATIME), (2048, MS_NODIRATIME), (4096, MS_RELATIME))
DEFAULT_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
ERRNO_EPERM, ERRNO_EINVAL, ERRNO_ENOENT, ERRNO_EACCES, ERRNO_ENOSYS = 1, 22, 2, 13, 38


def parse_options(options) -> tuple[int, int, str]:
    """OCI mount options -> (mount flags, propagation flags, data string)."""
    flags = propagation = 0
    data = []
    for opt in options or ():
        if opt in OPTION_FLAGS:
            bit, on = OPTION_FLAGS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in PROPAGATION:
            propagation = PROPAGATION[opt]
        elif opt not in IGNORED:
            data.append(opt)
    return flags, propagation, ",".join(data)


def locked_flags(path: str) -> int:
    """The flags of the mount at `path` a remount must keep (see the module docstring)."""
    have = os.statvfs(path).f_flag
    return sum(flag for bit, flag in LOCKED if have & bit)


def resolve(root: str, dest: str) -> str:
    """`dest` (a path inside the container) as a host path under `root`, following symlinks as the
    container would see them so that a link in the image cannot point a mount outside the rootfs."""
    parts = [p for p in dest.split("/") if p and p != "."]
    current = root
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = os.path.dirname(current) if current != root else root
            continue
        candidate = os.path.join(current, part)
        try:
            target = os.readlink(candidate)
        except OSError:
            current = candidate
            continue
        hops += 1
        if hops > 40:
            raise OSError(40, f"too many levels of symbolic links in {dest}", dest)
        if target.startswith("/"):
            current = root
        parts = [p for p in target.split("/") if p and p != "."] + parts
    return current


def ensure(path: str, is_dir: bool) -> None:
    """Create the mount point `path` (a directory, or an empty file for a file bind mount)."""
    if os.path.lexists(path):
        return
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def bind(source: str, target: str, flags: int = 0, recursive: bool = True) -> None:
    """Bind `source` on `target`, then remount with `flags` (ro, nosuid...) keeping locked flags."""
    sc.mount(source, target, None, sc.MS_BIND | (sc.MS_REC if recursive else 0))
    extra = flags & ~(sc.MS_BIND | sc.MS_REC)
    if extra:
        sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | extra | locked_flags(target))
    if recursive and extra & sc.MS_RDONLY:
        # MS_REMOUNT changed the top mount only: make the mounts below it read-only too
        try:
            sc.mount_setattr(target, sc.MOUNT_ATTR_RDONLY)
        except OSError as e:
            if e.errno not in (ERRNO_ENOSYS, ERRNO_EINVAL):   # kernels before 5.12
                raise


def mount_one(root: str, m: dict) -> None:
    """One entry of config.json "mounts"."""
    kind = m.get("type") or ""
    source = m.get("source") or kind or "none"
    flags, propagation, data = parse_options(m.get("options"))
    dest = resolve(root, m["destination"])
    if flags & sc.MS_BIND or kind == "bind":
        ensure(dest, os.path.isdir(source))
        bind(source, dest, flags, recursive=bool(flags & sc.MS_REC))
    else:
        ensure(dest, True)
        special = SPECIAL.get(kind)
        if special:
            special(source, dest, flags, data)
        else:
            sc.mount(source, dest, kind, flags, data or None)
    if propagation:
        sc.mount(None, dest, None, propagation)


def _devpts(source: str, dest: str, flags: int, data: str) -> None:
    try:
        sc.mount(source, dest, "devpts", flags, data or None)
    except OSError as e:  # gid=5 is not mapped in a single-id user namespace
        if e.errno != ERRNO_EINVAL or "gid=" not in data:
            raise
        data = ",".join(o for o in data.split(",") if not o.startswith("gid="))
        sc.mount(source, dest, "devpts", flags, data or None)


def _fallback_bind(host: str):
    """Mount the filesystem; when the kernel refuses it in this user namespace, bind the host's
    (read-only where asked)."""
    def mount(source: str, dest: str, flags: int, data: str, kind: str) -> None:
        try:
            sc.mount(source, dest, kind, flags, data or None)
        except OSError as e:
            if e.errno not in (ERRNO_EPERM, ERRNO_EACCES, ERRNO_EINVAL):
                raise
            bind(host, dest, flags & (sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC))
    return mount


def _cgroup(source: str, dest: str, flags: int, data: str) -> None:
    """Bind the host's cgroup tree read-only; rootless containers have no cgroup of their own here
    (cgroup v1/hybrid hosts), and a container runs without one."""
    try:
        bind("/sys/fs/cgroup", dest, sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    except OSError:
        pass


_sysfs, _mqueue, _proc = (_fallback_bind("/sys"), _fallback_bind("/dev/mqueue"), _fallback_bind("/proc"))
SPECIAL = {
    "devpts": _devpts,
    "sysfs": lambda s, d, f, data: _sysfs(s, d, f, data, "sysfs"),
    "mqueue": lambda s, d, f, data: _mqueue(s, d, f, data, "mqueue"),
    "proc": lambda s, d, f, data: _proc(s, d, f, data, "proc"),
    "cgroup": _cgroup, "cgroup2": _cgroup,
}


def setup_dev(root: str, devices) -> None:
    """Device nodes (bound from the host: a user namespace cannot mknod), /dev/ptmx, /dev/fd and
    the stdio links, as the spec's "Default Devices" and runc do."""
    dev = os.path.join(root, "dev")
    for name in DEFAULT_DEVICES:
        _bind_device(f"/dev/{name}", os.path.join(dev, name))
    for device in devices or ():
        path = device.get("path") or ""
        if path.startswith("/dev/") and path[5:] not in DEFAULT_DEVICES:
            _bind_device(path, resolve(root, path))
    for target, link in (("pts/ptmx", "ptmx"), ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"),
                         ("/proc/self/fd/1", "stdout"), ("/proc/self/fd/2", "stderr"),
                         ("/proc/kcore", "core")):
        path = os.path.join(dev, link)
        if link == "ptmx" and os.path.lexists(path) and not os.path.islink(path):
            continue
        if not os.path.lexists(path):
            os.symlink(target, path)


def _bind_device(host: str, target: str) -> None:
    if os.path.lexists(target) and os.path.ismount(target):
        return
    ensure(target, False)
    sc.mount(host, target, None, sc.MS_BIND)


def pivot(root: str) -> None:
    """pivot_root into `root`, stacking the old root under the new one and detaching it (the
    pivot_root(".", ".") trick runc uses: no put_old directory needed)."""
    os.chdir(root)
    sc.pivot_root(".", ".")
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def mask_paths(paths) -> None:
    """podman's masked paths, after pivot_root: /dev/null over files, a read-only tmpfs over dirs."""
    for path in paths or ():
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, "size=0k")
            else:
                sc.mount("/dev/null", path, None, sc.MS_BIND)
        except FileNotFoundError:
            pass
        except OSError as e:
            if e.errno != ERRNO_ENOENT:
                raise


def readonly_paths(paths) -> None:
    for path in paths or ():
        if not os.path.exists(path):
            continue
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | locked_flags(path))


def readonly_root() -> None:
    sc.mount(None, "/", None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | locked_flags("/"))


def make_private(config: dict) -> None:
    """First of all: nothing we mount may propagate to the host (as real root without a user
    namespace the copied mounts are still shared). Private, or slave when the bundle asks for a
    shared or slave rootfs."""
    propagation = PROPAGATION.get((config.get("linux") or {}).get("rootfsPropagation") or "", 0)
    slave = propagation & (sc.MS_SHARED | sc.MS_SLAVE)
    sc.mount(None, "/", None, sc.MS_REC | (sc.MS_SLAVE if slave else sc.MS_PRIVATE))


def build(root: str, config: dict) -> None:
    """Everything before pivot_root but the rootfs driver: the rootfs bound on itself (a mount
    point, as pivot_root wants), the OCI mounts, the device nodes."""
    linux = config.get("linux") or {}
    propagation = PROPAGATION.get(linux.get("rootfsPropagation") or "", 0)
    sc.mount(root, root, None, sc.MS_BIND | sc.MS_REC)
    dev_tmpfs = False
    for m in config.get("mounts") or ():
        mount_one(root, m)
        dev_tmpfs = dev_tmpfs or (m.get("destination", "").rstrip("/") == "/dev")
    if dev_tmpfs:
        setup_dev(root, linux.get("devices"))
    if propagation & (sc.MS_SHARED | sc.MS_SLAVE):
        sc.mount(None, root, None, propagation)


def finish(config: dict) -> None:
    """Everything after pivot_root: masked paths, read-only paths, a read-only root."""
    linux = config.get("linux") or {}
    mask_paths(linux.get("maskedPaths"))
    readonly_paths(linux.get("readonlyPaths"))
    if (config.get("root") or {}).get("readonly"):
        readonly_root()
