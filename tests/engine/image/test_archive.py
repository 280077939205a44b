"""save/load (docker-archive, oci-archive, gzip; interop with skopeo and podman), malicious archives, import."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from rootless.engine.image import archive, layer, layerstore
from rootless.engine.image.reference import parse
from rootless.engine.image.store import ImageStore
from rootless.errors import StorageError, UsageError
from rootless.paths import Paths
from rootless.runtime import idmap


@pytest.fixture
def store(tmp_path: Path):
    s = ImageStore(Paths(root=tmp_path / "store", runroot=tmp_path / "run", config_dir=tmp_path / "cfg",
                         home=tmp_path))
    yield s
    layerstore.remove_trees(idmap.choose(), [str(s.paths.layers), str(s.paths.tmp)])


def rootfs_tar(files: dict[str, bytes], compress: bool = True, owner: int = 1000) -> bytes:
    """A rootfs tarball as `tar -C dir .` makes it: "./" first, owned by some user (uid 1000)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        top = tarfile.TarInfo("./")
        top.type, top.mode, top.uid, top.gid = tarfile.DIRTYPE, 0o755, owner, owner
        tf.addfile(top)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue()) if compress else buf.getvalue()


def snapshot(store: ImageStore) -> tuple:
    index = store.paths.images_json.read_text() if store.paths.images_json.exists() else None
    layers = sorted(p.name for p in store.paths.layers.iterdir()) if store.paths.layers.exists() else []
    blobs = sorted(p.name for p in store.paths.blobs.iterdir()) if store.paths.blobs.exists() else []
    return index, layers, blobs


# --- import -----------------------------------------------------------------------------------
def test_import_with_changes(store) -> None:
    changes = ['CMD ["/bin/app", "-x"]', "ENTRYPOINT /entry", "ENV PATH=/bin LANG=C.UTF-8", "EXPOSE 80 53/udp",
               'LABEL a=b "c d"=e', "USER 1000:1000", "WORKDIR /srv", "WORKDIR www", 'VOLUME ["/data"]']
    image = store.import_rootfs(io.BytesIO(rootfs_tar({"bin/app": b"#!/bin/sh\n"})), parse("imp:1"), changes,
                                message="hello")
    config = image.config["config"]
    assert config == {"Cmd": ["/bin/app", "-x"], "Entrypoint": ["/bin/sh", "-c", "/entry"],
                      "Env": ["PATH=/bin", "LANG=C.UTF-8"], "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
                      "Labels": {"a": "b", "c d": "e"}, "User": "1000:1000", "WorkingDir": "/srv/www",
                      "Volumes": {"/data": {}}}
    assert image.config["history"][0]["comment"] == "hello"
    assert image.repo_tags == ["docker.io/library/imp:1"]
    assert (store.layer_dirs(image)[0] / "bin" / "app").read_bytes() == b"#!/bin/sh\n"
    assert image.layers[0]["mediaType"].endswith("tar+gzip")
    assert store.has_blob(image.layers[0]["digest"])


@pytest.mark.parametrize("bad", [b"", b"not a tar at all" * 100, gzip.compress(b"x" * 10)])
def test_import_of_garbage_leaves_nothing(store, bad: bytes) -> None:
    before = snapshot(store)
    with pytest.raises(StorageError):
        store.import_rootfs(io.BytesIO(bad), parse("bad:1"), [])
    assert snapshot(store) == before
    assert not store.paths.tmp.exists() or list(store.paths.tmp.iterdir()) == []


def test_import_refuses_a_bad_change_before_work(store) -> None:
    with pytest.raises(UsageError, match='"RUN" is not a valid change command'):
        store.import_rootfs(io.BytesIO(rootfs_tar({"a": b"a"})), None, ["RUN echo"])
    assert snapshot(store) == (None, [], [])


# --- save / load ------------------------------------------------------------------------------
def test_save_load_round_trip(store, tmp_path: Path) -> None:
    image = store.import_rootfs(io.BytesIO(rootfs_tar({"etc/x": b"x" * 3000})), parse("rt:1"), ["CMD /bin/sh"])
    store.tag(image, parse("localhost:5000/rt:2"))
    out = tmp_path / "out.tar"
    archive.save_to(store, ["rt:1", "localhost:5000/rt:2"], str(out))
    with tarfile.open(out) as tf:
        names = set(tf.getnames())
        manifest = json.load(tf.extractfile("manifest.json"))
        layer_blob = tf.extractfile(manifest[0]["Layers"][0]).read()
    assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= names
    assert manifest[0]["RepoTags"] == ["rt:1", "localhost:5000/rt:2"]
    assert "sha256:" + hashlib.sha256(layer_blob).hexdigest() == image.diff_ids[0]  # uncompressed, by diff_id
    for tag in ("rt:1", "localhost:5000/rt:2"):
        store.remove(tag)
    assert snapshot(store) == (snapshot(store)[0], [], [])
    lines = list(archive.load_from(store, str(out)))
    assert lines == ["Loaded image: rt:1", "Loaded image: localhost:5000/rt:2"]
    loaded = store.resolve("rt:1")
    assert loaded.id == image.id and loaded.config == image.config
    assert (store.layer_dirs(loaded)[0] / "etc" / "x").read_bytes() == b"x" * 3000


def test_load_gzipped_archive_and_untagged(store, tmp_path: Path) -> None:
    image = store.import_rootfs(io.BytesIO(rootfs_tar({"a": b"a"})), None, [])
    out = tmp_path / "img.tar"
    archive.save_to(store, [image.id], str(out))
    gz = tmp_path / "img.tar.gz"
    gz.write_bytes(gzip.compress(out.read_bytes()))
    store.remove(image.id)
    assert list(archive.load_from(store, str(gz))) == [f"Loaded image ID: {image.id}"]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
def test_interop_with_skopeo(store, tmp_path: Path, transport: str) -> None:
    image = store.import_rootfs(io.BytesIO(rootfs_tar({"bin/tool": b"t" * 500})), parse("interop:1"),
                                ["CMD /bin/tool"])
    ours = tmp_path / "ours.tar"
    archive.save_to(store, ["interop:1"], str(ours))
    info = json.loads(subprocess.run(["skopeo", "inspect", f"docker-archive:{ours}"], check=True,
                                     capture_output=True, text=True).stdout)
    assert info["Layers"] == image.diff_ids
    theirs = tmp_path / "theirs.tar"
    dest = f"{transport}:{theirs}:" + ("other/name:7" if transport == "docker-archive" else "docker.io/other/name:7")
    subprocess.run(["skopeo", "copy", "-q", f"docker-archive:{ours}", dest], check=True)
    lines = list(archive.load_from(store, str(theirs)))
    assert lines == ["Loaded image: other/name:7"]
    loaded = store.resolve("other/name:7")
    assert loaded.diff_ids == image.diff_ids and loaded.config["config"]["Cmd"] == ["/bin/sh", "-c", "/bin/tool"]


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
@pytest.mark.skipif(not os.access("/dev/shm", os.W_OK),
                    reason="podman needs a writable /dev/shm for its locks (the host has none)")
def test_interop_with_podman(store, tmp_path: Path) -> None:
    """`rl save` loads with `podman load`; `podman save` loads with `rl load`."""
    # owned by root: podman itself cannot chown to 1000 for a user without a subuid range
    rootfs = rootfs_tar({"hello": b"hi\n"}, owner=0)
    image = store.import_rootfs(io.BytesIO(rootfs), parse("pod:1"), ["CMD /hello"])
    ours, theirs = tmp_path / "ours.tar", tmp_path / "theirs.tar"
    archive.save_to(store, ["pod:1"], str(ours))
    import tempfile

    runroot = tempfile.mkdtemp(prefix="rlpod-")  # podman wants a runroot under 50 characters
    podman = ["podman", "--root", str(tmp_path / "proot"), "--runroot", runroot, "--storage-driver", "vfs"]
    env = {"HOME": str(tmp_path), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    try:
        out = subprocess.run(podman + ["load", "-i", str(ours)], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "Loaded image: docker.io/library/pod:1" in out.stdout
        subprocess.run(podman + ["tag", "docker.io/library/pod:1", "localhost:5000/from/podman:2"], env=env, check=True)
        subprocess.run(podman + ["save", "-o", str(theirs), "localhost:5000/from/podman:2"], env=env, check=True,
                       capture_output=True)
    finally:
        subprocess.run(podman + ["unshare", "rm", "-rf", str(tmp_path / "proot"), runroot],
                       env=env, capture_output=True)
        shutil.rmtree(runroot, ignore_errors=True)
    assert list(archive.load_from(store, str(theirs))) == ["Loaded image: localhost:5000/from/podman:2"]
    loaded = store.resolve("localhost:5000/from/podman:2")
    assert loaded.diff_ids == image.diff_ids and loaded.config["config"]["Cmd"] == image.config["config"]["Cmd"]


def _archive_with(entries: list[tarfile.TarInfo], tmp_path: Path) -> Path:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tf:
        for info in entries:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return path


@pytest.mark.parametrize("trick", ["dotdot", "absolute", "symlink-out", "symlink-abs"])
def test_malicious_archive_is_refused_and_store_unchanged(store, tmp_path: Path, trick: str) -> None:
    bare = store.import_rootfs(io.BytesIO(rootfs_tar({"a": b"a"})), parse("pre:1"), [])
    before = snapshot(store)
    info = tarfile.TarInfo({"dotdot": "../../evil", "absolute": "/tmp/evil-rl"}.get(trick, "blobs/link"))
    if trick.startswith("symlink"):
        info.type = tarfile.SYMTYPE
        info.linkname = "../../../etc/passwd" if trick == "symlink-out" else "/etc/passwd"
        manifest = tarfile.TarInfo("manifest.json")
        data = json.dumps([{"Config": "blobs/link", "Layers": []}]).encode()
        manifest.size = len(data)
        path = tmp_path / "evil.tar"
        with tarfile.open(path, "w") as tf:
            tf.addfile(info)
            tf.addfile(manifest, io.BytesIO(data))
    else:
        info.size = 1
        path = _archive_with([info], tmp_path)
    with pytest.raises(archive.BadArchive, match="invalid archive"):
        list(archive.load_from(store, str(path)))
    assert snapshot(store) == before and store.resolve("pre:1").id == bare.id
    assert not (tmp_path.parent / "evil").exists() and not Path("/tmp/evil-rl").exists()
    assert list(store.paths.tmp.iterdir()) == []


def test_archive_with_a_malicious_layer_leaves_store_unchanged(store, tmp_path: Path) -> None:
    good = store.import_rootfs(io.BytesIO(rootfs_tar({"ok": b"ok"})), parse("good:1"), [])
    out = tmp_path / "good.tar"
    archive.save_to(store, ["good:1"], str(out))
    store.remove("good:1")
    before = snapshot(store)
    evil_layer = rootfs_tar({"../escape": b"x"}, compress=False)
    evil_diff = "sha256:" + hashlib.sha256(evil_layer).hexdigest()
    config = dict(good.config, rootfs={"type": "layers", "diff_ids": [good.diff_ids[0], evil_diff]})
    config_raw = json.dumps(config).encode()
    config_digest = hashlib.sha256(config_raw).hexdigest()
    with tarfile.open(out) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        good_layer = tf.extractfile(manifest[0]["Layers"][0]).read()
    path = tmp_path / "mixed.tar"
    with tarfile.open(path, "w") as tf:
        for name, data in [(f"blobs/sha256/{config_digest}", config_raw), ("l1.tar", good_layer),
                           ("l2.tar", evil_layer),
                           ("manifest.json", json.dumps([{"Config": f"blobs/sha256/{config_digest}",
                                                           "RepoTags": ["mixed:1"],
                                                           "Layers": ["l1.tar", "l2.tar"]}]).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with pytest.raises(layer.UnsafeLayer):
        list(archive.load_from(store, str(path)))
    assert snapshot(store) == before
