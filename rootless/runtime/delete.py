"""`delete`: remove a stopped container's state (OCI "delete"); with force, kill it first.

The container's mounts (rootfs overlay, /proc, binds) live only in its own mount namespace: they
go away with its last process, so there is nothing to unmount on the host.
"""

from __future__ import annotations

import os
import time

from rootless.errors import ContainerNotFound, InvalidState
from rootless.runtime import state as state_mod


def delete(state_dir, container_id: str, *, force: bool = False) -> None:
    directory = state_mod.container_dir(state_dir, container_id)
    try:
        st = state_mod.read(state_dir, container_id)
    except ContainerNotFound:
        if not force:
            raise
        if os.path.isdir(directory):   # a create killed before it wrote any state
            _remove(directory)
        return
    if st.status in ("creating", "created", "running"):
        if not force and st.status != "created":
            raise InvalidState(f"cannot delete container {container_id} in state {st.status!r}",
                               "stop it first, or force")
        _kill_wait(st)
    _remove(directory)


def _remove(directory: str) -> None:
    """Remove the state dir: the files we know first (cheap), anything else with rmtree."""
    for name in ("state.json", state_mod.EXEC_FIFO, state_mod.EXEC_STATUS):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(directory)
    except FileNotFoundError:
        pass
    except OSError:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


def _kill_wait(st, timeout: float = 5.0) -> None:
    try:
        os.kill(st.pid, 9)
    except ProcessLookupError:
        return
    # wait until it is dead (a zombie counts: reaping it is its parent's business, the caller of
    # create, which holds the pid)
    deadline = time.monotonic() + timeout
    while state_mod.pid_start_time(st.pid) == st.pid_start and time.monotonic() < deadline:
        time.sleep(0.002)
