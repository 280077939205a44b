"""The holder's DNS loop with real sockets on 127.0.0.1 (no namespaces): local answers from the
endpoints on disk, forwarding of dotted names to the upstream and its reply relayed, NXDOMAIN for
unknown single labels and on internal networks, FORMERR for garbage."""

from __future__ import annotations

import os
import socket

import pytest

from rootless.engine.net import dns, holder, usernet
from rootless.paths import Paths


@pytest.fixture
def rig(tmp_path):
    paths = Paths(tmp_path / "root", tmp_path / "run", tmp_path / "cfg", tmp_path)
    h = holder.Holder(paths)
    h.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    h.listener.bind(str(tmp_path / "ctl"))
    h.listener.listen(1)
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.1", 0))
    upstream.settimeout(5)
    h.upstreams = [upstream.getsockname()]
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    made = []

    def network(name: str, internal: bool = False) -> tuple[dict, socket.socket]:
        net = usernet.create(paths, name, internal=internal)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        h.nets[net["Id"]] = {"network": net, "slirp": None, "dns": sock}
        made.append(sock)
        return net, sock
    yield paths, h, upstream, client, network
    for s in [h.listener, upstream, client, *made]:
        s.close()


def ask(h, client, sock, data: bytes) -> bytes:
    client.sendto(data, sock.getsockname())
    h._tick()
    return client.recv(4096)


def test_local_names_forwarding_and_nxdomain(rig):
    paths, h, upstream, client, network = rig
    net, sock = network("appnet")
    usernet.allocate(paths, net, "a" * 64, "web", ["www"], os.getpid())
    assert dns.parse_answers(ask(h, client, sock, dns.build_query(1, "web")))[1] == [usernet.endpoints(
        paths, net["Id"])["a" * 64]["IPv4Address"].split("/")[0]]
    assert dns.parse_answers(ask(h, client, sock, dns.build_query(2, "WWW.")))[0] == dns.NOERROR
    assert dns.parse_answers(ask(h, client, sock, dns.build_query(3, "web", dns.TYPE_AAAA))) == (dns.NOERROR, [])
    assert dns.parse_answers(ask(h, client, sock, dns.build_query(4, "nosuch")))[0] == dns.NXDOMAIN
    # a dotted name goes to the upstream; its answer comes back to the client as sent
    query = dns.build_query(5, "example.test")
    client.sendto(query, sock.getsockname())
    h._tick()
    got, source = upstream.recvfrom(4096)
    assert got == query
    upstream.sendto(b"upstream-answer", source)
    h._tick()
    assert client.recv(4096) == b"upstream-answer"
    assert not h.pending
    reply = ask(h, client, sock, b"\x00\x07\x01\x00garbage-garbage")
    assert reply[:2] == b"\x00\x07" and reply[3] & 0xF == dns.FORMERR


def test_internal_network_does_not_forward(rig):
    paths, h, upstream, client, network = rig
    _net, sock = network("inner", internal=True)
    reply = ask(h, client, sock, dns.build_query(9, "example.test"))
    assert dns.parse_answers(reply)[0] == dns.NXDOMAIN and not h.pending


def test_upstreams_from_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search x\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\n# nameserver 1.1.1.1\n")
    assert holder._upstreams(str(conf)) == [("127.0.0.53", 53), ("fe80::1", 53)]
    assert holder._upstreams(str(tmp_path / "missing")) == []
