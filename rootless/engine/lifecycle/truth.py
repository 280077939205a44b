"""The truth about a container's State, checked against the live processes.

A record says "running" with the pid of the container's first process and of the process that
owns it (the monitor, or the foreground `rl run`), each with its start time (field 22 of
/proc/PID/stat) and the boot id, so a reused pid or a reboot is never mistaken for the container.
When the owner is gone the exit status cannot be known any more:

  container process alive  -> Status "unknown" (it runs, but nothing will record its end)
  container process gone   -> Status "exited", ExitCode 255 and State.Error saying the status is
                              unknown (docker's code after a daemon crash); `rl ps` shows it so.

Both are written back, under the store lock, so every later command agrees; `rl rm` cleans both.
"""

from __future__ import annotations

import os

from rootless.engine.container_store import ContainerStore, now_rfc3339

LIVE = ("running", "restarting", "paused")
EXIT_UNKNOWN = 255
UNKNOWN_ERROR = "the exit status is unknown: the process that owned the container ({who}) is gone"


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def start_time(pid: int) -> int:
    """Start time of pid in clock ticks since boot; 0 when gone or a zombie."""
    from rootless.runtime.state import pid_start_time

    return pid_start_time(pid) if pid > 0 else 0


def identity(pid: int) -> dict:
    """What identifies a process across pid reuse and reboots."""
    return {"Pid": pid, "Start": start_time(pid), "Boot": boot_id()}


def alive(ident: dict | None) -> bool:
    if not ident or not ident.get("Pid"):
        return False
    if ident.get("Boot") and ident["Boot"] != boot_id():
        return False
    return start_time(ident["Pid"]) == ident.get("Start")


def container_alive(state: dict) -> bool:
    return alive(state.get("Process"))


def monitor_alive(state: dict) -> bool:
    return alive(state.get("Monitor"))


def current(store: ContainerStore, record: dict) -> dict:
    """The record with its State made true (written back when it changed)."""
    state = record["State"]
    status = state.get("Status")
    if status not in LIVE and status != "unknown":
        return record
    if status in LIVE and monitor_alive(state):
        return record
    ctr = container_alive(state)
    if status == "unknown" and ctr:
        return record
    who = f"pid {state.get('Monitor', {}).get('Pid', '?')}"

    def fix(rec: dict) -> None:
        st = rec["State"]
        if st.get("Status") not in LIVE + ("unknown",) or (st.get("Status") in LIVE and monitor_alive(st)):
            return  # changed meanwhile
        if container_alive(st):
            st.update(Status="unknown", Running=True, Restarting=False,
                      Error=f"the process that owned the container ({who}) is gone; its end will not be recorded")
        else:
            st.update(Status="exited", Running=False, Restarting=False, Paused=False, Pid=0,
                      ExitCode=EXIT_UNKNOWN, Error=UNKNOWN_ERROR.format(who=who),
                      FinishedAt=now_rfc3339())
    try:
        return store.update(record["Id"], fix)
    except Exception:  # noqa: BLE001 - removed meanwhile: show what we had
        return record


def exit_unknown(state: dict) -> bool:
    return state.get("ExitCode") == EXIT_UNKNOWN and (state.get("Error") or "").startswith("the exit status is unknown")


def is_running(state: dict) -> bool:
    return state.get("Status") in ("running", "restarting", "paused", "unknown")


def own_identity() -> dict:
    return identity(os.getpid())
