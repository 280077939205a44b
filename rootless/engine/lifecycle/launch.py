"""Starting a container's process through the runtime and recording it, shared by the detached
monitor and the foreground `rl run` / `rl start -a` (whichever calls it becomes the container's
parent and its owner in the record: State.Monitor).

The record is written in three steps, so that a crash at any point leaves the truth behind:
the owner's identity before the runtime creates anything; the container process's identity as
soon as it exists; "running" once the runtime's `start` saw the command exec'd. `record_exit`
writes the end (ExitCode, FinishedAt) and deletes the runtime's state.
"""

from __future__ import annotations

import os

from rootless.engine.container_store import ContainerStore, now_rfc3339
from rootless.engine.lifecycle import truth
from rootless.errors import RlError
from rootless.paths import Paths, ensure_private_dir
from rootless.runtime.children import reap


def exit_code(wait_status: int) -> int:
    """docker's exit status: the code, or 128+N after signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def launch(paths: Paths, store: ContainerStore, record: dict, *, stdio=None, tty: bool = False,
           early=None):
    """Create and start the container's process; returns the runtime's State (pid, pty master).
    Raises the runtime's errors (ContainerCommandError 126/127, ContainerSetupError) after
    recording the failure as the container's exit. `early`: a process started before the bundle
    existed (runtime/early.py), used if it fits."""
    from rootless.runtime import container as runtime

    cid = record["Id"]
    ensure_private_dir(paths.runroot_dir)
    state_dir = paths.oci_state_dir()
    runtime.delete(state_dir, cid, force=True)  # a stale state of an earlier, crashed run
    bundle = paths.container_dir(cid)
    from rootless.engine.net import joined, stack as netstack  # owner: network engineer

    from rootless.engine import pause

    pause.refresh(paths, store, record, bundle)  # the kept user namespace it joins may be gone
    plan = netstack.plan(record, paths)  # paths: user networks (owner: network engineer)
    joined.prepare(paths, store, record, bundle)  # --network container:X (owner: network II)
    bound = netstack.bind(plan)  # a port in use or below 1024: an error before anything starts
    store.set_state(cid, Monitor=truth.own_identity(), Process=None, Error="")
    try:
        st = runtime.create(bundle, state_dir, cid, stdio=stdio, pty=tty, early=early)
    except RlError as e:
        for listener in bound:
            listener.close()
        record_exit(paths, store, cid, e.exit_code if e.exit_code in (126, 127) else 125, e.message)
        raise
    process = truth.identity(st.pid)  # before the command runs: a quick exit leaves a zombie
    st.network = None
    try:
        # the namespaces exist, the command has not run: slirp4netns/pasta and the forwarder now
        api_socket = paths.slirp_socket(cid) if plan.mode == "slirp4netns" else None
        st.network = netstack.start(api_socket, st.pid, plan, bound)
        runtime.start(state_dir, cid)
    except RlError as e:
        stop_network(st)
        reap(st.pid, kill=False)
        if st.pty_master is not None:
            os.close(st.pty_master)
        code = e.exit_code if e.exit_code in (126, 127) else 125
        record_exit(paths, store, cid, code, e.message)
        raise

    def running(rec: dict) -> None:
        # Pid is written with "running" only: until then the process (created, not started) dies
        # with this one (PR_SET_PDEATHSIG), and the runtime's state holds its pid for `rm -f`
        rec["State"].update(Status="running", Running=True, Restarting=False, Paused=False,
                            StartedAt=now_rfc3339(), ExitCode=0, Error="", Pid=st.pid,
                            Process=process)
        rec["Driver"] = st.rootfs_driver or rec.get("Driver", "")
        rec["NetworkSettings"] = st.network.network_settings()
        rec.setdefault("Rl", {})["NetworkHelpers"] = st.network.pids()
    store.update(cid, running)
    return st


def stop_network(st) -> None:
    """End the network helpers of a launch (after the container's process has exited)."""
    if getattr(st, "network", None) is not None:
        st.network.stop()


def record_exit(paths: Paths, store: ContainerStore, cid: str, code: int, error: str = "") -> None:
    """Write the container's end into its record and drop the runtime's state for it."""
    def ended(rec: dict) -> None:
        rec["State"].update(Status="exited", Running=False, Restarting=False, Paused=False, Pid=0,
                            ExitCode=code, Error=error, FinishedAt=now_rfc3339(), Process=None)
        if rec.get("NetworkSettings"):
            rec["NetworkSettings"]["Ports"] = {}  # docker: no published ports once stopped
    try:
        store.update(cid, ended)
    except RlError:
        pass  # removed meanwhile (rm -f)
    drop_runtime_state(paths, cid)


def drop_runtime_state(paths: Paths, cid: str) -> None:
    """Delete the runtime's state of an ended container (nothing if it is gone already)."""
    from rootless.runtime import container as runtime

    try:
        runtime.delete(paths.oci_state_dir(), cid, force=True)
    except (RlError, OSError):
        pass

