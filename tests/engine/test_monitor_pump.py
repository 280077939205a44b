"""monitor_pump.py, the slim half of the monitor: its argv, the log pump, stopping helpers, and a
real hand-over (execve with the container process as child, then the resume command), with real
processes; plus, end to end, the monitor of an `rl run -d` container as it stays: slim."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from fixtures import rl
from rootless.engine import monitor_pump
from rootless.engine.logs import LogWriter, read_entries


@pytest.mark.parametrize("text,pairs", [
    ("", []), ("3:stdout", [(3, "stdout")]), ("3:stdout,4:stderr", [(3, "stdout"), (4, "stderr")]),
    ("12:-1,13:7", [(12, "-1"), (13, "7")]),
])
def test_parse_pairs(text, pairs):
    assert monitor_pump.parse_pairs(text) == pairs


def test_command_is_a_bare_interpreter():
    argv = monitor_pump.command(42, "/l/ctr.log", {5: "stdout", 7: "stderr"}, [9], [(50, 11), (51, -1)],
                                "/run/s.sock", ["python", "-m", "m", "--after"])
    assert argv[:5] == [sys.executable, "-I", "-S", "-B", "-c"]
    assert argv[6:] == ["42", "/l/ctr.log", "5:stdout,7:stderr", "9", "50:11,51:-1", "/run/s.sock", "--",
                        "python", "-m", "m", "--after"]
    # the -c program finds the package without site-packages
    done = subprocess.run(argv[:5] + [argv[5].replace("m.main(sys.argv[1:])", "print(m.__file__)")],
                          capture_output=True, text=True)
    assert done.stdout.strip() == monitor_pump.__file__


def _child(script: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(["sh", "-c", script], **kwargs)


def test_pump_copies_both_streams_and_returns_the_status(tmp_path):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    proc = _child("echo one; echo two >&2; printf tail; exit 3", stdout=out_w, stderr=err_w)
    os.close(out_w)
    os.close(err_w)
    log = tmp_path / "ctr.log"
    status = monitor_pump.pump(proc.pid, {out_r: "stdout", err_r: "stderr"}, LogWriter(str(log)))
    assert os.waitstatus_to_exitcode(status) == 3
    entries = read_entries(str(log))[0]
    assert sorted((e.stream, e.log) for e in entries) == [("stderr", "two\n"), ("stdout", "one\n"), ("stdout", "tail")]
    line = log.read_text().splitlines()[0]
    assert line.startswith('{"log":') and re.fullmatch(r'.*"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"\}', line)


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_stop_helper_by_exit_fd_sigterm_and_sigkill():
    exit_r, exit_w = os.pipe()
    by_fd = _child("read x; exit 0", stdin=exit_r)
    os.close(exit_r)
    by_term = _child("exec sleep 60")
    stubborn = _child("trap '' TERM; while :; do sleep 0.05; done")
    time.sleep(0.2)  # the trap is set
    start = time.monotonic()
    monitor_pump.stop_helper(by_fd.pid, exit_w)
    monitor_pump.stop_helper(by_term.pid)
    assert time.monotonic() - start < 1.5  # neither waited for the timeout
    monitor_pump.stop_helper(stubborn.pid, timeout=0.3)
    for p in (by_fd, by_term, stubborn):
        assert _reaped(p.pid)
    monitor_pump.stop_helper(by_term.pid)  # gone already: nothing to do, no error


def test_hand_over_keeps_the_child_and_resumes(tmp_path):
    """A process starts a "container" (exit 7 after some output), becomes the pump by execve, and
    the pump execs the resume command with the wait status."""
    log, result = tmp_path / "ctr.log", tmp_path / "resumed"
    resume = [sys.executable, "-c", f"import sys, os; open({str(result)!r}, 'w').write(' '.join(sys.argv[1:]) + ' ' + str(os.getpid()))", "x"]
    pid = os.fork()
    if pid == 0:
        try:
            out_r, out_w = os.pipe()
            container = os.fork()
            if container == 0:
                os.dup2(out_w, 1)
                os.execvp("sh", ["sh", "-c", "sleep 0.3; echo from the container; exit 7"])
            os.close(out_w)
            argv = monitor_pump.command(container, str(log), {out_r: "stdout"}, [], [], "", resume)
            monitor_pump.hand_over(argv, [out_r])
        finally:
            os._exit(99)  # only if the exec failed
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    args = result.read_text().split()
    assert args[0] == "x" and os.waitstatus_to_exitcode(int(args[1])) == 7
    assert int(args[2]) == pid  # same process all along: the pump, then the resume command
    assert [e.log for e in read_entries(str(log))[0]] == ["from the container\n"]


def test_pump_helpers_only_for_what_the_pump_can_end():
    """The network helpers go to the pump as (pid, exit fd); a network with more to it (endpoints
    on a user-defined network, a helper class the pump does not know) keeps the full monitor."""
    from types import SimpleNamespace

    from rootless.engine.monitor import pump_helpers
    from rootless.engine.net.forwarder import ForwarderProcess
    from rootless.engine.net.pasta import Pasta
    from rootless.engine.net.slirp import Slirp

    proc = subprocess.Popen(["sleep", "30"])
    try:
        base = dict(plan=None, pid=1, stack=None, forwarder=None, bound=[], attached=[])
        assert pump_helpers(None) == [] and pump_helpers(SimpleNamespace(**base)) == []
        slirp = Slirp(proc, 17, None)
        net = SimpleNamespace(**dict(base, stack=slirp, forwarder=ForwarderProcess(4242)))
        assert pump_helpers(net) == [(proc.pid, 17), (4242, -1)]
        assert pump_helpers(SimpleNamespace(**dict(base, stack=Pasta(proc)))) == [(proc.pid, -1)]
        assert pump_helpers(SimpleNamespace(**dict(base, stack=slirp, attached=[("n", "e")]))) is None
        assert pump_helpers(SimpleNamespace(**dict(base, stack=SimpleNamespace(pid=5)))) is None
        assert pump_helpers(SimpleNamespace(**dict(base, extra=object()))) is None
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------------------------
# end to end: the monitor of a detached container
@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("monitor"), fixture_images) as environ:
        yield environ


def _status(pid: int) -> dict:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":", 1) for line in f)


@pytest.mark.integration
@pytest.mark.registry
@pytest.mark.parametrize("network", ["none", "bridge"])
def test_detached_monitor_is_slim_and_still_does_its_job(rlx, env, network):
    cid = rlx("run", "-d", "--network", network, "busybox", "sh", "-c",
              "echo started; trap 'echo bye; exit 4' TERM; while :; do sleep 0.1; done").stdout.strip()
    assert cid, "rl run -d failed"
    try:
        state = rl.container_record(env, cid)["State"]
        monitor = state["Monitor"]["Pid"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"monitor_pump" not in open(f"/proc/{monitor}/cmdline", "rb").read():
            time.sleep(0.05)
        cmdline = open(f"/proc/{monitor}/cmdline", "rb").read().split(b"\0")
        assert cmdline[1:4] == [b"-I", b"-S", b"-B"] and b"monitor_pump" in cmdline[5]
        with open(f"/proc/{monitor}/maps") as f:
            maps = f.read()
        assert "_cffi_backend" not in maps and "_native" not in maps  # no runtime in it
        rss_kib = int(_status(monitor)["VmRSS"].split()[0])
        assert rss_kib < 12 * 1024, f"monitor VmRSS {rss_kib} KiB (it was ~15 MiB before the slim pump)"
        assert int(_status(state["Pid"])["PPid"]) == monitor  # still the container's parent
        while time.monotonic() < deadline and "started" not in rlx("logs", cid).stdout:
            time.sleep(0.05)
        assert rlx("stop", cid).returncode == 0
        assert rlx("logs", cid).stdout == "started\nbye\n"
        assert rlx("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid).stdout.strip() == "exited 4"
        assert not os.path.exists(f"/proc/{monitor}") or _status(monitor)["State"].split()[0] == "Z"
        helpers = (rl.container_record(env, cid).get("Rl") or {}).get("NetworkHelpers") or []
        for pid in helpers:  # slirp4netns ended with its container
            assert not os.path.exists(f"/proc/{pid}") or _status(pid)["State"].split()[0] == "Z"
    finally:
        rlx("rm", "-f", cid)


@pytest.mark.integration
@pytest.mark.registry
def test_restart_and_rm_go_through_the_full_monitor_again(rlx, env):
    cid = rlx("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 1").stdout.strip()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and rlx("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() != "exited":
        time.sleep(0.1)
    view = json.loads(rlx("inspect", cid).stdout)[0]
    assert (view["State"]["Status"], view["RestartCount"], view["State"]["ExitCode"]) == ("exited", 2, 1)
    assert rlx("logs", cid).stdout == "run\nrun\nrun\n"
    rlx("rm", cid)
    gone = rlx("run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.3; echo x").stdout.strip()
    while time.monotonic() < deadline + 10 and gone in rlx("ps", "-aq", "--no-trunc").stdout:
        time.sleep(0.1)
    assert gone not in rlx("ps", "-aq", "--no-trunc").stdout


@pytest.mark.integration
@pytest.mark.registry
def test_pump_forwards_sigterm_to_the_container(rlx, env):
    cid = rlx("run", "-d", "busybox", "sh", "-c", "trap 'exit 9' TERM; while :; do sleep 0.1; done").stdout.strip()
    try:
        monitor = rl.container_record(env, cid)["State"]["Monitor"]["Pid"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"monitor_pump" not in open(f"/proc/{monitor}/cmdline", "rb").read():
            time.sleep(0.05)
        os.kill(monitor, signal.SIGTERM)
        while time.monotonic() < deadline and rlx("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() != "exited":
            time.sleep(0.05)
        assert rlx("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid).stdout.strip() == "exited 9"
    finally:
        rlx("rm", "-f", cid)
