"""Starting a container detached: spawn its monitor and wait for the monitor's word.

The monitor runs as `python -m rootless.engine.monitor` in a new session (then forks once more,
see monitor.py), so it outlives the CLI, and a CLI killed meanwhile leaves a container that the
record, the monitor and `rl ps` still account for. We return once the command has exec'd, or
raise its failure (ContainerCommandError 126/127, else an RlError) as `docker run -d` does.
"""

from __future__ import annotations

import os
import subprocess
import sys

from rootless.context import Context
from rootless.engine.container_store import ContainerStore
from rootless.engine.lifecycle import truth
from rootless.errors import ContainerCommandError, InvalidState, RlError


def start_detached(ctx: Context, store: ContainerStore, record: dict) -> dict:
    """Start `record`'s container under a new monitor; returns the updated record."""
    from rootless.engine.containers import bundle_dir

    record = truth.current(store, record)
    status = record["State"]["Status"]
    if status == "running":
        return record
    if status in ("unknown", "restarting"):
        raise InvalidState(f"container {record['Id'][:12]} is {status}",
                           "stop or remove it first (rl stop / rl rm -f)")
    bundle_dir(record, ctx)
    store.set_state(record["Id"], ManuallyStopped=False)
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rootless.engine.monitor", str(ctx.paths.root), str(ctx.paths.runroot),
             record["Id"], str(write_fd)],
            pass_fds=(write_fd,), start_new_session=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
            env={**ctx.env, "PYTHONDONTWRITEBYTECODE": "1"})
    finally:
        os.close(write_fd)
    try:
        proc.wait()
        reply = _read_line(read_fd).decode(errors="replace").rstrip("\n")
    finally:
        os.close(read_fd)
    if reply.startswith("OK"):
        return store.load(record["Id"])
    code, _, message = reply[2:].partition(" ")
    if code in ("126", "127"):
        raise ContainerCommandError(message, int(code))
    raise RlError(message or "the container's monitor ended without a word",
                  f"see rl logs {record['Id'][:12]}" if message else "run with --log-level debug")


def _read_line(fd: int) -> bytes:
    """The monitor's one-line reply (up to EOF when it died without one)."""
    from rootless.runtime.children import read_line

    return read_line(fd)
