"""runtime/exec.py's join guard: the namespaces of a pid are opened only while that pid is the
process that started at the given time (field 22 of /proc/PID/stat), read through the same
/proc/PID directory; a pid that is gone, a zombie or reused gives None and nothing runs. The joins
themselves are tested end to end in test_lifecycle.py and tests/cli/test_exec.py."""

from __future__ import annotations

import os
import subprocess

from rootless.runtime import exec as rt
from rootless.runtime.state import pid_start_time


def test_a_live_process_sharing_all_our_namespaces_needs_no_join():
    me = os.getpid()
    assert rt._open_namespaces(me, pid_start_time(me)) == []


def test_a_reused_pid_is_not_joined():
    me = os.getpid()
    assert rt._open_namespaces(me, pid_start_time(me) + 1) is None
    assert rt.join_and_run(me, pid_start_time(me) + 1, {"args": ["true"]}) is None


def test_a_gone_process_is_not_joined():
    p = subprocess.Popen(["sleep", "30"])
    start = pid_start_time(p.pid)
    p.kill()
    p.wait()
    assert rt._open_namespaces(p.pid, start) is None
    assert rt.join_and_run(p.pid, start, {"args": ["true"]}) is None


def test_a_zombie_is_not_joined():
    p = subprocess.Popen(["sleep", "30"])
    start = pid_start_time(p.pid)
    assert start > 0
    p.kill()
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    try:
        assert rt._open_namespaces(p.pid, start) is None
    finally:
        p.wait()


def test_no_start_time_never_matches():
    assert rt._open_namespaces(os.getpid(), 0) is None


def test_the_start_time_read_through_the_directory_is_the_states():
    fd = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert rt._start_time(fd) == pid_start_time(os.getpid())
    finally:
        os.close(fd)
