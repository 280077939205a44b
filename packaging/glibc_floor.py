"""Print the highest GLIBC symbol version the ELF files under a tree need (their glibc floor).

Reads each ELF's dynamic symbol table with `objdump -T` and takes the highest `GLIBC_x.y` among
its undefined (imported) symbols. Prints the floor and the files that need it.

Usage: python packaging/glibc_floor.py TREE [--all]   (--all: one line per ELF file)
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


def floor_of(path: Path) -> str | None:
    out = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True).stdout
    versions = needed_versions(out)
    return max(versions, key=version_key) if versions else None


def scan(tree: Path) -> dict[Path, str | None]:
    floors = {}
    for dirpath, _, filenames in os.walk(tree):
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_symlink() and is_elf(path):
                floors[path] = floor_of(path)
    return floors


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    floors = scan(Path(argv[0]))
    needing = {p: v for p, v in floors.items() if v}
    if not needing:
        print(f"glibc floor: none ({len(floors)} ELF files, none imports versioned glibc symbols)")
        return 0
    top = max(needing.values(), key=version_key)
    print(f"glibc floor: GLIBC_{top} ({len(floors)} ELF files)")
    for path, version in sorted(needing.items(), key=lambda kv: version_key(kv[1]), reverse=True):
        if "--all" in argv or version == top:
            print(f"  GLIBC_{version}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
