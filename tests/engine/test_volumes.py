"""volumes.py: docker's -v rules (table-driven + a property test), the store, copy-up."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, strategies as st

from rootless.engine import volumes
from rootless.engine.volumes import VolumeSpec, parse
from rootless.errors import Conflict, UsageError, VolumeNotFound
from rootless.paths import Paths


@pytest.mark.parametrize("text,spec", [
    ("/srv/data:/data", VolumeSpec("bind", "/srv/data", "/data")),
    ("/srv/data:/data:ro", VolumeSpec("bind", "/srv/data", "/data", True)),
    ("/srv/data:/data:rw,z", VolumeSpec("bind", "/srv/data", "/data", False)),
    ("/srv/f.conf:/etc/f.conf:ro,Z", VolumeSpec("bind", "/srv/f.conf", "/etc/f.conf", True)),
    ("/srv//x/../data/:/data/", VolumeSpec("bind", "/srv/data", "/data")),
    ("cache:/var/cache", VolumeSpec("volume", "cache", "/var/cache")),
    ("my_vol.1:/v:ro", VolumeSpec("volume", "my_vol.1", "/v", True)),
    ("cache:/v:nocopy", VolumeSpec("volume", "cache", "/v", copy=False)),
    ("/var/lib/x", VolumeSpec("volume", "", "/var/lib/x")),
    ("/var/lib/x:ro", VolumeSpec("volume", "", "/var/lib/x", True)),
    ("/srv:/data:z", VolumeSpec("bind", "/srv", "/data")),  # SELinux labels: accepted, ignored
    ("/srv:/data:ro,rshared", VolumeSpec("bind", "/srv", "/data", True, propagation="rshared")),
    ("/srv:/data:slave,Z", VolumeSpec("bind", "/srv", "/data", propagation="slave")),
])
def test_parse(text, spec):
    assert parse(text) == spec


@pytest.mark.parametrize("text,message", [
    ("", "invalid volume specification: ''"),
    ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
    ("/a::/b", "invalid volume specification"),
    ("./rel:/x", 'create ./rel: "./rel" includes invalid characters for a local volume name'),
    ("rel/dir:/x", "If you intended to pass a host directory, use absolute path"),
    ("/a:rel:ro", "invalid mount path: 'rel' mount path must be absolute"),
    ("vol:rel:ro", 'invalid mount config for type "volume"'),
    ("relative", "mount path must be absolute"),
    ("/a:/x:bogus", "invalid mode: bogus"),
    ("/a:/x:ro,rw", "invalid mode: ro,rw"),
    ("/a:/", "destination can't be '/'"),
    ("/a:/x:shared,slave", "invalid mode: shared,slave"),
])
def test_parse_errors(text, message):
    with pytest.raises(UsageError) as e:
        parse(text)
    assert message in e.value.message


@given(st.text(alphabet=st.sampled_from("/:.abz-_,ro w\x00é"), max_size=30))
def test_parse_raises_only_usage_errors(text):
    try:
        spec = parse(text)
    except UsageError:
        return
    assert spec.destination.startswith("/") and spec.kind in ("bind", "volume")
    assert spec.kind == "volume" or spec.source.startswith("/")


def test_duplicate_destinations():
    with pytest.raises(UsageError, match="Duplicate mount point: /x"):
        volumes.check_destinations([parse("/a:/x"), parse("vv:/x/")])


def test_oci_mount_and_binds_text():
    spec = parse("/srv:/data:ro")
    assert spec.oci_mount() == {"destination": "/data", "type": "bind", "source": "/srv",
                                "options": ["rbind", "rprivate", "ro"]}
    assert spec.bind_text() == "/srv:/data:ro"


def test_store(tmp_path):
    paths = Paths(tmp_path / "root", tmp_path / "run", tmp_path / "config", tmp_path)
    store = volumes.VolumeStore(paths)
    assert store.create("data", {"a": "b"}) == ("data", True)
    assert store.create("data") == ("data", False)
    view = store.inspect("data")
    assert view["Name"] == "data" and view["Driver"] == "local" and view["Labels"] == {"a": "b"}
    assert view["Mountpoint"] == str(paths.volume("data") / "_data") and os.path.isdir(view["Mountpoint"])
    anonymous, _ = store.create()
    assert len(anonymous) == 64 and store.names() == sorted(["data", anonymous])
    with pytest.raises(UsageError):
        store.create("bad name")
    # a container whose config.json mounts the volume holds it
    (paths.container("c" * 64)).mkdir(parents=True)
    (paths.container("c" * 64) / "config.json").write_text(json.dumps(
        {"mounts": [{"destination": "/d", "type": "bind", "source": view["Mountpoint"]}]}))
    with pytest.raises(Conflict, match="volume is in use"):
        store.remove("data")
    (store.data_dir(anonymous) / "f").write_bytes(b"12345")
    assert store.prune() == ([anonymous], 5)
    os.unlink(paths.container("c" * 64) / "config.json")
    store.remove("data")
    assert store.names() == []
    with pytest.raises(VolumeNotFound, match="get data: no such volume"):
        store.remove("data")
    store.remove("data", force=True)


def test_copy_up(tmp_path):
    low, high, out = tmp_path / "l1", tmp_path / "l2", tmp_path / "out"
    (low / "etc" / "sub").mkdir(parents=True)
    (low / "etc" / "a").write_text("low")
    (low / "etc" / "gone").write_text("x")
    (low / "etc" / "sub" / "s").write_text("s")
    (high / "etc").mkdir(parents=True)
    (high / "etc" / "a").write_text("high")
    (high / "etc" / ".wh.gone").write_text("")
    (high / "etc" / "link").symlink_to("a")
    out.mkdir()
    volumes.copy_up([low, high], "/etc", out)
    assert (out / "a").read_text() == "high" and not (out / "gone").exists()
    assert (out / "sub" / "s").read_text() == "s" and os.readlink(out / "link") == "a"
    volumes.copy_up([low], "/nothing", out)
