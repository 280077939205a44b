"""The OCI state file and the status derived from the live process."""

import os

import pytest

from rootless.errors import ContainerNotFound, RlError
from rootless.runtime import state


def test_pid_start_time():
    assert state.pid_start_time(os.getpid()) > 0
    assert state.pid_start_time(2 ** 22 + 7) == 0


def test_round_trip_and_status_check(tmp_path):
    d = tmp_path / "c1"
    d.mkdir()
    me = state.State("c1", "running", os.getpid(), "/b", {"a": "b"}, pid_start=state.pid_start_time(os.getpid()),
                     rootfs_driver="overlay", userns=True)
    state.write(str(d), me)
    got = state.read(tmp_path, "c1")
    assert got.to_oci() == {"ociVersion": "1.0.2", "id": "c1", "status": "running", "pid": os.getpid(),
                            "bundle": "/b", "annotations": {"a": "b"}}
    assert (got.rootfs_driver, got.userns) == ("overlay", True)
    me.pid_start += 1   # the pid now belongs to another process: the container is gone
    state.write(str(d), me)
    assert state.state(tmp_path, "c1")["status"] == "stopped"


def test_missing_and_bad_ids(tmp_path):
    with pytest.raises(ContainerNotFound):
        state.state(tmp_path, "nope")
    for bad in ("", "..", "a/b"):
        with pytest.raises(RlError):
            state.container_dir(tmp_path, bad)
