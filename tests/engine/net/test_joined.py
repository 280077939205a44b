"""`--network container:X`: the config.json rewrite that joins the target's namespaces (pure)."""

from __future__ import annotations

import pytest

from rootless.engine.net import joined
from rootless.errors import UsageError

MAPS = {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}
OTHER = {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1},
                         {"containerID": 1, "hostID": 100000, "size": 65536}],
         "gidMappings": MAPS["gidMappings"]}


def config(types, maps=None) -> dict:
    return {"process": {}, "linux": {"namespaces": [{"type": t} for t in types], **(maps or {})}}


ROOTLESS = ["user", "pid", "ipc", "uts", "mount", "network"]
ROOT = ["pid", "ipc", "uts", "mount", "network"]


@pytest.mark.parametrize("types, maps, expected", [
    (ROOTLESS, MAPS, {"user": "/proc/42/ns/user", "network": "/proc/42/ns/net"}),
    (ROOT, None, {"network": "/proc/42/ns/net"}),
    (["pid", "mount"], None, {"network": "/proc/42/ns/net"}),   # added when missing
])
def test_join_namespaces_paths(types, maps, expected):
    out = joined.join_namespaces(config(types, maps), config(types, maps), 42)
    paths = {ns["type"]: ns["path"] for ns in out["linux"]["namespaces"] if "path" in ns}
    assert paths == expected
    created = [ns["type"] for ns in out["linux"]["namespaces"] if "path" not in ns]
    assert set(created) == set(types) - set(expected)


@pytest.mark.parametrize("mine, target", [
    (config(ROOTLESS, MAPS), config(ROOTLESS, OTHER)),
    (config(ROOTLESS, MAPS), config(ROOT)),
    (config(ROOT), config(ROOTLESS, MAPS)),
])
def test_join_namespaces_refuses_other_mappings(mine, target):
    with pytest.raises(UsageError, match="other user namespace mappings"):
        joined.join_namespaces(mine, target, 42)


@pytest.mark.parametrize("mode, expected", [
    ("container:" + "a" * 64, "a" * 64), ("bridge", None), ("host", None), ("", None)])
def test_target_id(mode, expected):
    assert joined.target_id({"HostConfig": {"NetworkMode": mode}}) == expected


def test_normalize_refuses_publish_and_keeps_other_modes(tmp_path):
    with pytest.raises(UsageError, match="conflicting options: port publishing and the container type"):
        joined.normalize(None, "container:web", ("80",))
    with pytest.raises(UsageError, match="invalid network mode"):
        joined.normalize(None, "container:", ())
    assert joined.normalize(None, "host", ("80",)) == "host"


def test_join_takes_the_targets_hostname_and_etc_files():
    def etc(directory):
        return [{"destination": d, "type": "bind", "source": f"{directory}/{d.rsplit('/', 1)[1]}",
                 "options": ["rbind"]} for d in ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")]
    mine = {**config(ROOT), "hostname": "mine", "process": {"env": ["PATH=/bin", "HOSTNAME=mine"]},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}] + etc("/c/mine")}
    target = {**config(ROOT), "hostname": "web", "mounts": etc("/c/web")}
    out = joined.join_namespaces(mine, target, 7)
    assert out["hostname"] == "web"
    assert out["process"]["env"] == ["PATH=/bin", "HOSTNAME=web"]
    assert [m["source"] for m in out["mounts"]] == ["proc", "/c/web/hostname", "/c/web/hosts", "/c/web/resolv.conf"]
    assert mine["hostname"] == "mine" and mine["mounts"][1]["source"] == "/c/mine/hostname"  # not changed in place
