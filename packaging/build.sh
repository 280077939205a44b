#!/bin/sh
# Build dist/rl: one file, no Python needed on the target (docs/packaging.md).
#   1. the static launcher (packaging/launcher.c)
#   2. a PyInstaller onedir tree of rl (packaging/rl.spec, from packaging/entry.py)
#   3. slirp4netns and fuse-overlayfs with their non-glibc shared libraries, when this host has
#      them, under <tree>/libexec/rl/
#   4. launcher + tree packed into dist/rl (packaging/pack.py)
# Run from the project root: `make binary`. PY names the project's venv python.
set -eu

PY=${PY:-.venv/bin/python}
CC=${CC:-gcc}
OUT=build/packaging
TREE=$OUT/dist/rl

[ -x "$PY" ] || make dev
{ ls rootless/_native*.so && [ -x rootless/_rl_forward ] && [ -x rootless/_rl_boot ] && [ -x rootless/_rl_exec ] && [ -x rootless/_rl_pause ]; } >/dev/null 2>&1 || "$PY" native/build.py
"$PY" -m PyInstaller --version >/dev/null 2>&1 || "$PY" -m pip install -q 'pyinstaller>=6.10'

mkdir -p "$OUT" dist
echo "== launcher"
$CC -static -Os -s -Wall -Wextra -o "$OUT/launcher" packaging/launcher.c

echo "== onedir tree (PyInstaller)"
# packaging/rl.spec: every rootless submodule and lazily imported package, _cffi_backend,
# zstandard's C backend only, stripped, without PyInstaller's slow runtime hooks.
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$OUT/dist" --workpath "$OUT/work" packaging/rl.spec

echo "== helper tools"
"$PY" packaging/bundle_tools.py "$TREE/libexec/rl" slirp4netns fuse-overlayfs

echo "== glibc floor of the tree"
# GLIBC_MAX (set by build_in_bullseye.sh: 2.28) fails the build when any ELF needs a newer glibc.
"$PY" packaging/glibc_floor.py "$TREE" ${GLIBC_MAX:+--max "$GLIBC_MAX"}

echo "== pack"
"$PY" packaging/pack.py "$OUT/launcher" "$TREE" dist/rl
ls -l dist/rl
