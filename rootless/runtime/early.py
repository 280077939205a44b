"""A container's first process started before its bundle exists (`rl run` in the foreground).

_rl_boot's exec and the clone of five namespaces take ~2 ms here, about as long as the engine's
bookkeeping before `create` (image lookup, the record, config.json): `start` has _rl_boot clone
the container process at once, and `create(..., early=...)` later hands it the rest of its plan
over a pipe after "G" (native/rl_boot.c: "late") instead of starting one. Only what the clone needs
up front is fixed here: the namespaces to create, a user namespace to join by path (the pause
process's: a new one would need its maps written before "G"), the stdio and whether there is a
terminal. A `create` whose config asks for anything else discards it and starts the usual way;
so does a caller that fails before `create` (`discard`: the process sees EOF instead of "G" and
exits). Until "ready" it dies with its parent (PR_SET_PDEATHSIG), as every container process does.
"""

from __future__ import annotations

import os

#: the plan keys given at start; `create` sends every other one later
EARLY_KEYS = frozenset({"clone", "sync", "ready", "userns", "sock", "stdin", "stdout", "stderr", "late"})


class Early:
    """The started process and the pipes to it, until `create` takes them or `discard`."""

    def __init__(self, flags: int, userns_path: str | None, stdio, terminal: bool) -> None:
        self.flags, self.userns_path, self.stdio, self.terminal = flags, userns_path, stdio, terminal
        self.helper = self.pid = 0
        self.sync_w = self.ready_r = self.late_w = -1
        self.parent_sock = None
        self.taken = False

    def matches(self, flags: int, userns_path: str | None, stdio, terminal: bool) -> bool:
        return (flags, userns_path, tuple(stdio or ()), terminal) == (
            self.flags, self.userns_path, tuple(self.stdio or ()), self.terminal)

    def take(self):
        """(helper pid, container pid, sync_w, ready_r, late_w, parent_sock) for `create`, which
        owns them from then on. ContainerSetupError when the clone failed."""
        from rootless.runtime.create import _read_pid

        self.taken = True
        try:
            self.pid = _read_pid(self.ready_r)
        except BaseException:
            self._close()
            raise
        return self.helper, self.pid, self.sync_w, self.ready_r, self.late_w, self.parent_sock

    def discard(self) -> None:
        """End an untaken process: EOF instead of "G" makes it exit; both children are reaped."""
        if self.taken:
            return
        self.taken = True
        from rootless.runtime.children import read_line, reap

        os.close(self.sync_w)
        self.sync_w = -1
        reply = read_line(self.ready_r)
        self._close()
        if reply.startswith(b"P") and reply[1:-1].isdigit():
            reap(int(reply[1:-1]), kill=False)

    def _close(self) -> None:
        from rootless.runtime.create import _reap_helper

        for fd in (self.sync_w, self.ready_r, self.late_w):
            if fd >= 0:
                os.close(fd)
        self.sync_w = self.ready_r = self.late_w = -1
        if self.parent_sock is not None:
            self.parent_sock.close()
            self.parent_sock = None
        _reap_helper(self.helper)
        self.helper = 0


def start(flags: int, userns_path: str | None, stdio, terminal: bool) -> Early | None:
    """Clone a container process with the namespaces `flags` (joining `userns_path` first), or
    None when _rl_boot cannot be started (the caller's `create` then starts one itself)."""
    from rootless.runtime import plan as plan_mod
    from rootless.runtime.children import spawn
    from rootless.runtime.create import SIGPIPE, SIGXFSZ, boot_binary

    early = Early(flags, userns_path, stdio, terminal)
    opened: list[int] = []
    child_sock = None
    try:
        user_fd = -1
        if userns_path:
            user_fd = os.open(userns_path, os.O_RDONLY | os.O_CLOEXEC)
            opened.append(user_fd)
        sync_r, early.sync_w = os.pipe()
        opened.append(sync_r)
        early.ready_r, ready_w = os.pipe()
        opened.append(ready_w)
        late_r, early.late_w = os.pipe()
        opened.append(late_r)
        pairs = [("clone", flags), ("sync", sync_r), ("ready", ready_w), ("late", late_r)]
        if user_fd >= 0:
            pairs.append(("userns", user_fd))
        if terminal:
            import socket

            early.parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            pairs.append(("sock", child_sock.fileno()))
        pairs += [(name, fd) for name, fd in zip(("stdin", "stdout", "stderr"), stdio or ()) if fd is not None]
        plan_fd = plan_mod.memfd(plan_mod.encode(pairs))
        opened.append(plan_fd)
        exe = boot_binary()
        keep = [fd for key, fd in pairs if key != "clone"] + [plan_fd]
        early.helper = spawn(exe, [exe, str(plan_fd)], keep, setsigdef=(SIGPIPE, SIGXFSZ))
    except (OSError, ValueError):
        early._close()
        return None
    finally:
        for fd in opened:
            os.close(fd)
        if child_sock is not None:
            child_sock.close()
    return early
