"""Pure parsers behind `rl info`: mountinfo, os-release, cgroup layout, tool versions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rootless.engine.host import parse

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc proc rw
24 22 0:22 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw
25 22 0:40 / /home rw,relatime shared:4 - nfs4 server:/export/home rw,vers=4.2
26 25 0:41 / /home/alice/scratch rw,relatime shared:5 - lustre 10.0.0.1@tcp:/fs rw
27 22 0:42 / /my\\040disk rw - xfs /dev/sdb1 rw
28 22 0:43 / /var/lib/data rw - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c
29 22 0:44 / /mnt/sshfs rw - fuse.sshfs host:/ rw,user_id=0
30 22 0:45 / /stacked rw - ext4 /dev/sdc1 rw
31 22 0:46 / /stacked rw - tmpfs tmpfs rw
garbage line
"""


def test_parse_mountinfo_fields_and_escapes():
    mounts = parse.parse_mountinfo(MOUNTINFO)
    assert len(mounts) == 10  # the garbage line is skipped
    assert mounts[0] == parse.Mount(22, 1, "8:1", "/", "/", "rw,relatime", "ext4", "/dev/sda1", "rw")
    assert mounts[5].mountpoint == "/my disk"
    assert mounts[3].super_options == "rw,vers=4.2"


def test_parse_mountinfo_without_optional_fields():
    line = "40 22 0:50 / /x rw - tmpfs none rw"
    (mount,) = parse.parse_mountinfo(line)
    assert (mount.mountpoint, mount.fstype, mount.source) == ("/x", "tmpfs", "none")


@pytest.mark.parametrize("path, mountpoint, fstype", [
    ("/", "/", "ext4"),
    ("/usr/lib", "/", "ext4"),
    ("/dev/shm", "/dev/shm", "tmpfs"),
    ("/dev/shm/rl/root", "/dev/shm", "tmpfs"),
    ("/dev/shmx", "/", "ext4"),                       # a prefix of the string is not a parent
    ("/home/alice/.local/share/rl", "/home", "nfs4"),
    ("/home/alice/scratch/rl", "/home/alice/scratch", "lustre"),
    ("/my disk/rl", "/my disk", "xfs"),
    ("/stacked/a", "/stacked", "tmpfs"),              # the last mount on a mountpoint wins
])
def test_mount_for_path(path, mountpoint, fstype):
    mount = parse.mount_for_path(parse.parse_mountinfo(MOUNTINFO), path)
    assert (mount.mountpoint, mount.fstype) == (mountpoint, fstype)


def test_mount_for_path_without_mounts():
    assert parse.mount_for_path([], "/x") is None


@pytest.mark.parametrize("fstype, kind", [
    ("ext4", "local"), ("xfs", "local"), ("btrfs", "local"), ("tmpfs", "local"),
    ("nfs", "network"), ("nfs4", "network"), ("lustre", "network"), ("gpfs", "network"),
    ("beegfs", "network"), ("cifs", "network"), ("fuse.sshfs", "network"), ("ceph", "network"),
    ("overlay", "overlay"), ("fuse", "fuse"), ("fuse.rclone", "fuse"),
])
def test_classify_fs(fstype, kind):
    assert parse.classify_fs(fstype) == kind


@pytest.mark.parametrize("text, expected", [
    ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n', "Debian GNU/Linux 12 (bookworm)"),
    ("NAME=Fedora\nVERSION='39 (Container Image)'\n", "Fedora 39 (Container Image)"),
    ("# comment\nNAME=\"Alpine Linux\"\n", "Alpine Linux"),
    ('PRETTY_NAME="Say \\"hi\\""\n', 'Say "hi"'),
    ("", "Linux"),
])
def test_os_release(text, expected):
    assert parse.pretty_os_name(parse.parse_os_release(text)) == expected


HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime shared:5 - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:6 - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:14 - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:15 - cgroup2 cgroup2 rw
"""
UNIFIED = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
LEGACY = "\n".join(HYBRID.splitlines()[:4])


@pytest.mark.parametrize("text, version, v2, controllers", [
    (HYBRID, "hybrid", "/sys/fs/cgroup/unified", ("cpu", "memory")),
    (UNIFIED, "v2", "/sys/fs/cgroup", ()),
    (LEGACY, "v1", None, ("cpu", "memory")),
    ("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", "none", None, ()),
])
def test_cgroup_layout(text, version, v2, controllers):
    layout = parse.cgroup_layout(parse.parse_mountinfo(text))
    assert (layout.version, layout.v2_mountpoint, layout.v1_controllers) == (version, v2, controllers)


@pytest.mark.parametrize("text, expected", [
    ("0::/user.slice/user-1000.slice/session-1.scope\n", "/user.slice/user-1000.slice/session-1.scope"),
    ("4:memory:/x\n1:cpu:/\n0::/\n", "/"),
    ("4:memory:/x\n1:cpu:/\n", None),
    ("", None),
])
def test_v2_cgroup_path(text, expected):
    assert parse.v2_cgroup_path(text) == expected


@pytest.mark.parametrize("output, tool, expected", [
    ("slirp4netns version 1.2.0\ncommit: 656041d\nlibslirp: 4.7.0\n", "slirp4netns", "1.2.0"),
    ("fusermount3 version: 3.14.0\nfuse-overlayfs: version 1.10\nFUSE library version 3.14.0\n",
     "fuse-overlayfs", "1.10"),
    ("pasta unknown version\nCopyright Red Hat\nGNU Affero GPL version 3 or later\n", "pasta", "unknown"),
    ("pasta 2023_12_30.f091893\nCopyright Red Hat\n", "pasta", "2023_12_30.f091893"),
    ("tool v2.1\n", "tool", "2.1"),
    ("", "x", "unknown"),
    ("some banner\nVersion: 4.5\n", "other", "4.5"),
])
def test_parse_version(output, tool, expected):
    assert parse.parse_version(output, tool) == expected


@pytest.mark.parametrize("text, expected", [
    ("MemTotal:       24684096 kB\nMemFree: 1 kB\n", 24684096 * 1024),
    ("MemFree: 1 kB\n", None),
])
def test_meminfo(text, expected):
    assert parse.parse_meminfo_total(text) == expected


@pytest.mark.parametrize("size, text", [
    (None, "unknown"), (512, "512B"), (2048, "2.00KiB"), (25276514304, "23.54GiB"), (1 << 50, "1024.00TiB"),
])
def test_format_bytes(size, text):
    assert parse.format_bytes(size) == text


_path_part = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                     min_size=1, max_size=12)


def _escape(path: str) -> str:
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)


@settings(database=None)  # never write .hypothesis/ into the repo
@given(st.lists(_path_part, min_size=1, max_size=4), st.sampled_from(["ext4", "tmpfs", "nfs4", "fuse.sshfs"]))
def test_mountinfo_roundtrip(parts, fstype):
    mountpoint = "/" + "/".join(parts)
    line = f"50 22 0:60 / {_escape(mountpoint)} rw,relatime shared:7 - {fstype} src rw"
    (mount,) = parse.parse_mountinfo(line)
    assert (mount.mountpoint, mount.fstype) == (mountpoint, fstype)
    assert parse.mount_for_path([mount], mountpoint + "/below") == mount


@settings(database=None)
@given(st.text(max_size=300))
def test_parsers_never_raise(text):
    parse.parse_mountinfo(text)
    parse.parse_os_release(text)
    parse.v2_cgroup_path(text)
    assert parse.parse_version(text, "x")
