#!/bin/sh
# Build dist/rl: one file, no Python needed on the target (docs/packaging.md).
#   1. the static launcher (packaging/launcher.c)
#   2. a PyInstaller onedir tree of rl (packaging/entry.py), every rootless module included
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
ls rootless/_native*.so >/dev/null 2>&1 || "$PY" native/build.py
"$PY" -m PyInstaller --version >/dev/null 2>&1 || "$PY" -m pip install -q 'pyinstaller>=6.10'

mkdir -p "$OUT" dist
echo "== launcher"
$CC -static -Os -s -Wall -Wextra -o "$OUT/launcher" packaging/launcher.c

echo "== onedir tree (PyInstaller)"
# Modules imported by name at run time (rootless.cli.binding, app.DECLARATIONS, helpers run with
# -m) and third-party packages with lazy or backend imports are collected whole. zstandard: only
# its C backend (its cffi backend is a second 12 MB copy of libzstd). --strip: 60 MB -> ~30 MB.
collect=""
for pkg in rootless typer rich httpx httpcore h11 anyio idna certifi isal yaml; do
    collect="$collect --collect-submodules $pkg"
done
# shellcheck disable=SC2086
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --onedir --name rl \
    --distpath "$OUT/dist" --workpath "$OUT/work" --specpath "$OUT" \
    --paths . $collect --hidden-import _cffi_backend --hidden-import rootless._native \
    --hidden-import zstandard.backend_c --exclude-module zstandard.backend_cffi --strip \
    --collect-data certifi --exclude-module tkinter --exclude-module pytest \
    --exclude-module hypothesis --exclude-module pexpect --exclude-module PyInstaller \
    packaging/entry.py

echo "== helper tools"
"$PY" packaging/bundle_tools.py "$TREE/libexec/rl" slirp4netns fuse-overlayfs

echo "== glibc floor of the tree"
"$PY" packaging/glibc_floor.py "$TREE"

echo "== pack"
"$PY" packaging/pack.py "$OUT/launcher" "$TREE" dist/rl
ls -l dist/rl
