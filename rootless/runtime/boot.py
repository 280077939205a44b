"""The plan of the container's first process (the work `create` hands to native/rl_boot.c, whose
header lists the keys): namespaces to create and to join, the pipes and stdio it gets, hostname,
lo, the rootfs (rootfs.py), the mount tree (mounts.py), sysctls, the terminal, and the process
settings it applies after `start` (plan.process_pairs, native/rl_process.h).

_rl_boot does in C, in the container's own namespaces, what depends on its view (where a mount
destination lands in the image, the pty of its own devpts); everything else is decided here.
"""

from __future__ import annotations

from rootless.runtime import init as init_mod
from rootless.runtime import mounts, rootfs
from rootless.runtime import plan as plan_mod
from rootless.runtime import syscalls as sc

BINARY = "_rl_boot"


class Boot:
    """What the container process gets, besides the config: fds and flags prepared by `create`."""

    def __init__(self, config: dict, root: str, directory: str, new_flags: int, joins: list,
                 stdio, terminal: bool) -> None:
        self.config = config
        self.root = root
        self.directory = directory
        self.new_flags = new_flags
        self.joins = joins              # [(flag, fd)] of namespaces to setns into
        self.stdio = stdio              # (in, out, err) fds or None: inherit
        self.terminal = terminal
        self.sync_r = self.ready_w = -1
        self.sock = -1                  # the container's end of the pty's socketpair
        self.user_join = -1             # fd of a user namespace to join first
        self.in_userns = bool(new_flags & sc.CLONE_NEWUSER)   # new, or joined by path
        self.die_with_parent = False    # keep PR_SET_PDEATHSIG after "ready" (foreground runs)

    def fds(self) -> list[int]:
        """Every fd the plan names (the spawn keeps them open in _rl_boot)."""
        out = [self.sync_r, self.ready_w, self.sock, self.user_join, *(fd for _, fd in self.joins)]
        out += [fd for fd in self.stdio or () if fd is not None]
        return [fd for fd in out if fd >= 0]


def pairs(b: Boot) -> list[tuple[str, object]]:
    """The whole plan; StorageError for rootfs annotations no driver can use, ValueError for an
    unknown rlimit."""
    config = b.config
    out: list[tuple[str, object]] = [("clone", b.new_flags), ("sync", b.sync_r), ("ready", b.ready_w),
                                     ("dir", b.directory)]
    if b.user_join >= 0:
        out.append(("userns", b.user_join))
    if b.sock >= 0:
        out.append(("sock", b.sock))
    for name, fd in zip(("stdin", "stdout", "stderr"), b.stdio or ()):
        if fd is not None:
            out.append((name, fd))
    out += [("join", f"{flag}:{fd}") for flag, fd in b.joins]
    if b.new_flags & sc.CLONE_NEWUTS:
        out += [(key, config[key]) for key in ("hostname", "domainname") if config.get(key)]
    if b.new_flags & sc.CLONE_NEWNET:
        out.append(("lo", 1))
    out += rootfs.pairs(b.root, config.get("annotations") or {}, b.in_userns)
    out += mounts.tree_pairs(config)
    for key, value in ((config.get("linux") or {}).get("sysctl") or {}).items():
        out.append(("sysctl", f"{key.replace('.', '/')}={value}"))
    init = init_mod.wanted(config.get("annotations") or {})
    if init:
        out.append(("init", 1))
    if b.die_with_parent:
        out.append(("die", 1))
    # under the init, the main process gets no parent-death signal (the init keeps its own)
    pdeathsig = 9 if b.die_with_parent and not init else 0
    return out + plan_mod.process_pairs(config.get("process") or {}, pdeathsig)


def encode(b: Boot) -> bytes:
    return plan_mod.encode(pairs(b))
