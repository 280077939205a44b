"""stop, kill and restart.

stop: the container's StopSignal (default SIGTERM), then SIGKILL after the timeout (-t, else the
container's --stop-timeout, else 10 s), then wait until its end is recorded. Marks the container
manually stopped, so --restart leaves it alone. kill: one signal (default SIGKILL).
"""

from __future__ import annotations

import os
import time

from rootless.context import Context
from rootless.engine.container_store import ContainerStore
from rootless.engine.lifecycle import truth
from rootless.errors import Conflict, RlError

DEFAULT_TIMEOUT = 10


def _signal(ctx: Context, record: dict, sig: int) -> None:
    """Signal the container's first process (through the runtime's state; directly when the
    runtime's state is gone but the process is still the one recorded)."""
    from rootless.runtime import container as runtime

    try:
        runtime.kill(ctx.paths.oci_state, record["Id"], sig)
        return
    except RlError:
        pass
    proc = record["State"].get("Process")
    if truth.alive(proc):
        try:
            os.kill(proc["Pid"], sig)
        except ProcessLookupError:
            pass


def wait_stopped(store: ContainerStore, cid: str, timeout: float | None) -> dict:
    """Poll until the record no longer says running (or the timeout passes); the record."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.005
    while True:
        record = truth.current(store, store.load(cid))
        if not truth.is_running(record["State"]):
            return record
        if deadline is not None and time.monotonic() >= deadline:
            return record
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def stop(ctx: Context, store: ContainerStore, record: dict, timeout: int | None = None) -> dict:
    from rootless.engine.run_options import parse_signal
    from rootless.runtime.kill import parse_signal as signal_number

    record = truth.current(store, record)
    cid = record["Id"]
    if not truth.is_running(record["State"]):
        return record
    store.set_state(cid, ManuallyStopped=True)
    if timeout is None:
        timeout = record["Config"].get("StopTimeout")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    sig = signal_number(parse_signal(record["Config"].get("StopSignal") or "SIGTERM"))
    if record["State"]["Status"] != "restarting":
        _signal(ctx, record, sig)
    record = wait_stopped(store, cid, timeout)
    if truth.is_running(record["State"]):
        _signal(ctx, record, 9)
        record = wait_stopped(store, cid, 10)
    if truth.is_running(record["State"]):
        raise RlError(f"container {cid[:12]} did not stop", "rl rm -f removes it anyway")
    return record


def kill(ctx: Context, store: ContainerStore, record: dict, signal_name: str = "SIGKILL") -> None:
    from rootless.engine.run_options import parse_signal
    from rootless.runtime.kill import parse_signal as signal_number

    record = truth.current(store, record)
    if record["State"]["Status"] not in ("running", "unknown"):
        raise Conflict(f"Cannot kill container: {record['Name'].lstrip('/')}: "
                       f"Container {record['Id']} is not running")
    sig = signal_number(parse_signal(signal_name))
    if sig == 9:
        store.set_state(record["Id"], ManuallyStopped=True)
    _signal(ctx, record, sig)


def restart(ctx: Context, store: ContainerStore, record: dict, timeout: int | None = None) -> dict:
    from rootless.engine.lifecycle.start import start_detached

    record = stop(ctx, store, record, timeout)
    return start_detached(ctx, store, store.load(record["Id"]))
