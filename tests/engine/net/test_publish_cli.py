"""`rl run -p/-P`, `rl port`, `rl ps` PORTS end to end: the real rl executable, the fixture nginx and
busybox images from the local registry, all traffic on 127.0.0.0/8. Runs as root, rltest and rltest1."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("net"), fixture_images, ("nginx", "busybox")) as environ:
        yield environ


record = rl.container_record


#: the fixture's nginx config that works with every id mapping (a single-uid map has no www-data)
NGINX = ("nginx", "nginx", "-c", "/etc/nginx/single-uid.conf", "-g", "daemon off;")


def get(port: int, path: str = "/", source: str = "127.0.0.1", timeout: float = 15.0) -> bytes:
    """HTTP GET through the published port, retried while nginx starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as c:
                c.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                data = c.makefile("rb").read()
            if data.startswith(b"HTTP/1.1 200"):
                return data
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no page on port {port}")
        time.sleep(0.1)


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


wait = rl.wait_until


def test_publish_all_port_ps_and_stop(rlx, env):
    done = rlx("run", "-d", "-P", "--name", "web", *NGINX)
    assert done.returncode == 0, done.stderr
    try:
        lines = rlx("port", "web").stdout.splitlines()
        assert lines, (rlx("ps", "-a").stdout, record(env, "web")["State"], rlx("logs", "web").stderr)
        port = int(lines[0].rpartition(":")[2])
        assert lines[0] == f"80/tcp -> 0.0.0.0:{port}" and lines[1:] in ([], [f"80/tcp -> :::{port}"])
        assert rlx("port", "web", "80/tcp").stdout.splitlines()[0] == f"0.0.0.0:{port}"
        missing = rlx("port", "web", "443")
        assert missing.returncode == 1 and "No public port '443/tcp' published for web" in missing.stderr
        assert b"nginx" in get(port).lower()
        ps = rlx("ps").stdout
        assert re.search(rf"0\.0\.0\.0:{port}->80/tcp", ps), ps
        rec = record(env, "web")
        assert rec["NetworkSettings"]["Ports"]["80/tcp"][0] == {"HostIp": "0.0.0.0", "HostPort": str(port)}
        assert rec["HostConfig"]["PortBindings"] == {} and rec["HostConfig"]["PublishAllPorts"] is True
        helpers = rec["Rl"]["NetworkHelpers"]
        assert len(helpers) == 2
        assert rlx("stop", "web").returncode == 0
        assert wait(lambda: all(gone(pid) for pid in helpers)), helpers
        socket.create_server(("0.0.0.0", port)).close()  # the port is free again
        assert rlx("port", "web").stdout == ""
    finally:
        rlx("rm", "-f", "web")


def test_killed_container_frees_its_port_and_ends_its_helpers(rlx, env):
    """`rl kill` (SIGKILL to the container, its monitor records the end): the forwarder and
    slirp4netns go with it and the published port is free again."""
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    done = rlx("run", "-d", "--name", "killed", "-p", f"127.0.0.1:{port}:80", *NGINX)
    assert done.returncode == 0, done.stderr
    try:
        assert b"nginx" in get(port).lower()
        helpers = record(env, "killed")["Rl"]["NetworkHelpers"]
        assert len(helpers) == 2
        assert rlx("kill", "killed").returncode == 0
        assert wait(lambda: all(gone(pid) for pid in helpers)), helpers
        assert wait(lambda: record(env, "killed")["State"]["Status"] == "exited")
        socket.create_server(("127.0.0.1", port)).close()  # the port is free again
    finally:
        rlx("rm", "-f", "killed")


def test_publish_on_loopback_keeps_the_client_address(rlx, env):
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    done = rlx("run", "-d", "--name", "web2", "-p", f"127.0.0.1:{port}:80", *NGINX)
    assert done.returncode == 0, done.stderr
    try:
        assert rlx("port", "web2").stdout == f"80/tcp -> 127.0.0.1:{port}\n"
        get(port, "/?from-5", source="127.0.0.5")
        assert wait(lambda: re.search(r"^127\.0\.0\.5 .*GET /\?from-5", rlx("logs", "web2").stdout, re.M))
        busy = rlx("run", "-d", "-p", f"127.0.0.1:{port}:80", *NGINX)
        assert busy.returncode == 125
        assert f"Bind for 127.0.0.1:{port} failed: port is already allocated" in busy.stderr
        # the failed container did not start (docker leaves it created)
        assert "Up" not in [line for line in rlx("ps", "-a").stdout.splitlines()[1:] if "web2" not in line]
    finally:
        rlx("rm", "-f", "web2")


def test_bad_publish_specs(rlx):
    for spec, message in (("8080:abc", "invalid containerPort: abc"), ("x:80", "Invalid hostPort: x"),
                          ("80/icmp", "invalid proto: icmp")):
        done = rlx("run", "--rm", "-p", spec, "busybox", "true")
        assert done.returncode == 125 and message in done.stderr, done.stderr


def test_privileged_port(rlx):
    if os.geteuid() == 0:
        pytest.skip("root may bind ports below 1024")
    done = rlx("run", "--rm", "-p", "127.0.0.1:80:80", "busybox", "true")
    assert done.returncode == 125 and "net.ipv4.ip_unprivileged_port_start" in done.stderr, done.stderr


def test_foreground_run_serves_once_and_frees_the_port(rlx):
    """The foreground path (rl run without -d): busybox nc answers one connection through -p, the
    container exits, rl exits, the port is free (UDP: test_udp_mapping_delivers_a_datagram)."""
    import threading

    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    out: list = []

    def client():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                    data = c.makefile("rb").read()
                if data:
                    out.append(data)
                    return
            except OSError:
                pass
            time.sleep(0.1)
    t = threading.Thread(target=client)
    t.start()
    done = rlx("run", "--rm", "-p", f"127.0.0.1:{port}:8080", "busybox", "sh", "-c",
               "echo hello-from-nc | nc -l -p 8080", timeout=60)
    t.join()
    assert done.returncode == 0, done.stderr
    assert out == [b"hello-from-nc\n"], (out, done.stderr)
    socket.create_server(("127.0.0.1", port)).close()


UDP_SERVER = ("import socket, sys\n"
              "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5353))\n"
              "print('ready', flush=True)\n"
              "data, peer = s.recvfrom(100); print('got', data.decode(), flush=True); s.sendto(b'pong', peer)\n")


def test_udp_mapping_delivers_a_datagram(rlx):
    """The seed's `/udp` mapping end to end: `rl run -d -p 127.0.0.1:PORT:5353/udp`, a datagram
    from the host reaches the container's UDP server and its answer comes back. The fixture
    busybox has no UDP server applet, so the host's python3 serves (its /usr bound read-only)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    done = rlx("run", "-d", "--name", "udp", "-p", f"127.0.0.1:{port}:5353/udp", "-v", "/usr:/usr:ro",
               "-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro", "busybox", "/usr/bin/python3", "-c", UDP_SERVER)
    assert done.returncode == 0, done.stderr
    try:
        assert rlx("port", "udp").stdout == f"5353/udp -> 127.0.0.1:{port}\n"
        assert wait(lambda: "ready" in rlx("logs", "udp").stdout, 30), rlx("logs", "udp").stderr
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.settimeout(1)
            answer = None
            for _ in range(20):  # UDP: resend until the relay and the server answer
                c.sendto(b"ping", ("127.0.0.1", port))
                try:
                    answer = c.recv(100)
                    break
                except socket.timeout:
                    continue
        assert answer == b"pong"
        assert wait(lambda: "got ping" in rlx("logs", "udp").stdout)
    finally:
        rlx("rm", "-f", "udp")


@pytest.mark.parametrize("network", ["pasta", "none"])
def test_other_networks(rlx, network):
    """--network pasta: the same layout (10.0.2.100, gateway 10.0.2.2) and -p through rl's
    forwarder; none: loopback only."""
    if network == "pasta" and not shutil.which("pasta"):
        pytest.skip("pasta (passt) is not installed on this host")
    done = rlx("run", "--rm", "--network", network, "busybox", "ip", "-4", "-o", "addr")
    assert done.returncode == 0, done.stderr
    assert ("10.0.2.100/24" in done.stdout) == (network == "pasta"), done.stdout
    assert "127.0.0.1/8" in done.stdout
    if network == "none":
        bad = rlx("run", "--rm", "--network", "none", "-p", "8080:80", "busybox", "true")
        assert bad.returncode == 125 and "conflicting options" in bad.stderr
