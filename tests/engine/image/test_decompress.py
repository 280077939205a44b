"""The decompressing, hashing producer of layer streams (rootless/engine/image/decompress.py):
gzip (multi-member, zero padded), zstd and plain, the diff_id over exactly the uncompressed bytes,
bounded chunks, and errors for cut or corrupt streams."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest
import zstandard

from rootless.engine.image import decompress as dc


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def drain(blob: bytes) -> tuple[bytes, dc.Chunks]:
    chunks = dc.Chunks(io.BytesIO(blob))
    try:
        out = []
        while (c := chunks.get()) is not None:
            out.append(c)
    finally:
        chunks.close()
    return b"".join(out), chunks


def test_compressions_hash_the_uncompressed_tar() -> None:
    raw = tar_of({"a": bytes(range(256)) * 4000, "b": b"b" * 10})
    half = len(raw) // 2
    blobs = {"plain": raw, "gzip": gzip.compress(raw), "zstd": zstandard.ZstdCompressor().compress(raw),
             "gzip two members": gzip.compress(raw[:half]) + gzip.compress(raw[half:]),
             "gzip zero padded": gzip.compress(raw) + bytes(100)}
    for name, blob in blobs.items():
        out, chunks = drain(blob)
        assert out == raw, name
        assert chunks.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest(), name
        assert chunks.total == len(raw), name
    with pytest.raises(dc.StreamError, match="garbage"):
        drain(gzip.compress(raw) + b"junk")


def test_corrupt_gzip_raises() -> None:
    blob = bytearray(gzip.compress(tar_of({"a": b"A" * 5000})))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(Exception):
        drain(bytes(blob))
    with pytest.raises(dc.StreamError, match="ended early"):
        drain(gzip.compress(tar_of({"a": b"A"}))[:-9])


def test_no_hash_when_not_asked() -> None:
    chunks = dc.Chunks(io.BytesIO(b"x" * 100), hashing=False)
    try:
        assert chunks.get() == b"x" * 100 and chunks.get() is None
    finally:
        chunks.close()
    assert chunks.diff_id is None


def test_zeros_bomb_stays_chunked() -> None:
    raw = tar_of({"z": bytes(40 << 20)})
    chunks = dc.Chunks(io.BytesIO(gzip.compress(raw, 1)))
    try:
        sizes = []
        while (c := chunks.get()) is not None:
            sizes.append(len(c))
    finally:
        chunks.close()
    assert max(sizes) <= dc.OUT_MAX and sum(sizes) == len(raw)
