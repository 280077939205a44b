"""The fixture images hold what their recipes promise, checked with umoci, unshare and chroot.

The images are pulled back from the registry fixture with skopeo (so these tests also prove the
round trip through the registry) and unpacked with umoci: as root; in `unshare --map-auto` for a
user with a subuid range; else `--rootless`, which keeps everything but the foreign owners.
Nothing here uses rl's code.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from fixtures import images, layers

pytestmark = [pytest.mark.integration, pytest.mark.registry]
ROOT = os.getuid() == 0


def subuid_start(ids: str = "/etc/subuid") -> int | None:
    """The start of this user's subordinate id range in `ids` (/etc/subuid or /etc/subgid)."""
    name = pwd.getpwuid(os.getuid()).pw_name
    for line in Path(ids).read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 3 and fields[0] in (name, str(os.getuid())):
            return int(fields[1])
    return None


def as_container_root(argv: list[str]) -> list[str]:
    """Run argv as uid 0: really as root, in `unshare --map-auto` with a subuid range, else as is."""
    if ROOT or subuid_start() is None:
        return argv
    return ["unshare", "--map-auto", "--map-root-user", *argv]


def host_owner(cid: int, ids: str = "/etc/subuid") -> int | None:
    """The host id a container-side owner ends up as after unpack, None if it cannot be kept."""
    if ROOT:
        return cid
    start = subuid_start(ids)
    if start is None:
        return None  # umoci --rootless: every owner becomes us
    own = os.getuid() if ids.endswith("subuid") else os.getgid()
    return own if cid == 0 else start + cid - 1


@pytest.fixture
def unpack(tmp_path):
    """skopeo copy an image into an OCI layout, umoci unpack it (as uid 0 where we can, else
    --rootless); returns the rootfs. The bundle is removed as the same uid 0 afterwards."""
    bundle = tmp_path / "bundle"

    def unpack(ref: str, registry) -> Path:
        layout = tmp_path / "layout"
        images.skopeo_copy(f"docker://{ref}", f"oci:{layout}:img", *images.registry_options(registry, "src"))
        rootless = ["--rootless"] if not ROOT and subuid_start() is None else []
        argv = as_container_root(["umoci", "unpack", *rootless, "--image", f"{layout}:img", str(bundle)])
        subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120)
        return bundle / "rootfs"

    yield unpack
    subprocess.run(as_container_root(["rm", "-rf", str(bundle)]), check=False)


def test_layers_image_applies_whiteouts_links_modes_and_owners(registry, fixture_images, unpack):
    rootfs = unpack(fixture_images["layers"], registry)
    expected = layers.LAYERS_EXPECTED

    def at(path: str) -> Path:
        return rootfs / path.lstrip("/")

    for path in expected["absent"]:
        assert not os.path.lexists(at(path)), path
    for path, content in expected["files"].items():
        assert at(path).read_text() == content, path
    assert sorted(p.name for p in at("/data/opaque").iterdir()) == ["new.txt"]
    assert sorted(p.name for p in at("/data/remove-dir").iterdir()) == ["again.txt"]
    for a, b in expected["hardlinks"]:
        assert at(a).stat().st_ino == at(b).stat().st_ino
    for path, target in expected["symlinks"].items():
        assert os.readlink(at(path)) == target, path
    for path, mode in expected["modes"].items():
        assert stat.S_IMODE(at(path).lstat().st_mode) == mode, path
    for path, (uid, gid) in expected["owners"].items():
        if host_owner(uid) is not None:  # None: umoci --rootless (no subuid range) cannot chown
            st = at(path).lstat()
            assert (st.st_uid, st.st_gid) == (host_owner(uid), host_owner(gid, "/etc/subgid")), path
    assert os.readlink(at("/bin/sh")) == "/bin/busybox"


def run_in_namespaces(script: str) -> subprocess.CompletedProcess:
    """`sh -c script` in new net+pid+mount namespaces, and unless root a user namespace mapping
    our subuid range (if any) like the unpack did."""
    userns = [] if ROOT else ["--user", "--map-root-user", *(["--map-auto"] if subuid_start() else [])]
    argv = ["unshare", *userns, "--net", "--pid", "--fork", "--mount", "sh", "-euc", script]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_nginx_image_serves_its_index_page(registry, fixture_images, unpack):
    rootfs = unpack(fixture_images["nginx"], registry)
    # Without a subuid range only uid 0 exists: workers must stay root (single-uid.conf).
    conf = "/etc/nginx/nginx.conf" if ROOT or subuid_start() else "/etc/nginx/single-uid.conf"
    result = run_in_namespaces(f"""
        R={rootfs}
        chroot $R ip link set lo up
        mount --rbind /dev $R/dev
        mount -t proc proc $R/proc
        chroot $R nginx -c {conf} -g 'daemon off;' &
        for i in $(seq 100); do
            if chroot $R wget -qO- http://127.0.0.1:80/; then exit 0; fi
            sleep 0.1
        done
        exit 1
    """)
    assert result.returncode == 0, result.stderr
    assert "Welcome to nginx!" in result.stdout


def test_busybox_rootfs_runs_applets(busybox_rootfs):
    assert stat.S_IMODE(busybox_rootfs.stat().st_mode) == 0o755
    result = run_in_namespaces(f"chroot {busybox_rootfs} sh -c 'echo hello; id -u; ls /bin | wc -l'")
    assert result.returncode == 0, result.stderr
    hello, uid, count = result.stdout.split()
    assert (hello, uid) == ("hello", "0") and int(count) > 50


def test_fixture_layout_is_cached(fixture_layout):
    assert fixture_layout == images.fixture_layout()  # a second call finds the same cached build
    assert (fixture_layout.parent / "done").exists()
    assert fixture_layout.parent.name == images.recipe_key()
