"""sha256 digests in OCI spelling ("sha256:<hex>") and a writer that verifies while it writes.

`VerifyingWriter` is how every blob enters the store: bytes go to a temporary name in the
destination directory, are hashed on the way, and are renamed into place only when the digest
matches (so nothing unverified is ever found under a content address).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import BinaryIO, Iterable

from rootless.errors import StorageError

_HEX = frozenset("0123456789abcdef")
CHUNK = 1 << 20


class DigestMismatch(StorageError):
    """Content did not hash to the digest it was announced with."""


def sha256_bytes(data: bytes) -> str:
    import hashlib  # here: OpenSSL costs ~4 ms of start-up to commands that hash nothing

    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def is_sha256(digest: str) -> bool:
    """"sha256:" and 64 lower-case hex digits (without `re`: start-up)."""
    return (isinstance(digest, str) and len(digest) == 71 and digest.startswith("sha256:")
            and _HEX.issuperset(digest[7:]))


def check(digest: str) -> str:
    """Return `digest` if it is a well-formed sha256 digest, else raise StorageError."""
    if not is_sha256(digest):
        raise StorageError(f"invalid digest {digest!r}")
    return digest


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """OCI image-spec config.md: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    result: list[str] = []
    for diff_id in diff_ids:
        check(diff_id)
        result.append(diff_id if not result else sha256_bytes(f"{result[-1]} {diff_id}".encode()))
    return result


class VerifyingWriter:
    """Write a blob to `dest` through a temp file; `commit()` checks size/digest and renames."""

    def __init__(self, dest: Path, expected: str | None = None, expected_size: int | None = None) -> None:
        if expected is not None:
            check(expected)
        self.dest = dest
        self.expected = expected
        self.expected_size = expected_size
        self.size = 0
        import hashlib

        self._hash = hashlib.sha256()
        dest.parent.mkdir(parents=True, exist_ok=True)
        # ".tmp-<name>-<pid>-<random>": a writer killed with -9 leaves this; prune removes it
        self._tmp = dest.parent / f".tmp-{dest.name[:16]}-{os.getpid()}-{os.urandom(4).hex()}"
        self._file = open(self._tmp, "wb")

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        try:
            return self._file.write(data)
        except OSError as e:
            raise StorageError(f"writing to {self.dest.parent}: {e.strerror}",
                               "free some space or use --root on another filesystem") from e

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self) -> str:
        """Close, verify and rename into place; returns the digest. Raises DigestMismatch."""
        self._file.close()
        digest = self.digest
        try:
            if self.expected_size is not None and self.size != self.expected_size:
                raise DigestMismatch(f"size mismatch for {self.expected}: expected {self.expected_size} "
                                     f"bytes, got {self.size}")
            if self.expected is not None and digest != self.expected:
                raise DigestMismatch(f"digest mismatch: expected {self.expected}, got {digest}")
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.dest)
        except BaseException:
            self.abort()
            raise
        return digest

    def abort(self) -> None:
        self._file.close()
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "VerifyingWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def copy_verified(src: BinaryIO, dest: Path, expected: str | None = None,
                  expected_size: int | None = None) -> str:
    """Stream `src` into `dest` through a VerifyingWriter; returns the digest."""
    with VerifyingWriter(dest, expected, expected_size) as w:
        while chunk := src.read(CHUNK):
            w.write(chunk)
        return w.commit()
