#!/bin/sh
# Prepare a host for rl's test suite; run as root; safe to run again (idempotent).
#  - rltest: an unprivileged user with a subordinate id range (newuidmap/newgidmap mode)
#  - rltest1: an unprivileged user without one (single-id mode): its lines are removed from
#    /etc/subuid and /etc/subgid, which Debian's useradd fills in for every new user
#  - /dev/net/tun and /dev/fuse usable by everyone (slirp4netns/pasta, fuse-overlayfs)
#  - /dev/shm a tmpfs, mode 1777
# See /work/shared/HOST-NOTES.md for why each is needed on this machine kind.
set -eu

if [ "$(id -u)" != 0 ]; then
    echo "setup_host.sh: must run as root" >&2
    exit 1
fi

ensure_user() {
    if ! id -u "$1" >/dev/null 2>&1; then
        useradd --create-home --shell /bin/sh "$1"
    fi
    home=$(getent passwd "$1" | cut -d: -f6)
    if [ ! -d "$home" ]; then
        mkdir -p "$home"
        chown "$1:" "$home"
    fi
}

ensure_user rltest
ensure_user rltest1

# rltest needs a range of 65536 ids; useradd adds one on Debian, but not everywhere.
for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q '^rltest:' "$f"; then
        # the first free range above 100000 that does not overlap an existing one
        start=$(awk -F: 'BEGIN { s = 100000 } { e = $2 + $3; if (e > s) s = e } END { print s }' "$f")
        echo "rltest:$start:65536" >> "$f"
    fi
    sed -i '/^rltest1:/d' "$f"
done

for dev in /dev/net/tun /dev/fuse; do
    if [ -e "$dev" ]; then
        chmod 666 "$dev"
    else
        echo "setup_host.sh: $dev is missing (tests that need it will fail)" >&2
    fi
done

# Not `mount --make-rshared /`: rl does not need shared propagation, and with it slirp4netns
# --enable-sandbox run as root unmounts the host's /dev/pts (seen here).

# /dev/shm is a tmpfs open to everyone (1777) on a usual Linux host; on this machine kind it is a
# plain root-only directory of devtmpfs. Mount one, keeping whatever is already there.
if ! mountpoint -q /dev/shm; then
    keep=$(mktemp -d)
    cp -a /dev/shm/. "$keep/"
    mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
    cp -a "$keep/." /dev/shm/
    rm -rf "$keep"
fi
chmod 1777 /dev/shm

echo "setup_host.sh: rltest ($(grep '^rltest:' /etc/subuid)), rltest1 (no subuid range), devices and / ready"
