"""The thin probes of `rl info`, run for real on this host (no kernel mocks)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from rootless.engine import host
from rootless.engine.host import probes, report
from rootless.paths import Paths
from rootless.runtime import idmap

pytestmark = pytest.mark.integration


@pytest.fixture
def shm_dir():
    path = Path(tempfile.mkdtemp(prefix="rl-probe-test-", dir="/dev/shm"))
    yield path
    probes.remove_probe_dir(path)


def test_store_on_tmpfs_is_writable_and_gives_a_probe_dir(shm_dir):
    facts, probe_dir = probes.store_facts(shm_dir / "not" / "yet")
    try:
        assert facts["Filesystem"] == "tmpfs" and facts["Mountpoint"] == "/dev/shm"
        assert facts["Writable"] is True and facts["Exists"] is False
        assert probe_dir.parent == shm_dir  # the nearest existing ancestor
    finally:
        probes.remove_probe_dir(probe_dir)
    assert list(shm_dir.iterdir()) == []


def test_store_that_cannot_be_written():
    facts, probe_dir = probes.store_facts(Path("/proc/rl-store"))
    assert probe_dir is None
    assert facts["Writable"] is False and facts["WritableError"].startswith("/proc: ")
    assert facts["Filesystem"] == "proc"


def test_overlay_in_a_user_namespace_on_tmpfs(shm_dir):
    mapping = idmap.choose()
    facts = probes.overlay_facts(mapping, shm_dir)
    assert facts["Works"] is True and facts["Tried"] is True, facts["Error"]
    assert report.parse_id_map(facts["UidMap"]) == mapping.to_oci()["uidMappings"]
    assert list(shm_dir.iterdir()) == []  # the child cleaned up after itself


def test_overlay_not_tried_without_a_mapping(shm_dir):
    facts = probes.overlay_facts(None, shm_dir)
    assert (facts["Works"], facts["Tried"]) == (False, False)


def test_overlay_error_is_reported(shm_dir):
    """A lower dir that cannot exist: the mount fails and the errno text comes back."""
    blocked = shm_dir / "blocked"
    blocked.write_text("a file where the probe wants directories")
    facts = probes.overlay_facts(idmap.choose(), blocked)
    assert (facts["Works"], facts["Tried"]) == (False, True)
    assert "Not a directory" in facts["Error"]
    assert "NamespaceError" not in facts  # the namespace itself was fine


def test_userns_probe_works_here():
    facts = probes.userns_facts(os.getuid(), os.getgid())
    assert facts["Works"] is True, facts["Error"]


@pytest.mark.parametrize("path, usable, error", [
    ("/dev/null", True, None),
    ("/nonexistent-device", False, "No such file or directory"),
])
def test_open_device(path, usable, error):
    assert probes.open_device(path) == {"Path": path, "Usable": usable, "Error": error}


def test_remove_probe_dir_with_an_unreadable_work_dir(tmp_path):
    work = tmp_path / "probe" / "work" / "work"
    work.mkdir(parents=True)
    (work / "f").write_text("x")
    work.chmod(0)
    work.parent.chmod(0)
    probes.remove_probe_dir(tmp_path / "probe")
    assert not (tmp_path / "probe").exists()


def test_helper_facts(tmp_path):
    plain = tmp_path / "newuidmap"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o755)
    assert probes.helper_facts(str(plain)) == {"Path": str(plain), "Privilege": None, "Usable": False}
    assert probes.helper_facts(None)["Usable"] is False


@pytest.mark.parametrize("env, root, runroot, expected", [
    ({"RL_ROOT": "/r"}, None, None, ("RL_ROOT", "fallback")),
    ({"RL_ROOT": "/r"}, "/other", "/run-x", ("--root", "--runroot")),
    ({"HOME": "/h"}, None, None, ("HOME", "fallback")),
    ({"HOME": "/h", "XDG_DATA_HOME": "/d"}, None, None, ("XDG_DATA_HOME", "fallback")),
])
def test_sources(env, root, runroot, expected):
    assert host.sources(Paths.from_env(env, root, runroot), env) == expected
