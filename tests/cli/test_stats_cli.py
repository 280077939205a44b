"""`rl stats` / `rl container stats` end to end: real containers and the kernel's counters (/proc
on this host: hybrid cgroups, no delegation), as root, rltest (subuid range) and rltest1 (none)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]

HEADER = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("stats"), fixture_images) as environ:
        yield environ


@pytest.fixture(scope="module")
def pair(env):
    """"busy" spins one CPU with two extra sleepers (3 processes) and writes 8 MiB; "calm" sleeps
    with --network none; "made" is created only."""
    def run(*args):
        done = rl.run_rl(*args, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()
    busy = run("run", "-d", "--name", "busy", "busybox", "sh", "-c",
               "dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null; sync; "
               "ping -c 2 -W 1 10.0.2.100 >/dev/null 2>&1; sleep 300 & sleep 300 & while :; do :; done")
    calm = run("run", "-d", "--name", "calm", "--network", "none", "busybox", "sleep", "300")
    made = run("create", "--name", "made", "busybox", "true")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _pids(env, "busy") < 3:
        time.sleep(0.2)
    yield {"busy": busy, "calm": calm, "made": made}
    rl.run_rl("rm", "-f", "busy", "calm", "made", env=env)


def _pids(env, name: str) -> int:
    out = rl.run_rl("stats", "--no-stream", "--format", "{{.PIDs}}", name, env=env).stdout.strip()
    return int(out) if out.isdigit() else 0


def _table(text: str) -> tuple[list[str], dict[str, list[str]]]:
    lines = text.splitlines()
    header = re.split(r" {3,}", lines[0].strip())
    rows = {}
    for line in lines[1:]:
        cells = re.split(r" {2,}", line.strip())
        rows[cells[1]] = cells
    return header, rows


def test_no_stream_table(rlx, pair):
    done = rlx("stats", "--no-stream")
    assert done.returncode == 0, done.stderr
    header, rows = _table(done.stdout)
    assert header == HEADER
    assert set(rows) == {"busy", "calm"}  # running ones only
    busy, calm = rows["busy"], rows["calm"]
    assert busy[0] == pair["busy"][:12]
    assert float(busy[2].rstrip("%")) > 5.0 and calm[2] == "0.00%"
    used, limit = busy[3].split(" / ")
    with open("/proc/meminfo") as f:
        total_kib = int(next(line for line in f if line.startswith("MemTotal:")).split()[1])
    from rootless.engine.stats import bytes_size
    assert limit == bytes_size(total_kib * 1024) and used != "0B"  # no limit: the host's memory
    assert calm[5] == "0B / 0B"                                      # --network none
    assert busy[5].split(" / ")[1] != "0B"                           # ARP/ICMP sent through slirp4netns
    written = busy[6].split(" / ")[1]
    assert written.endswith("MB") and float(written[:-2]) >= 8.0     # dd's 8 MiB, counted for its parent
    assert busy[7] == "3" and calm[7] == "1"


def test_all_no_trunc_format_and_container_alias(rlx, pair):
    done = rlx("container", "stats", "--no-stream", "-a", "--no-trunc", "--format", "{{.ID}} {{.Name}} {{.PIDs}}")
    assert done.returncode == 0, done.stderr
    lines = set(done.stdout.splitlines())
    assert {f"{pair['busy']} busy 3", f"{pair['calm']} calm 1", f"{pair['made']} made 0"} <= lines
    done = rlx("stats", "--no-stream", "--format", "table {{.Container}}\t{{.MemPerc}}", "calm", pair["busy"][:8])
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["CONTAINER", "MEM", "%"] and rows[0].split()[0] == "calm"
    assert rows[1].split()[0] == pair["busy"][:8]  # .Container: the name or id as given
    data = json.loads(rlx("stats", "--no-stream", "--format", "json", "made").stdout)
    assert data == {"BlockIO": "0B / 0B", "CPUPerc": "0.00%", "Container": "made", "ID": pair["made"][:12],
                    "MemPerc": "0.00%", "MemUsage": "0B / 0B", "Name": "made", "NetIO": "0B / 0B", "PIDs": "0"}


def test_unknown_container(rlx, pair):
    done = rlx("stats", "--no-stream", "nope")
    assert done.returncode == 1 and "No such container: nope" in done.stderr


def test_streaming_blocks_until_interrupted(env, pair):
    proc = subprocess.Popen([*rl.rl_command(), "stats", "calm"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        headers = 0
        deadline = time.monotonic() + 20
        while headers < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert "\033[" not in line  # not a terminal: plain blocks, no redraw
            headers += line.startswith("CONTAINER ID")
        assert headers == 2
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err and err == ""


def test_streaming_redraws_on_a_terminal(env, pair):
    pexpect = pytest.importorskip("pexpect")
    try:
        for fd in os.openpty():
            os.close(fd)
    except OSError as e:  # seen here when something unmounts the host's /dev/pts
        pytest.skip(f"this host gives no pseudo-terminal (/dev/pts): {e}")
    child = pexpect.spawn(rl.rl_command()[0], ["stats", "busy", "calm"], env=env, encoding="utf-8", timeout=30)
    for _ in range(2):
        child.expect_exact("\033[2J\033[H")
        child.expect("CONTAINER ID +NAME")
        child.expect("calm")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
