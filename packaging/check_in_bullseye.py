"""Prove dist/rl on an older glibc: report the payload's glibc floor (`objdump -T` of every ELF
in it), then run it inside the bullseye root (glibc 2.31) made by packaging/build_in_bullseye.sh,
as root, rltest (subuid range) and rltest1 (none).

As root, from the project root, after `make binary` (as root: built in that root):
    .venv/bin/python packaging/check_in_bullseye.py [ROOT] [--dist FILE] [--max X.Y] [--no-host-tools]
ROOT: /var/tmp/bullseye; FILE: dist/rl; --max X.Y: fail when the floor is above glibc X.Y
(`make binary-test` passes --max 2.28). --no-host-tools removes slirp4netns and fuse-overlayfs
from the root first, so rl must use the copies bundled in dist/rl (build_in_bullseye.sh installs
them again for the next build).

The root is entered as a real root (a private mount namespace, pivot_root), not with chroot: the
kernel refuses user namespaces to a chrooted process. A local registry (tests/fixtures) on
127.0.0.1 serves the fixture busybox. Each user pulls it, runs `rl run --rm busybox` with the
default network (slirp4netns) and `rl info`. Exit status 1 if any step failed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

USERS = ("root", "rltest", "rltest1")
ENTER = """mount --rbind "$1" "$1" && cd "$1" && mkdir -p oldroot && pivot_root . oldroot && cd / && shift &&
exec /usr/bin/env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin /bin/sh -c '{ mountpoint -q /proc || mount -t proc proc /proc; } &&
  { mountpoint -q /sys || mount -t sysfs sysfs /sys; } && umount -l /oldroot && exec "$@"' sh "$@"
"""


def in_root(root: str, *argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", ENTER, "sh", root, *argv],
                          capture_output=True, text=True, timeout=300, **kw)


def prepare(root: str) -> None:
    """Users, subordinate ids and device nodes the runs need, copied from this host."""
    for name in ("passwd", "group"):
        lines = Path(f"{root}/etc/{name}").read_text().splitlines()
        for line in Path(f"/etc/{name}").read_text().splitlines():
            if line.split(":")[0] in USERS[1:] and line not in lines:
                lines.append(line)
        Path(f"{root}/etc/{name}").write_text("\n".join(lines) + "\n")
    for name in ("subuid", "subgid"):
        Path(f"{root}/etc/{name}").write_text(
            "".join(f"{ln}\n" for ln in Path(f"/etc/{name}").read_text().splitlines() if ln.startswith("rltest:")))
    script = ("set -e; mkdir -p /dev/net; [ -e /dev/net/tun ] || mknod -m 666 /dev/net/tun c 10 200; "
              "[ -e /dev/fuse ] || mknod -m 666 /dev/fuse c 10 229; chmod 1777 /tmp; "
              "command -v newuidmap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q uidmap; "
              "for u in rltest rltest1; do mkdir -p /home/$u; chown $u:$u /home/$u; done")
    done = in_root(root, "sh", "-c", script)
    assert done.returncode == 0, done.stderr


def check_user(root: str, user: str, image: str) -> bool:
    home = "/root" if user == "root" else f"/home/{user}"
    env = [f"HOME={home}", f"XDG_RUNTIME_DIR=/tmp/rl-check-{user}", "PATH=/usr/bin:/bin", f"USER={user}"]
    as_user = ["runuser", "-u", user, "--", "/usr/bin/env", "-i", *env]
    in_root(root, *as_user, "mkdir", "-p", "-m", "700", f"/tmp/rl-check-{user}")
    ok = True
    for args, expect in ((["pull", image], None), (["tag", image, "busybox"], None),
                         (["run", "--rm", "busybox", "sh", "-c", "ip -4 addr show tap0 | grep -o 10.0.2.100; echo hi"],
                          "10.0.2.100\nhi\n"),
                         (["info"], None)):
        done = in_root(root, *as_user, "/opt/rl/rl", *args)
        good = done.returncode == 0 and (expect is None or done.stdout == expect)
        ok &= good
        shown = [ln.strip() for ln in done.stdout.splitlines() if "slirp4netns:" in ln or "fuse-overlayfs:" in ln]
        print(f"{'ok  ' if good else 'FAIL'} {user}: rl {' '.join(args[:3])}"
              f"{'' if good else ': ' + (done.stderr or done.stdout).strip()[-400:]}{' ' + str(shown) if shown else ''}")
    return ok


def payload_floor(dist: Path, limit: str | None) -> bool:
    """Unpack dist into a temp cache (it runs here: the host's glibc is newer) and print the
    highest GLIBC version its ELF files import (packaging/glibc_floor.py). False if above limit."""
    cache = tempfile.mkdtemp(prefix="rl-check-unpack-")
    try:
        env = {"PATH": "/usr/bin:/bin", "HOME": cache, "RL_CACHE": cache}
        subprocess.run([str(dist), "--version"], env=env, check=True, capture_output=True, timeout=120)
        argv = [sys.executable, str(REPO / "packaging" / "glibc_floor.py"), cache, *(["--max", limit] if limit else [])]
        done = subprocess.run(argv, capture_output=True, text=True)
        print(f"payload of {dist}: {done.stdout.strip()}".replace(cache, "<tree>"))
        if done.stderr:
            print(done.stderr.strip().replace(cache, "<tree>"))
        return done.returncode == 0
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None


def main(argv: list[str]) -> int:
    from fixtures import images
    from fixtures.registry import start_registry

    dist = Path(option(argv, "--dist") or REPO / "dist" / "rl")
    values = {option(argv, "--dist"), option(argv, "--max")}
    root = next((a for a in argv if not a.startswith("--") and a not in values), "/var/tmp/bullseye")
    if not Path(f"{root}/usr/bin/apt-get").exists():
        print(f"check_in_bullseye: no Debian root at {root}: run packaging/build_in_bullseye.sh (make binary as root)")
        return 1
    floor_ok = payload_floor(dist, option(argv, "--max"))
    Path(f"{root}/opt/rl").mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", str(dist), f"{root}/opt/rl/rl"], check=True)
    prepare(root)
    if "--no-host-tools" in argv:
        in_root(root, "sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q slirp4netns fuse-overlayfs")
    print(in_root(root, "sh", "-c", "ldd --version | head -1; cat /etc/debian_version").stdout.strip())
    workdir = Path(tempfile.mkdtemp(prefix="rl-check-registry-"))
    registry = start_registry(workdir)
    try:
        image = images.push_all(images.fixture_layout(), registry)["busybox"]
        results = [check_user(root, user, image) for user in USERS]
    finally:
        registry.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    ok = floor_ok and all(results)
    print(f"check_in_bullseye: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
