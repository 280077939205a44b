"""Where a layer's root directory goes on disk: a spot where creating thousands of files is fast.

Why (docs/performance.md, "pull"): on ext4 without a journal (this machine kind) the inode
allocator skips every free inode deleted in the last 60-360 s (`recently_deleted`): it walks the
block group's bitmap from its start and looks each such inode up, so creating a file in a group
emptied minutes before (a removed store, another program's `rm -rf`) costs 0.1-1.7 ms instead of
~15 µs. ext4 puts a file in its directory's flex group and a plain subdirectory next to its
parent; only the children of a `chattr +T` directory (FS_TOPDIR_FL) are spread by the Orlov
allocator, starting from a hash of the child's name.

So the layer's scratch parent (Paths.tmp) is flagged +T and the layer root, created in it under a
fresh name, lands in a flex group chosen afresh for each layer; the whole tree then stays there.
`make_root(dest)` probes the spot: it allocates `PROBE_INODES` unnamed inodes there (O_TMPFILE,
freed on close) and keeps the candidate when their median cost is low; otherwise it tries another
name (another starting point) and at last keeps the cheapest candidate. On filesystems without
the flag or O_TMPFILE the first candidate is kept (one failed ioctl/open more).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000

PROBE_INODES = 32          # unnamed inodes allocated to price a candidate
FAST_NS = 45_000           # a median create at most this cheap: keep the candidate at once
TRIES = 4                  # candidates at most


def mark_top_dir(path: str | Path) -> None:
    """Best effort: flag `path` as the top of a directory hierarchy (`chattr +T`, ext4's
    FS_TOPDIR_FL) so that ext4's Orlov allocator spreads its subdirectories over block groups
    instead of packing them next to `path`. Filesystems without the flag ignore it."""
    import fcntl
    import struct

    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
        if not flags & _FS_TOPDIR_FL:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", flags | _FS_TOPDIR_FL))
    except OSError:
        pass   # ENOTTY/EOPNOTSUPP (tmpfs, overlay...), EPERM: only a placement hint
    finally:
        os.close(fd)


def probe_cost(directory: str, count: int = PROBE_INODES) -> int | None:
    """Median nanoseconds to allocate an inode in `directory` (unnamed files, freed on close);
    None when the filesystem cannot make unnamed files (then nothing is known)."""
    flags = getattr(os, "O_TMPFILE", 0)
    if not flags:
        return None
    costs, fds = [], []
    try:
        for _ in range(count):
            start = time.perf_counter_ns()
            try:
                fds.append(os.open(directory, flags | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            except OSError as e:
                if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                    return None
                raise
            costs.append(time.perf_counter_ns() - start)
    finally:
        for fd in fds:
            os.close(fd)
    costs.sort()
    return costs[len(costs) // 2]


def make_root(dest: str | Path, *, tries: int = TRIES, fast_ns: int = FAST_NS) -> list[int | None]:
    """Create the empty directory `dest` (mode 0755) where file creation is cheap (see above).
    Returns the probed costs of the candidates, in the order tried (for tests and notes)."""
    dest = str(dest)
    if os.path.lexists(dest):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dest)
    mark_top_dir(os.path.dirname(dest))
    costs: list[int | None] = []
    best: tuple[int, str] | None = None
    tried: list[str] = []
    try:
        for k in range(max(1, tries)):
            candidate = f"{dest}.{k}{os.urandom(2).hex()}"
            os.mkdir(candidate, 0o755)
            tried.append(candidate)
            cost = probe_cost(candidate)
            costs.append(cost)
            if cost is None:
                best = (0, candidate)
                break
            if best is None or cost < best[0]:
                best = (cost, candidate)
            if cost <= fast_ns:
                break
        assert best is not None
        os.rename(best[1], dest)
        tried.remove(best[1])
    finally:
        for candidate in tried:
            os.rmdir(candidate)
    return costs
