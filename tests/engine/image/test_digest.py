"""sha256 helpers, chain ids (OCI image-spec config.md) and the verifying blob writer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

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
