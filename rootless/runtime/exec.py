"""`exec`: run another process in a running container (`rl exec`, OCI runtime `exec`).

A fresh child of the caller opens the container process's /proc/PID/ns/* files, joins the user
namespace first (it grants the capabilities the other joins need), then the others (setns into a
mount namespace moves the root and cwd to the container's root); a pid namespace applies to
children only, so a second process runs the command: without a terminal the middle process
applies the process settings to itself and posix_spawns it (a vfork, no second copy of the
interpreter); with one, a forked grandchild makes the pty in the container first. The middle
process waits for it and passes its status on; the caller reads the exec report (126/127) over a
CLOEXEC pipe before it waits.

`exec_process` is the OCI runtime's operation (state dir and id); `join_and_run` is the join itself
for a caller that already knows the process (the engine's record: pid and start time). The
namespace files are opened through the /proc/PID directory, and the process's start time is read
through it before and after, so a pid that exits or is reused meanwhile is never joined. Start-up
path: nothing heavier than syscalls/process/init is imported (errors, state and bundle only where
they are needed). Whatever the children use must be imported before the fork: after setns into the
container's mount namespace rl's own files are out of reach.
"""

from __future__ import annotations

import os

from rootless.runtime import init as init_mod
from rootless.runtime import process as process_mod
from rootless.runtime import syscalls as sc

#: join order: user first; mnt last but one so /proc/PID paths still resolve while opening
ORDER = ("user", "ipc", "uts", "net", "pid", "cgroup", "mnt")
NS_FLAGS = {"user": sc.CLONE_NEWUSER, "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS,
            "net": sc.CLONE_NEWNET, "pid": sc.CLONE_NEWPID, "cgroup": sc.CLONE_NEWCGROUP,
            "mnt": sc.CLONE_NEWNS}
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def full_process(st, process: dict) -> dict:
    """The exec'd process: what the caller gives, the rest (env, cwd, user, capabilities,
    noNewPrivileges, rlimits) from the container's config.json as docker's exec does."""
    from rootless.runtime import bundle as bundle_mod

    try:
        base = bundle_mod.load(st.bundle).get("process") or {}
    except Exception:  # noqa: BLE001 - the bundle may be gone; the caller's process is enough
        base = {}
    merged = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize")}
    merged.update(process)
    return merged


def _start_time(proc_dir: int) -> int:
    """Field 22 of the stat of the process `proc_dir` (an open /proc/PID); 0 if gone or a zombie."""
    try:
        fd = os.open("stat", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_dir)
        try:
            raw = os.read(fd, 4096)
        finally:
            os.close(fd)
        fields = raw[raw.rindex(b")") + 2:].split()
    except (OSError, ValueError):
        return 0
    return 0 if fields[0] == b"Z" else int(fields[19])


def _open_namespaces(pid: int, start: int) -> list[tuple[int, int]] | None:
    """(flag, fd) of each namespace of `pid` that is not ours, in ORDER; None when `pid` is not
    (or no longer) the process that started at `start`."""
    try:
        proc_dir = os.open(f"/proc/{pid}", _DIR)
    except OSError:
        return None
    fds: list[tuple[int, int]] = []
    try:
        if not start or _start_time(proc_dir) != start:
            return None
        for name in ORDER:
            try:
                theirs = os.stat(f"ns/{name}", dir_fd=proc_dir)
                ours = os.stat(f"/proc/self/ns/{name}")
            except FileNotFoundError:  # a namespace type this kernel lacks
                continue
            if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
                fds.append((NS_FLAGS[name], os.open(f"ns/{name}", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_dir)))
        if _start_time(proc_dir) == start:  # still alive: every file opened is its namespace
            return fds
    except OSError:
        pass
    finally:
        os.close(proc_dir)
    for _, fd in fds:
        os.close(fd)
    return None


def exec_process(state_dir, container_id: str, process: dict, *, tty: bool = False,
                 detach: bool = False, stdio=None) -> int:
    """Run `process` (OCI process object: args required) in the container; returns its exit code
    (0 at once with detach). Raises ContainerCommandError for 126/127."""
    from rootless.errors import InvalidState
    from rootless.runtime import state as state_mod

    _check_modes(tty, detach)
    st = state_mod.read(state_dir, container_id)
    if st.status != "running":
        raise InvalidState(f"container {container_id} is not running (state {st.status!r})")
    status = join_and_run(st.pid, st.pid_start, full_process(st, process), tty=tty, detach=detach, stdio=stdio)
    if status is None:
        raise InvalidState(f"container {container_id} is not running (state 'stopped')")
    return status


def _check_modes(tty: bool, detach: bool) -> None:
    if tty and detach:
        from rootless.errors import UsageError

        raise UsageError("a detached exec cannot have a terminal here", "drop -t, or run it in the foreground")


def join_and_run(pid: int, start: int, proc: dict, *, tty: bool = False, detach: bool = False,
                 stdio=None) -> int | None:
    """Run the complete OCI process `proc` in the namespaces of `pid`, the process that started at
    `start` (/proc/PID/stat field 22); its exit code (0 at once with detach), or None when `pid`
    is not that process any more (nothing was run). Raises ContainerCommandError for 126/127."""
    _check_modes(tty, detach)
    if proc.get("rlimits"):
        import resource  # noqa: F401 - used after joining the container's mount namespace
    if tty:
        from rootless.runtime import pty  # noqa: F401 - likewise
    ns_fds = _open_namespaces(pid, start)
    if ns_fds is None:
        return None
    status_r, status_w = os.pipe()  # both CLOEXEC: the exec closes the report's end
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
    return _wait(middle, status_r, parent_sock, child_sock, stdio, detach)


def _wait(middle: int, status_r: int, parent_sock, child_sock, stdio, detach: bool) -> int:
    """The caller's side: the exec report, then the pty relay or the wait; the exit code."""
    master = None
    try:
        if parent_sock is not None:
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
    """The forked child: join, start the process, wait for it. Never returns.

    Without a terminal this process applies the process settings to itself and posix_spawns the
    command (a vfork: no second copy of the interpreter; the settings are inherited through
    execve, the pid namespace applies to the child); with one, a forked child makes the pty in the
    container first (process.exec_process)."""
    try:
        if stdio is not None:
            for target, fd in enumerate(stdio):
                if fd is not None and fd != target:
                    os.dup2(fd, target)
        for flag, fd in ns_fds:
            sc.setns(fd, flag)
            os.close(fd)
        if sock is None:
            child = _spawn(proc, status_w)
        else:
            child = os.fork()
            if child == 0:
                from rootless.runtime import pty

                master, slave = pty.open_in_container()
                pty.send_fd(sock, master)
                os.close(master)
                sock.close()
                pty.become_controlled(slave)
                process_mod.exec_process(proc, status_w)
            sock.close()
        os.close(status_w)
        if detach:
            os._exit(0)
        os._exit(init_mod.reap(child))
    except BaseException as e:  # noqa: BLE001
        process_mod.report(status_w, 125, f"exec: {e}")
        os._exit(125)


def _spawn(proc: dict, status_w: int) -> int:
    """process.exec_process's settings on this process, then posix_spawn the command; a failure
    is reported on status_w with docker's code (125 setup, 126/127 the command) and ends this
    process."""
    try:
        env = process_mod.prepare(proc)
        args = list(proc.get("args") or ())
        path = process_mod.lookup(args[0] if args else "", env)
        try:
            return os.posix_spawn(path, args, env)
        except OSError as e:  # execve's error, as process.execute words it
            code = 127 if e.errno in (process_mod.ENOENT, process_mod.ENOTDIR) else 126
            reason = "exec format error" if e.errno == process_mod.ENOEXEC else (e.strerror or str(e)).lower()
            raise process_mod.ExecFailure(f'exec: "{args[0]}": {reason}', code) from None
    except process_mod.ExecFailure as e:
        process_mod.report(status_w, e.code, str(e))
        os._exit(e.code)
    except BaseException as e:  # noqa: BLE001 - whatever it is, the caller must hear it
        process_mod.report(status_w, 125, f"container process setup: {e}")
        os._exit(125)


def _raise(report: bytes, middle: int) -> None:
    from rootless.errors import ContainerCommandError, ContainerSetupError

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
