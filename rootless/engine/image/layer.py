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
- Files: created with their final mode (open O_CREAT|O_EXCL|O_NOFOLLOW, write, futimens, close);
  fchown/fchmod only when the owner differs from the unpacker's own ids, the mode has set-id or
  sticky bits, the entry has xattrs or its directory is set-gid. No fsync. Entries are created
  in tar order by one thread (creating from several was tried and dropped, docs/performance.md,
  "pull": ext4's per-group locks); only the data of large files goes to a second one.

How it runs: a helper process (`python -m rootless.engine.image.layerstore`) reads the compressed
stream on its stdin, unshares a user namespace (the parent writes the id maps with
`rootless.runtime.idmap.apply`), decompresses (isal, zstandard) and hashes the tar (the diff_id)
in a producer thread (`decompress.Chunks`), while the main thread hands each chunk to the tree
writer in C (`untar.TreeWriter`, native/rl_untar.c: the parse and the rules above, GIL released;
why C is said in rl_untar.h), and renames tmp/<chain>... to layers/<chain>. A separate,
single-threaded process keeps namespaces away from the (threaded) CLI process, lets the download
stream straight into the unpacker, and runs decompression on another core.
`LayerWriter` (parent side) holds a per-chain_id lock across check-unpack-rename, so two
processes pulling the same layer both succeed and only one does the work; a killed unpack
leaves a tmp dir that the next writer of that chain_id removes.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import BinaryIO

from rootless.engine.image import untar
from rootless.engine.image.decompress import Chunks
from rootless.engine.image.placement import make_root, mark_top_dir  # noqa: F401 (re-export)
from rootless.errors import RlError, StorageError

CHUNK = 1 << 20
USER_OPAQUE_XATTR = "user.overlay.opaque"   # what native/rl_untar.c sets on opaque directories
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


def unpack(stream: BinaryIO, dest: Path, *, owners: str = "keep", trusted_xattrs: bool = False,
           hashing: bool = True) -> dict:
    """Unpack the (compressed) layer `stream` into the new directory `dest`, in this process.

    Returns {"diff_id": sha256 of the uncompressed tar (None unless `hashing`), "notes": [...]}.
    A tar that stops before its end-of-archive block is refused (a cut stream is not a layer).
    On error `dest` may hold a partial tree: callers unpack into a temp dir and remove it.
    """
    chunks = Chunks(stream, hashing)
    try:
        return _unpack(chunks, dest, owners, trusted_xattrs)
    finally:
        chunks.close()


def _unpack(chunks: Chunks, dest: Path, owners: str, trusted_xattrs: bool) -> dict:
    make_root(dest)   # a spot where ext4 creates files fast (placement.py)
    try:
        writer = untar.TreeWriter(str(dest), owners=owners, trusted_xattrs=trusted_xattrs)
        try:
            ended = False
            while (chunk := chunks.get()) is not None:   # after the end-of-archive block: drained
                ended = ended or writer.feed(chunk)       # for the diff_id, not tar
            writer.finish()
            notes, size = writer.notes, writer.size
        finally:
            writer.close()
    except untar.UntarError as e:
        raise _error(e, dest) from None
    except RlError:
        raise
    except Exception as e:  # isal's, zstandard's and the stream's errors: no layer either
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(f"no space left on the store's filesystem ({dest.parent})") from e
        if isinstance(e, OSError) and e.filename:
            raise StorageError(f"unpacking layer: {e.strerror}: {e.filename}") from e
        raise StorageError(f"corrupt layer: {e}") from e
    return {"diff_id": chunks.diff_id, "notes": notes, "size": size, "tar_size": chunks.total}


def _error(e: untar.UntarError, dest: Path) -> RlError:
    if e.kind == "unsafe":
        return UnsafeLayer(e.message)
    if e.kind == "opaque":
        return StorageError(e.message, "the store's filesystem must support user extended attributes "
                                       "(use --root on ext4, xfs or btrfs)")
    if e.kind == "os":
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageError(f"no space left on the store's filesystem ({dest.parent})")
        return StorageError(f"unpacking layer: {os.strerror(e.errno)}: {e.path}")
    return StorageError(f"corrupt layer: {e.message}")
