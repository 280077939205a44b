#!/bin/sh
# Build dist/rl inside a Debian bullseye root (glibc 2.31) so the payload runs on older hosts
# (docs/packaging.md "Portability"). As root, from the project root:
#   sh packaging/build_in_bullseye.sh [ROOT]        (ROOT: /var/tmp/bullseye)
# Steps (each skipped when already done): debootstrap the root from Debian's mirror; build
# CPython 3.11 there from Debian's own source tarball (bullseye has only 3.9, rl needs 3.11);
# a venv with rl's dependencies and PyInstaller from PyPI; bullseye's slirp4netns and
# fuse-overlayfs to bundle; then packaging/build.sh on a copy of this tree. Result: dist/rl-bullseye.
# Network: deb.debian.org and PyPI only. The chroot gets /proc only (no /dev or /sys bind mounts:
# with / shared, unmounting them later would propagate to the host's /dev/pts and /dev/shm).
set -eu
ROOT=${1:-/var/tmp/bullseye}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PYSRC=python3.11_3.11.2.orig.tar.gz

[ "$(id -u)" = 0 ] || { echo "build_in_bullseye: run as root (debootstrap, chroot)" >&2; exit 1; }
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
    debootstrap --variant=minbase bullseye "$ROOT" "$MIRROR"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
[ -f /etc/ssl/certs/ca-certificates.crt ] && mkdir -p "$ROOT/etc/ssl/certs" \
    && cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/rl-host-ca.crt"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc" 2>/dev/null || true' EXIT

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    HOME=/root LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/rl-host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 "$@"; }

if [ ! -x "$ROOT/opt/py311/bin/python3.11" ]; then
    in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends build-essential libssl-dev zlib1g-dev libffi-dev \
        libbz2-dev liblzma-dev uuid-dev ca-certificates binutils slirp4netns fuse-overlayfs'
    mkdir -p "$ROOT/src"
    [ -f "$ROOT/src/$PYSRC" ] || curl -fsS -o "$ROOT/src/$PYSRC" "$MIRROR/pool/main/p/python3.11/$PYSRC"
    tar -xzf "$ROOT/src/$PYSRC" -C "$ROOT/src"
    in_root sh -c 'cd /src/Python-3.11.2 && ./configure --prefix=/opt/py311 --enable-shared \
        LDFLAGS=-Wl,-rpath=/opt/py311/lib >/src/configure.log 2>&1 && make -j3 >/src/make.log 2>&1 \
        && make install >/src/install.log 2>&1'
fi
if [ ! -x "$ROOT/opt/venv/bin/python" ]; then
    in_root /opt/py311/bin/python3.11 -m venv /opt/venv
    in_root /opt/venv/bin/pip install -q 'cffi>=1.15' 'typer>=0.29,<0.30' 'rich>=13' 'httpx>=0.27' \
        'zstandard>=0.22' 'pyyaml>=6' 'isal>=1.6' 'pyinstaller>=6.10'
fi
in_root sh -c 'command -v slirp4netns >/dev/null && command -v fuse-overlayfs >/dev/null' \
    || in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q slirp4netns fuse-overlayfs'

rm -rf "$ROOT/src/rl"
mkdir -p "$ROOT/src/rl"
tar -cf - --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./.git \
    --exclude='__pycache__' --exclude='./rootless/_native*.so' --exclude=./rootless/.native-built . \
    | tar -xf - -C "$ROOT/src/rl"
in_root sh -c 'cd /src/rl && /opt/venv/bin/python native/build.py >/dev/null \
    && PY=/opt/venv/bin/python sh packaging/build.sh'
mkdir -p dist
cp "$ROOT/src/rl/dist/rl" dist/rl-bullseye
ls -l dist/rl-bullseye
