"""`exec`: run another process in a running container (`rl exec`, OCI runtime `exec`).

A fresh child of the caller opens the container init's /proc/PID/ns/* files, joins the user
namespace first (it grants the capabilities the other joins need), then the others (setns into a
mount namespace moves the root and cwd to the container's root); a pid namespace applies to
children only, so it forks again and the grandchild applies the process settings and execs. The
middle process waits for it and passes its status on; the caller reads the exec report (126/127)
over a CLOEXEC pipe before it waits.
"""

from __future__ import annotations

import os

from rootless.errors import ContainerCommandError, ContainerSetupError, InvalidState, UsageError
from rootless.runtime import bundle as bundle_mod
from rootless.runtime import init as init_mod
from rootless.runtime import process as process_mod
from rootless.runtime import state as state_mod
from rootless.runtime import syscalls as sc

#: join order: user first; mnt last but one so /proc/PID paths still resolve while opening
ORDER = ("user", "ipc", "uts", "net", "pid", "cgroup", "mnt")
NS_FLAGS = {"user": sc.CLONE_NEWUSER, "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS,
            "net": sc.CLONE_NEWNET, "pid": sc.CLONE_NEWPID, "cgroup": sc.CLONE_NEWCGROUP,
            "mnt": sc.CLONE_NEWNS}


def full_process(st, process: dict) -> dict:
    """The exec'd process: what the caller gives, the rest (env, cwd, user, capabilities,
    noNewPrivileges, rlimits) from the container's config.json as docker's exec does."""
    try:
        base = bundle_mod.load(st.bundle).get("process") or {}
    except Exception:  # noqa: BLE001 - the bundle may be gone; the caller's process is enough
        base = {}
    merged = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize")}
    merged.update(process)
    return merged


def _open_namespaces(pid: int) -> list[tuple[int, int]]:
    fds = []
    for name in ORDER:
        try:
            theirs = os.stat(f"/proc/{pid}/ns/{name}")
            ours = os.stat(f"/proc/self/ns/{name}")
        except FileNotFoundError:
            continue
        if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
            fds.append((NS_FLAGS[name], os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)))
    return fds


def exec_process(state_dir, container_id: str, process: dict, *, tty: bool = False,
                 detach: bool = False, stdio=None) -> int:
    """Run `process` (OCI process object: args required) in the container; returns its exit code
    (0 at once with detach). Raises ContainerCommandError for 126/127."""
    if tty and detach:
        raise UsageError("a detached exec cannot have a terminal here",
                         "drop -t, or run it in the foreground")
    st = state_mod.read(state_dir, container_id)
    if st.status != "running":
        raise InvalidState(f"container {container_id} is not running (state {st.status!r})")
    proc = full_process(st, process)
    if proc.get("rlimits"):
        import resource  # noqa: F401 - used after joining the container's mount namespace
    if tty:
        from rootless.runtime import pty  # noqa: F401 - likewise
    ns_fds = _open_namespaces(st.pid)
    status_r, status_w = os.pipe()
    parent_sock = child_sock = None
    if tty:
        import socket

        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    middle = os.fork()
    if middle == 0:
        os.close(status_r)
        _middle(ns_fds, proc, status_w, child_sock, stdio, detach)
    os.close(status_w)
    for _, fd in ns_fds:
        os.close(fd)
    master = None
    try:
        if tty:
            child_sock.close()
            from rootless.runtime import pty

            master = pty.recv_fd(parent_sock)
            parent_sock.close()
        report = _read_all(status_r)
        if report:
            _raise(report, middle)
        if detach:
            os.waitpid(middle, 0)
            return 0
        if master is not None:
            from rootless.runtime import pty

            status = pty.relay(master, middle, stdin=stdio[0] if stdio else 0,
                               stdout=stdio[1] if stdio else 1)
        else:
            status = os.waitpid(middle, 0)[1]
        code = os.waitstatus_to_exitcode(status)
        return 128 - code if code < 0 else code
    finally:
        os.close(status_r)
        if master is not None:
            os.close(master)


def _middle(ns_fds, proc, status_w, sock, stdio, detach) -> None:
    """The forked child: join, fork the process, wait for it. Never returns."""
    try:
        if stdio is not None:
            for target, fd in enumerate(stdio):
                if fd is not None and fd != target:
                    os.dup2(fd, target)
        for flag, fd in ns_fds:
            sc.setns(fd, flag)
            os.close(fd)
        child = os.fork()
        if child == 0:
            if sock is not None:
                from rootless.runtime import pty

                master, slave = pty.open_in_container()
                pty.send_fd(sock, master)
                os.close(master)
                sock.close()
                pty.become_controlled(slave)
            process_mod.exec_process(proc, status_w)
        os.close(status_w)
        if sock is not None:
            sock.close()
        if detach:
            os._exit(0)
        os._exit(init_mod.reap(child))
    except BaseException as e:  # noqa: BLE001
        process_mod.report(status_w, 125, f"exec: {e}")
        os._exit(125)


def _raise(report: bytes, middle: int) -> None:
    try:
        os.waitpid(middle, 0)
    except ChildProcessError:
        pass
    code, _, message = report.decode(errors="replace").partition("\n")
    code = int(code) if code.isdigit() else 125
    if code in (126, 127):
        raise ContainerCommandError(message, code)
    raise ContainerSetupError(message)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
