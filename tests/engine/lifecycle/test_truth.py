"""truth.py: a record's State checked against live processes, pid reuse and reboots."""

from __future__ import annotations

import os
import subprocess

import pytest

from rootless.engine.container_store import ContainerStore, now_rfc3339
from rootless.engine.lifecycle import truth
from rootless.paths import Paths


@pytest.fixture
def store(tmp_path):
    return ContainerStore(Paths(root=tmp_path / "root", runroot=tmp_path / "run", config_dir=tmp_path, home=tmp_path))


def running(store, monitor: dict, process: dict) -> dict:
    return store.create(lambda cid, n: {"Created": now_rfc3339(), "State": {
        "Status": "running", "Running": True, "Pid": process.get("Pid", 0), "ExitCode": 0,
        "StartedAt": now_rfc3339(), "FinishedAt": "0001-01-01T00:00:00Z", "Monitor": monitor, "Process": process}}, None)


def test_live_owner_keeps_running(store):
    me = truth.own_identity()
    rec = running(store, me, me)
    assert truth.current(store, rec)["State"]["Status"] == "running"


def test_dead_owner_live_process_is_unknown(store):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        rec = running(store, {"Pid": 999999999, "Start": 1, "Boot": truth.boot_id()}, truth.identity(sleeper.pid))
        now = truth.current(store, rec)
        assert now["State"]["Status"] == "unknown" and "is gone" in now["State"]["Error"]
        assert store.load(rec["Id"])["State"]["Status"] == "unknown"  # written back
        sleeper.kill()
        sleeper.wait()
        after = truth.current(store, store.load(rec["Id"]))
        assert after["State"]["Status"] == "exited" and truth.exit_unknown(after["State"])
    finally:
        sleeper.kill()


def test_reboot_means_exited_with_unknown_status(store):
    me = truth.own_identity()
    other_boot = {**me, "Boot": "00000000-0000-0000-0000-000000000000"}
    rec = running(store, other_boot, other_boot)   # same pids, another boot: not ours any more
    now = truth.current(store, rec)
    assert now["State"]["Status"] == "exited" and now["State"]["ExitCode"] == truth.EXIT_UNKNOWN
    assert truth.exit_unknown(now["State"])


def test_pid_reuse_is_detected(store):
    me = truth.own_identity()
    reused = {**me, "Start": me["Start"] + 12345}
    rec = running(store, reused, reused)
    assert truth.current(store, rec)["State"]["Status"] == "exited"
    assert not truth.alive({"Pid": os.getpid(), "Start": me["Start"] + 1, "Boot": me["Boot"]})
