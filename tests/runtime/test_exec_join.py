"""runtime/exec.py's join guard, now in the C helper _rl_exec: the namespaces of a pid are joined
only while that pid is the process that started at the given time (field 22 of /proc/PID/stat),
read through the same /proc/PID directory; a pid that is gone, a zombie or reused gives None and
nothing runs. The joins themselves are tested end to end in test_lifecycle.py and
tests/cli/test_exec.py; the process settings in test_exec_helper.py."""

from __future__ import annotations

import os
import subprocess

from rootless.runtime import exec as rt
from rootless.runtime.state import pid_start_time

ME = {"uid": os.getuid(), "gid": os.getgid()}


def test_a_live_process_sharing_all_our_namespaces_needs_no_join(tmp_path):
    me = os.getpid()
    assert rt.join_and_run(me, pid_start_time(me), {"args": ["sh", "-c", f"touch {tmp_path}/ran"], "user": ME}) == 0
    assert (tmp_path / "ran").exists()


def test_a_reused_pid_is_not_joined(tmp_path):
    me = os.getpid()
    assert rt.join_and_run(me, pid_start_time(me) + 1, {"args": ["touch", f"{tmp_path}/ran"], "user": ME}) is None
    assert not (tmp_path / "ran").exists()


def test_a_gone_process_is_not_joined():
    p = subprocess.Popen(["sleep", "30"])
    start = pid_start_time(p.pid)
    p.kill()
    p.wait()
    assert rt.start_time(p.pid) == 0
    assert rt.join_and_run(p.pid, start, {"args": ["true"], "user": ME}) is None


def test_a_zombie_is_not_joined():
    p = subprocess.Popen(["sleep", "30"])
    start = pid_start_time(p.pid)
    assert start > 0 and rt.start_time(p.pid) == start
    p.kill()
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    try:
        assert rt.start_time(p.pid) == 0
        assert rt.join_and_run(p.pid, start, {"args": ["true"], "user": ME}) is None
    finally:
        p.wait()


def test_no_start_time_never_matches():
    assert rt.join_and_run(os.getpid(), 0, {"args": ["true"], "user": ME}) is None


def test_the_start_time_is_the_states():
    assert rt.start_time(os.getpid()) == pid_start_time(os.getpid())


def test_the_helper_is_beside_the_package():
    assert os.access(rt.binary(), os.X_OK), "build it: .venv/bin/python native/build.py _rl_exec"


def test_a_missing_helper_is_a_setup_error_with_a_hint(monkeypatch, tmp_path):
    from rootless.errors import ContainerSetupError

    monkeypatch.setattr(rt, "binary", lambda: str(tmp_path / "_rl_exec"))
    me = os.getpid()
    try:
        rt.join_and_run(me, pid_start_time(me), {"args": ["true"], "user": ME})
    except ContainerSetupError as e:
        assert e.message == f"cannot run rl's exec helper {tmp_path}/_rl_exec: No such file or directory"
        assert "make native" in e.hint
    else:
        raise AssertionError("no error")
