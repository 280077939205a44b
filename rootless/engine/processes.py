"""A running container's processes: listing them (`rl top`), pausing and unpausing them.

The processes of a container are the host processes whose /proc/PID/ns/pid is the pid namespace
of the container's first process (with --pid=host: that process alone).

`rl top` runs the host's `ps` (default `-ef`: docker's UID PID PPID C STIME TTY TIME CMD) and
keeps the header and the rows whose PID column is one of the container's, as docker does.

`rl pause` uses the cgroup v2 freezer (cgroup.freeze) when the container's first process sits in
a cgroup of its own that the user may write (delegated) and that holds only the container's
processes; otherwise it sends SIGSTOP to every process of the container, and `rl unpause`
SIGCONT. The method used is kept in the record (Rl.PauseMethod) so unpause undoes the same.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from rootless.errors import Conflict, RlError

CGROUP_ROOT = Path("/sys/fs/cgroup")


def container_pids(init: int) -> list[int]:
    """Host pids of the processes in the pid namespace of `init` (init included), sorted."""
    try:
        target = os.readlink(f"/proc/{init}/ns/pid")
    except OSError:
        return []
    if target == os.readlink("/proc/self/ns/pid"):
        return [init]  # the host's pid namespace (--pid=host): only the container's own process
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == target:
                    pids.append(int(entry))
            except OSError:
                continue
    return sorted(pids)


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def running(store, ref: str) -> dict:
    """The record of `ref`, which must be running (docker's "is not running" otherwise)."""
    from rootless.engine.lifecycle import truth

    record = truth.current(store, store.resolve(ref))
    state = record["State"]
    if state.get("Status") not in ("running", "unknown", "paused") or not state.get("Pid"):
        raise RlError(f"Container {record['Id']} is not running")
    return record


# ------------------------------------------------------------------------------------------------
# top
def top(store, ref: str, ps_args: list[str]) -> tuple[list[str], list[str]]:
    """(header line, rows) of `ps ps_args` for the container's processes."""
    record = running(store, ref)
    pids = set(container_pids(record["State"]["Pid"]))
    try:
        proc = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True)
    except FileNotFoundError:
        raise RlError("ps: not found", "install procps") from None
    if proc.returncode != 0:
        raise RlError(f"Error running ps: exit status {proc.returncode}: {proc.stderr.strip()}")
    return filter_ps(proc.stdout, pids)


def filter_ps(output: str, pids: set[int]) -> tuple[str, list[str]]:
    """docker's parsePSOutput: the header, and the rows whose PID column is in `pids`."""
    lines = output.splitlines()
    if not lines:
        raise RlError("Couldn't find PID field in ps output")
    header = lines[0]
    try:
        column = header.split().index("PID")
    except ValueError:
        raise RlError("Couldn't find PID field in ps output") from None
    rows = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column:
            try:
                pid = int(fields[column])
            except ValueError:
                raise RlError(f"Unexpected pid '{fields[column]}'") from None
            if pid in pids:
                rows.append(line)
    return header, rows


# ------------------------------------------------------------------------------------------------
# pause / unpause
def freezer(init: int, pids: list[int]) -> Path | None:
    """The container's own writable cgroup v2 directory, if it has one holding only its processes."""
    try:
        with open(f"/proc/{init}/cgroup") as f:
            line = next((l for l in f if l.startswith("0::")), "")
    except OSError:
        return None
    rel = line.strip()[3:]
    if not rel or rel == "/":
        return None
    directory = CGROUP_ROOT / rel.lstrip("/")
    freeze = directory / "cgroup.freeze"
    if not freeze.exists() or not os.access(freeze, os.W_OK):
        return None
    try:
        members = {int(p) for p in (directory / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return None
    return directory if members and members <= set(pids) else None


def pause(store, ref: str) -> dict:
    record = running(store, ref)
    if record["State"].get("Paused"):
        raise Conflict(f"Container {record['Id']} is already paused")
    init = record["State"]["Pid"]
    pids = container_pids(init)
    cgroup = freezer(init, pids)
    if cgroup is not None:
        (cgroup / "cgroup.freeze").write_text("1")
        method = "freezer"
    else:
        signal_all(pids, signal.SIGSTOP)
        method = "signal"

    def change(rec: dict) -> None:
        rec["State"].update(Status="paused", Paused=True)
        rec.setdefault("Rl", {})["PauseMethod"] = method
    return store.update(record["Id"], change)


def unpause(store, ref: str) -> dict:
    record = running(store, ref)
    if not record["State"].get("Paused"):
        raise Conflict(f"Container {record['Id']} is not paused")
    init = record["State"]["Pid"]
    pids = container_pids(init)
    if (record.get("Rl") or {}).get("PauseMethod") == "freezer" and (cgroup := freezer(init, pids)):
        (cgroup / "cgroup.freeze").write_text("0")
    else:
        signal_all(pids, signal.SIGCONT)

    def change(rec: dict) -> None:
        rec["State"].update(Status="running", Paused=False)
        (rec.get("Rl") or {}).pop("PauseMethod", None)
    return store.update(record["Id"], change)
