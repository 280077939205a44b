"""The rl.rootfs.* annotations and config.json loading: what is refused before any mount."""

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
        rootfs.mount(str(tmp_path / "merged"), annotations, userns=True)


@pytest.mark.parametrize("annotations", [{}, {"rl.rootfs.driver": "vfs"}])
def test_vfs_mounts_nothing(tmp_path, annotations):
    assert rootfs.mount(str(tmp_path), annotations, userns=True) == "vfs"


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
