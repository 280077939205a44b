"""Foreground runs (rootless.engine.lifecycle.attach), end to end through the rl executable: what
`rl run --rm` leaves behind (nothing: record, bundle, runtime state), and the exit being recorded
for a container that stays (`rl start -a`), including one `rl stop` had marked ManuallyStopped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("attach"), fixture_images) as environ:
        yield environ


def _leftovers(env) -> list[str]:
    """Container dirs in the store and runtime state dirs under the runtime dir."""
    found = [p.name for p in (Path(env["RL_ROOT"]) / "containers").glob("*")]
    for dirpath, dirnames, _ in os.walk(env["XDG_RUNTIME_DIR"]):
        if os.path.basename(dirpath) == "oci":
            found += dirnames
    return found


@pytest.mark.parametrize("network", ["none", "bridge"])
def test_run_rm_leaves_nothing(env, network):
    done = rl.run_rl("run", "--rm", f"--network={network}", "busybox", "sh", "-c", "echo hi; exit 5", env=env)
    assert (done.returncode, done.stdout) == (5, "hi\n"), done.stderr
    assert rl.run_rl("ps", "-aq", env=env).stdout == ""  # the record is gone at once
    _wait_deleted(env)  # the files and the runtime's state soon after (the detached deleter)


def test_run_rm_files_are_deleted_by_a_detached_process(env):
    """`rl run --rm` renames the container's directory out of the store and a detached process
    deletes it: the files are gone soon after, and the deleter holds none of our pipes open
    (subprocess.run with captured output returns as soon as rl exits)."""
    done = rl.run_rl("run", "--rm", "--network=none", "busybox", "sh", "-c", "echo data > /written", env=env)
    assert done.returncode == 0, done.stderr
    _wait_deleted(env)


def _wait_deleted(env) -> None:
    import time

    tmp = Path(env["RL_ROOT"]) / "tmp"
    deadline = time.monotonic() + 20
    while list(tmp.glob("container-*-rm")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp.glob("container-*-rm")) == []
    assert _leftovers(env) == []


def test_run_rm_deletes_what_plain_rm_cannot(env):
    """Files of another container user (a subordinate id with a subuid range) under a directory
    without permissions: `rm -rf` fails there, and the deleter's fallback (lifecycle.deleter: the
    user namespace, permissions forced) removes them."""
    script = "mkdir -p /d/e && touch /d/e/f && chown -R 5:5 /d/e 2>/dev/null; chmod 000 /d/e"
    done = rl.run_rl("run", "--rm", "--network=none", "busybox", "sh", "-c", script, env=env)
    assert done.returncode == 0, done.stderr
    _wait_deleted(env)


def test_start_attached_records_the_exit_and_clears_manual_stop(env):
    """`rl stop` marks the record ManuallyStopped; a later `rl start -a` clears it and records the
    new exit (the mark is only rewritten when set: a fresh container has none)."""
    script = "test -f /x && exit 7; touch /x; exec sleep 60"
    cid = rl.run_rl("run", "-d", "busybox", "sh", "-c", script, env=env).stdout.strip()
    assert len(cid) == 64
    assert rl.run_rl("stop", "-t", "0", cid, env=env).returncode == 0
    state = Path(env["RL_ROOT"]) / "containers" / cid / "state.json"
    assert json.loads(state.read_text())["State"].get("ManuallyStopped") is True
    done = rl.run_rl("start", "-a", cid, env=env)
    assert done.returncode == 7, done.stderr
    record = json.loads(state.read_text())["State"]
    assert (record["Status"], record["ExitCode"], record.get("ManuallyStopped")) == ("exited", 7, False)
    assert rl.run_rl("rm", cid, env=env).returncode == 0
