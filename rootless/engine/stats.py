"""`rl stats`: a container's resource usage, sampled as docker's stats collector does.

A sample comes from the container's own cgroup when it has one (cgroup v2, delegated: the
container's first process sits in a cgroup holding only the container's processes, as
processes.freezer finds it): memory.current / memory.max, cpu.stat usage_usec, io.stat, pids.current.
Otherwise (cgroups v1, or no delegation: this host kind) from /proc, over the processes in the
container's pid namespace (processes.container_pids):
- CPU time: utime+stime+cutime+cstime of each process (/proc/PID/stat, clock ticks);
- memory: the PSS sum (/proc/PID/smaps_rollup; VmRSS where that is not readable), against the
  host's MemTotal (docker shows the host's memory when a container has no limit);
- block I/O: read_bytes / write_bytes of /proc/PID/io;
- PIDs: the thread count (docker's pids.current counts tasks).
Network I/O always comes from /proc/PID/net/dev of the container's first process: the bytes of
every interface of its network namespace but lo (nothing with --network host: docker has no
network to count then).

CPU % is docker's calculateCPUPercentUnix between two samples: the container's CPU time delta
over the host's (the first seven fields of /proc/stat's "cpu" line), times the online CPUs, x100.
`Usage.row()` formats a sample as docker's formatter.StatsContext does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rootless.engine.processes import CGROUP_ROOT, container_pids

NANOS = 1_000_000_000
TICKS = os.sysconf("SC_CLK_TCK")
BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


class Sample:
    """One reading of a container (all counters cumulative but memory and pids)."""

    __slots__ = ("cpu_ns", "system_ns", "online_cpus", "memory", "limit", "rx", "tx", "read", "write",
                 "pids", "source")

    def __init__(self, cpu_ns=0, system_ns=0, online_cpus=1, memory=0, limit=0, rx=0, tx=0, read=0,
                 write=0, pids=0, source="none") -> None:
        self.cpu_ns, self.system_ns, self.online_cpus = cpu_ns, system_ns, online_cpus
        self.memory, self.limit, self.rx, self.tx = memory, limit, rx, tx
        self.read, self.write, self.pids, self.source = read, write, pids, source


def cpu_percent(before: Sample, after: Sample) -> float:
    """docker's calculateCPUPercentUnix."""
    cpu_delta = after.cpu_ns - before.cpu_ns
    system_delta = after.system_ns - before.system_ns
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * after.online_cpus * 100.0
    return 0.0


# ------------------------------------------------------------------------------------------------
# docker's units (github.com/docker/go-units) and formatter.StatsContext
def _go_g(value: float, precision: int) -> str:
    """Go's %.<p>g (Python's %g drops the same zeros and picks the exponent form alike)."""
    return f"{value:.{precision}g}"


def _scaled(size: float, base: int, units, precision: int) -> str:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return _go_g(size, precision) + units[i]


def bytes_size(size: float) -> str:
    """units.BytesSize: binary units, 4 significant digits ("796KiB", "1.952GiB")."""
    return _scaled(size, 1024, BINARY, 4)


def human_size(size: float) -> str:
    """units.HumanSizeWithPrecision(size, 3): decimal units ("648B", "1.2kB")."""
    return _scaled(size, 1000, DECIMAL, 3)


class Usage:
    """A container's row: its id and name and what two samples say."""

    def __init__(self, cid: str, name: str, container: str, before: Sample | None, after: Sample | None) -> None:
        self.cid, self.name, self.container = cid, name, container
        self.before, self.after = before, after

    def row(self, no_trunc: bool = False) -> dict:
        """The fields docker's stats templates see (formatter.StatsContext)."""
        s = self.after
        cid = self.cid if no_trunc else self.cid[:12]
        base = {"ID": cid, "Name": self.name, "Container": self.container or cid}
        if s is None:  # not running: docker's zeros
            s = Sample()
        cpu = cpu_percent(self.before, s) if self.before is not None else 0.0
        mem_perc = s.memory / s.limit * 100.0 if s.limit else 0.0
        base.update(CPUPerc=f"{cpu:.2f}%", MemUsage=f"{bytes_size(s.memory)} / {bytes_size(s.limit)}",
                    MemPerc=f"{mem_perc:.2f}%", NetIO=f"{human_size(s.rx)} / {human_size(s.tx)}",
                    BlockIO=f"{human_size(s.read)} / {human_size(s.write)}", PIDs=str(s.pids))
        return base


# ------------------------------------------------------------------------------------------------
# reading the kernel
def system_ns(stat_text: str | None = None) -> int:
    """The host's CPU time: the first seven fields of /proc/stat's "cpu" line, in ns."""
    if stat_text is None:
        with open("/proc/stat", encoding="ascii") as f:
            stat_text = f.readline()
    for line in stat_text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            return sum(int(v) for v in parts[1:8]) * NANOS // TICKS
    raise ValueError("no cpu line in /proc/stat")


def mem_total(meminfo: str | None = None) -> int:
    if meminfo is None:
        with open("/proc/meminfo", encoding="ascii") as f:
            meminfo = f.read()
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def net_dev(text: str) -> tuple[int, int]:
    """(rx bytes, tx bytes) of /proc/PID/net/dev, every interface but lo."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, _, data = line.partition(":")
        fields = data.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def network(pid: int) -> tuple[int, int]:
    try:
        if os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            return 0, 0  # --network host: no network of its own
        with open(f"/proc/{pid}/net/dev", encoding="ascii") as f:
            return net_dev(f.read())
    except OSError:
        return 0, 0


def proc_cpu_ticks(stat_text: str) -> int:
    """utime+stime+cutime+cstime of a /proc/PID/stat line (the command may hold spaces)."""
    fields = stat_text.rpartition(")")[2].split()
    return sum(int(v) for v in fields[11:15])


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _keyed(text: str | None, key: str) -> int | None:
    """The number after `key` in a "Key: value [kB]" file."""
    for line in (text or "").splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return None


def proc_sample(init: int) -> Sample:
    """A sample from /proc over the container's processes."""
    s = Sample(source="proc", limit=mem_total())
    ticks = 0
    for pid in container_pids(init):
        stat, status = _read(f"/proc/{pid}/stat"), _read(f"/proc/{pid}/status")
        if stat is None or status is None:
            continue  # gone meanwhile
        ticks += proc_cpu_ticks(stat)
        s.pids += _keyed(status, "Threads:") or 1
        pss = _keyed(_read(f"/proc/{pid}/smaps_rollup"), "Pss:")
        s.memory += 1024 * (pss if pss is not None else _keyed(status, "VmRSS:") or 0)
        io = _read(f"/proc/{pid}/io")
        s.read += _keyed(io, "read_bytes:") or 0
        s.write += _keyed(io, "write_bytes:") or 0
    s.cpu_ns = ticks * NANOS // TICKS
    return s


def cgroup_dir(init: int) -> Path | None:
    """The container's own, delegated cgroup v2 directory with the stats files, if any."""
    from rootless.engine.processes import freezer

    directory = freezer(init, container_pids(init))
    return directory if directory is not None and (directory / "memory.current").exists() else None


def io_stat(text: str) -> tuple[int, int]:
    """(rbytes, wbytes) summed over the devices of a cgroup v2 io.stat."""
    read = write = 0
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, _, value = item.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                write += int(value)
    return read, write


def cgroup_sample(directory: Path, init: int = 0) -> Sample:
    """A sample from the container's cgroup v2 files."""
    def text(name: str) -> str:
        return (directory / name).read_text()

    s = Sample(source="cgroup")
    s.cpu_ns = (_keyed(text("cpu.stat"), "usage_usec") or 0) * 1000
    s.memory = int(text("memory.current"))
    for line in text("memory.stat").splitlines():  # docker (v2): usage minus inactive_file
        key, _, value = line.partition(" ")
        if key == "inactive_file" and int(value) < s.memory:
            s.memory -= int(value)
    limit = text("memory.max").strip()
    s.limit = mem_total() if limit == "max" else int(limit)
    try:
        s.read, s.write = io_stat(text("io.stat"))
    except OSError:
        pass
    try:
        s.pids = int(text("pids.current"))
    except OSError:  # no pids controller in the subtree
        s.pids = len(container_pids(init))
    return s


def sample(init: int) -> Sample | None:
    """A sample of the container whose first process is `init` (None once it is gone)."""
    if not init or not os.path.exists(f"/proc/{init}"):
        return None
    directory = cgroup_dir(init)
    s = None
    if directory is not None:
        try:
            s = cgroup_sample(directory, init)
        except (OSError, ValueError):
            s = None
    if s is None:
        s = proc_sample(init)
    s.rx, s.tx = network(init)
    s.system_ns = system_ns()
    s.online_cpus = os.sysconf("SC_NPROCESSORS_ONLN") or 1
    return s


def pid_of(record: dict) -> int:
    state = record.get("State") or {}
    return state.get("Pid", 0) if state.get("Status") in ("running", "paused", "unknown") else 0


def measure(records: list[dict], previous: dict[str, Sample] | None, interval: float) -> tuple[list[Usage], dict]:
    """One round: a sample of each container, and its CPU % against `previous` (else against a
    sample taken `interval` seconds earlier). Returns the rows and the samples for the next round."""
    if previous is None:
        previous = {r["Id"]: sample(pid_of(r)) for r in records}
        time.sleep(interval)
    current, rows = {}, []
    for r in records:
        now = sample(pid_of(r))
        current[r["Id"]] = now
        rows.append(Usage(r["Id"], r.get("Name", "").lstrip("/"), r.get("_ref", ""), previous.get(r["Id"]), now))
    return rows, current
