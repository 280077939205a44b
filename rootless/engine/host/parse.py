"""Pure parsers of the host's text files and tool outputs, for the probes in `host.probes`.

Nothing here touches the system: each function takes the text the probe read (mountinfo, os-release,
/proc/self/cgroup, /etc/subuid, `tool --version` output) and returns plain values, so every rule is
tested table-driven without a kernel.
"""

from __future__ import annotations

import re
from rootless.plainclass import dataclass

#: filesystems a store root must not live on: overlay upper/work dirs fail or misbehave there
#: (DESIGN.md "Data on disk"); the value is the kind named in the warning
NETWORK_FS = {
    "nfs": "network", "nfs4": "network", "cifs": "network", "smb3": "network", "smbfs": "network",
    "lustre": "network", "gpfs": "network", "beegfs": "network", "ceph": "network", "afs": "network",
    "9p": "network", "panfs": "network", "glusterfs": "network", "fuse.glusterfs": "network",
    "fuse.sshfs": "network", "fuse.cephfs": "network", "fuse.beegfs": "network",
}


@dataclass(frozen=True)
class Mount:
    """One line of /proc/PID/mountinfo (proc(5))."""

    mount_id: int
    parent_id: int
    device: str  # "major:minor"
    root: str
    mountpoint: str
    options: str
    fstype: str
    source: str
    super_options: str


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """Every well-formed line of a mountinfo file, in order (later lines mount over earlier ones)."""
    mounts = []
    for line in text.split("\n"):  # not splitlines(): \r, \x0b... may appear raw in a path
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            mounts.append(Mount(
                mount_id=int(fields[0]), parent_id=int(fields[1]), device=fields[2],
                root=_unescape(fields[3]), mountpoint=_unescape(fields[4]), options=fields[5],
                fstype=fields[sep + 1], source=_unescape(fields[sep + 2]),
                super_options=fields[sep + 3] if len(fields) > sep + 3 else "",
            ))
        except (ValueError, IndexError):
            continue
    return mounts


def _under(path: str, mountpoint: str) -> bool:
    return mountpoint == "/" or path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/")


def mount_for_path(mounts: list[Mount], path: str) -> Mount | None:
    """The mount that holds the absolute, symlink-free `path`: the longest mountpoint prefix, the
    last one listed when several are stacked on the same mountpoint."""
    best: Mount | None = None
    for mount in mounts:
        if _under(path, mount.mountpoint) and (best is None or len(mount.mountpoint) >= len(best.mountpoint)):
            best = mount
    return best


def classify_fs(fstype: str) -> str:
    """"local", "network", "overlay" or "fuse": what a store root on that filesystem means."""
    if fstype in NETWORK_FS:
        return NETWORK_FS[fstype]
    if fstype == "overlay":
        return "overlay"
    if fstype == "fuse" or fstype.startswith("fuse."):
        return "fuse"
    return "local"


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of os-release(5), shell quoting removed."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        values[key.strip()] = value
    return values


def pretty_os_name(os_release: dict[str, str]) -> str:
    """PRETTY_NAME, else NAME VERSION, else "Linux" (os-release(5)'s own default)."""
    if os_release.get("PRETTY_NAME"):
        return os_release["PRETTY_NAME"]
    name = os_release.get("NAME", "Linux")
    return f"{name} {os_release['VERSION']}" if os_release.get("VERSION") else name


@dataclass(frozen=True)
class CgroupLayout:
    version: str  # "v2", "v1", "hybrid" or "none"
    v2_mountpoint: str | None
    v1_controllers: tuple[str, ...]


def cgroup_layout(mounts: list[Mount]) -> CgroupLayout:
    """Classify the cgroup setup from the mount table: only a cgroup2 mount is v2 (unified), only
    cgroup (v1) mounts is v1, both is hybrid (systemd's layout with /sys/fs/cgroup/unified)."""
    v2 = [m.mountpoint for m in mounts if m.fstype == "cgroup2"]
    v1 = [m for m in mounts if m.fstype == "cgroup"]
    controllers = sorted({opt for m in v1 for opt in m.super_options.split(",")
                          if opt not in ("rw", "ro") and not opt.startswith("name=")
                          and "=" not in opt and opt not in ("relatime", "noatime", "nosuid", "nodev", "noexec")})
    if v2 and v1:
        version = "hybrid"
    elif v2:
        version = "v2"
    elif v1:
        version = "v1"
    else:
        version = "none"
    preferred = [p for p in v2 if p in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")]
    return CgroupLayout(version, (preferred or v2 or [None])[0], tuple(controllers))


def v2_cgroup_path(proc_cgroup: str) -> str | None:
    """This process's cgroup in the unified (v2) hierarchy: the "0::<path>" line of
    /proc/self/cgroup (cgroups(7)); None when there is no such line."""
    for line in proc_cgroup.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            return path or "/"
    return None


def parse_version(output: str, tool: str = "") -> str:
    """The version in a `tool --version` output: "slirp4netns version 1.2.0" -> "1.2.0",
    "fuse-overlayfs: version 1.10" -> "1.10", "pasta 2023_12_30.f091893" -> "2023_12_30.f091893".
    Lines that start with the tool's name are preferred (fuse-overlayfs prints fusermount3's
    version first); "unknown" when the tool does not say (Debian's pasta: "pasta unknown version").
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    own = [line for line in lines if tool and line.startswith(tool)]
    for line in own or lines:
        m = re.search(r"\bversion[:\s]+v?(\d[\w.+~:-]*)", line, re.IGNORECASE)
        if m:
            return m.group(1)
    first = (own or lines or [""])[0]
    m = re.match(r"\S+\s+v?(\d[\w.+~:-]*)$", first)
    return m.group(1) if m else "unknown"


def parse_meminfo_total(text: str) -> int | None:
    """MemTotal of /proc/meminfo in bytes."""
    m = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(m.group(1)) * 1024 if m else None


def format_bytes(size: int | None) -> str:
    """Docker's binary units with two decimals: 25275154432 -> "23.54GiB"."""
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.4g}{unit}" if unit == "B" else f"{value:.2f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")
