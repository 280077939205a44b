"""The rl.rootfs.* annotations (the rootfs part of the container's plan) and config.json loading:
what is refused before any mount, and the options each driver gets."""

import json

import pytest

from rootless.errors import RlError, StorageError
from rootless.runtime import bundle, rootfs


@pytest.mark.parametrize("annotations, message", [
    ({"rl.rootfs.driver": "zfs"}, "unknown rootfs driver 'zfs'"),
    ({"rl.rootfs.driver": "overlay"}, "rl.rootfs.lowerdir is required"),
    ({"rl.rootfs.driver": "overlay", "rl.rootfs.lowerdir": "/l", "rl.rootfs.upperdir": "/u"}, "goes with"),
    ({"rl.rootfs.driver": "fuse-overlayfs", "rl.rootfs.lowerdir": "/l", "rl.rootfs.workdir": "/w"}, "goes with"),
])
def test_bad_annotations(tmp_path, annotations, message):
    with pytest.raises(StorageError, match=message):
        rootfs.pairs(str(tmp_path / "merged"), annotations, userns=True)
    with pytest.raises(StorageError, match=message):
        rootfs.mount(str(tmp_path / "merged"), annotations, userns=True)


@pytest.mark.parametrize("annotations", [{}, {"rl.rootfs.driver": "vfs"}])
def test_vfs_mounts_nothing(tmp_path, annotations):
    assert rootfs.pairs(str(tmp_path), annotations, userns=True) == [("root", str(tmp_path)), ("driver", "vfs")]
    assert rootfs.mount(str(tmp_path), annotations, userns=True) == "vfs"


@pytest.mark.parametrize("driver, userns, kernel", [
    ("overlay", True, "lowerdir=/a:/b,upperdir=/u,workdir=/w,userxattr"),
    ("overlay", False, "lowerdir=/a:/b,upperdir=/u,workdir=/w"),
    ("fuse-overlayfs", True, "lowerdir=/a:/b,upperdir=/u,workdir=/w,userxattr"),
])
def test_overlay_pairs(monkeypatch, driver, userns, kernel):
    monkeypatch.setenv("PATH", "/opt/bin")
    got = dict(rootfs.pairs("/m", {"rl.rootfs.driver": driver, "rl.rootfs.lowerdir": "/a:/b",
                                   "rl.rootfs.upperdir": "/u", "rl.rootfs.workdir": "/w"}, userns))
    assert got["root"] == "/m" and got["driver"] == driver
    assert got["overlay"] == kernel
    assert got["fuse"] == "lowerdir=/a:/b,upperdir=/u,workdir=/w"      # fuse-overlayfs: never userxattr
    assert got["fusepath"].startswith("/opt/bin:") and "/usr/bin" in got["fusepath"]
    assert "fusedir" not in got                                        # from source: nothing bundled


@pytest.mark.parametrize("lower, upper, work, userxattr, want", [
    ("/a:/b", "/u", "/w", True, "lowerdir=/a:/b,upperdir=/u,workdir=/w,userxattr"),
    ("/a", "/u", "/w", False, "lowerdir=/a,upperdir=/u,workdir=/w"),
    ("/a:/b", "", "", True, "lowerdir=/a:/b,userxattr"),
])
def test_overlay_options(lower, upper, work, userxattr, want):
    assert rootfs.overlay_options(lower, upper, work, userxattr) == want


def test_bundle_load_and_rootfs(tmp_path):
    with pytest.raises(RlError, match="no config.json"):
        bundle.load(str(tmp_path))
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(RlError, match="not an OCI runtime config"):
        bundle.load(str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RlError, match="cannot read"):
        bundle.load(str(tmp_path))
    cfg = {"root": {"path": "rootfs"}, "process": {"args": ["true"]}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert bundle.load(str(tmp_path)) == cfg
    assert bundle.rootfs(str(tmp_path), cfg) == str(tmp_path / "rootfs")
    assert bundle.rootfs(str(tmp_path), {"root": {"path": "/abs/root"}}) == "/abs/root"
