"""The processes rl forks: whole messages on their pipes, waiting for them, reaping them.

The runtime talks to the processes it forks over pipes that carry one message each (a ready
report, an exec status, a pickled result): the reader reads to EOF, the writer writes it all.
"""

from __future__ import annotations

import os


def read_all(fd: int) -> bytes:
    """Everything until EOF (the writer closed its end, or exec'd with it CLOEXEC)."""
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def read_line(fd: int) -> bytes:
    """Up to and including the first newline (or to EOF when the writer ended without one): a
    one-line report followed by more on the same pipe."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def wait_status(pid: int) -> int:
    """waitpid's status of our child `pid`, retrying when a signal interrupts the wait."""
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def reap(pid: int, *, kill: bool = True) -> None:
    """Wait for our child `pid`, SIGKILLing it first if it is still running (kill=True) or only
    if it has not exited yet (kill=False: a finished child is just reaped)."""
    try:
        if not kill and os.waitpid(pid, os.WNOHANG)[0] != 0:
            return
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    except ChildProcessError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def spawn(exe: str, argv: list[str], keep=(), **kwargs) -> int:
    """os.posix_spawn(exe, argv, os.environ, **kwargs) with the descriptors `keep` inherited by
    the child. They are made inheritable for the call only (this process forks nothing meanwhile):
    a dup2 onto itself in the file actions clears close-on-exec only from glibc 2.29 on, and the
    frozen rl runs on 2.28. posix_spawn is a vfork: no copy of the interpreter."""
    changed = [fd for fd in dict.fromkeys(keep) if not os.get_inheritable(fd)]
    for fd in changed:
        os.set_inheritable(fd, True)
    try:
        return os.posix_spawn(exe, argv, os.environ, **kwargs)
    finally:
        for fd in changed:
            os.set_inheritable(fd, False)
