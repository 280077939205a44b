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


class DirectFile:
    """A new file written with O_DIRECT: whole blocks from one reused, page-aligned buffer, so
    no page cache is filled for a blob nobody reads soon (a pulled layer's compressed bytes, kept
    for push and save). Filling page cache means fresh pages, which cost 3-5 ms of CPU per MB on
    this machine kind (docs/performance.md, "pull"); O_DIRECT costs ~0.3 ms per MB and the disk's
    time. The tail, and everything after a filesystem refuses O_DIRECT (EINVAL: tmpfs, some
    FUSE and network filesystems), is written the usual way."""

    SIZE = 1 << 20
    ALIGN = 4096   # the largest logical block size in use; the buffer is page-aligned

    def __init__(self, path: Path) -> None:
        import mmap

        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_DIRECT, 0o600)
        self._direct = True
        self._buf = mmap.mmap(-1, self.SIZE)
        self._view = memoryview(self._buf)
        self._fill = 0

    def write(self, data) -> int:
        src = memoryview(data)
        total = len(src)
        while src:
            n = min(len(src), self.SIZE - self._fill)
            self._view[self._fill:self._fill + n] = src[:n]
            self._fill += n
            src = src[n:]
            if self._fill == self.SIZE:
                self._flush()
        return total

    def _flush(self) -> None:
        import errno  # here: `rl run` imports this module, and needs no DirectFile

        view = self._view[:self._fill]
        if self._direct and self._fill % self.ALIGN:
            self._buffered()
        while view:
            try:
                n = os.write(self._fd, view)
            except OSError as e:
                if e.errno != errno.EINVAL or not self._direct:
                    raise
                self._buffered()
                continue
            view = view[n:]      # a short write leaves an unaligned rest: EINVAL, then buffered
        self._fill = 0

    def _buffered(self) -> None:
        import fcntl

        fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~os.O_DIRECT)
        self._direct = False

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            if self._fill:
                self._flush()
        finally:
            os.close(self._fd)
            self._fd = -1
            self._view.release()
            self._buf.close()


def _open_direct(path: Path):
    import errno

    try:
        return DirectFile(path)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        return open(path, "xb")


class VerifyingWriter:
    """Write a blob to `dest` through a temp file; `commit()` checks size/digest and renames.
    `direct`: a large blob written around the page cache (`DirectFile`)."""

    def __init__(self, dest: Path, expected: str | None = None, expected_size: int | None = None, *,
                 direct: bool = False) -> None:
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
        self._file = _open_direct(self._tmp) if direct else open(self._tmp, "wb")

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
        try:
            self._file.close()
        except OSError as e:   # a DirectFile writes its last block here
            self.abort()
            raise StorageError(f"writing to {self.dest.parent}: {e.strerror}",
                               "free some space or use --root on another filesystem") from e
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
        try:
            self._file.close()
        except OSError:
            pass          # the temp file goes anyway
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
