"""stats.py: docker's units and CPU % (table-driven, values from go-units' and docker's own tests),
the parsers of /proc and cgroup v2 files, and a sample of this very process's pid namespace."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, strategies as st

from rootless.engine import stats
from rootless.engine.stats import Sample, Usage

KiB, MiB, GiB, TiB, PiB = 1024, 1024 ** 2, 1024 ** 3, 1024 ** 4, 1024 ** 5


@pytest.mark.parametrize("size,text", [
    (0, "0B"), (1, "1B"), (1023, "1023B"), (KiB, "1KiB"), (MiB, "1MiB"), (2 * MiB, "2MiB"),
    (3.42 * GiB, "3.42GiB"), (5.372 * TiB, "5.372TiB"), (2.22 * PiB, "2.22PiB"), (796 * KiB, "796KiB"),
    (2_096_128_000, "1.952GiB"), (1024 ** 9, "1024YiB"),
])
def test_bytes_size(size, text):
    assert stats.bytes_size(size) == text


@pytest.mark.parametrize("size,text", [
    (0, "0B"), (648, "648B"), (999, "999B"), (1000, "1kB"), (1024, "1.02kB"), (1_048_576, "1.05MB"),
    (2_000_000, "2MB"), (3.42e9, "3.42GB"), (53_248, "53.2kB"), (1e27, "1e+03YB"),
])
def test_human_size(size, text):
    assert stats.human_size(size) == text


@pytest.mark.parametrize("before,after,percent", [
    ((0, 0), (100, 1000), 20.0),          # 2 CPUs: 100/1000 * 2 * 100
    ((50, 1000), (50, 2000), 0.0),        # no CPU time spent
    ((100, 1000), (200, 1000), 0.0),      # no host time passed: docker reports 0
    ((200, 1000), (100, 2000), 0.0),      # counters went back (processes exited): 0, never negative
    ((0, 0), (1000, 1000), 200.0),        # both CPUs busy
])
def test_cpu_percent(before, after, percent):
    b = Sample(cpu_ns=before[0], system_ns=before[1], online_cpus=2)
    a = Sample(cpu_ns=after[0], system_ns=after[1], online_cpus=2)
    assert stats.cpu_percent(b, a) == pytest.approx(percent)


def test_row_fields_and_stopped_zeros():
    b = Sample(cpu_ns=0, system_ns=0, online_cpus=2)
    a = Sample(cpu_ns=25, system_ns=1000, online_cpus=2, memory=796 * KiB, limit=2 * GiB, rx=648, tx=0,
               read=1_048_576, write=53_248, pids=3)
    row = Usage("a" * 64, "web", "", b, a).row()
    assert row == {"ID": "a" * 12, "Name": "web", "Container": "a" * 12, "CPUPerc": "5.00%",
                   "MemUsage": "796KiB / 2GiB", "MemPerc": "0.04%", "NetIO": "648B / 0B",
                   "BlockIO": "1.05MB / 53.2kB", "PIDs": "3"}
    assert Usage("b" * 64, "x", "x", None, None).row(no_trunc=True) == {
        "ID": "b" * 64, "Name": "x", "Container": "x", "CPUPerc": "0.00%", "MemUsage": "0B / 0B",
        "MemPerc": "0.00%", "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0"}


NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  123456     10    0    0    0     0          0         0   123456     10    0    0    0     0       0          0
  tap0:     648      8    0    0    0     0          0         0      516      6    0    0    0     0       0          0
  eth1:1000000     8    0    0    0     0          0         0       10      6    0    0    0     0       0          0
"""


def test_net_dev_skips_lo():
    assert stats.net_dev(NET_DEV) == (1_000_648, 526)
    assert stats.net_dev(NET_DEV.split("\n    lo")[0]) == (0, 0)


def test_proc_cpu_ticks_with_odd_command_names():
    rest = "S 1 1 1 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 100 1000 10"
    assert stats.proc_cpu_ticks(f"42 (sh) {rest}") == 13
    assert stats.proc_cpu_ticks(f"42 (a) (b c)) {rest}") == 13


def test_system_ns_and_mem_total():
    line = "cpu  100 1 50 1000 5 0 2 7 0 0\ncpu0 1 1 1 1 1 1 1\n"
    assert stats.system_ns(line) == 1158 * stats.NANOS // stats.TICKS  # steal (7) not counted: docker's 7 fields
    assert stats.mem_total("MemFree: 1 kB\nMemTotal:       24681234 kB\n") == 24681234 * 1024
    with pytest.raises(ValueError):
        stats.system_ns("intr 1 2 3\n")


def test_io_stat():
    text = "8:0 rbytes=1000 wbytes=24 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=5 wbytes=6\n"
    assert stats.io_stat(text) == (1005, 30)
    assert stats.io_stat("") == (0, 0)


def test_cgroup_sample_from_v2_files(tmp_path):
    """The v2 file formats as the kernel writes them (Documentation/admin-guide/cgroup-v2.rst)."""
    files = {"cpu.stat": "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
             "memory.current": "10485760\n", "memory.stat": "anon 8388608\nfile 2097152\ninactive_file 1048576\n",
             "memory.max": "536870912\n", "io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n",
             "pids.current": "4\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    s = stats.cgroup_sample(tmp_path)
    assert (s.cpu_ns, s.memory, s.limit, s.read, s.write, s.pids, s.source) == (
        2_500_000, 9 * MiB, 512 * MiB, 4096, 8192, 4, "cgroup")
    (tmp_path / "memory.max").write_text("max\n")
    assert stats.cgroup_sample(tmp_path).limit == stats.mem_total()


def test_proc_sample_of_our_own_namespace():
    """Our pid namespace is the host's: container_pids gives the process alone, as with --pid=host."""
    s = stats.sample(os.getpid())
    assert s is not None and s.source in ("proc", "cgroup")
    assert s.cpu_ns > 0 and s.memory > 0 and s.limit >= s.memory and s.pids >= 1
    assert (s.rx, s.tx) == (0, 0)  # the host's network namespace: nothing counted, as docker
    assert stats.sample(0) is None


def test_measure_takes_two_samples():
    records = [{"Id": "c" * 64, "Name": "/me", "State": {"Status": "running", "Pid": os.getpid()}},
               {"Id": "d" * 64, "Name": "/off", "State": {"Status": "exited", "Pid": 0}}]
    rows, current = stats.measure(records, None, 0.05)
    assert [r.name for r in rows] == ["me", "off"] and rows[0].before is not None
    assert current["d" * 64] is None and rows[1].row()["PIDs"] == "0"
    rows2, _ = stats.measure(records, current, 0.05)
    assert rows2[0].before is current["c" * 64]


@given(st.floats(min_value=0, max_value=1e30, allow_nan=False))
def test_units_never_fail(size):
    assert stats.bytes_size(size)[-1] == "B" and stats.human_size(size)[-1] == "B"
