"""Checked wrappers of the system calls Python 3.11 lacks (the C side is native/rl_native.c).

The only module that touches `rootless._native` (STYLE.md 3): every wrapper turns a negative errno
into an `OSError` whose message names the call and the path, so the caller sees e.g.
`[Errno 1] mount overlay on /x: Operation not permitted`. Callers above the runtime convert these
to `KernelError` where a user will read them.
"""

from __future__ import annotations

import os


class _OnFirstUse:
    """`ffi` and `lib` of rootless._native, loaded when a wrapper first calls into C: the
    constants below are all that `rl run` needs here now that the container's process is C
    (native/rl_boot.c), and loading cffi's backend and the extension costs ~1 ms of its start-up.
    The first attribute access replaces this stand-in with the real object."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        from rootless import _native

        real = getattr(_native, self._name)
        globals()[self._name] = real
        return getattr(real, attr)


ffi, lib = _OnFirstUse("ffi"), _OnFirstUse("lib")

# clone(2)/unshare(2) flags (linux/sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

#: OCI linux.namespaces type -> clone flag
NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS,
    "cgroup": CLONE_NEWCGROUP,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
}
#: OCI namespace type -> the name of its file in /proc/<pid>/ns
NAMESPACE_FILES = {"mount": "mnt", "cgroup": "cgroup", "uts": "uts", "ipc": "ipc", "user": "user",
                   "pid": "pid", "network": "net"}

# mount(2) flags (linux/mount.h)
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_STRICTATIME = 1 << 24

# umount2(2) flags
MNT_FORCE = 1
MNT_DETACH = 2

# prctl(2) options (linux/prctl.h)
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4


def _check(result: int, call: str, path: str | None = None) -> int:
    if result < 0:
        errno = -result
        where = f"{call} {path}" if path else call
        raise OSError(errno, f"{where}: {os.strerror(errno)}", path)
    return result


def _c(value: str | None):
    return ffi.NULL if value is None else value.encode()


def clone_fork(flags: int) -> int:
    """fork() that also creates the namespaces in `flags`; returns 0 in the child, its pid in the
    parent. With CLONE_NEWPID the child is pid 1 of the new pid namespace. Call it only while the
    process has one thread (namespaces are entered before any thread exists)."""
    return _check(lib.rl_clone_fork(flags), "clone")


def unshare(flags: int) -> None:
    _check(lib.rl_unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(lib.rl_setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    what = f"{fstype or source or 'none'} on {target}"
    _check(lib.rl_mount(_c(source), target.encode(), _c(fstype), flags, _c(data)), "mount", what)


def umount2(target: str, flags: int = 0) -> None:
    _check(lib.rl_umount2(target.encode(), flags), "umount2", target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(lib.rl_pivot_root(new_root.encode(), put_old.encode()), "pivot_root", new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(lib.rl_sethostname(raw, len(raw)), "sethostname")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(lib.rl_setdomainname(raw, len(raw)), "setdomainname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(lib.rl_prctl(option, arg2, arg3, arg4, arg5), "prctl")


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_keepcaps(keep: bool) -> None:
    prctl(PR_SET_KEEPCAPS, int(keep))


def set_child_subreaper() -> None:
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def capbset_read(cap: int) -> bool:
    return bool(prctl(PR_CAPBSET_READ, cap))


def capbset_drop(cap: int) -> None:
    prctl(PR_CAPBSET_DROP, cap)


def ambient_raise(cap: int) -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)


def ambient_clear_all() -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) capability sets of `pid` (0: this thread) as bit masks."""
    out = ffi.new("uint32_t[6]")
    _check(lib.rl_capget(pid, out), "capget")
    return tuple((out[3 + i] << 32) | out[i] for i in range(3))  # type: ignore[return-value]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    data = ffi.new("uint32_t[6]")
    for i, mask in enumerate((effective, permitted, inheritable)):
        data[i] = mask & 0xFFFFFFFF
        data[3 + i] = mask >> 32
    _check(lib.rl_capset(data), "capset")


def setresuid(ruid: int, euid: int, suid: int) -> None:
    """This thread only (raw syscall, no glibc setxid broadcast)."""
    _check(lib.rl_setresuid(ruid, euid, suid), "setresuid")


def setresgid(rgid: int, egid: int, sgid: int) -> None:
    _check(lib.rl_setresgid(rgid, egid, sgid), "setresgid")


# --- added by the runtime (create.py) ------------------------------------------------------------
#: clone(2): the child's parent is the caller's parent (joining a user namespace by path: a helper
#: that has entered it clones the container process as a sibling, so the runtime's caller reaps it)
CLONE_PARENT = 0x00008000

# mount_setattr(2) (linux/mount.h, fcntl.h)
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8


def mount_setattr(path: str, attr_set: int, attr_clr: int = 0, *, recursive: bool = True) -> None:
    """Set mount attributes on `path` (and every mount below it with recursive): the way to make a
    recursive bind mount read-only throughout, which MS_REMOUNT only does for the top mount."""
    flags = AT_RECURSIVE if recursive else 0
    _check(lib.rl_mount_setattr(AT_FDCWD, path.encode(), flags, attr_set, attr_clr), "mount_setattr", path)
