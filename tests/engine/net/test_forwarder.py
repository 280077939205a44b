"""forwarder.py + nshelper.py against a real namespace running nsserver.py (with slirp4netns
configuring it, as for a container), all on 127.0.0.0/8."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from netns_helpers import SERVER, wait_gone
from rootless.engine.net import forwarder, listeners, ports, slirp

pytestmark = pytest.mark.integration
REPO = Path(forwarder.__file__).parents[3]
MB = 1 << 20


@pytest.fixture
def published(netns):
    """(namespace, {spec: Bound}) with slirp4netns and the forwarder running for it."""
    made = []

    def publish(*specs: str, port: int = 80):
        ns = netns(port)
        s = slirp.start(ns.pid)
        lst = listeners.bind_published(ports.parse_publish(specs))
        fw = forwarder.spawn(ns.pid, lst)
        for item in lst:
            item.close()
        made.append((s, fw))
        return ns, fw, [item.bound for item in lst]
    yield publish
    for s, fw in made:
        fw.stop()
        s.stop()


def _get(port: int, path: str = "/", source: str = "127.0.0.1") -> bytes:
    c = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    with c:
        c.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        chunks = []
        while chunk := c.recv(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks).partition(b"\r\n\r\n")[2]


def test_page_through_the_forwarder(published):
    _, _, (b,) = published("127.0.0.1::80")
    assert b.host_ip == "127.0.0.1"
    with urllib.request.urlopen(f"http://127.0.0.1:{b.host_port}/", timeout=10) as r:
        assert r.read() == b"hello from the namespace\n"
    # many connections, some at once
    socks = [socket.create_connection(("127.0.0.1", b.host_port), timeout=10) for _ in range(20)]
    for s in socks:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    for s in socks:
        assert s.makefile("rb").read().endswith(b"hello from the namespace\n")
        s.close()


def test_client_source_address_is_kept(published):
    _, _, (b,) = published("127.0.0.1::80")
    peer = _get(b.host_port, "/peer", source="127.0.0.5").decode()
    assert peer.startswith("127.0.0.5:"), peer


def test_bulk_transfer_matches_direct(published, netns):
    """64 MB through the forwarder arrive intact, at a speed comparable with no forwarding."""
    _, _, (b,) = published("127.0.0.1::80")
    t = time.perf_counter()
    body = _get(b.host_port, f"/bytes/{64 * MB}")
    forwarded = time.perf_counter() - t
    assert len(body) == 64 * MB and body.count(b"x") == 64 * MB
    direct_port = socket.create_server(("127.0.0.1", 0))
    port = direct_port.getsockname()[1]
    direct_port.close()
    server = subprocess.Popen([sys.executable, str(SERVER), str(port)], stdout=subprocess.PIPE)
    try:
        assert server.stdout.readline() == b"ready\n"
        t = time.perf_counter()
        assert len(_get(port, f"/bytes/{64 * MB}")) == 64 * MB
        direct = time.perf_counter() - t
    finally:
        server.kill()
        server.wait()
    # the server (Python) is the bottleneck of both; the forwarder must not add much
    assert forwarded < direct * 2 + 0.5, (forwarded, direct)


def test_udp_relay(published):
    _, _, (b,) = published("127.0.0.1::5353/udp", port=5353)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(5)
        c.bind(("127.0.0.7", 0))
        for i in range(3):
            c.sendto(f"ping{i}".encode(), ("127.0.0.1", b.host_port))
            data, addr = c.recvfrom(1000)
            assert data == f"echo:ping{i}|127.0.0.7".encode() and addr == ("127.0.0.1", b.host_port)


def test_tcp_and_udp_on_one_port_and_refused_port(published):
    _, _, bound = published("127.0.0.1::80", "127.0.0.1::80/udp", "127.0.0.1::81")
    tcp, udp, closed = bound
    assert _get(tcp.host_port) == b"hello from the namespace\n"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(5)
        c.sendto(b"x", ("127.0.0.1", udp.host_port))
        assert c.recvfrom(100)[0] == b"echo:x|127.0.0.1"
    # nothing listens on 81 inside: the client's connection is closed (or reset, when the
    # forwarder closes it with the request unread)
    try:
        assert _get(closed.host_port) == b""
    except ConnectionResetError:
        pass


def test_forwarder_ends_with_the_container_and_frees_the_port(published):
    ns, fw, (b,) = published("127.0.0.1::80")
    helper = _children(fw.pid)
    assert len(helper) == 1
    ns.kill()
    assert os.waitpid(fw.pid, 0)[0] == fw.pid
    assert wait_gone(helper[0])
    socket.create_server(("127.0.0.1", b.host_port)).close()  # free again


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


OWNER = """
import os, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from netns_helpers import NetNamespace
from rootless.engine.net import forwarder, listeners, ports, slirp
ns = NetNamespace(80)
s = slirp.start(ns.pid)
lst = listeners.bind_published(ports.parse_publish(["127.0.0.1::80"]))
fw = forwarder.spawn(ns.pid, lst)
for item in lst:
    item.close()
print(ns.pid, s.pid, fw.pid, lst[0].bound.host_port, flush=True)
time.sleep(60)
"""


def test_helpers_die_with_their_owner():
    """The monitor (here: a process owning slirp4netns and the forwarder) is SIGKILLed: both
    helpers go (PR_SET_PDEATHSIG, exit fd) and the port is free."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(REPO), str(Path(__file__).parent)],
                             stdout=subprocess.PIPE, text=True)
    try:
        ns_pid, slirp_pid, fw_pid, port = map(int, owner.stdout.readline().split())
        assert _get(port) == b"hello from the namespace\n"
        helper = _children(fw_pid)
    finally:
        owner.kill()
        owner.wait()
    try:
        for pid in (slirp_pid, fw_pid, *helper):
            assert wait_gone(pid), f"pid {pid} survived its owner"
        socket.create_server(("127.0.0.1", port)).close()
    finally:
        os.kill(ns_pid, signal.SIGKILL)


def test_spawn_fails_cleanly_for_a_gone_process():
    lst = listeners.bind_published(ports.parse_publish(["127.0.0.1::80"]))
    p = subprocess.Popen(["true"])
    p.wait()
    try:
        with pytest.raises(Exception, match="port forwarder"):
            forwarder.spawn(p.pid, lst)
    finally:
        for item in lst:
            item.close()
