"""stack.py: plans from container records (pure) and one real run of the whole network layer."""

from __future__ import annotations

import socket

import pytest

from netns_helpers import wait_gone
from rootless.engine.net import stack
from rootless.engine.net.ports import PortMapping
from rootless.errors import UsageError


def _record(mode="bridge", bindings=None, exposed=None, publish_all=False):
    return {"HostConfig": {"NetworkMode": mode, "PortBindings": bindings or {},
                           "PublishAllPorts": publish_all},
            "Config": {"ExposedPorts": exposed or {}}}


def test_plan_default_stack():
    p = stack.plan(_record(bindings={"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}))
    assert p.mode in ("slirp4netns", "pasta")
    assert p.mappings == (PortMapping(80, "tcp", "", "8080"),) and p.exposed == ("80/tcp",)


def test_plan_publish_all():
    p = stack.plan(_record(exposed={"80/tcp": {}, "443/tcp": {}}, publish_all=True,
                           bindings={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "1199"}]}))
    assert p.mappings == (PortMapping(80, "tcp", "127.0.0.1", "1199"), PortMapping(443, "tcp"))
    assert p.exposed == ("80/tcp", "443/tcp")


def test_plan_host_discards_ports_with_dockers_warning():
    p = stack.plan(_record("host", bindings={"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}))
    assert (p.mode, p.mappings, p.warnings) == ("host", (), (stack.HOST_WARNING,))


@pytest.mark.parametrize("mode", ["none", "container:abc"])
def test_plan_refuses_ports_without_a_namespace_of_its_own(mode):
    with pytest.raises(UsageError, match="conflicting options"):
        stack.plan(_record(mode, bindings={"80/tcp": [{}]}))


def test_plan_unknown_network(tmp_path):
    from rootless.errors import NetworkNotFound
    from rootless.paths import Paths

    paths = Paths(tmp_path / "root", tmp_path / "run", tmp_path / "cfg", tmp_path)
    with pytest.raises(NetworkNotFound, match="network nosuch not found"):
        stack.plan(_record("nosuch"), paths)  # a user network's name, but none by that name
    with pytest.raises(UsageError, match="network a/b not found"):
        stack.plan(_record("a/b"))


@pytest.mark.integration
def test_start_and_stop_the_network_of_a_container(netns, tmp_path):
    ns = netns(80)
    p = stack.plan(_record("slirp4netns", bindings={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}))
    running = stack.start(tmp_path / "run" / "slirp.sock", ns.pid, p, stack.bind(p))
    try:
        settings = running.network_settings()
        (entry,) = settings["Ports"]["80/tcp"]
        assert entry["HostIp"] == "127.0.0.1" and settings["IPAddress"] == "10.0.2.100"
        with socket.create_connection(("127.0.0.1", int(entry["HostPort"])), timeout=10) as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert c.makefile("rb").read().endswith(b"hello from the namespace\n")
        pids = [running.stack.pid, running.forwarder.pid]
    finally:
        running.stop()
    assert all(wait_gone(pid) for pid in pids)
    socket.create_server(("127.0.0.1", int(entry["HostPort"]))).close()
