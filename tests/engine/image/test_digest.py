"""sha256 helpers, chain ids (OCI image-spec config.md) and the verifying blob writer."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from rootless.engine.image import digest
from rootless.engine.image.digest import DigestMismatch, VerifyingWriter, chain_ids, sha256_bytes
from rootless.errors import StorageError

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def test_chain_ids_follow_the_spec() -> None:
    assert chain_ids([]) == []
    assert chain_ids([A]) == [A]
    second = "sha256:" + hashlib.sha256(f"{A} {B}".encode()).hexdigest()
    assert chain_ids([A, B]) == [A, second]
    with pytest.raises(StorageError):
        chain_ids(["md5:abc"])


def test_writer_renames_only_verified_content(tmp_path: Path) -> None:
    data = b"content"
    dest = tmp_path / "blobs" / "x"
    with VerifyingWriter(dest, sha256_bytes(data), len(data)) as w:
        w.write(data)
        assert w.commit() == sha256_bytes(data)
    assert dest.read_bytes() == data
    bad = tmp_path / "blobs" / "y"
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        with VerifyingWriter(bad, A) as w:
            w.write(data)
            w.commit()
    with pytest.raises(DigestMismatch, match="size mismatch"):
        with VerifyingWriter(bad, sha256_bytes(data), 3) as w:
            w.write(data)
            w.commit()
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == ["x"]


# --- DirectFile: blobs written around the page cache ---------------------------------------------------
@pytest.mark.parametrize("sizes", [[0], [1], [4096], [(1 << 20) - 1, 2], [65536] * 40, [3, 1 << 20, 5000, 7]])
def test_direct_writer_keeps_every_byte(tmp_path: Path, sizes: list[int]) -> None:
    pieces = [os.urandom(n) for n in sizes]
    data = b"".join(pieces)
    dest = tmp_path / "blob"
    with VerifyingWriter(dest, "sha256:" + hashlib.sha256(data).hexdigest(), len(data), direct=True) as w:
        assert isinstance(w._file, digest.DirectFile)
        for piece in pieces:
            w.write(piece)
        w.commit()
    assert dest.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["blob"]


def test_direct_writer_falls_back_when_open_refuses(tmp_path: Path, monkeypatch) -> None:
    """A filesystem without O_DIRECT (EINVAL at open): the blob is written the usual way."""
    real_open = os.open

    def no_direct(path, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_direct)
    with VerifyingWriter(tmp_path / "blob", direct=True) as w:
        assert not isinstance(w._file, digest.DirectFile)
        w.write(b"x" * 5000)
        w.commit()
    assert (tmp_path / "blob").read_bytes() == b"x" * 5000


def test_direct_writer_falls_back_when_a_write_refuses(tmp_path: Path, monkeypatch) -> None:
    """Opened with O_DIRECT, then a write refused (EINVAL, as some FUSE filesystems answer): the
    rest is written without O_DIRECT, nothing lost."""
    import fcntl

    real_write, refused = os.write, []

    def picky(fd, data):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT and not refused:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", picky)
    data = os.urandom(3 << 20)
    with VerifyingWriter(tmp_path / "blob", direct=True) as w:
        w.write(data)
        w.commit()
    assert refused == [1 << 20] and (tmp_path / "blob").read_bytes() == data


def test_direct_writer_mismatch_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(DigestMismatch):
        with VerifyingWriter(tmp_path / "blob", "sha256:" + "0" * 64, direct=True) as w:
            w.write(b"y" * 70000)
            w.commit()
    assert list(tmp_path.iterdir()) == []
