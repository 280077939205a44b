"""The predefined networks of `rl network ls|inspect`: ids, lookup, filters, docker's fields (pure)."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, strategies as st

from rootless.engine.net import networks
from rootless.errors import NetworkNotFound, RlError

IDS = {n: hashlib.sha256(n.encode()).hexdigest() for n in ("bridge", "host", "none")}


def test_ids_are_stable_sha256_of_the_name():
    for name, digest in IDS.items():
        assert networks.network_id(name) == digest
        assert re.fullmatch(r"[0-9a-f]{64}", digest)


@pytest.mark.parametrize("ref, name", [
    ("bridge", "bridge"), ("host", "host"), ("none", "none"),
    (IDS["host"], "host"), (IDS["none"][:12], "none"), (IDS["bridge"][:5].upper(), "bridge")])
def test_find(ref, name):
    assert networks.find(ref) == name


@pytest.mark.parametrize("ref", ["nope", "appnet", "zz", "Bridge"])
def test_find_unknown(ref):
    with pytest.raises(NetworkNotFound, match=f"network {ref} not found"):
        networks.find(ref)


@pytest.mark.parametrize("filters, names", [
    ((), ["bridge", "host", "none"]),
    (("name=o",), ["host", "none"]),
    (("name=bridge", "name=none"), ["bridge", "none"]),
    (("name=^h",), ["host"]),
    (("driver=null",), ["none"]),
    (("driver=bridge", "name=host"), []),
    (("scope=local",), ["bridge", "host", "none"]),
    (("scope=swarm",), []),
    (("type=builtin",), ["bridge", "host", "none"]),
    (("type=custom",), []),
    ((f"id={IDS['host'][:6]}",), ["host"]),
    (("label=a",), []),
])
def test_rows_filters(filters, names):
    assert [r["Name"] for r in networks.rows(filters)] == names


@pytest.mark.parametrize("bad", ["bad=1", "name", "=x"])
def test_rows_bad_filter(bad):
    with pytest.raises(RlError, match="Invalid filter"):
        networks.rows((bad,))


@given(st.text(max_size=12))
def test_name_filter_never_crashes_and_is_a_subset(pattern):
    names = [r["Name"] for r in networks.rows((f"name={pattern}",))]
    assert set(names) <= {"bridge", "host", "none"}
    for name in ("bridge", "host", "none"):
        if pattern in name:
            assert name in names


def running(cid: str, name: str, mode: str, up: bool = True) -> dict:
    return {"Id": cid, "Name": "/" + name, "State": {"Running": up}, "HostConfig": {"NetworkMode": mode}}


def test_inspect_fields_and_containers():
    records = [running("a" * 64, "web", "bridge"), running("b" * 64, "h", "host"),
               running("c" * 64, "old", "bridge", up=False), running("d" * 64, "j", "container:" + "a" * 64),
               running("e" * 64, "n", "none"), running("f" * 64, "s", "slirp4netns")]
    bridge = networks.inspect("bridge", records)
    assert list(bridge) == ["Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal",
                            "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options",
                            "Labels"]
    assert bridge["Id"] == IDS["bridge"] and bridge["Driver"] == "bridge" and bridge["Scope"] == "local"
    assert bridge["IPAM"]["Config"] == [{"Subnet": "10.0.2.0/24", "Gateway": "10.0.2.2"}]
    assert set(bridge["Containers"]) == {"a" * 64, "f" * 64}
    assert bridge["Containers"]["a" * 64]["Name"] == "web"
    assert bridge["Containers"]["a" * 64]["IPv4Address"] == "10.0.2.100/24"
    host = networks.inspect("host", records)
    assert host["Driver"] == "host" and host["IPAM"]["Config"] == [] and list(host["Containers"]) == ["b" * 64]
    none = networks.inspect("none", records)
    assert none["Driver"] == "null" and list(none["Containers"]) == ["e" * 64]
