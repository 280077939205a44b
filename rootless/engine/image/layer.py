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

How it runs: a helper process (`python -m rootless.engine.image.layerstore`) reads the compressed
stream on its stdin, unshares a user namespace (the parent writes the id maps with
`rootless.runtime.idmap.apply`), decompresses (isal, zstandard) and hashes the tar (the diff_id)
in a producer thread, parses it with rl's own lean reader (`tarstream`: why not `tarfile` is
said there), writes files without fsync, and renames tmp/<chain>... to layers/<chain>.
A separate, single-threaded process keeps namespaces away from the (threaded) CLI process, lets
the download stream straight into the unpacker, and runs decompression on another core.
`LayerWriter` (parent side) holds a per-chain_id lock across check-unpack-rename, so two
processes pulling the same layer both succeed and only one does the work; a killed unpack
leaves a tmp dir that the next writer of that chain_id removes.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import stat
from pathlib import Path
from typing import BinaryIO

from rootless.engine.image import tarstream as ts
from rootless.engine.image.placement import make_root, mark_top_dir  # noqa: F401 (re-export)
from rootless.engine.image.tarstream import Input, Member
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
    """Writes the members of one tar into the empty directory `dest`, in tar order.

    Per regular file: open(O_CREAT|O_EXCL|O_NOFOLLOW) with its final mode, write, futimens,
    close; fchown/fchmod only when the owner differs from the unpacker's own ids, the mode has
    set-id/sticky bits or the umask is not 0 (the helper's is 0). Writing from several threads
    was tried and dropped (docs/performance.md, "pull"): file creation on ext4 here is kernel
    work under per-group locks, and threads added system time without saving wall time.
    """

    def __init__(self, dest: Path, *, owners: str = "keep", trusted_xattrs: bool = False) -> None:
        self.root = str(dest)
        self.owners = owners                    # "keep" (chown to the image's ids) or "zero"
        self.trusted_xattrs = trusted_xattrs
        self.kinds: dict[str, str] = {"": "dir"}  # relative path -> dir|file|link|other|whiteout
        self.dir_times: list[tuple[str, float]] = []
        self.notes: list[str] = []
        self.size = 0                             # bytes of file content (docker's layer Size)
        self._noted: set[str] = set()
        self._me = (os.geteuid(), os.getegid())
        self._setgid_dirs: set[str] = set()       # new files there get the dir's group: chown them
        umask = os.umask(0)
        os.umask(umask)
        self._umask = umask

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
    def add(self, member: Member, inp: Input) -> None:
        """Apply one entry; consumes its data from `inp` when it has any to write."""
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
        kind = member.type
        if member.isreg():
            self.regular(rel, path, member, inp)
            self.kinds[rel] = "file"
            self.size += member.size
        elif kind == ts.SYM:
            self.kinds[rel] = "link"
            self.symlink(rel, path, member)
        elif kind == ts.LNK:
            self.hardlink(rel, path, member)
        elif kind == ts.FIFO:
            os.mkfifo(path, 0o600)
            self.kinds[rel] = "other"
            self.metadata(path, member)
        elif kind in (ts.CHR, ts.BLK):
            self.device(rel, path, member)
        else:
            self.note(f"type{kind!r}", f"skipped {member.name}: unsupported tar entry type {kind.decode('latin-1')!r}")
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

    def directory(self, rel: str, member: Member) -> None:
        replaces_whiteout = self.kinds.get(rel) == "whiteout"
        self.clear(rel, keep_dir=True)
        path = self.abs(rel)
        simple = False
        if rel not in self.kinds:
            simple = self._simple(rel, member)
            os.mkdir(path, member.mode & 0o777 if simple else 0o700)
            self.kinds[rel] = "dir"
            if replaces_whiteout:  # the lower layers' directory must not show through
                self.set_opaque(path)
        if member.mode & stat.S_ISGID:
            self._setgid_dirs.add(rel)
        else:
            self._setgid_dirs.discard(rel)
        if not simple:
            self.metadata(path, member)
        elif self.owners == "zero" and (member.uid or member.gid):
            self.chown(path, member, True)   # only the note
        self.dir_times.append((path, member.mtime))

    def regular(self, rel: str, path: str, member: Member, inp: Input) -> None:
        """Write the file from views of the decompressed chunks (no copy)."""
        simple = self._simple(rel, member)
        mode = member.mode & 0o777 if simple else 0o600
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        try:
            for piece in inp.pieces(member.size):
                _write_all(fd, piece)
            if simple:
                if self.owners == "zero" and (member.uid or member.gid):
                    self.chown(fd, member, True)   # only the note
                os.utime(fd, ns=(int(member.mtime * 1e9),) * 2)
            else:
                self.metadata(fd, member)
        finally:
            os.close(fd)

    def _simple(self, rel: str, member: Member) -> bool:
        """Created with its final mode and owner already: no chown, no chmod needed."""
        return (not member.mode & 0o7000 and not self._umask and not member.xattrs
                and (self.owners == "zero" or (member.uid, member.gid) == self._me)
                and rel.rpartition("/")[0] not in self._setgid_dirs)

    def symlink(self, rel: str, path: str, member: Member) -> None:
        os.symlink(member.linkname, path)
        if not self._simple(rel, member):
            self.chown(path, member, False)
        os.utime(path, ns=(int(member.mtime * 1e9),) * 2, follow_symlinks=False)

    def hardlink(self, rel: str, path: str, member: Member) -> None:
        target = self.relative(member.linkname)
        if self.kinds.get(target) not in ("file", "link", "other"):
            raise UnsafeLayer(f"layer entry {member.name!r} is a hard link to {member.linkname!r}, "
                              "which is not a file of this layer")
        os.link(self.abs(target), path, follow_symlinks=False)
        self.kinds[rel] = self.kinds[target]

    def device(self, rel: str, path: str, member: Member) -> None:
        kind = stat.S_IFCHR if member.type == ts.CHR else stat.S_IFBLK
        try:
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        except PermissionError:
            self.note("dev", f"skipped device nodes (e.g. {member.name}): not permitted without root; "
                      "the container's /dev provides the usual ones")
            return
        self.kinds[rel] = "other"
        self.metadata(path, member)

    def metadata(self, target: int | str, member: Member, follow: bool = True) -> None:
        """Owner, mode, xattrs and (for non-directories) mtime; chown first (it clears setuid)."""
        self.chown(target, member, follow)
        if follow:
            os.chmod(target, member.mode & 0o7777)
            if member.xattrs:
                self.xattrs(target, member)
        if not (isinstance(target, str) and member.isdir()):
            os.utime(target, ns=(int(member.mtime * 1e9),) * 2, follow_symlinks=follow)

    def chown(self, target: int | str, member: Member, follow: bool) -> None:
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

    def xattrs(self, target: int | str, member: Member) -> None:
        for name, value in (member.xattrs or {}).items():
            if name.startswith("trusted.") or name.startswith("user.overlay."):
                continue
            try:
                os.setxattr(target, name, value)
            except OSError as e:
                self.note(f"xattr{name}", f"could not set xattr {name} ({e.strerror}); skipped")

    def finish(self) -> None:
        for path, mtime in reversed(self.dir_times):
            os.utime(path, ns=(int(mtime * 1e9),) * 2)


def _write_all(fd: int, data) -> None:
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
    chunks = ts.Chunks(stream, hashing)
    try:
        return _unpack(chunks, dest, owners, trusted_xattrs)
    finally:
        chunks.close()


def _unpack(chunks: ts.Chunks, dest: Path, owners: str, trusted_xattrs: bool) -> dict:
    make_root(dest)   # a spot where ext4 creates files fast (placement.py)
    unpacker = Unpacker(dest, owners=owners, trusted_xattrs=trusted_xattrs)
    inp = ts.Input(chunks)
    globals_: dict = {}
    try:
        while (member := ts.next_member(inp, globals_)) is not None:
            end = inp.offset + member.size + (-member.size % ts.BLOCK)
            unpacker.add(member, inp)
            inp.skip(end - inp.offset)
        inp.drain()
        unpacker.finish()
    except RlError:
        raise
    except Exception as e:  # tar, isal, zstd and OS errors all mean: no layer
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(f"no space left on the store's filesystem ({dest.parent})") from e
        if isinstance(e, OSError) and e.filename:
            raise StorageError(f"unpacking layer: {e.strerror}: {e.filename}") from e
        raise StorageError(f"corrupt layer: {e}") from e
    return {"diff_id": chunks.diff_id, "notes": unpacker.notes, "size": unpacker.size,
            "tar_size": inp.offset}
