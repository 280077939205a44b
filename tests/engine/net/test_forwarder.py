"""forwarder.py and its C forwarder (native/rl_forward.c) against a real namespace running
nsserver.py (with slirp4netns configuring it, as for a container), all on 127.0.0.0/8."""

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
from rootless.engine.net.listeners import Listener
from rootless.engine.net.ports import Bound
from rootless.errors import NetworkSetupError

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


@pytest.mark.integration
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


@pytest.mark.integration
def test_client_source_address_is_kept(published):
    _, _, (b,) = published("127.0.0.1::80")
    peer = _get(b.host_port, "/peer", source="127.0.0.5").decode()
    assert peer.startswith("127.0.0.5:"), peer


@pytest.mark.integration
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


@pytest.mark.integration
def test_udp_relay(published):
    _, _, (b,) = published("127.0.0.1::5353/udp", port=5353)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(5)
        c.bind(("127.0.0.7", 0))
        for i in range(3):
            c.sendto(f"ping{i}".encode(), ("127.0.0.1", b.host_port))
            data, addr = c.recvfrom(1000)
            assert data == f"echo:ping{i}|127.0.0.7".encode() and addr == ("127.0.0.1", b.host_port)


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
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


def test_argv_names_each_listener_by_fd_proto_and_container_port():
    with socket.socket() as a, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
        lst = [Listener(Bound(80, "tcp", "0.0.0.0", 8080), a), Listener(Bound(53, "udp", "::", 5353), b)]
        assert forwarder.argv(Path("/x/_rl_forward"), 42, 7, lst, "127.0.0.1") == [
            "/x/_rl_forward", "42", str(os.getpid()), "7", "127.0.0.1",
            f"{a.fileno()}/tcp/80", f"{b.fileno()}/udp/53"]


def test_missing_binary_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(forwarder, "BINARY", "_rl_forward_missing")
    with pytest.raises(NetworkSetupError, match="port forwarder .*_rl_forward_missing is missing") as info:
        forwarder.spawn(os.getpid(), [])
    assert "make native" in info.value.hint


@pytest.mark.integration
def test_bad_arguments_are_reported_on_the_status_fd():
    r, w = os.pipe()
    with socket.socket() as s:
        arg = f"{s.fileno()}/sctp/80"
        p = subprocess.run([str(forwarder.binary()), str(os.getpid()), str(os.getpid()), str(w), "127.0.0.1",
                            arg], pass_fds=(w, s.fileno()))
    os.close(w)
    with os.fdopen(r, "rb") as f:
        assert f.read() == f"E bad listener argument {arg} (want FD/tcp|udp/PORT)".encode()
    assert p.returncode == 1


@pytest.mark.integration
def test_forwarder_is_native_and_small(published):
    """Both processes run the C executable (not a fork of Python) and stay small."""
    _, fw, (b,) = published("127.0.0.1::80")
    assert _get(b.host_port) == b"hello from the namespace\n"
    pids = [fw.pid, *_children(fw.pid)]
    assert len(pids) == 2
    for pid in pids:
        assert os.readlink(f"/proc/{pid}/exe") == str(forwarder.binary())
    assert sum(_rss_kib(pid) for pid in pids) < 4096


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.integration
def test_many_requests_on_one_keep_alive_connection(published):
    _, _, (b,) = published("127.0.0.1::80")
    with socket.create_connection(("127.0.0.1", b.host_port), timeout=10) as c:
        f = c.makefile("rb")
        for _ in range(50):  # ~40 ms each: nsserver writes head and body apart (Nagle, delayed ACK)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            length = 0
            while (line := f.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert f.read(length) == b"hello from the namespace\n"


BACKLOG_SERVER = """
import socket
s = socket.create_server(("0.0.0.0", 80), backlog=1024)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.recv(1000)
    c.sendall(b"ok\\n")
    c.close()
"""


@pytest.mark.integration
def test_more_connections_at_once_than_one_socket_batch(netns):
    """150 clients connect before any sends: more than one batch of the helper's sockets (64), so
    some wait for the next batch and are then served (a server with a long listen backlog: the
    nsserver's 5 would drop SYNs)."""
    ns = netns(80, [sys.executable, "-c", BACKLOG_SERVER])
    assert ns.out.readline() == "ready\n"
    lst = listeners.bind_published(ports.parse_publish(["127.0.0.1::80"]))
    fw = forwarder.spawn(ns.pid, lst)
    for item in lst:
        item.close()
    socks = []
    try:
        socks = [socket.create_connection(("127.0.0.1", lst[0].bound.host_port), timeout=20) for _ in range(150)]
        for s in socks:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert [s.makefile("rb").read() for s in socks] == [b"ok\n"] * 150
    finally:
        for s in socks:
            s.close()
        fw.stop()


@pytest.mark.integration
def test_half_closed_client_still_gets_a_bulk_answer(published):
    """The client shuts its sending side after the request: the forwarder passes the half-close on
    and still delivers 16 MB (the splice path) and then the server's close."""
    _, _, (b,) = published("127.0.0.1::80")
    with socket.create_connection(("127.0.0.1", b.host_port), timeout=10) as c:
        c.sendall(f"GET /bytes/{16 * MB} HTTP/1.0\r\n\r\n".encode())
        c.shutdown(socket.SHUT_WR)
        got = bytearray()
        while chunk := c.recv(1 << 20):
            got += chunk
    assert got.partition(b"\r\n\r\n")[2] == b"x" * (16 * MB)


@pytest.mark.integration
def test_stop_ends_both_processes_and_frees_the_port(published):
    _, fw, (b, u) = published("127.0.0.1::80", "127.0.0.1::80/udp")
    helper = _children(fw.pid)
    fw.stop()
    assert wait_gone(helper[0])
    socket.create_server(("127.0.0.1", b.host_port)).close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", u.host_port))
