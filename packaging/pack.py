"""Pack a directory tree behind the static launcher: `launcher + payload + trailer` = one file.

The format is the one packaging/launcher.c reads (see its header comment): a flat sequence of
entries (directory, file, symlink) in sorted order, then an 88-byte trailer with the payload's
offset, length and sha256. The sha256 keys the unpack cache, so a changed tree unpacks to a new
directory and an unchanged one is reused. Entries are written in a stable order with no
timestamps, so the same tree packs to the same bytes.

Usage: python packaging/pack.py LAUNCHER TREE OUTPUT   (TREE must hold an executable named `rl`)
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import sys
from pathlib import Path

MAGIC = b"RLPACK01"
ENTRY = "rl"


def _entries(tree: Path):
    """(type, mode, relative path, data or source path) for every node under tree, parents first."""
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        base = Path(dirpath)
        for name in dirnames + sorted(filenames):
            path = base / name
            rel = path.relative_to(tree).as_posix()
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                yield b"l", mode, rel, os.readlink(path).encode()
            elif stat.S_ISDIR(st.st_mode):
                yield b"d", mode, rel, b""
            elif stat.S_ISREG(st.st_mode):
                yield b"f", mode, rel, path
            else:
                raise SystemExit(f"pack: {path}: not a file, directory or symlink")


def write_payload(tree: Path, out) -> tuple[int, str]:
    """Write the payload of tree to the binary stream out; returns (length, sha256 hex)."""
    digest = hashlib.sha256()
    length = 0

    def put(chunk: bytes) -> None:
        nonlocal length
        digest.update(chunk)
        out.write(chunk)
        length += len(chunk)

    for kind, mode, rel, data in _entries(tree):
        relb = rel.encode()
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        put(kind + struct.pack("<IIQ", mode, len(relb), size) + relb)
        if isinstance(data, Path):
            with data.open("rb") as src:
                while chunk := src.read(1 << 20):
                    put(chunk)
        else:
            put(data)
    return length, digest.hexdigest()


def pack(launcher: Path, tree: Path, output: Path) -> str:
    """Write output = launcher + payload(tree) + trailer, atomically; returns the sha256."""
    if not os.access(tree / ENTRY, os.X_OK):
        raise SystemExit(f"pack: {tree / ENTRY} is missing or not executable")
    tmp = output.with_name(f".{output.name}.tmp")
    with tmp.open("wb") as out:
        out.write(launcher.read_bytes())
        offset = out.tell()
        length, sha = write_payload(tree, out)
        out.write(MAGIC + struct.pack("<QQ", offset, length) + sha.encode())
    tmp.chmod(0o755)
    tmp.replace(output)
    return sha


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    sha = pack(Path(argv[0]), Path(argv[1]), Path(argv[2]))
    print(f"{argv[2]}: payload sha256 {sha}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
