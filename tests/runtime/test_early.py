"""runtime/early.py: a container process cloned before its bundle exists, handed the rest of its
plan by `create` when it fits the config, ended (and reaped) when it does not or when nothing
creates it. The user namespace joined by path is an `unshare -r` process's, as the pause process's
would be in rl run."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from rootless.runtime import early, syscalls as sc
from rootless.runtime.container import create, delete, start

pytestmark = [pytest.mark.integration]

OWN = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWPID | sc.CLONE_NEWNET


@pytest.fixture
def userns():
    """/proc/PID/ns/user of a process in a user namespace mapping root to us."""
    holder = subprocess.Popen(["unshare", "-r", "sleep", "120"])
    try:
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{holder.pid}/ns/user") == os.readlink("/proc/self/ns/user"):
            assert time.monotonic() < deadline, "unshare -r did not start"
            time.sleep(0.01)
        yield f"/proc/{holder.pid}/ns/user"
    finally:
        holder.kill()
        holder.wait()


def _children() -> set[int]:
    me, found = os.getpid(), set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                    found.add(int(pid))
        except (OSError, ValueError, IndexError):
            pass
    return found


def _joining(ctr, path: str, args) -> str:
    ctr.config["linux"]["namespaces"] = [ns for ns in ctr.config["linux"]["namespaces"]
                                         if ns["type"] != "user"] + [{"type": "user", "path": path}]
    return str(ctr.write(args))


def _run(ctr, bundle: str, stdio, e) -> int:
    st = create(bundle, str(ctr.state_dir), "c1", stdio=stdio, early=e)
    try:
        start(str(ctr.state_dir), "c1")
        return os.waitstatus_to_exitcode(os.waitpid(st.pid, 0)[1])
    finally:
        delete(str(ctr.state_dir), "c1", force=True)


def test_a_fitting_early_process_becomes_the_container(ctr, userns):
    bundle = _joining(ctr, userns, ["sh", "-c", "echo early; hostname; readlink /proc/self/ns/user; exit 4"])
    stdio = ctr.stdio()
    before = _children()
    e = early.start(OWN, userns, stdio, False)
    assert e is not None
    assert _run(ctr, bundle, stdio, e) == 4
    ctr.close()
    assert e.taken and e.pid > 0
    out = ctr.out.read_text().split()
    assert out == ["early", "rltest-ctr", os.readlink(userns)], ctr.err.read_text()
    assert _children() == before


@pytest.mark.parametrize("why", ["namespaces", "user namespace", "stdio", "terminal"])
def test_an_early_process_that_does_not_fit_is_ended_and_create_starts_one(ctr, userns, why):
    bundle = _joining(ctr, userns, ["sh", "-c", "echo usual"])
    stdio = ctr.stdio()
    before = _children()
    args = {"namespaces": (OWN & ~sc.CLONE_NEWNET, userns, stdio, False),
            "user namespace": (OWN, None, stdio, False),
            "stdio": (OWN, userns, (stdio[0], stdio[1], 1), False),
            "terminal": (OWN, userns, stdio, True)}[why]
    e = early.start(*args)
    assert e is not None
    assert _run(ctr, bundle, stdio, e) == 0
    ctr.close()
    assert ctr.out.read_text() == "usual\n", ctr.err.read_text()
    assert e.taken and e.helper == 0
    assert _children() == before


def test_discard_ends_an_unused_one(userns):
    before = _children()
    e = early.start(OWN, userns, (0, 1, 2), False)
    assert e is not None
    e.discard()
    e.discard()  # twice is fine
    assert _children() == before


def test_a_bad_plan_ends_it_before_anything_runs(ctr, userns):
    ctr.config["annotations"]["rl.rootfs.driver"] = "no-such-driver"
    bundle = _joining(ctr, userns, ["true"])
    stdio = ctr.stdio()
    before = _children()
    e = early.start(OWN, userns, stdio, False)
    from rootless.errors import ContainerSetupError

    with pytest.raises(ContainerSetupError, match="no-such-driver"):
        create(bundle, str(ctr.state_dir), "c2", stdio=stdio, early=e)
    ctr.close()
    assert _children() == before
