"""Unpacking one layer tar (gzip, zstd or plain) into its own directory, safely and once.

What lands on disk (the format the overlay drivers read, see DESIGN.md "Root filesystem"):
- `.wh.NAME` becomes an overlay whiteout: a character device 0/0 named NAME. Since Linux 5.8
  mknod(2) of the 0/0 "whiteout" device needs no CAP_MKNOD, so this works inside an unprivileged
  user namespace too; kernel overlayfs (with or without `userxattr`) and fuse-overlayfs both read it.
- `.wh..wh..opq` makes its directory opaque: xattr `user.overlay.opaque=y` (what overlayfs reads
  when mounted with `userxattr` in a user namespace, and what fuse-overlayfs reads); as real root
  also `trusted.overlay.opaque=y` (overlayfs mounted without `userxattr`). A vfs driver must
  interpret the same two markers when it flattens layers.
- Owners: inside the store's user namespace files keep their image owners (container uid 1000 is
  host subuid+999); with a single-id mapping every owner becomes 0, i.e. the user (a note says
  so once, like podman's ignore_chown_errors). Device nodes that cannot be made are skipped with
  a note.
- Safety: entries are resolved against an in-memory model of what this unpack created (the
  target starts empty), so an absolute name, a `..` component, a parent that is a symlink or a
  file, or a hard link to anything not created by this layer raises UnsafeLayer before anything
  is written outside; the final component is opened with O_NOFOLLOW / replaced, never followed.

How it runs: a helper process (`python -m rootless.engine.image.layer`) reads the compressed
stream on its stdin, unshares a user namespace (the parent writes the id maps with
`rootless.runtime.idmap.apply`), decompresses (isal's threaded igzip, zstandard), hashes the tar
to check the diff_id, writes files without fsync, and renames tmp/<chain>... to layers/<chain>.
A separate, single-threaded process keeps namespaces away from the (threaded) CLI process, lets
the download stream straight into the unpacker, and runs decompression on another core.
`LayerWriter` (parent side) holds a per-chain_id lock across check-unpack-rename, so two
processes pulling the same layer both succeed and only one does the work; a killed unpack
leaves a tmp dir that the next writer of that chain_id removes.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO

from rootless.errors import RlError, StorageError

CHUNK = 1 << 20
OPAQUE_MARKER = ".wh..wh..opq"
WHITEOUT_PREFIX = ".wh."
USER_OPAQUE_XATTR = "user.overlay.opaque"
TRUSTED_OPAQUE_XATTR = "trusted.overlay.opaque"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class UnsafeLayer(StorageError):
    """A layer entry would land outside the layer directory (the tar-slip family)."""


class DiffIdMismatch(StorageError):
    """The uncompressed layer does not hash to the diff_id the image config announces."""


# ------------------------------------------------------------------------------------------------
# reading: decompress -> hash -> tarfile, one pass
class _HashingReader:
    """Forward-only file object over the uncompressed tar; hashes every byte (the diff_id)."""

    def __init__(self, raw: BinaryIO, hashing: bool = True) -> None:
        self.raw = raw
        self.hash = hashlib.sha256() if hashing else None
        self.pos = 0
        self.name = None

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self.raw.read(CHUNK):
                parts.append(chunk)
            data = b"".join(parts)
        else:
            data = self.raw.read(n)
            if 0 < len(data) < n:
                parts = [data]
                got = len(data)
                while got < n and (more := self.raw.read(n - got)):
                    parts.append(more)
                    got += len(more)
                data = b"".join(parts)
        if self.hash is not None:
            self.hash.update(data)
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        target = offset if whence == 0 else self.pos + offset
        if whence not in (0, 1) or target < self.pos:
            raise io.UnsupportedOperation("layer streams only seek forward")
        while self.pos < target and self.read(min(CHUNK, target - self.pos)):
            pass
        return self.pos

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def diff_id(self) -> str | None:
        return None if self.hash is None else "sha256:" + self.hash.hexdigest()


def open_decompressed(stream: BinaryIO) -> BinaryIO:
    """Wrap `stream` in the decompressor its magic bytes call for (gzip, zstd) or none."""
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream, CHUNK)  # type: ignore[arg-type]
    head = buffered.peek(4)[:4]
    if head.startswith(_GZIP_MAGIC):
        try:
            from isal import igzip_threaded

            return igzip_threaded.open(buffered, "rb", threads=1)
        except ImportError:  # pragma: no cover - isal is a dependency; gzip is the fallback
            import gzip

            return gzip.GzipFile(fileobj=buffered, mode="rb")
    if head == _ZSTD_MAGIC:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(buffered, read_size=CHUNK,
                                                           read_across_frames=True)
    return buffered


# ------------------------------------------------------------------------------------------------
# writing: the in-memory model of the layer dir and one method per entry type
class Unpacker:
    """Writes the members of one tar into the empty directory `dest`."""

    def __init__(self, dest: Path, *, owners: str = "keep", trusted_xattrs: bool = False) -> None:
        self.root = str(dest)
        self.owners = owners                    # "keep" (chown to the image's ids) or "zero"
        self.trusted_xattrs = trusted_xattrs
        self.kinds: dict[str, str] = {"": "dir"}  # relative path -> dir|file|link|other|whiteout
        self.dir_times: list[tuple[str, float]] = []
        self.notes: list[str] = []
        self.size = 0                             # bytes of file content (docker's layer Size)
        self._noted: set[str] = set()

    def note(self, key: str, text: str) -> None:
        if key not in self._noted:
            self._noted.add(key)
            self.notes.append(text)

    # --- names ------------------------------------------------------------------------------
    @staticmethod
    def relative(name: str) -> str:
        if name.startswith("/"):
            raise UnsafeLayer(f"layer entry {name!r} is an absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise UnsafeLayer(f"layer entry {name!r} contains '..'")
        return "/".join(parts)

    def parent_dir(self, rel: str, name: str) -> str:
        """Create missing parents (0755) and check that every parent is a real directory."""
        parent = rel.rpartition("/")[0]
        if self.kinds.get(parent) == "dir":
            return parent
        prefix = ""
        for part in parent.split("/"):
            prefix = f"{prefix}/{part}" if prefix else part
            kind = self.kinds.get(prefix)
            if kind == "whiteout":   # `.wh.x` then `x/...`: x is a new, opaque directory
                self.clear(prefix)
                os.mkdir(self.abs(prefix), 0o755)
                self.set_opaque(self.abs(prefix))
                self.kinds[prefix] = "dir"
            elif kind is None:
                os.mkdir(self.abs(prefix), 0o755)
                self.kinds[prefix] = "dir"
            elif kind != "dir":
                raise UnsafeLayer(f"layer entry {name!r}: {prefix!r} is a {kind}, not a directory")
        return parent

    def abs(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def clear(self, rel: str, keep_dir: bool = False) -> None:
        """Remove what this layer already put at `rel` (later tar entries win)."""
        kind = self.kinds.get(rel)
        if kind is None or (kind == "dir" and keep_dir):
            return
        if kind == "dir":
            shutil.rmtree(self.abs(rel))
            for key in [k for k in self.kinds if k.startswith(rel + "/")]:
                del self.kinds[key]
        else:
            os.unlink(self.abs(rel))
        del self.kinds[rel]

    # --- entries ----------------------------------------------------------------------------
    def add(self, tf: tarfile.TarFile, member: tarfile.TarInfo, reader: _HashingReader) -> None:
        rel = self.relative(member.name)
        base = rel.rpartition("/")[2]
        if base.startswith(WHITEOUT_PREFIX):
            return self.whiteout(rel, member.name)
        if rel == "":
            if member.isdir():
                self.metadata(self.root, member)
                self.dir_times.append((self.root, member.mtime))
            return None
        self.parent_dir(rel, member.name)
        if member.isdir():
            return self.directory(rel, member)
        self.clear(rel)
        path = self.abs(rel)
        if member.isreg():
            self.regular(path, member, tf, reader)
            self.kinds[rel] = "file"
            self.size += member.size
        elif member.issym():
            os.symlink(member.linkname, path)
            self.kinds[rel] = "link"
            self.metadata(path, member, follow=False)
        elif member.islnk():
            self.hardlink(rel, path, member)
        elif member.isfifo():
            os.mkfifo(path, 0o600)
            self.kinds[rel] = "other"
            self.metadata(path, member)
        elif member.ischr() or member.isblk():
            self.device(rel, path, member)
        else:
            self.note(f"type{member.type!r}", f"skipped {member.name}: unsupported tar entry type {member.type!r}")
        return None

    def whiteout(self, rel: str, name: str) -> None:
        parent, _, base = rel.rpartition("/")
        self.parent_dir(rel, name)
        if base == OPAQUE_MARKER:
            self.set_opaque(self.abs(parent))
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # aufs metadata (.wh..wh.plnk etc.): nothing to apply
        target = f"{parent}/{base[len(WHITEOUT_PREFIX):]}" if parent else base[len(WHITEOUT_PREFIX):]
        if target.rpartition("/")[2] in ("", ".", ".."):
            raise UnsafeLayer(f"layer entry {name!r} is not a valid whiteout")
        self.clear(target)
        os.mknod(self.abs(target), stat.S_IFCHR | 0o000, os.makedev(0, 0))
        self.kinds[target] = "whiteout"

    def set_opaque(self, path: str) -> None:
        try:
            os.setxattr(path, USER_OPAQUE_XATTR, b"y")
        except OSError as e:
            raise StorageError(f"cannot mark {path} opaque: setxattr {USER_OPAQUE_XATTR}: {e.strerror}",
                               "the store's filesystem must support user extended attributes "
                               "(use --root on ext4, xfs or btrfs)") from e
        if self.trusted_xattrs:
            try:
                os.setxattr(path, TRUSTED_OPAQUE_XATTR, b"y")
            except OSError:
                self.note("trusted", "could not set trusted.overlay.opaque; overlay must use userxattr")

    def directory(self, rel: str, member: tarfile.TarInfo) -> None:
        replaces_whiteout = self.kinds.get(rel) == "whiteout"
        self.clear(rel, keep_dir=True)
        path = self.abs(rel)
        if rel not in self.kinds:
            os.mkdir(path, 0o700)
            self.kinds[rel] = "dir"
            if replaces_whiteout:  # the lower layers' directory must not show through
                self.set_opaque(path)
        self.metadata(path, member)
        self.dir_times.append((path, member.mtime))

    def regular(self, path: str, member: tarfile.TarInfo, tf: tarfile.TarFile,
                reader: _HashingReader) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            if member.sparse is not None:
                source = tf.extractfile(member)
                while chunk := source.read(CHUNK):  # type: ignore[union-attr]
                    _write_all(fd, chunk)
            else:
                reader.seek(member.offset_data)
                remaining = member.size
                while remaining:
                    chunk = reader.read(min(CHUNK, remaining))
                    if not chunk:
                        raise tarfile.ReadError("unexpected end of data")
                    _write_all(fd, chunk)
                    remaining -= len(chunk)
            self.metadata(fd, member)
        finally:
            os.close(fd)

    def hardlink(self, rel: str, path: str, member: tarfile.TarInfo) -> None:
        target = self.relative(member.linkname)
        if self.kinds.get(target) not in ("file", "link", "other"):
            raise UnsafeLayer(f"layer entry {member.name!r} is a hard link to {member.linkname!r}, "
                              "which is not a file of this layer")
        os.link(self.abs(target), path, follow_symlinks=False)
        self.kinds[rel] = self.kinds[target]

    def device(self, rel: str, path: str, member: tarfile.TarInfo) -> None:
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        try:
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        except PermissionError:
            self.note("dev", f"skipped device nodes (e.g. {member.name}): not permitted without root; "
                      "the container's /dev provides the usual ones")
            return
        self.kinds[rel] = "other"
        self.metadata(path, member)

    def metadata(self, target: int | str, member: tarfile.TarInfo, follow: bool = True) -> None:
        """Owner, mode, xattrs and (for non-directories) mtime; chown first (it clears setuid)."""
        self.chown(target, member, follow)
        if follow:
            os.chmod(target, member.mode & 0o7777)
            self.xattrs(target, member)
        if not (isinstance(target, str) and member.isdir()):
            os.utime(target, ns=(int(member.mtime * 1e9),) * 2, follow_symlinks=follow)

    def chown(self, target: int | str, member: tarfile.TarInfo, follow: bool) -> None:
        if self.owners == "zero":
            if member.uid or member.gid:
                self.note("owners", "this user has no subordinate id range: every file of the image "
                          "belongs to the user (container uid 0); add a range in /etc/subuid and "
                          "/etc/subgid to keep the image's owners")
            return
        try:
            os.chown(target, member.uid, member.gid, follow_symlinks=follow)
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            self.note(f"id{member.uid}:{member.gid}", f"{member.name}: owner {member.uid}:{member.gid} "
                      "is outside the id mapping; kept as 0:0")

    def xattrs(self, target: int | str, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[len("SCHILY.xattr."):]
            if name.startswith("trusted.") or name.startswith("user.overlay."):
                continue
            try:
                os.setxattr(target, name, value.encode("utf-8", "surrogateescape"))
            except OSError as e:
                self.note(f"xattr{name}", f"could not set xattr {name} ({e.strerror}); skipped")

    def finish(self) -> None:
        for path, mtime in reversed(self.dir_times):
            os.utime(path, ns=(int(mtime * 1e9),) * 2)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def unpack(stream: BinaryIO, dest: Path, *, owners: str = "keep", trusted_xattrs: bool = False,
           hashing: bool = True) -> dict:
    """Unpack the (compressed) layer `stream` into the new directory `dest`, in this process.

    Returns {"diff_id": sha256 of the uncompressed tar (None unless `hashing`), "notes": [...]}.
    A tar that stops before its end-of-archive block is refused (a cut stream is not a layer).
    On error `dest` may hold a partial tree: callers unpack into a temp dir and remove it.
    """
    raw = open_decompressed(stream)
    try:
        return _unpack(_HashingReader(raw, hashing), dest, owners, trusted_xattrs)
    finally:
        if raw is not stream and hasattr(raw, "close"):
            try:
                raw.close()
            except (OSError, EOFError, ValueError):
                pass


def _unpack(reader: _HashingReader, dest: Path, owners: str, trusted_xattrs: bool) -> dict:
    os.mkdir(dest, 0o755)
    unpacker = Unpacker(dest, owners=owners, trusted_xattrs=trusted_xattrs)
    try:
        tf = tarfile.TarFile(fileobj=reader, mode="r")  # type: ignore[arg-type]
        while (member := tf.next()) is not None:
            unpacker.add(tf, member, reader)
            tf.members.clear()  # keep memory flat over thousands of entries
        if reader.pos < tf.offset + tarfile.BLOCKSIZE:
            raise tarfile.ReadError("unexpected end of data (no end-of-archive marker)")
        reader.drain()
        unpacker.finish()
    except RlError:
        raise
    except Exception as e:  # tarfile, zlib/isal, zstd and OS errors all mean: no layer
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(f"no space left on the store's filesystem ({dest.parent})") from e
        if isinstance(e, OSError) and e.filename:
            raise StorageError(f"unpacking layer: {e.strerror}: {e.filename}") from e
        raise StorageError(f"corrupt layer: {e}") from e
    return {"diff_id": reader.diff_id, "notes": unpacker.notes, "size": unpacker.size,
            "tar_size": reader.pos}
