"""ImageStore: the images.json index (atomic, locked), name resolution, tags, docker's rmi, prune."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from rootless.engine.image import layerstore
from rootless.engine.image.digest import chain_ids
from rootless.engine.image.reference import parse
from rootless.engine.image.store import ImageStore
from rootless.errors import Conflict, ImageNotFound, InvalidReference
from rootless.paths import Paths
from rootless.runtime import idmap


def make_paths(root: Path) -> Paths:
    return Paths(root=root / "store", runroot=root / "run", config_dir=root / "cfg", home=root)


@pytest.fixture
def store(tmp_path: Path):
    s = ImageStore(make_paths(tmp_path))
    yield s
    layerstore.remove_trees(idmap.choose(), [str(s.paths.layers), str(s.paths.tmp)])


def bare_image(store: ImageStore, label: str, ref: str | None = None):
    """An image without layers (an empty rootfs), enough for index and resolution tests."""
    config = {"architecture": "amd64", "os": "linux", "config": {"Labels": {"n": label}},
              "rootfs": {"type": "layers", "diff_ids": []}}
    return store.add_image(json.dumps(config).encode(), layers=[], ref=parse(ref) if ref else None)


def layered_image(store: ImageStore, files: dict[str, bytes], ref: str):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return store.import_rootfs(buf, parse(ref), [])


def test_resolve_by_name_tag_id_prefix(store) -> None:
    image = bare_image(store, "a", "team/app:v1")
    hexid = image.id[7:]
    for name in ("team/app:v1", "docker.io/team/app:v1", image.id, hexid, hexid[:12], hexid[:3],
                 "sha256:" + hexid[:10]):
        assert store.resolve(name).id == image.id, name
    assert store.resolve("team/app:v1").repo_tags == ["docker.io/team/app:v1"]
    with pytest.raises(ImageNotFound, match="No such image: team/app:latest"):
        store.resolve("team/app")
    with pytest.raises(ImageNotFound, match="No such image: nothing:latest"):
        store.resolve("nothing")


def test_ambiguous_prefix(store) -> None:
    first: dict[str, str] = {}
    n = 0
    while True:  # pigeonhole: two ids share their first hex digit within 17 images
        image = bare_image(store, f"l{n}")
        n += 1
        if image.id[7] in first:
            break
        first[image.id[7]] = image.id
    with pytest.raises(ImageNotFound, match="ambiguous"):
        store.resolve(image.id[7])
    assert store.resolve(image.id[7:20]).id == image.id


def test_tag_moves_and_leaves_dangling(store) -> None:
    old = bare_image(store, "old", "app:latest")
    new = bare_image(store, "new", "app:latest")
    assert store.resolve("app").id == new.id
    assert store.get(old.id).dangling
    store.tag(old, parse("app:old"))
    assert store.resolve("app:old").id == old.id
    with pytest.raises(InvalidReference):
        store.tag(old, parse("app@sha256:" + "a" * 64))


TAG_CHILD = """
import sys
from pathlib import Path
from rootless.engine.image.reference import parse
from rootless.engine.image.store import ImageStore
from rootless.paths import Paths
root, image_id, worker = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
s = ImageStore(Paths(root=root / "store", runroot=root / "run", config_dir=root / "cfg", home=root))
for i in range(15):
    s.tag(s.get(image_id), parse(f"x:w{worker}-{i}"))
"""


def test_index_is_replaced_atomically_and_locked(store) -> None:
    image = bare_image(store, "x", "x:0")
    procs = [subprocess.Popen([sys.executable, "-c", TAG_CHILD, str(store.paths.root.parent), image.id, str(w)])
             for w in range(4)]
    assert [p.wait() for p in procs] == [0, 0, 0, 0]
    tags = store.get(image.id).repo_tags
    assert len(tags) == 1 + 4 * 15
    assert [p.name for p in store.paths.root.iterdir() if p.name.startswith(".images")] == []
    json.loads(store.paths.images_json.read_text())


def test_rmi_untags_one_of_several_then_deletes(store) -> None:
    image = layered_image(store, {"a": b"a"}, "app:1")
    store.tag(image, parse("app:2"))
    assert [str(r) for r in store.remove("app:1")] == ["Untagged: app:1"]
    with pytest.raises(ImageNotFound):
        store.resolve("app:1")
    out = [str(r) for r in store.remove("app:2")]
    chain = chain_ids(image.diff_ids)[0]
    assert out == ["Untagged: app:2", f"Deleted: {image.id}", f"Deleted: {chain}"]
    assert store.list() == [] and not store.has_layer(chain)
    assert list(store.paths.blobs.iterdir()) == []


def test_rmi_by_id_with_several_tags_needs_force(store) -> None:
    image = bare_image(store, "a", "a:1")
    store.tag(image, parse("b:1"))
    with pytest.raises(Conflict, match="referenced in multiple repositories"):
        store.remove(image.id[7:19])
    out = [str(r) for r in store.remove(image.id[7:19], force=True)]
    assert out == ["Untagged: a:1", "Untagged: b:1", f"Deleted: {image.id}"]


def test_rmi_of_an_image_in_use(store) -> None:
    image = bare_image(store, "a", "a:1")
    with pytest.raises(Conflict, match="container 0123456789ab is using"):
        store.remove("a:1", in_use={image.id: "0123456789abcdef"})
    assert [str(r) for r in store.remove("a:1", force=True, in_use={image.id: "c"})] == ["Untagged: a:1"]
    assert store.get(image.id).dangling


def test_shared_layers_survive_until_the_last_user(store) -> None:
    one = layered_image(store, {"shared": b"s"}, "one:1")
    two = layered_image(store, {"shared": b"s"}, "two:1")
    assert one.chain_ids == two.chain_ids and store.layer_refs() == {one.chain_ids[0]: 2}
    store.remove("one:1")
    assert store.has_layer(one.chain_ids[0])
    store.remove("two:1")
    assert not store.has_layer(one.chain_ids[0])


def test_prune_dangling(store) -> None:
    keep = layered_image(store, {"k": b"k"}, "keep:1")
    dangling = layered_image(store, {"d": b"d" * 100}, "gone:1")
    store.untag(parse("gone:1"))
    removed, freed = store.prune()
    assert [str(r) for r in removed] == [f"Deleted: {dangling.id}", f"Deleted: {dangling.chain_ids[0]}"]
    assert freed == 100
    assert [i.id for i in store.list()] == [keep.id]
    removed, _ = store.prune(all=True, in_use={keep.id: "c"})
    assert removed == [] and store.exists("keep:1")


def test_inspect_view(store) -> None:
    image = layered_image(store, {"f": b"12345"}, "app:1")
    view = store.inspect(store.resolve("app:1"))
    assert view["Id"] == image.id and view["RepoTags"] == ["app:1"] and view["Size"] == 5
    assert view["RootFS"] == {"Type": "layers", "Layers": image.diff_ids}
    assert view["Config"]["Cmd"] is None and view["Config"]["Hostname"] == ""
    assert view["Os"] == "linux" and view["Comment"] == "Imported from -"
    assert view["GraphDriver"]["Data"]["UpperDir"] == str(store.paths.layer(image.chain_ids[0]))


def test_add_layer_on_a_parent_and_record_an_image(store) -> None:
    base = layered_image(store, {"base": b"b"}, "base:1")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:  # an uncompressed diff, as a build step makes
        info = tarfile.TarInfo("top")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"t"))
    buf.seek(0)
    added = store.add_layer(buf, parent_chain_id=base.chain_ids[0])
    assert added["chain_id"] == chain_ids(base.diff_ids + [added["diff_id"]])[1]
    assert added["descriptor"]["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    config = dict(base.config, rootfs={"type": "layers", "diff_ids": base.diff_ids + [added["diff_id"]]})
    image = store.add_image(json.dumps(config).encode(), layers=base.layers + [added["descriptor"]],
                            ref=parse("built:1"))
    assert [p.name for p in store.layer_dirs(image)] == [c[7:] for c in image.chain_ids]
    assert (store.layer_dirs(image)[1] / "top").read_bytes() == b"t"


def test_prune_removes_leftovers_of_dead_writers(store) -> None:
    bare_image(store, "x", "x:1")
    store.paths.tmp.mkdir(parents=True, exist_ok=True)
    dead = store.paths.tmp / "layer-import-999999-999999-abc"
    (dead / "sub").mkdir(parents=True)
    alive = store.paths.tmp / f"load-{__import__('os').getpid()}-abc"
    alive.mkdir()
    half_blob = store.paths.blobs / ".tmp-0123456789abcdef-999999-0a1b2c3d"
    half_blob.write_bytes(b"partial download")
    store.prune()
    assert not dead.exists() and alive.exists() and not half_blob.exists()
