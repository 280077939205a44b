"""User networks without a kernel: address planning, allocation, definitions and endpoints on disk,
the ip -batch lines, the config.json rewrite and the /etc files (table-driven, pure or tmp_path)."""

from __future__ import annotations

import ipaddress
import os

import pytest
from hypothesis import given, strategies as st

from rootless.engine.net import bridge, endpoints, networks, usernet
from rootless.errors import Conflict, NetworkNotFound, UsageError
from rootless.paths import Paths

NET = ipaddress.IPv4Network


@pytest.fixture
def paths(tmp_path):
    return Paths(tmp_path / "root", tmp_path / "run", tmp_path / "cfg", tmp_path)


@pytest.mark.parametrize("used, expected", [
    ([], "10.89.1.0/24"),
    ([NET("10.89.1.0/24")], "10.89.2.0/24"),
    ([NET("10.89.0.0/23")], "10.89.2.0/24"),
    ([NET("10.89.1.0/24"), NET("10.89.3.0/24")], "10.89.2.0/24"),
    ([NET("10.0.0.0/8")], None),
])
def test_choose_subnet(used, expected):
    if expected is None:
        with pytest.raises(UsageError, match="no free subnet"):
            usernet.choose_subnet(used)
    else:
        assert str(usernet.choose_subnet(used)) == expected


@pytest.mark.parametrize("subnet, gateway, internal, result", [
    (None, None, False, ("10.89.2.0/24", "10.89.2.1")),
    ("10.90.0.0/16", None, False, ("10.90.0.0/16", "10.90.0.1")),
    ("10.90.0.0/24", "10.90.0.254", False, ("10.90.0.0/24", "10.90.0.254")),
    ("10.90.0.0/24", "10.90.0.2", True, ("10.90.0.0/24", "10.90.0.2")),    # no slirp4netns there
    ("10.90.0.0/24", "10.90.0.2", False, "reserved for the user-mode stack"),
    ("10.90.0.0/24", "10.90.0.3", False, "reserved for the user-mode stack"),
    ("10.90.0.0/24", "10.91.0.1", False, "not a host address"),
    ("10.90.0.0/24", "10.90.0.255", False, "not a host address"),
    ("10.90.0.0/24", "nope", False, "invalid gateway"),
    ("10.90.0.5/24", None, False, "host bits set"),
    ("10.90.0.0/30", None, False, "too small"),
    ("bad", None, False, "invalid subnet"),
    ("10.89.1.128/25", None, False, "overlaps"),
])
def test_plan_addresses(subnet, gateway, internal, result):
    used = [NET("10.89.1.0/24")]
    if isinstance(result, tuple):
        assert usernet.plan_addresses(subnet, gateway, internal, used) == result
    else:
        with pytest.raises((UsageError, Conflict), match=result):
            usernet.plan_addresses(subnet, gateway, internal, used)


def test_free_address_skips_gateway_slirp_and_taken():
    net = {"Name": "n", "Subnet": "10.1.2.0/29", "Gateway": "10.1.2.1"}
    assert usernet.free_address(net, set()) == "10.1.2.4"
    assert usernet.free_address(net, {"10.1.2.4", "10.1.2.5"}) == "10.1.2.6"
    with pytest.raises(Conflict, match="no free address"):
        usernet.free_address(net, {"10.1.2.4", "10.1.2.5", "10.1.2.6"})
    assert usernet.free_address({**net, "Gateway": "10.1.2.6"}, set()) == "10.1.2.1"


@given(st.ip_addresses(v=4))
def test_mac_for_is_docker_style_and_unique(address):
    mac = usernet.mac_for(str(address))
    assert mac.startswith("02:42:") and len(mac) == 17
    assert bytes(int(b, 16) for b in mac.split(":")[2:]) == address.packed


@pytest.mark.parametrize("name, error", [
    ("appnet", None), ("a.b-c_d", None), ("9x", None),
    ("-x", UsageError), ("", UsageError), ("a b", UsageError), ("a/b", UsageError),
    ("bridge", Conflict), ("host", Conflict), ("none", Conflict), ("pasta", Conflict),
])
def test_validate_name(name, error):
    if error is None:
        assert usernet.validate_name(name) == name
    else:
        with pytest.raises(error):
            usernet.validate_name(name)


def test_create_find_remove_on_disk(paths):
    a = usernet.create(paths, "a")
    b = usernet.create(paths, "b", subnet="10.5.0.0/24", internal=True, labels={"k": "v"})
    assert (a["Subnet"], a["Gateway"], b["Internal"]) == ("10.89.1.0/24", "10.89.1.1", True)
    assert len(a["Id"]) == 64 and a["Id"] != b["Id"]
    assert usernet.create(paths, "c")["Subnet"] == "10.89.2.0/24"
    assert [n["Name"] for n in usernet.all_networks(paths)] == ["a", "b", "c"]
    assert usernet.find(paths, a["Id"][:6])["Name"] == "a"
    assert usernet.find(paths, b["Id"].upper())["Name"] == "b"
    with pytest.raises(Conflict, match="already exists"):
        usernet.create(paths, "a")
    with pytest.raises(Conflict, match="has active endpoints"):
        usernet.remove(paths, a, ["web"])
    usernet.remove(paths, a, [])
    with pytest.raises(NetworkNotFound):  # by its id: "a" alone is also an id prefix (docker's rule)
        usernet.find(paths, a["Id"])
    assert networks.find(b["Id"][:8], paths) == "b"
    rows = networks.rows((), paths)
    assert [r["Name"] for r in rows] == ["b", "bridge", "c", "host", "none"]
    assert [r["Name"] for r in networks.rows(("type=custom",), paths)] == ["b", "c"]
    assert [r["Name"] for r in networks.rows(("label=k=v",), paths)] == ["b"]
    assert [r["Name"] for r in networks.rows(("driver=bridge",), paths)] == ["b", "bridge", "c"]
    shown = networks.inspect("b", [], paths)
    assert shown["IPAM"]["Config"] == [{"Subnet": "10.5.0.0/24", "Gateway": "10.5.0.1"}]
    assert shown["Internal"] is True and shown["Containers"] == {} and shown["Labels"] == {"k": "v"}


def test_endpoints_allocate_release_and_stale(paths):
    net = usernet.create(paths, "n", subnet="10.6.0.0/24")
    me = usernet.allocate(paths, net, "a" * 64, "web", ["www"], os.getpid())
    assert me["IPv4Address"] == "10.6.0.4/24" and me["MacAddress"] == "02:42:0a:06:00:04"
    assert me["Aliases"] == ["web", "www", "a" * 12]
    # a second live container gets the next address; a dead one's address is reused
    other = usernet.allocate(paths, net, "b" * 64, "db", [], os.getppid())
    assert other["IPv4Address"] == "10.6.0.5/24"
    assert usernet.lookup(paths, net["Id"], "WWW.") == ["10.6.0.4"]
    assert usernet.lookup(paths, net["Id"], "db") == ["10.6.0.5"]
    assert usernet.lookup(paths, net["Id"], "nope") == []
    usernet.release(paths, net["Id"], "a" * 64)
    assert usernet.lookup(paths, net["Id"], "web") == []
    stale = usernet.endpoints(paths, net["Id"], live=False)
    stale["c" * 64] = {**other, "Name": "ghost", "Aliases": ["ghost"], "Pid": 2 ** 22 + 7, "IPv4Address": "10.6.0.4/24"}
    usernet._write_json(paths.network_endpoints(net["Id"]), stale)
    assert usernet.lookup(paths, net["Id"], "ghost") == []
    assert usernet.allocate(paths, net, "d" * 64, "new", [], os.getpid())["IPv4Address"] == "10.6.0.4/24"


def test_ip_lines():
    net = {"Id": "f" * 64, "Subnet": "10.7.0.0/24", "Gateway": "10.7.0.1"}
    assert bridge.bridge_lines(net, 1500) == [
        "link add br-ffffffffffff type bridge", "link set br-ffffffffffff mtu 1500",
        "addr add 10.7.0.1/24 dev br-ffffffffffff", "link set br-ffffffffffff up"]
    assert bridge.tap_lines(net) == ["link set tp-ffffffffffff master br-ffffffffffff", "link set tp-ffffffffffff up"]
    veth = bridge.veth_name("a" * 64, net["Id"])
    assert len(veth) <= 15
    assert bridge.veth_lines("a" * 64, net, 42, "eth1", 9000)[0] == \
        f"link add {veth} mtu 9000 type veth peer name eth1 mtu 9000 netns 42"
    ep = {"MacAddress": "02:42:0a:07:00:04", "IPv4Address": "10.7.0.4/24"}
    assert bridge.inside_lines(ep, "eth0", "10.7.0.2")[-1] == "route add default via 10.7.0.2 dev eth0"
    assert not any("route" in line for line in bridge.inside_lines(ep, "eth1", None))


MAPS = {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}


def test_join_holder():
    config = {"linux": {"namespaces": [{"type": "user"}, {"type": "network"}, {"type": "mount"}], **MAPS}}
    info = {"ns_pid": 7, "userns": True, "mapping": MAPS}
    out = endpoints.join_holder(config, info)
    assert out["linux"]["namespaces"] == [{"type": "user", "path": "/proc/7/ns/user"}, {"type": "network"},
                                          {"type": "mount"}]
    assert endpoints.join_holder(config, {"ns_pid": 7, "userns": False}) == config  # real root
    other = {**MAPS, "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1},
                                     {"containerID": 1, "hostID": 100000, "size": 65536}]}
    with pytest.raises(UsageError, match="default user namespace mapping"):
        endpoints.join_holder({"linux": {"namespaces": [{"type": "user"}], **other}}, info)


@pytest.mark.parametrize("record, expected", [
    ({"HostConfig": {"NetworkMode": "bridge"}}, []),
    ({"HostConfig": {"NetworkMode": "container:abc"}}, []),
    ({"HostConfig": {"NetworkMode": "appnet"}}, [("appnet", [])]),
    ({"HostConfig": {"NetworkMode": "appnet"}, "Rl": {"Endpoints": {"appnet": {"Aliases": ["w"]}}}},
     [("appnet", ["w"])]),
    ({"HostConfig": {"NetworkMode": "appnet"}, "Rl": {"Endpoints": {"b": {"Aliases": ["x"]}}}},
     [("appnet", []), ("b", ["x"])]),
    ({"HostConfig": {"NetworkMode": "bridge"}, "Rl": {"Endpoints": {"b": {}}}}, [("b", [])]),
])
def test_wanted(record, expected):
    assert endpoints.wanted(record) == expected


def test_etc_files():
    assert endpoints.resolv_conf("10.8.0.1", "search example.org\nnameserver 1.1.1.1\noptions ndots:2\n") == \
        "nameserver 10.8.0.1\noptions ndots:2\n"
    assert endpoints.resolv_conf("10.8.0.1") == "nameserver 10.8.0.1\n"
    text = endpoints.hosts("abc123", ["10.8.0.4", "10.9.0.4"], "web")
    assert text.splitlines()[-1] == "10.8.0.4\tabc123 web"
    assert "127.0.0.1\tlocalhost" in text


@pytest.mark.parametrize("names, expected", [
    (["lo"], "eth0"), (["lo", "eth0"], "eth1"), (["lo", "tap0"], "eth0"),
    (["lo", "eth1"], "eth0"), (["lo", "eth0", "eth2"], "eth1"),
])
def test_free_ifname(names, expected):
    text = "Inter-|   Receive\n face |bytes\n" + "".join(f"  {n}: 0 0 0\n" for n in names)
    assert endpoints.free_ifname(text) == expected
