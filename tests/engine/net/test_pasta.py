"""pasta.py: command line (pure) and a real pasta for a namespace (pasta is in the CI packages)."""

from __future__ import annotations

import pytest

from netns_helpers import wait_gone
from rootless.engine.net import pasta


def test_command_line():
    assert pasta.command("/usr/bin/pasta", 42) == [
        "/usr/bin/pasta", "--config-net", "--foreground", "--quiet", "--mtu", "65520",
        "-a", "10.0.2.100", "-n", "24", "-g", "10.0.2.2", "--dns-forward", "10.0.2.3", "--no-map-gw",
        "-I", "tap0", "-t", "none", "-u", "none", "-T", "none", "-U", "none", "42"]
    assert pasta.command("pasta", 42, netns_fd=7)[-5:] == [
        "--runas", "0:0", "--netns", "/proc/self/fd/7", "--netns-only"]


@pytest.mark.integration
def test_pasta_configures_the_namespace_and_is_killed(netns):
    if pasta.find() is None:
        pytest.skip("pasta (passt) is not installed on this host")
    ns = netns(8080)
    p = pasta.start(ns.pid)
    try:
        assert "inet 10.0.2.100/24" in ns.run("ip", "-4", "-o", "addr", "show", "tap0").stdout
        assert "default via 10.0.2.2" in ns.run("ip", "route").stdout
    finally:
        ns.kill()
        p.stop()
    assert wait_gone(p.pid)
