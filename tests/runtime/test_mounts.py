"""Pure parts of rootless.runtime.mounts: option parsing and resolving a destination in the rootfs."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, strategies as st

from rootless.runtime import mounts
from rootless.runtime import syscalls as sc


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
    assert mounts.resolve(root, dest) == expected


def test_resolve_symlink_loop(root):
    with pytest.raises(OSError, match="too many levels"):
        mounts.resolve(root, "/loop1/x")


@given(st.lists(st.sampled_from(["..", ".", "a", "b", "lib", "escape", "rel", ""]), max_size=8))
def test_resolve_never_leaves_root(tmp_path_factory, parts):
    root = tmp_path_factory.getbasetemp() / "resolve-root"
    if not root.exists():
        (root / "usr" / "lib").mkdir(parents=True)
        os.symlink("/usr/lib", root / "lib")
        os.symlink("../../../..", root / "escape")
        os.symlink("usr", root / "rel")
    got = mounts.resolve(str(root), "/" + "/".join(parts))
    assert got == str(root) or got.startswith(str(root) + "/")
