"""`exec`: run another process in a running container (`rl exec`, OCI runtime `exec`).

The work is done by the C helper `rootless/_rl_exec` (native/rl_exec.c; its header says how): it
opens the container process's /proc/PID/ns/* through the /proc/PID directory, checking the
process's start time before and after (a pid that exits or is reused meanwhile is never joined),
joins them (user first, mnt last), forks (a pid namespace applies to children), and the child
applies the OCI process settings (native/rl_process.c, the one implementation shared with the
container's first process) and execs the command; the helper forwards signals, waits, and exits
with docker's code (128+N after signal N). It reads its work as a plan (runtime/plan.py).

Two ways to run it:
- `replace(...)`: this process becomes the helper (execve): no fork of the interpreter and no
  teardown; failures (126/127, 125, a container gone meanwhile) are printed by the helper as rl
  prints errors ("Error: ...") with the same exit codes. For `rl exec` itself (the CLI process).
- `join_and_run(...)`: the helper as a child; its failure report comes back on a pipe and is
  raised here (ContainerCommandError for 126/127, ContainerSetupError for 125); with a terminal
  this process relays the pty whose master the helper's child sends over a socket.

`exec_process` is the OCI runtime's operation (state dir and id). Start-up path: this module
imports only os and runtime.plan (no cffi, no signal, no json).
"""

from __future__ import annotations

import os

from rootless.runtime import plan as plan_mod

#: the helper's join order (native/rl_exec.c): user first; mnt last
ORDER = ("user", "ipc", "uts", "net", "pid", "cgroup", "mnt")
BINARY = "_rl_exec"


def binary() -> str:
    """The exec helper, beside the package's modules (also in the frozen rl's tree)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), BINARY)


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


def start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat; 0 if gone or a zombie (the helper checks it again)."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            raw = os.read(fd, 4096)
        finally:
            os.close(fd)
        fields = raw[raw.rindex(b")") + 2:].split()
    except (OSError, ValueError):
        return 0
    return 0 if fields[0] == b"Z" else int(fields[19])


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
    status = join_and_run(st.pid, st.pid_start, full_process(st, process), tty=tty, detach=detach,
                          stdio=stdio, container_id=container_id)
    if status is None:
        raise InvalidState(f"container {container_id} is not running (state 'stopped')")
    return status


def _check_modes(tty: bool, detach: bool) -> None:
    if tty and detach:
        from rootless.errors import UsageError

        raise UsageError("a detached exec cannot have a terminal here", "drop -t, or run it in the foreground")


def plan_pairs(pid: int, start: int, proc: dict, *, container_id: str = "", tty: bool = False,
               detach: bool = False) -> list[tuple[str, object]]:
    """The helper's plan without its fds (pure). ContainerSetupError for a process the settings
    cannot express (an unknown rlimit), in the words the container process uses for it."""
    pairs: list[tuple[str, object]] = [("pid", pid), ("start", start), ("id", container_id)]
    if tty:
        pairs.append(("tty", 1))
    if detach:
        pairs.append(("detach", 1))
    try:
        pairs += plan_mod.process_pairs(proc)
    except (ValueError, TypeError, KeyError) as e:
        from rootless.errors import ContainerSetupError

        raise ContainerSetupError(f"container process setup: {e}") from None
    return pairs


def replace(pid: int, start: int, proc: dict, *, container_id: str, detach: bool = False,
            stdio=(None, None, None)) -> None:
    """Become the helper (execve; never returns unless execve fails, which raises OSError).
    `stdio`: fds for the process's 0, 1, 2 (None: ours); failures go to our stderr."""
    pairs = plan_pairs(pid, start, proc, container_id=container_id, detach=detach)
    for key, fd in zip(("stdin", "stdout", "stderr"), stdio):
        if fd is not None:
            os.set_inheritable(fd, True)
            pairs.append((key, fd))
    fd = plan_mod.memfd(plan_mod.encode(pairs))
    os.set_inheritable(fd, True)
    exe = binary()
    try:
        os.execv(exe, [exe, str(fd)])
    except OSError as e:
        os.close(fd)
        raise _missing(exe, e) from None


def join_and_run(pid: int, start: int, proc: dict, *, tty: bool = False, detach: bool = False,
                 stdio=None, container_id: str = "") -> int | None:
    """Run the complete OCI process `proc` in the namespaces of `pid`, the process that started at
    `start` (/proc/PID/stat field 22); its exit code (0 at once with detach), or None when `pid`
    is not that process any more (nothing was run). Raises ContainerCommandError for 126/127."""
    _check_modes(tty, detach)
    pairs = plan_pairs(pid, start, proc, container_id=container_id, tty=tty, detach=detach)
    stdio = tuple(stdio) if stdio is not None else (0, 1, 2)
    report_r, report_w = os.pipe()
    parent_sock = child_sock = None
    inherited = [report_w]
    if tty:
        import socket

        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        inherited.append(child_sock.fileno())
        pairs.append(("sock", child_sock.fileno()))
    else:
        for key, fd in zip(("stdin", "stdout", "stderr"), stdio):
            if fd is not None:
                inherited.append(fd)
                pairs.append((key, fd))
    pairs.append(("report", report_w))
    plan_fd = plan_mod.memfd(plan_mod.encode(pairs))
    inherited.append(plan_fd)
    try:
        try:
            helper = _spawn(plan_fd, inherited)
        finally:
            for fd in (plan_fd, report_w):
                os.close(fd)
            if child_sock is not None:
                child_sock.close()
        status = _wait(helper, parent_sock, stdio)
        report = _read_all(report_r)
    finally:
        os.close(report_r)
        if parent_sock is not None:
            parent_sock.close()
    if report:
        return _raise(report)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _spawn(plan_fd: int, inherited: list[int]) -> int:
    """posix_spawn the helper with `inherited` fds kept open (children.spawn)."""
    from rootless.runtime.children import spawn

    exe = binary()
    try:
        return spawn(exe, [exe, str(plan_fd)], inherited)
    except OSError as e:
        raise _missing(exe, e) from None


def _missing(exe: str, err: OSError):
    from rootless.errors import ContainerSetupError

    return ContainerSetupError(f"cannot run rl's exec helper {exe}: {err.strerror}",
                               "build it: make native (or .venv/bin/python native/build.py _rl_exec)")


def _wait(helper: int, sock, stdio) -> int:
    """The helper's wait status, relaying the pty when there is one."""
    if sock is None:
        return os.waitpid(helper, 0)[1]
    from rootless.runtime import pty

    try:
        master = pty.recv_fd(sock)
    except OSError:  # the helper failed before the pty was made: its report says why
        return os.waitpid(helper, 0)[1]
    try:
        return pty.relay(master, helper, stdin=stdio[0], stdout=stdio[1])
    finally:
        os.close(master)


def _raise(report: bytes) -> None:
    """The helper's failure report as rl's error; None for "gone" (the pid was not the process)."""
    from rootless.errors import ContainerCommandError, ContainerSetupError

    code, _, message = report.decode(errors="replace").partition("\n")
    if code == "gone":
        return None
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
