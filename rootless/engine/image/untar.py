"""The checked wrapper of `rootless._untar` (native/rl_untar.h): a layer tar, fed in chunks of any
size, written into one new, empty directory by C, or only parsed (`list_members`).

The only module that touches `rootless._untar`. Each call releases the GIL (cffi's API mode), so
the thread that decompresses and hashes the stream (`decompress.Chunks`) runs beside the writer.
Failures raise `UntarError` with `kind` "corrupt" (not a well-formed tar), "unsafe" (an entry would
land outside the directory: the tar-slip family), "os" (a system call failed: `errno` and `path`)
or "opaque" (the filesystem refused the user.overlay.opaque xattr); `layer.py` turns them into
rl's errors.
"""

from __future__ import annotations

from rootless._untar import ffi, lib

_KINDS = {lib.RL_UNTAR_ERR_CORRUPT: "corrupt", lib.RL_UNTAR_ERR_UNSAFE: "unsafe",
          lib.RL_UNTAR_ERR_OS: "os", lib.RL_UNTAR_ERR_OPAQUE: "opaque"}


class UntarError(Exception):
    """`kind`: corrupt|unsafe|os|opaque; `errno` for os/opaque; `path` (os): the entry's path."""

    def __init__(self, kind: str, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.kind, self.message, self.errno = kind, message, errno
        self.path = message if kind == "os" else None


class TreeWriter:
    """`TreeWriter(root, owners=, trusted_xattrs=)`: `feed(chunk)` until it returns True (the
    end-of-archive block was seen) or the stream ends, then `finish()` (a tar cut short raises;
    the directories get their times). `notes` and `size` (bytes of file content) after that."""

    def __init__(self, root: str, *, owners: str = "keep", trusted_xattrs: bool = False,
                 list_only: bool = False) -> None:
        flags = ((lib.RL_UNTAR_ZERO_OWNERS if owners == "zero" else 0)
                 | (lib.RL_UNTAR_TRUSTED_XATTRS if trusted_xattrs else 0)
                 | (lib.RL_UNTAR_LIST if list_only else 0))
        handle = lib.rl_untar_new(root.encode("utf-8", "surrogateescape"), flags)
        if handle == ffi.NULL:
            errno = ffi.errno
            raise UntarError("os", root, errno)
        self._u = ffi.gc(handle, lib.rl_untar_free)
        self._closed: tuple | None = None   # (notes, size, records) once the C side is freed

    def feed(self, chunk) -> bool:
        """Apply the next bytes of the tar; True once its end-of-archive block has been seen."""
        if self._closed:
            raise ValueError("TreeWriter is closed")
        status = lib.rl_untar_feed(self._u, ffi.from_buffer("unsigned char[]", chunk), len(chunk))
        if status < 0:
            raise self._error()
        return status == 1

    def finish(self) -> None:
        if self._closed:
            raise ValueError("TreeWriter is closed")
        if lib.rl_untar_finish(self._u) < 0:
            raise self._error()

    @property
    def notes(self) -> list[str]:
        if self._closed:
            return self._closed[0]
        size = ffi.new("size_t *")
        raw = ffi.unpack(lib.rl_untar_notes(self._u, size), size[0])
        return [n.decode("utf-8", "replace") for n in raw.split(b"\0") if n]

    @property
    def size(self) -> int:
        return self._closed[1] if self._closed else lib.rl_untar_size(self._u)

    def records(self) -> bytes:
        if self._closed:
            return self._closed[2]
        size = ffi.new("size_t *")
        return ffi.unpack(lib.rl_untar_records(self._u, size), size[0])

    def close(self) -> None:
        """Free the C side now (closes the directory and any half-written file); `notes`, `size`
        and `records()` keep their last values, and feeding again raises."""
        if not self._closed:
            self._closed = (self.notes, self.size, self.records())
            ffi.release(self._u)

    def _error(self) -> UntarError:
        message = ffi.string(lib.rl_untar_error(self._u)).decode("utf-8", "surrogateescape")
        return UntarError(_KINDS.get(lib.rl_untar_error_kind(self._u), "os"), message,
                          lib.rl_untar_errno(self._u))


_FIELDS = ("name", "type", "size", "mode", "uid", "gid", "mtime_sec", "mtime_nsec", "linkname",
           "devmajor", "devminor")
_REGULAR = (b"0", b"\0", b"7")


def list_members(tar: bytes) -> list[dict]:
    """Parse an uncompressed tar without writing anything: one dict per entry as the writer would
    see it (name, type (one byte), size, mode, uid, gid, mtime_sec, mtime_nsec, linkname,
    devmajor, devminor, xattrs (dict or None), data (regular files)). UntarError when bad."""
    writer = TreeWriter("", list_only=True)
    try:
        writer.feed(tar)
        writer.finish()
        raw = writer.records()
    finally:
        writer.close()
    members, pos = [], 0

    def field() -> bytes:
        nonlocal pos
        colon = raw.index(b":", pos)
        start, pos = colon + 1, colon + 1 + int(raw[pos:colon])
        return raw[start:pos]

    while pos < len(raw):
        m = {key: field() for key in _FIELDS}
        for key in ("name", "linkname"):
            m[key] = m[key].decode("utf-8", "surrogateescape")
        for key in _FIELDS[2:8] + _FIELDS[9:]:
            m[key] = int(m[key])
        count = int(field())
        m["xattrs"] = {field().decode("utf-8", "surrogateescape"): field() for _ in range(count)} or None
        m["data"] = raw[pos:pos + m["size"]] if m["type"] in _REGULAR else b""
        pos += len(m["data"])
        members.append(m)
    return members
