"""`rl top`, `rl pause`, `rl unpause` end to end: the real rl executable and runtime, the fixture
busybox from the local registry, as root, rltest (subuid range) and rltest1 (none) alike."""

from __future__ import annotations

import time

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]

TICKER = ["sh", "-c", "sleep 300 & while :; do date +%s > /tick; echo tick; sleep 0.1; done"]


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("procs"), fixture_images) as environ:
        yield environ


@pytest.fixture
def ticker(rlx):
    done = rlx("run", "-d", "--name", "ticker", "busybox", *TICKER)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 10
    while "tick" not in rlx("logs", "ticker").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    yield done.stdout.strip()
    rlx("rm", "-f", "ticker")


def _ticks(rlx) -> int:
    return rlx("logs", "ticker").stdout.count("tick")


def test_top_default_columns_and_only_the_containers_processes(rlx, ticker):
    done = rlx("top", "ticker")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert lines[0].startswith("UID" + " " * 17 + "PID")  # docker's tabwriter: min width 20
    cmds = [line.split(None, 7)[7] for line in lines[1:]]
    assert any(c.startswith("sh -c sleep 300") for c in cmds) and "sleep 300" in cmds
    pid = int(rlx("inspect", "-f", "{{.State.Pid}}", "ticker").stdout)
    assert pid in [int(line.split()[1]) for line in lines[1:]]
    assert not any("pytest" in c or "rl top" in c for c in cmds)


def test_top_ps_options(rlx, ticker):
    done = rlx("container", "top", "ticker", "-o", "pid,comm")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"]
    assert {line.split()[1] for line in lines[1:]} >= {"sh", "sleep"}


def test_pause_unpause(rlx, ticker):
    done = rlx("pause", "ticker")
    assert (done.returncode, done.stdout) == (0, "ticker\n"), done.stderr
    assert rlx("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "ticker").stdout.strip() == "paused true"
    assert "(Paused)" in rlx("ps", "--format", "{{.Status}}").stdout
    before = _ticks(rlx)
    time.sleep(0.6)
    assert _ticks(rlx) == before  # frozen
    done = rlx("pause", "ticker")
    assert done.returncode == 1 and f"Container {ticker} is already paused" in done.stderr
    done = rlx("exec", "ticker", "true")
    assert (done.returncode, done.stderr) == (1, "Error: Container ticker is paused, unpause the container before exec\n")
    done = rlx("container", "unpause", "ticker")
    assert (done.returncode, done.stdout) == (0, "ticker\n"), done.stderr
    assert rlx("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "ticker").stdout.strip() == "running false"
    deadline = time.monotonic() + 10
    while _ticks(rlx) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ticks(rlx) > before  # running again
    done = rlx("unpause", "ticker")
    assert done.returncode == 1 and f"Container {ticker} is not paused" in done.stderr


def test_bad_input(rlx):
    done = rlx("create", "--name", "idle", "busybox", "true")
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    try:
        for command in ("top", "pause"):
            done = rlx(command, "idle")
            assert done.returncode == 1 and f"Container {cid} is not running" in done.stderr
    finally:
        rlx("rm", "-f", "idle")
    for command in ("top", "pause", "unpause"):
        done = rlx(command, "nope")
        assert done.returncode == 1 and "No such container: nope" in done.stderr
