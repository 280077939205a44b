"""The long-lived half of a detached container's monitor: log copier and waiter, kept small.

The monitor (monitor.py) needs the runtime, the store and the network stack to launch a container
(~15 MiB RSS). Once the command has exec'd, it replaces itself with this module run as
`python -I -S -B -c 'import ...monitor_pump; main()' ...` (`hand_over`). execve keeps the pid, so the container's
process and the network helpers stay its children and State.Monitor stays true; what it imports is
os, select, time, _signal and logs.LogWriter (_json's C encoder): ~8 MiB RSS, a bare interpreter's
7.7, against conmon's 2.3. It then
- copies the container's stdout/stderr (or its pty) into ctr.log (docker's json-file lines);
- forwards SIGTERM/SIGINT to the container's process;
- once that process is gone: drains the pipes, stops the network helpers (slirp4netns: its exit
  fd closed; pasta, the port forwarder: SIGTERM; SIGKILL after 2 s; all reaped), and execs the
  full monitor again with the wait status (`monitor.py ... --after STATUS STARTED BACKOFF`), which
  records the exit and applies --restart and --rm.

    main(argv): PID LOG STREAMS CLOSE HELPERS SOCKET -- RESUME...
      STREAMS  fd:stream,...     (stream: stdout|stderr)
      CLOSE    fd,...            (held open for the container, e.g. its stdin; closed at the end)
      HELPERS  pid:exitfd,...    (exitfd -1: stopped by SIGTERM)
      SOCKET   a path to unlink at the end, or ""
      RESUME   argv exec'd at the end, with the wait status appended

Imports nothing else at module level: it also runs without site-packages (`-S`).
"""

from __future__ import annotations

import os
import select
import sys
import time

import _signal

STOP_TIMEOUT = 2.0


def pump(pid: int, sources: dict, log) -> int:
    """Copy the container's output into `log` until process `pid` (a child) exits; its wait status."""
    pidfd = os.pidfd_open(pid)
    status = None
    try:
        while status is None:
            try:
                ready, _, _ = select.select(list(sources) + [pidfd], [], [])
            except InterruptedError:
                continue
            for fd in ready:
                if fd == pidfd:
                    status = os.waitpid(pid, 0)[1]
                elif not _copy(fd, sources, log):
                    os.close(fd)
                    del sources[fd]
        drain(sources, log)
    finally:
        os.close(pidfd)
        log.close()
    return status


def _copy(fd: int, sources: dict, log) -> bool:
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO from a pty master once the slave side is gone
        return False
    if data:
        log.write(sources[fd], data)
    return bool(data)


def drain(sources: dict, log) -> None:
    """What is left in the pipes once the process is gone (its pid namespace died with it)."""
    deadline = time.monotonic() + 1.0
    while sources and time.monotonic() < deadline:
        ready, _, _ = select.select(list(sources), [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        for fd in ready:
            if not _copy(fd, sources, log):
                os.close(fd)
                del sources[fd]
    for fd in sources:
        os.close(fd)
    sources.clear()


def stop_helper(pid: int, exit_fd: int = -1, timeout: float = STOP_TIMEOUT) -> None:
    """End a helper child: close its exit fd (slirp4netns --exit-fd) or SIGTERM it; SIGKILL after
    `timeout`; reap it."""
    try:
        if exit_fd >= 0:
            os.close(exit_fd)
        else:
            os.kill(pid, _signal.SIGTERM)
    except (OSError, ProcessLookupError):
        pass
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # reaped already
        return
    try:
        if not select.select([pidfd], [], [], timeout)[0]:
            os.kill(pid, _signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        pass
    finally:
        os.close(pidfd)


def parse_pairs(text: str) -> list[tuple[int, str]]:
    """"3:stdout,4:stderr" -> [(3, "stdout"), (4, "stderr")]; "" -> []."""
    return [(int(a), b) for a, _, b in (item.partition(":") for item in text.split(",") if item)]


def command(pid: int, log: str, sources: dict, close: list, helpers: list, socket: str,
            resume: list) -> list:
    """The argv of this module for `hand_over` (the interpreter's flags included)."""
    streams = ",".join(f"{fd}:{name}" for fd, name in sources.items())
    helper_text = ",".join(f"{p}:{fd}" for p, fd in helpers)
    args = [str(pid), log, streams, ",".join(map(str, close)), helper_text, socket, "--", *resume]
    if getattr(sys, "frozen", False):  # dist/rl runs modules with -m (rootless.frozen)
        return [sys.executable, "-m", "rootless.engine.monitor_pump", *args]
    # -I -S: neither site-packages nor the environment; -c with an import (not the file as a
    # script) so that the module comes from its cached bytecode, not compiled here
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = f"import sys;sys.path.insert(0,{package_parent!r});import rootless.engine.monitor_pump as m;m.main(sys.argv[1:])"
    return [sys.executable, "-I", "-S", "-B", "-c", code, *args]


FORWARDED = {_signal.SIGTERM, _signal.SIGINT}


def hand_over(argv: list, keep: list) -> None:
    """Become this module (execve: same pid, same children). Returns only if the exec failed.
    SIGTERM/SIGINT are blocked across the exec (the mask survives it) so that one sent before the
    new interpreter has its handlers stays pending instead of killing the monitor."""
    for fd in keep:
        os.set_inheritable(fd, True)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)
    try:
        os.execv(argv[0], argv)
    except OSError:
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, FORWARDED)
        for fd in keep:
            os.set_inheritable(fd, False)


def main(argv: list) -> None:
    split = argv.index("--")
    pid_s, log_path, streams, close, helpers, socket = argv[:split]
    resume, pid = argv[split + 1:], int(pid_s)

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    _signal.signal(_signal.SIGTERM, forward)
    _signal.signal(_signal.SIGINT, forward)
    _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, FORWARDED)  # blocked by hand_over: pending ones now
    from rootless.engine.logs import LogWriter

    status = pump(pid, dict(parse_pairs(streams)), LogWriter(log_path))
    for helper, exit_fd in parse_pairs(helpers):
        stop_helper(helper, int(exit_fd))
    if socket:
        try:
            os.unlink(socket)
        except OSError:
            pass
    for fd in filter(None, close.split(",")):
        try:
            os.close(int(fd))
        except OSError:
            pass
    _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)  # until the full monitor has its handlers
    try:
        os.execv(resume[0], resume + [str(status)])
    except OSError:
        os._exit(1)  # the record keeps "running" with its monitor gone: rl ps says so (truth.py)


if __name__ == "__main__":  # dist/rl: `rl -m rootless.engine.monitor_pump ...`
    main(sys.argv[1:])
