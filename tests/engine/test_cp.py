"""Unit tests of rootless.engine.cp's pure parts: argument splitting, container paths, safe
extraction (table-driven, a hypothesis property, real tar files in tmp_path)."""

from __future__ import annotations

import io
import os
import tarfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rootless.engine import cp
from rootless.errors import RlError


@pytest.mark.parametrize("arg, expected", [
    ("c:/etc", ("c", "/etc")),
    ("c:etc/x", ("c", "etc/x")),
    ("c:", ("c", "")),
    ("/abs:path", (None, "/abs:path")),
    ("./c:x", (None, "./c:x")),
    ("plain", (None, "plain")),
    ("-", (None, "-")),
])
def test_split_arg(arg, expected):
    assert cp.split_arg(arg) == expected


@pytest.mark.parametrize("path, expected", [
    ("/etc/passwd", "/etc/passwd"),
    ("etc/passwd", "/etc/passwd"),
    ("//etc//x/", "/etc/x"),
    ("/a/../b", "/b"),
    ("/d/.", "/d/."),
    ("/", "/"),
    ("", "/"),
])
def test_container_path(path, expected):
    assert cp.container_path(path) == expected


@pytest.mark.parametrize("path", ["..", "../etc", "/../x", "a/../../x", "/a/b/../../../etc/passwd"])
def test_container_path_refuses_escapes(path):
    with pytest.raises(RlError, match="escapes the container's root filesystem"):
        cp.container_path(path)


@given(st.text(alphabet="ab./", max_size=30))
def test_container_path_property(path):
    try:
        result = cp.container_path(path)
    except RlError:
        return
    assert result.startswith("/") and ".." not in result.split("/")


def _tar(entries) -> tarfile.TarFile:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tf:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(extra)
                tf.addfile(info, io.BytesIO(extra))
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra
                tf.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, extra
                tf.addfile(info)
            else:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
    data.seek(0)
    return tarfile.open(fileobj=data)


@pytest.mark.parametrize("entries", [
    [("../evil", "file", b"x")],
    [("/abs", "file", b"x")],
    [("a/../../evil", "file", b"x")],
    [("link", "symlink", "/"), ("link/evil", "file", b"x")],
    [("link", "symlink", "../.."), ("link/evil", "file", b"x")],
    [("hard", "hardlink", "../../etc/passwd")],
])
def test_safe_extract_refuses(tmp_path, entries):
    base = tmp_path / "base"
    base.mkdir()
    with pytest.raises(RlError, match="refusing"):
        cp.safe_extract(_tar(entries), str(base))
    assert not (tmp_path / "evil").exists()


def test_safe_extract_replaces_an_existing_symlink(tmp_path):
    base, outside = tmp_path / "base", tmp_path / "outside"
    base.mkdir()
    outside.write_text("keep\n")
    os.symlink(outside, base / "f")
    cp.safe_extract(_tar([("f", "file", b"new\n")]), str(base))
    assert outside.read_text() == "keep\n" and (base / "f").read_text() == "new\n"
    assert not (base / "f").is_symlink()


def test_safe_extract_rename_and_links(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    tf = _tar([("d", "dir", None), ("d/f", "file", b"x"), ("d/l", "symlink", "/etc"), ("d/h", "hardlink", "d/f")])
    cp.safe_extract(tf, str(base), rename=("d", "new"))
    assert (base / "new" / "f").read_bytes() == b"x"
    assert os.readlink(base / "new" / "l") == "/etc"
    assert os.stat(base / "new" / "h").st_ino == os.stat(base / "new" / "f").st_ino
