"""`start`: let a created container's process go (open exec.fifo, as runc does), then wait until
it has exec'd the user's command or reported why it could not (exec.status), so a missing or
non-executable command raises ContainerCommandError (127/126) here, before `start` returns."""

from __future__ import annotations

import os
import select

from rootless.errors import ContainerCommandError, ContainerSetupError, InvalidState
from rootless.runtime import state as state_mod
from rootless.runtime.children import read_all


def start(state_dir, container_id: str) -> None:
    st = state_mod.read(state_dir, container_id)
    if st.status != "created":
        raise InvalidState(f"cannot start container {container_id} in state {st.status!r}",
                           "only a created container can be started")
    start_created(st, state_mod.container_dir(state_dir, container_id))


def start_created(st, directory: str) -> None:
    """start() for the State that create() just returned (run() saves reading it back)."""
    status_fd = os.open(os.path.join(directory, state_mod.EXEC_STATUS), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        fifo = os.path.join(directory, state_mod.EXEC_FIFO)
        _release(fifo, st)
        os.unlink(fifo)
        # state.json keeps "created": without exec.fifo, state.read reports "running" (one
        # rewrite less on every start)
        st.status = "running"
        os.set_blocking(status_fd, True)
        report = read_all(status_fd)   # EOF when the process has exec'd (the fd is CLOEXEC)
    finally:
        os.close(status_fd)
    if report:
        code, _, message = report.decode(errors="replace").partition("\n")
        code = int(code) if code.isdigit() else 125
        if code in (126, 127):
            raise ContainerCommandError(message, code)
        raise ContainerSetupError(message)


def _release(fifo: str, st) -> None:
    """Open the fifo without blocking and wait for the container's byte, checking it is alive."""
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidState(f"container {st.id} was started by another process") from None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            events = poller.poll(100)
            if events:
                try:
                    if os.read(fd, 1):
                        return
                except BlockingIOError:
                    continue
                if any(ev & select.POLLHUP for _, ev in events):   # its byte went to another start
                    raise InvalidState(f"container {st.id} was started by another process")
            if state_mod.pid_start_time(st.pid) != st.pid_start:
                raise InvalidState(f"container {st.id} died before it was started")
    finally:
        os.close(fd)
