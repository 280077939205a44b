#!/bin/sh
# Build dist/rl inside a Debian bullseye root so the payload needs glibc 2.28 at most (RHEL 8)
# (docs/packaging.md "Portability"). As root, from the project root:
#   sh packaging/build_in_bullseye.sh [ROOT [OUT]]     (ROOT: /var/tmp/bullseye, OUT: dist/rl)
# Steps (each skipped when already done; the root is the download cache):
#   1. debootstrap the root (glibc 2.31) from Debian's mirror;
#   2. CPython 3.11 built there from Debian's own source tarball (bullseye has only 3.9), with
#      packaging/glibc_compat.h force-included (exp/exp2/log/log2/pow bound to their pre-2.29
#      symbol versions) and sem_clockwait (2.30) configured out: libpython's floor is then 2.28.
#      The header is in the CFLAGS Python records, so extensions built there get it too;
#   3. a venv with rl's dependencies (pyproject.toml) and PyInstaller from PyPI (manylinux wheels);
#   4. bullseye's slirp4netns and fuse-overlayfs to bundle;
#   5. packaging/build.sh on a copy of this tree with GLIBC_MAX=2.28: the build fails if any ELF
#      in the payload needs a newer glibc (packaging/glibc_floor.py --max).
# Network: Debian's mirror and PyPI only. The chroot gets /proc only (no /dev or /sys bind mounts:
# with / shared, unmounting them later would propagate to the host's /dev/pts and /dev/shm).
set -eu
ROOT=${1:-/var/tmp/bullseye}
OUT=${2:-dist/rl}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
GLIBC_MAX=${GLIBC_MAX:-2.28}
PYSRC=python3.11_3.11.2.orig.tar.gz
PYPREFIX=/opt/py311-glibc2.28          # inside the root
VENV=/opt/venv-glibc2.28
COMPAT=$PYPREFIX/include/rl-glibc-compat.h

[ "$(id -u)" = 0 ] || { echo "build_in_bullseye: run as root (debootstrap, chroot)" >&2; exit 1; }
host_install() {  # Debian packages this host lacks (a fresh machine may need its lists first)
    apt-get install -y -q "$@" || { apt-get update -q && apt-get install -y -q "$@"; }
}
command -v curl >/dev/null || host_install curl
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || host_install debootstrap
    debootstrap --variant=minbase bullseye "$ROOT" "$MIRROR"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
[ -f /etc/ssl/certs/ca-certificates.crt ] && mkdir -p "$ROOT/etc/ssl/certs" \
    && cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/rl-host-ca.crt"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc" 2>/dev/null || true' EXIT

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    HOME=/root LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/rl-host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 "$@"; }

if [ ! -x "$ROOT$PYPREFIX/bin/python3.11" ] || ! cmp -s packaging/glibc_compat.h "$ROOT$COMPAT"; then
    echo "== CPython 3.11 for glibc $GLIBC_MAX in $ROOT (about 12 min on 2 cores; log: $ROOT/src/py-build.log)"
    in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends build-essential libssl-dev zlib1g-dev libffi-dev \
        libbz2-dev liblzma-dev uuid-dev ca-certificates binutils slirp4netns fuse-overlayfs'
    mkdir -p "$ROOT/src"
    [ -f "$ROOT/src/$PYSRC" ] || curl -fsS -o "$ROOT/src/$PYSRC" "$MIRROR/pool/main/p/python3.11/$PYSRC"
    rm -rf "$ROOT/src/py-build" "$ROOT$PYPREFIX" "$ROOT$VENV"
    mkdir -p "$ROOT/src/py-build" "$ROOT$PYPREFIX/include"
    tar -xzf "$ROOT/src/$PYSRC" -C "$ROOT/src/py-build" --strip-components=1
    cp packaging/glibc_compat.h "$ROOT$COMPAT"
    in_root sh -c "cd /src/py-build && ./configure --prefix=$PYPREFIX --enable-shared \
        CFLAGS='-include $COMPAT' LDFLAGS=-Wl,-rpath=$PYPREFIX/lib ac_cv_func_sem_clockwait=no \
        && make -j3 && make install" >"$ROOT/src/py-build.log" 2>&1 \
        || { tail -20 "$ROOT/src/py-build.log" >&2; exit 1; }
    rm -rf "$ROOT/src/py-build"
fi
[ -x "$ROOT$VENV/bin/python" ] || in_root $PYPREFIX/bin/python3.11 -m venv $VENV
in_root sh -c 'command -v slirp4netns >/dev/null && command -v fuse-overlayfs >/dev/null' \
    || in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q slirp4netns fuse-overlayfs'

rm -rf "$ROOT/src/rl"
mkdir -p "$ROOT/src/rl"
# the host's built C parts stay out: native/build.py builds them again in the root
tar -cf - --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./.git --exclude='__pycache__' \
    --exclude='./rootless/_native*.so' --exclude=./rootless/_rl_forward --exclude=./rootless/_rl_boot \
    --exclude=./rootless/_rl_exec --exclude=./rootless/_rl_pause --exclude=./rootless/.native-built . \
    | tar -xf - -C "$ROOT/src/rl"
# rl's dependencies as pyproject.toml lists them, and PyInstaller (quick once installed)
in_root $VENV/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("/src/rl/pyproject.toml", "rb"))
    ["project"]["dependencies"]))' >"$ROOT/src/rl-requirements.txt"
in_root $VENV/bin/pip install -q -r /src/rl-requirements.txt 'pyinstaller>=6.10'
in_root sh -c "cd /src/rl && $VENV/bin/python native/build.py >/dev/null \
    && PY=$VENV/bin/python GLIBC_MAX=$GLIBC_MAX sh packaging/build.sh"
mkdir -p "$(dirname "$OUT")"
cp "$ROOT/src/rl/dist/rl" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
ls -l "$OUT"
