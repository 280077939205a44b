"""storage/rootfs.py: the vfs flatten (whiteouts, opaque dirs, owners), overlay annotations, removal
of trees holding subordinate-id files. Runs inside a user namespace, as every user can."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rootless.engine.storage import rootfs
from rootless.runtime import idmap
from rootless.runtime.userns import run_in_userns

pytestmark = pytest.mark.integration


def _build_and_flatten(base: str) -> dict:
    b = Path(base)
    low, top, dest = b / "low", b / "top", b / "dest"
    for d in (low / "etc", low / "keep", low / "opq", top / "etc", top / "opq"):
        d.mkdir(parents=True)
    (low / "etc" / "gone").write_text("x")
    (low / "etc" / "stays").write_text("low")
    (low / "keep" / "file").write_text("k")
    (low / "opq" / "hidden").write_text("h")
    (low / "link").symlink_to("etc/stays")
    os.mknod(top / "etc" / "gone", 0o020000 | 0o600, 0)          # overlay whiteout
    (top / "etc" / "stays").write_text("top")
    os.setxattr(top / "opq", "user.overlay.opaque", b"y")        # opaque directory
    (top / "opq" / "new").write_text("n")
    (top / "owned").write_text("o")
    os.chmod(top / "owned", 0o640)
    dest.mkdir()
    for layer in (low, top):
        rootfs.flatten_layer(layer, dest)
    listing = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    return {"list": listing, "stays": (dest / "etc" / "stays").read_text(),
            "link": os.readlink(dest / "link"), "mode": oct(os.stat(dest / "owned").st_mode & 0o777)}


def test_vfs_flatten(tmp_path):
    mapping = idmap.choose()
    got = run_in_userns(mapping, lambda: _build_and_flatten(str(tmp_path)))
    assert got["list"] == ["etc", "etc/stays", "keep", "keep/file", "link", "opq", "opq/new", "owned"]
    assert got["stays"] == "top" and got["link"] == "etc/stays" and got["mode"] == "0o640"


def test_prepare_overlay_annotations(tmp_path):
    layers = [tmp_path / "l1", tmp_path / "l2"]
    (tmp_path / "c").mkdir()
    path, ann = rootfs.prepare(tmp_path / "c", "overlay", layers, idmap.choose())
    assert path == str(tmp_path / "c" / "rootfs")
    assert ann == {"rl.rootfs.driver": "overlay", "rl.rootfs.lowerdir": f"{layers[1]}:{layers[0]}",
                   "rl.rootfs.upperdir": str(tmp_path / "c" / "upper"), "rl.rootfs.workdir": str(tmp_path / "c" / "work")}
    assert all((tmp_path / "c" / d).is_dir() for d in ("rootfs", "upper", "work"))


def test_remove_tree_with_foreign_owners(tmp_path):
    mapping = idmap.choose()
    target = tmp_path / "upper"

    def make() -> None:
        (target / "d").mkdir(parents=True)
        (target / "d" / "f").write_text("x")
        if mapping.size > 1:
            os.chown(target / "d" / "f", 1000, 1000)
            os.chown(target / "d", 1000, 1000)
        os.chmod(target / "d", 0o700)
    run_in_userns(mapping, make)
    rootfs.remove_tree(target, mapping)
    assert not target.exists()
