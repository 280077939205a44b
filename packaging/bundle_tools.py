"""Copy host tools (slirp4netns, fuse-overlayfs) and the shared libraries they need into the frozen
tree, so rl has them on a host that lacks them (rootless.frozen.find_tool prefers the host's).

Layout under DEST (<tree>/libexec/rl):
  bin/<tool>   the host's executable
  lib/         the shared libraries `ldd` lists, except glibc's own (libc, libm, libpthread, libdl,
               librt, the dynamic loader): those must come from the target, matching its loader
  <tool>       a /bin/sh wrapper: LD_LIBRARY_PATH=<DEST>/lib exec <DEST>/bin/<tool> "$@"
A tool this host does not have is left out (and said so).

Usage: python packaging/bundle_tools.py DEST TOOL...
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

#: glibc's libraries: bundling them without their loader breaks; the target has its own
GLIBC = re.compile(r"^(libc|libm|libpthread|libdl|librt|libutil|libresolv|ld-linux[-\w]*)\.so")
WRAPPER = """#!/bin/sh
# rl's bundled {name}: run with the libraries beside it (packaging/bundle_tools.py)
here=${{0%/*}}
LD_LIBRARY_PATH="$here/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" exec "$here/bin/{name}" "$@"
"""


def needed_libraries(exe: str) -> list[Path]:
    """Resolved paths of the shared libraries exe needs (ldd), glibc's own left out."""
    out = subprocess.run(["ldd", exe], check=True, capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        match = re.match(r"\s*(\S+) => (/\S+)", line)
        if match and not GLIBC.match(match.group(1)):
            libs.append(Path(match.group(2)))
    return libs


def bundle(dest: Path, name: str) -> bool:
    exe = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
    if exe is None:
        print(f"bundle_tools: {name}: not on this host, not bundled")
        return False
    (dest / "bin").mkdir(parents=True, exist_ok=True)
    (dest / "lib").mkdir(exist_ok=True)
    shutil.copy2(Path(exe).resolve(), dest / "bin" / name)
    for lib in needed_libraries(exe):
        shutil.copy2(lib.resolve(), dest / "lib" / lib.name)
    wrapper = dest / name
    wrapper.write_text(WRAPPER.format(name=name))
    wrapper.chmod(0o755)
    print(f"bundle_tools: {name}: {exe} bundled")
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    dest = Path(argv[0])
    for name in argv[1:]:
        bundle(dest, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
