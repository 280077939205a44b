"""Print the highest GLIBC symbol version the ELF files under a tree need (their glibc floor).

Reads each ELF's dynamic symbol table with `objdump -T` and takes the highest `GLIBC_x.y` among
its undefined (imported) symbols. Prints the floor and the files that need it.

Usage: python packaging/glibc_floor.py TREE [--all] [--max X.Y]
  --all: one line per ELF file; --max X.Y: exit status 1 when the floor is above glibc X.Y, with
  each symbol that needs more (packaging/build_in_bullseye.sh builds with --max 2.28).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

VERSION = re.compile(r"\bGLIBC_(\d+(?:\.\d+)+)\b")


def version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def needed_versions(objdump_output: str) -> set[str]:
    """GLIBC versions of the undefined symbols in `objdump -T` output (pure)."""
    found = set()
    for line in objdump_output.splitlines():
        if "*UND*" not in line:
            continue
        match = VERSION.search(line)
        if match:
            found.add(match.group(1))
    return found


def symbols_above(objdump_output: str, limit: str) -> list[str]:
    """`symbol@GLIBC_x.y` for each undefined symbol whose version is above `limit` (pure)."""
    found = []
    for line in objdump_output.splitlines():
        match = VERSION.search(line) if "*UND*" in line else None
        if match and version_key(match.group(1)) > version_key(limit):
            found.append(f"{line.split()[-1]}@GLIBC_{match.group(1)}")
    return sorted(set(found))


def objdump(path: Path) -> str:
    return subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True).stdout


def floor_of(path: Path) -> str | None:
    versions = needed_versions(objdump(path))
    return max(versions, key=version_key) if versions else None


def scan(tree: Path) -> dict[Path, str | None]:
    floors = {}
    for dirpath, _, filenames in os.walk(tree):
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_symlink() and is_elf(path):
                floors[path] = floor_of(path)
    return floors


def parse_args(argv: list[str]) -> tuple[str, bool, str | None]:
    """(tree, --all, --max value) (pure); ValueError on a bad command line."""
    tree, show_all, limit, rest = None, False, None, list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--all":
            show_all = True
        elif arg == "--max" and rest and re.fullmatch(r"\d+(\.\d+)+", rest[0]):
            limit = rest.pop(0)
        elif arg.startswith("-") or tree is not None:
            raise ValueError(f"unexpected argument {arg!r}")
        else:
            tree = arg
    if tree is None:
        raise ValueError("no TREE given")
    return tree, show_all, limit


def main(argv: list[str]) -> int:
    try:
        tree, show_all, limit = parse_args(argv)
    except ValueError as exc:
        usage = __doc__[__doc__.index("Usage:"):].strip()
        print(f"glibc_floor: {exc}\n{usage}", file=sys.stderr)
        return 2
    floors = scan(Path(tree))
    needing = {p: v for p, v in floors.items() if v}
    if not needing:
        print(f"glibc floor: none ({len(floors)} ELF files, none imports versioned glibc symbols)")
        return 0
    top = max(needing.values(), key=version_key)
    print(f"glibc floor: GLIBC_{top} ({len(floors)} ELF files)")
    for path, version in sorted(needing.items(), key=lambda kv: version_key(kv[1]), reverse=True):
        if show_all or version == top:
            print(f"  GLIBC_{version}  {path}")
    if limit and version_key(top) > version_key(limit):
        print(f"glibc floor: GLIBC_{top} is above the allowed GLIBC_{limit}; symbols that need more:", file=sys.stderr)
        for path in sorted(p for p, v in needing.items() if version_key(v) > version_key(limit)):
            print(f"  {path}: {' '.join(symbols_above(objdump(path), limit))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
