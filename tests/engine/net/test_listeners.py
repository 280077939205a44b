"""listeners.py: binding published ports on the host (real sockets on 127.0.0.0/8)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rootless.engine.net import listeners, ports
from rootless.errors import PublishError


def _spec(*specs):
    return ports.parse_publish(specs)


def test_random_port_is_in_the_ephemeral_range_and_bound():
    first, last = listeners.ephemeral_range()
    (lst,) = listeners.bind_published(_spec("127.0.0.1::80"))
    try:
        assert lst.bound.host_ip == "127.0.0.1" and first <= lst.bound.host_port <= last
        with pytest.raises(OSError):
            socket.create_server(("127.0.0.1", lst.bound.host_port))
    finally:
        lst.close()


def test_all_addresses_bind_v4_and_v6_on_one_port():
    bound = listeners.bind_published(_spec("80"))
    try:
        ips = [b.bound.host_ip for b in bound]
        assert ips[0] == "0.0.0.0" and ips[1:] in ([], ["::"])
        assert len({b.bound.host_port for b in bound}) == 1
    finally:
        for b in bound:
            b.close()


def test_port_in_use_gives_dockers_message_and_closes_what_was_bound():
    busy = socket.create_server(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    try:
        with pytest.raises(PublishError) as info:
            listeners.bind_published(_spec("127.0.0.1::81", f"127.0.0.1:{port}:80"))
        assert info.value.message == f"Bind for 127.0.0.1:{port} failed: port is already allocated"
        assert info.value.exit_code == 125
    finally:
        busy.close()


def test_host_range_picks_a_free_port_in_it():
    busy = socket.create_server(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    try:
        (lst,) = listeners.bind_published(_spec(f"127.0.0.1:{port}-{port + 5}:80"))
        assert port < lst.bound.host_port <= port + 5
        lst.close()
    finally:
        busy.close()


def test_udp_and_tcp_on_the_same_port_number():
    tcp, udp = listeners.bind_published(_spec("127.0.0.1::80/tcp"))[0], None
    try:
        (udp,) = listeners.bind_published(_spec(f"127.0.0.1:{tcp.bound.host_port}:80/udp"))
        assert udp.sock.type == socket.SOCK_DGRAM and udp.bound.host_port == tcp.bound.host_port
    finally:
        tcp.close()
        if udp:
            udp.close()


def test_sctp_is_refused():
    with pytest.raises(PublishError, match="SCTP"):
        listeners.bind_published(_spec("127.0.0.1::80/sctp"))


PRIVILEGED = """
import sys
sys.path.insert(0, sys.argv[1])
from rootless.engine.net import listeners, ports
from rootless.errors import PublishError
try:
    listeners.bind_published(ports.parse_publish(["127.0.0.1:80:80"]))
except PublishError as e:
    print(e.message); print(e.hint)
"""


def test_privileged_port_names_the_sysctl():
    """As a user (as root: as nobody, via setpriv), port 80 is refused with the sysctl named."""
    if listeners.unprivileged_port_start() <= 80:
        pytest.skip("this host lets users bind port 80 (net.ipv4.ip_unprivileged_port_start <= 80)")
    argv = [sys.executable, "-c", PRIVILEGED, str(Path(listeners.__file__).parents[3])]
    if os.geteuid() == 0:
        argv = [shutil.which("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups"] + argv
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd="/")
    assert "net.ipv4.ip_unprivileged_port_start = 1024" in out.stdout, out.stderr
    assert "cannot publish port 80" in out.stdout
    assert "sysctl -w net.ipv4.ip_unprivileged_port_start=80" in out.stdout
