"""The mount tree's plan (rootless.runtime.mounts: option parsing, the plan keys) and resolving a
destination in the rootfs (native/rl_mounts.c's rl_resolve, through `_rl_boot --resolve`)."""

from __future__ import annotations

import os
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from rootless.runtime import mounts
from rootless.runtime import syscalls as sc
from rootless.runtime.create import boot_binary


def resolve(root: str, dest: str) -> str:
    """rl_resolve(root, dest); OSError with its message when it fails."""
    done = subprocess.run([boot_binary(), "--resolve", root, dest], capture_output=True, text=True)
    if done.returncode:
        raise OSError(done.stdout.strip())
    return done.stdout[:-1]


@pytest.mark.parametrize("options, flags, propagation, data", [
    ([], 0, 0, ""),
    (["ro"], sc.MS_RDONLY, 0, ""),
    (["ro", "rw"], 0, 0, ""),
    (["nosuid", "nodev", "noexec"], sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, 0, ""),
    (["rbind", "ro", "rprivate"], sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY, sc.MS_PRIVATE | sc.MS_REC, ""),
    (["bind", "rslave"], sc.MS_BIND, sc.MS_SLAVE | sc.MS_REC, ""),
    (["nosuid", "strictatime", "mode=755", "size=65536k"], sc.MS_NOSUID | sc.MS_STRICTATIME, 0, "mode=755,size=65536k"),
    (["newinstance", "ptmxmode=0666", "mode=0620", "gid=5"], 0, 0, "newinstance,ptmxmode=0666,mode=0620,gid=5"),
    (["z", "Z", "U", "tmpcopyup", "rw"], 0, 0, ""),
    (["noatime", "nodiratime", "relatime"], sc.MS_NOATIME | mounts.MS_NODIRATIME | mounts.MS_RELATIME, 0, ""),
    (["suid", "dev", "exec"], 0, 0, ""),
])
def test_parse_options(options, flags, propagation, data):
    assert mounts.parse_options(options) == (flags, propagation, data)


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "usr" / "lib").mkdir(parents=True)
    os.symlink("/usr/lib", r / "lib")                 # absolute: means the rootfs's /usr/lib
    os.symlink("../../../../../../outside", r / "escape")
    os.symlink("usr", r / "rel")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    return str(r)


@pytest.mark.parametrize("dest, want", [
    ("/etc/hosts", "etc/hosts"),
    ("/lib/x", "usr/lib/x"),
    ("/rel/lib", "usr/lib"),
    ("/escape", "outside"),
    ("/../../etc", "etc"),
    ("//etc/./hosts", "etc/hosts"),
    ("/", ""),
])
def test_resolve_stays_in_root(root, dest, want):
    expected = os.path.join(root, want) if want else root
    assert resolve(root, dest) == expected


def test_resolve_symlink_loop(root):
    with pytest.raises(OSError, match="too many levels"):
        resolve(root, "/loop1/x")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["..", ".", "a", "b", "lib", "escape", "rel", ""]), max_size=8))
def test_resolve_never_leaves_root(tmp_path_factory, parts):
    root = tmp_path_factory.getbasetemp() / "resolve-root"
    if not root.exists():
        (root / "usr" / "lib").mkdir(parents=True)
        os.symlink("/usr/lib", root / "lib")
        os.symlink("../../../..", root / "escape")
        os.symlink("usr", root / "rel")
    got = resolve(str(root), "/" + "/".join(parts))
    assert got == str(root) or got.startswith(str(root) + "/")


def test_resolve_relative_link_in_a_subdirectory(root):
    os.symlink("../etc", os.path.join(root, "usr", "up"))
    assert resolve(root, "/usr/up/hosts") == os.path.join(root, "etc", "hosts")
    assert resolve(root, "/usr/lib/../../../etc") == os.path.join(root, "etc")


BIND, PLAIN = mounts.KIND_BIND, mounts.KIND_PLAIN


@pytest.mark.parametrize("mount, want", [
    ({"destination": "/proc", "type": "proc", "source": "proc"},
     [("mount", "/proc"), ("m.source", "proc"), ("m.flags", 0), ("m.kind", 5), ("m.type", "proc"), ("m.data", "")]),
    ({"destination": "/dev/pts", "type": "devpts", "options": ["nosuid", "gid=5"]},
     [("mount", "/dev/pts"), ("m.source", "devpts"), ("m.flags", sc.MS_NOSUID), ("m.kind", 2),
      ("m.type", "devpts"), ("m.data", "gid=5")]),
    ({"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "ro", "rslave"]},
     [("mount", "/data"), ("m.source", "/srv"), ("m.flags", sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY),
      ("m.kind", BIND), ("m.prop", sc.MS_SLAVE | sc.MS_REC)]),
    ({"destination": "/x", "source": "/srv", "options": ["bind"]},
     [("mount", "/x"), ("m.source", "/srv"), ("m.flags", sc.MS_BIND), ("m.kind", BIND)]),
    ({"destination": "/tmp", "type": "tmpfs", "options": ["size=1m"]},
     [("mount", "/tmp"), ("m.source", "tmpfs"), ("m.flags", 0), ("m.kind", PLAIN), ("m.type", "tmpfs"),
      ("m.data", "size=1m")]),
    ({"destination": "/sys/fs/cgroup", "type": "cgroup2"},
     [("mount", "/sys/fs/cgroup"), ("m.source", "cgroup2"), ("m.flags", 0), ("m.kind", 6), ("m.type", "cgroup2"),
      ("m.data", "")]),
    ({"destination": "/n"}, [("mount", "/n"), ("m.source", "none"), ("m.flags", 0), ("m.kind", PLAIN),
                             ("m.type", ""), ("m.data", "")]),
])
def test_mount_pairs(mount, want):
    assert mounts.mount_pairs(mount) == want


@pytest.mark.parametrize("config, want", [
    ({}, [("private", sc.MS_REC | sc.MS_PRIVATE)]),
    ({"linux": {"rootfsPropagation": "rslave"}},
     [("private", sc.MS_REC | sc.MS_SLAVE), ("rootprop", sc.MS_SLAVE | sc.MS_REC)]),
    ({"linux": {"rootfsPropagation": "shared"}}, [("private", sc.MS_REC | sc.MS_SLAVE), ("rootprop", sc.MS_SHARED)]),
    ({"linux": {"rootfsPropagation": "private"}}, [("private", sc.MS_REC | sc.MS_PRIVATE)]),
    ({"linux": {"maskedPaths": ["/proc/kcore", "/sys/firmware"], "readonlyPaths": ["/proc/sys"]},
      "root": {"readonly": True}},
     [("private", sc.MS_REC | sc.MS_PRIVATE), ("mask", "/proc/kcore"), ("mask", "/sys/firmware"),
      ("ro", "/proc/sys"), ("readonly", 1)]),
    # devices only when /dev is a mount of its own; the default ones are always bound
    ({"linux": {"devices": [{"path": "/dev/fuse"}]}}, [("private", sc.MS_REC | sc.MS_PRIVATE)]),
])
def test_tree_pairs(config, want):
    assert mounts.tree_pairs(config) == want


def test_tree_pairs_devices_follow_the_mounts():
    config = {"mounts": [{"destination": "/dev/", "type": "tmpfs", "source": "tmpfs"}],
              "linux": {"devices": [{"path": "/dev/fuse"}, {"path": "/dev/null"}, {"path": "/other"}]}}
    got = mounts.tree_pairs(config)
    assert got[0] == ("private", sc.MS_REC | sc.MS_PRIVATE)
    assert got[1] == ("mount", "/dev/")
    assert got[-2:] == [("dev", 1), ("device", "/dev/fuse")]
