"""The pause process (rootless.engine.pause): for a user with subordinate ranges, containers join
one kept user namespace instead of mapping a new one with newuidmap/newgidmap each time; for root
and for a single-id map there is none. It is checked on each use (killed, another mapping) and
replaced, a container created before it died still starts, and `rl system reset` ends it."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from fixtures import rl
from rootless.runtime import idmap

pytestmark = [pytest.mark.integration, pytest.mark.registry]

SUBUID = idmap.choose("").mode == "subuid"   # this test user's host (root, rltest or rltest1)


@pytest.fixture
def env(tmp_path, fixture_images):
    with rl.store_with_images(tmp_path, fixture_images) as environ:
        yield environ
    rl.cleanup_rl_env(environ)


def _pause_file(env) -> Path:
    return Path(env["XDG_RUNTIME_DIR"]) / "rl" / "pause.json"


def _pause_pid(env) -> int | None:
    try:
        return json.loads(_pause_file(env).read_text())["pid"]
    except (OSError, ValueError):
        return None



def _userns_and_map(env, *args) -> tuple[str, str]:
    """(user namespace inode, uid_map) of a container's process."""
    done = rl.run_rl("run", "--rm", "--network=none", *args, "busybox", "sh", "-c",
                     "readlink /proc/self/ns/user; cat /proc/self/uid_map", env=env)
    assert done.returncode == 0, done.stderr
    first, _, rest = done.stdout.partition("\n")
    return first, " ".join(rest.split())


def test_containers_share_the_kept_namespace_only_with_subordinate_ids(env):
    """Compared while both run (a namespace's inode number is reused once it is gone)."""
    cid = rl.run_rl("run", "-d", "--network=none", "busybox", "sleep", "60", env=env).stdout.strip()
    try:
        pid = rl.run_rl("inspect", "-f", "{{.State.Pid}}", cid, env=env).stdout.strip()
        running = os.readlink(f"/proc/{pid}/ns/user")
        other, uid_map = _userns_and_map(env)
        mapping = idmap.choose("")
        assert uid_map == " ".join(f"{m.container_id} {m.host_id} {m.size}" for m in mapping.uid_maps)
        if SUBUID:
            pause = _pause_pid(env)
            assert pause and rl.process_alive(pause)
            assert other == running == os.readlink(f"/proc/{pause}/ns/user")
            keep_id, _ = _userns_and_map(env, "--userns=keep-id")
            assert keep_id != running  # another mapping: its own namespace
        else:  # root: none made at all; a single id: written directly, no helper to spare
            assert _pause_pid(env) is None
            host = os.readlink("/proc/self/ns/user")
            assert (other == running == host) if mapping.mode == "root" else (other != running != host)
    finally:
        rl.run_rl("rm", "-f", cid, env=env)


@pytest.mark.skipif(not SUBUID, reason="a pause process exists only for users with subordinate ranges "
                                       "(the test above checks that none is made here)")
def test_a_killed_pause_process_is_replaced_and_created_containers_still_start(env):
    _userns_and_map(env)
    created = rl.run_rl("create", "--name", "later", "--network=none", "busybox", "cat", "/proc/self/uid_map", env=env)
    assert created.returncode == 0, created.stderr
    old = _pause_pid(env)
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while rl.process_alive(old) and time.monotonic() < deadline:
        time.sleep(0.02)
    started = rl.run_rl("start", "-a", "later", env=env)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split()[:3] == ["0", str(os.getuid()), "1"]
    new = _pause_pid(env)
    assert new and new != old and rl.process_alive(new)
    ns, _ = _userns_and_map(env)
    assert ns == os.readlink(f"/proc/{new}/ns/user")


@pytest.mark.skipif(not SUBUID, reason="a pause process exists only for users with subordinate ranges")
def test_a_pause_file_naming_a_process_with_another_mapping_is_not_trusted(env):
    _userns_and_map(env)
    real = _pause_pid(env)
    me = os.getpid()  # in the host's user namespace: another mapping
    with open(f"/proc/{me}/stat") as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    _pause_file(env).write_text(json.dumps({"pid": me, "start": start}))
    ns, _ = _userns_and_map(env)
    assert ns != os.readlink("/proc/self/ns/user")
    new = _pause_pid(env)
    assert new not in (me, None) and ns == os.readlink(f"/proc/{new}/ns/user")
    deadline = time.monotonic() + 10  # the replaced one sees its file name another and exits
    while rl.process_alive(real) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not rl.process_alive(real)


@pytest.mark.skipif(not SUBUID, reason="a pause process exists only for users with subordinate ranges")
def test_a_deleted_pause_file_and_system_reset_end_it(env):
    _userns_and_map(env)
    pid = _pause_pid(env)
    _pause_file(env).unlink()  # as when the run directory goes (a reboot's tmpfs, a cleanup)
    deadline = time.monotonic() + 10
    while rl.process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not rl.process_alive(pid)
    _userns_and_map(env)
    pid = _pause_pid(env)
    assert pid and rl.process_alive(pid)
    assert rl.run_rl("system", "reset", "-f", env=env).returncode == 0
    deadline = time.monotonic() + 5
    while rl.process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not rl.process_alive(pid) and _pause_pid(env) is None
