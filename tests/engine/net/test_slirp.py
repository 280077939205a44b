"""slirp.py: the command line and /etc files (pure), and a real slirp4netns for a namespace."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from netns_helpers import wait_gone
from rootless.engine.net import slirp


def test_command_line():
    argv = slirp.command("/usr/bin/slirp4netns", 42, 5, 6, Path("/run/x/slirp.sock"))
    assert argv == ["/usr/bin/slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
                    "--enable-sandbox", "--enable-seccomp", "--cidr=10.0.2.0/24",
                    "--api-socket=/run/x/slirp.sock", "--ready-fd=5", "--exit-fd=6", "42", "tap0"]


RESOLV = [
    ("", "nameserver 10.0.2.3\n"),
    ("nameserver 192.168.1.1\nsearch example.com lab\noptions ndots:2\n",
     "search example.com lab\nnameserver 10.0.2.3\noptions ndots:2\n"),
    ("domain corp\nnameserver ::1\n", "search corp\nnameserver 10.0.2.3\n"),
]


@pytest.mark.parametrize(("host", "expected"), RESOLV)
def test_resolv_conf(host, expected):
    assert slirp.resolv_conf(host) == expected


def test_hosts():
    text = slirp.hosts("abc123", extra=[("db", "10.0.2.50")])
    assert text.splitlines() == [
        "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "10.0.2.50\tdb",
        "10.0.2.100\tabc123", "10.0.2.2\thost.containers.internal host.docker.internal"]


@pytest.mark.integration
def test_slirp4netns_configures_the_namespace(netns, tmp_path):
    ns = netns(8080)
    sock = tmp_path / "slirp.sock"
    s = slirp.start(ns.pid, api_socket=sock)
    try:
        addr = ns.run("ip", "-4", "-o", "addr", "show", "tap0").stdout
        assert "inet 10.0.2.100/24" in addr
        assert "mtu 65520" in ns.run("ip", "link", "show", "tap0").stdout
        assert "default via 10.0.2.2 dev tap0" in ns.run("ip", "route").stdout
        assert sock.is_socket()
        # the gateway answers (busybox ping: the namespace's root has CAP_NET_RAW there)
        ping = ns.run("/bin/busybox", "ping", "-c", "1", "-W", "3", "10.0.2.2")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        # --disable-host-loopback: the host's 127.0.0.1 is not reachable through the gateway
        host = socket.create_server(("127.0.0.1", 0))
        try:
            port = host.getsockname()[1]
            nc = ns.run("/bin/busybox", "nc", "-w", "2", "10.0.2.2", str(port), timeout=15)
            assert nc.returncode != 0
        finally:
            host.close()
    finally:
        s.stop()
    assert s.process.returncode is not None and not sock.exists()


@pytest.mark.integration
def test_slirp4netns_exits_when_its_owner_closes_the_exit_fd(netns):
    ns = netns(8080)
    s = slirp.start(ns.pid)
    ns.kill()  # the container is gone; slirp4netns would idle on: the exit fd ends it
    assert s.process.poll() is None
    os.close(s.exit_w)
    s.exit_w = -1
    assert wait_gone(s.pid)
    s.stop()


SANDBOX_CASE = r"""
import subprocess, time
from rootless.engine.net import slirp
ns = subprocess.Popen(["unshare", "-n", "sleep", "30"])
time.sleep(0.3)
s = slirp.start(ns.pid)
time.sleep(0.3)
mounts = open("/proc/self/mountinfo").read()
s.stop(); ns.kill(); ns.wait()
print(" /dev/pts " in mounts, " /dev/shm " in mounts)
"""


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="only real root's slirp4netns sandbox can unmount the host's /dev")
def test_sandbox_keeps_the_hosts_dev_mounts_on_a_shared_root():
    """As real root on a host whose "/" is shared (systemd's default), slirp4netns --enable-sandbox
    unmounted the host's /dev/pts and /dev/shm; rl gives it a private mount namespace. The check
    runs inside a throwaway mount namespace with shared propagation, standing in for such a host."""
    import subprocess
    import sys

    out = subprocess.run(["unshare", "-m", "--propagation", "shared", sys.executable, "-c", SANDBOX_CASE],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]
