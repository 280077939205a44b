"""pull._BlobSource: the registry stream as the unpacker reads it. Every byte is handed on once
and in order, never more than what leaves HOLD_BACK bytes unread before the digest is checked,
and a corrupt stream raises before its last bytes are handed on (property tests)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rootless.engine.image.digest import DigestMismatch, VerifyingWriter
from rootless.engine.image.pull import _BlobSource

HOLD = _BlobSource.HOLD_BACK


class Recorder:
    """The stream as the registry sends it, counting what was pulled from it."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces, self.sent = pieces, 0

    def __iter__(self):
        for piece in self.pieces:
            self.sent += len(piece)
            yield piece


def _source(tmp_path: Path, pieces: list[bytes], digest: str, size: int | None):
    rec = Recorder(pieces)
    writer = VerifyingWriter(tmp_path / "blob", None)
    src = _BlobSource(iter(rec), {"digest": digest, "size": size}, writer, lambda n: None)
    return src, rec, writer


pieces_strategy = st.lists(st.integers(0, 3 * HOLD).map(lambda n: bytes([n % 251]) * n), max_size=8)


@settings(max_examples=60, deadline=None)
@given(pieces=pieces_strategy, n=st.sampled_from([1000, HOLD, 1 << 20, -1]))
def test_every_byte_once_and_in_order(tmp_path_factory, pieces, n) -> None:
    data = b"".join(pieces)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    src, rec, writer = _source(tmp_path_factory.mktemp("b"), pieces, digest, len(data))
    out = []
    while chunk := src.read(n):
        assert n <= 0 or len(chunk) <= n
        out.append(chunk)
        if not src._done:   # before the end is verified, HOLD_BACK bytes stay behind
            assert rec.sent - sum(map(len, out)) >= HOLD
    assert b"".join(out) == data
    assert src.read(n) == b""
    writer.abort()


@settings(max_examples=40, deadline=None)
@given(pieces=pieces_strategy.filter(lambda p: sum(map(len, p)) > 0))
def test_a_corrupt_stream_raises_before_its_end_is_handed_on(tmp_path_factory, pieces) -> None:
    data = b"".join(pieces)
    src, rec, writer = _source(tmp_path_factory.mktemp("b"), pieces, "sha256:" + "0" * 64, len(data))
    handed = 0
    with pytest.raises(DigestMismatch):
        while chunk := src.read(1 << 20):
            handed += len(chunk)
    assert handed <= max(0, len(data) - HOLD)
    writer.abort()


@pytest.mark.parametrize("announced, sent", [(10, 11), (10, 9)])
def test_size_mismatch(tmp_path: Path, announced: int, sent: int) -> None:
    data = b"x" * sent
    src, _, writer = _source(tmp_path, [data], "sha256:" + hashlib.sha256(data).hexdigest(), announced)
    with pytest.raises(DigestMismatch, match="size mismatch"):
        while src.read(4):
            pass
    writer.abort()
