"""User-defined networks end to end through the real rl: two containers on `appnet` reach each other
by name and alias, a container on another network cannot; create/ls/inspect/rm/prune/connect/
disconnect in docker's shapes; no process is left once the networks are gone. Fixture nginx and
busybox images; traffic only inside the namespaces rl makes. Runs as root, rltest and rltest1."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]

NGINX = ("nginx", "nginx", "-c", "/etc/nginx/single-uid.conf", "-g", "daemon off;")


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("usernet"), fixture_images, ("nginx", "busybox")) as environ:
        yield environ


def holder_pids(env) -> list[int]:
    """The holder and its children (ns child, slirp4netns), from the holder's pid file."""
    found = []
    for path in (Path(env["XDG_RUNTIME_DIR"]) / "rl" / "usernet").glob("*/holder.json"):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found.append(info["pid"])
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == info["pid"]:
                            found.append(int(pid))
                except (OSError, ValueError, IndexError):
                    pass
    return found



def fetch(rlx, network: str, url: str, timeout: float = 20.0):
    """`wget -qO- url` from a busybox container on `network`, retried while nginx starts."""
    deadline = time.monotonic() + timeout
    while True:
        done = rlx("run", "--rm", "--network", network, "busybox", "wget", "-qO-", url)
        if done.returncode == 0 or time.monotonic() > deadline:
            return done
        time.sleep(0.5)


def test_two_containers_reach_each_other_by_name_and_others_cannot(rlx, env):
    created = rlx("network", "create", "appnet")
    assert created.returncode == 0, created.stderr
    assert re.fullmatch(r"[0-9a-f]{64}\n", created.stdout)
    assert rlx("network", "create", "othernet").returncode == 0
    try:
        web = rlx("run", "-d", "--name", "web", "--network", "appnet", "--network-alias", "www", *NGINX)
        assert web.returncode == 0, web.stderr
        done = fetch(rlx, "appnet", "http://web/")
        assert done.returncode == 0, done.stderr
        assert "nginx" in done.stdout
        by_alias = fetch(rlx, "appnet", "http://www/")
        assert by_alias.returncode == 0 and "nginx" in by_alias.stdout, by_alias.stderr
        # inspect: the seed's template and docker's NetworkSettings.Networks.<name>
        address = rlx("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web").stdout.strip()
        assert re.fullmatch(r"10\.89\.\d+\.\d+", address), address
        by_ip = fetch(rlx, "appnet", f"http://{address}/")
        assert by_ip.returncode == 0 and "nginx" in by_ip.stdout
        view = json.loads(rlx("inspect", "web").stdout)[0]
        net = view["NetworkSettings"]["Networks"]["appnet"]
        assert net["IPAddress"] == address and "www" in net["Aliases"] and net["Gateway"].endswith(".1")
        # resolv.conf and hosts point at the network's DNS and the container's address
        files = rlx("exec", "web", "cat", "/etc/resolv.conf", "/etc/hosts").stdout
        assert f"nameserver {net['Gateway']}" in files and address in files
        # another network: no name for web there
        other = rlx("run", "--rm", "--network", "othernet", "busybox", "wget", "-qO-", "http://web/")
        assert other.returncode != 0
        assert "bad address" in other.stderr or "resolve" in other.stderr.lower(), other.stderr
        # the way out: slirp4netns answers on the network's 2nd address (its own, no host traffic)
        gw2 = address.rsplit(".", 1)[0] + ".2"
        out = rlx("run", "--rm", "--network", "appnet", "busybox", "ping", "-c", "1", "-W", "5", gw2)
        assert out.returncode == 0, out.stdout + out.stderr
        # -p publishing works for a container on a user network
        published = rlx("run", "-d", "--name", "pub", "--network", "appnet", "-p", "127.0.0.1::80", *NGINX)
        assert published.returncode == 0, published.stderr
        port = rlx("port", "pub", "80").stdout.strip().rsplit(":", 1)[1]
        assert http_get(f"http://127.0.0.1:{port}/") and "nginx" in http_get(f"http://127.0.0.1:{port}/")
        # network inspect lists the running members; rm of a network in use is refused
        shown = json.loads(rlx("network", "inspect", "appnet").stdout)[0]
        assert sorted(c["Name"] for c in shown["Containers"].values()) == ["pub", "web"]
        assert shown["Containers"][view["Id"]]["IPv4Address"] == f"{address}/24"
        busy = rlx("network", "rm", "appnet")
        assert busy.returncode == 1 and "has active endpoints" in busy.stderr
    finally:
        rlx("rm", "-f", "web", "pub")
    pids = holder_pids(env)
    assert pids
    assert rlx("network", "rm", "appnet", "othernet").stdout.split() == ["appnet", "othernet"]
    deadline = time.monotonic() + 5  # the last network gone: the holder and its helpers end
    while any(rl.process_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if rl.process_alive(p)]


def http_get(url: str, timeout: float = 15.0) -> str:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_internal_network_isolated_by_address(rlx, env):
    """Containers on different (internal) networks cannot reach each other's address."""
    assert rlx("network", "create", "--internal", "--subnet", "10.90.7.0/24", "inner").returncode == 0
    assert rlx("network", "create", "--internal", "--subnet", "10.90.8.0/24", "outer").returncode == 0
    try:
        assert rlx("run", "-d", "--name", "srv", "--network", "inner", *NGINX).returncode == 0
        address = rlx("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "srv").stdout.strip()
        assert address == "10.90.7.4"
        assert fetch(rlx, "inner", "http://srv/").returncode == 0
        cross = rlx("run", "--rm", "--network", "outer", "busybox", "wget", "-qO-", f"http://{address}/")
        assert cross.returncode != 0
        # no way out on an internal network: nothing answers on the 2nd address
        lone = rlx("run", "--rm", "--network", "inner", "busybox", "ping", "-c", "1", "-W", "2", "10.90.7.2")
        assert lone.returncode != 0
    finally:
        rlx("rm", "-f", "srv")
        rlx("network", "rm", "inner", "outer")


def test_connect_disconnect_and_no_process_left(rlx, env):
    assert rlx("network", "create", "n1").returncode == 0
    assert rlx("network", "create", "n2").returncode == 0
    try:
        assert rlx("run", "-d", "--name", "app", "--network", "n1", *NGINX).returncode == 0
        joined = rlx("network", "connect", "--alias", "api", "n2", "app")
        assert joined.returncode == 0, joined.stderr
        nets = json.loads(rlx("inspect", "-f", "{{json .NetworkSettings.Networks}}", "app").stdout)
        assert sorted(nets) == ["n1", "n2"]
        got = fetch(rlx, "n2", "http://api/")
        assert got.returncode == 0 and "nginx" in got.stdout, got.stderr
        again = rlx("network", "connect", "n2", "app")
        assert again.returncode == 1 and "already exists" in again.stderr
        assert rlx("network", "disconnect", "n2", "app").returncode == 0
        gone = rlx("run", "--rm", "--network", "n2", "busybox", "wget", "-qO-", "http://api/")
        assert gone.returncode != 0
        back = rlx("network", "connect", "--alias", "api2", "n2", "app")  # its interface name is free again
        assert back.returncode == 0, back.stderr
        assert "nginx" in fetch(rlx, "n2", "http://api2/").stdout
        assert holder_pids(env)
    finally:
        rlx("rm", "-f", "app")
    pids = holder_pids(env)
    pruned = rlx("network", "prune", "-f")
    assert pruned.returncode == 0 and pruned.stdout.splitlines() == ["Deleted Networks:", "n1", "n2"]
    deadline = time.monotonic() + 5
    while any(rl.process_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if rl.process_alive(p)]


def test_connect_a_stopped_default_network_container(rlx, env):
    """A container on the default network connected to a user network: slirp4netns and a veth."""
    assert rlx("network", "create", "side").returncode == 0
    try:
        assert rlx("create", "--name", "both", "busybox", "sleep", "60").returncode == 0
        connected = rlx("network", "connect", "side", "both")
        assert connected.returncode == 0, connected.stderr
        assert rlx("start", "both").returncode == 0
        addresses = rlx("exec", "both", "ip", "-o", "-4", "addr").stdout
        assert "tap0" in addresses and "10.0.2.100" in addresses and "eth0" in addresses, addresses
        nets = json.loads(rlx("inspect", "-f", "{{json .NetworkSettings.Networks}}", "both").stdout)
        assert sorted(nets) == ["bridge", "side"] and nets["side"]["IPAddress"].startswith("10.89.")
        assert rlx("run", "-d", "--name", "plain", "busybox", "sleep", "60").returncode == 0
        late = rlx("network", "connect", "side", "plain")
        if os.geteuid() == 0:  # no user namespace as root: any running container can be connected
            assert late.returncode == 0, late.stderr
        else:
            assert late.returncode == 1 and "not started on a user network" in late.stderr
    finally:
        rlx("rm", "-f", "both", "plain")
        rlx("network", "rm", "side")


def test_parallel_starts_get_distinct_addresses(rlx, env):
    """compose starts services at once: one holder, one address each, every name resolves."""
    import concurrent.futures

    assert rlx("network", "create", "par").returncode == 0
    names = [f"p{i}" for i in range(4)]
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            runs = list(pool.map(lambda n: rlx("run", "-d", "--name", n, "--network", "par",
                                                "busybox", "sleep", "60"), names))
        assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
        addresses = [rlx("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", n).stdout.strip()
                     for n in names]
        assert len(set(addresses)) == 4 and all(a.startswith("10.89.") for a in addresses), addresses
        looked = rlx("exec", "p0", "sh", "-c", "for n in p1 p2 p3; do nslookup $n; done").stdout
        for address in addresses[1:]:
            assert address in looked, looked
    finally:
        rlx("rm", "-f", *names)
        rlx("network", "rm", "par")


def test_errors(rlx, env):
    unknown = rlx("run", "--rm", "--network", "nosuchnet", "busybox", "true")
    assert unknown.returncode == 125 and "network nosuchnet not found" in unknown.stderr
    alias = rlx("run", "--name", "aliased", "--network-alias", "x", "busybox", "true")
    assert alias.returncode == 125 and "only for containers in user defined networks" in alias.stderr
    assert rlx("inspect", "aliased").returncode != 0  # nothing left behind
    assert rlx("network", "inspect", "nosuchnet").returncode == 1
    assert rlx("network", "rm", "nosuchnet").returncode == 1
    assert rlx("network", "rm", "-f", "nosuchnet").returncode == 0
    dup = rlx("network", "create", "bridge")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    bad = rlx("network", "create", "--subnet", "10.91.0.0/24", "--gateway", "10.92.0.1", "badgw")
    assert bad.returncode == 1 and "not a host address" in bad.stderr
    assert rlx("network", "create", "--subnet", "10.91.0.0/24", "a1").returncode == 0
    try:
        overlap = rlx("network", "create", "--subnet", "10.91.0.0/16", "a2")
        assert overlap.returncode == 1 and "overlaps" in overlap.stderr
        rows = rlx("network", "ls").stdout.splitlines()
        assert rows[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        assert [r.split()[1] for r in rows[1:]] == ["a1", "bridge", "host", "none"]
        assert rlx("network", "ls", "-f", "type=custom", "--format", "{{.Name}}").stdout == "a1\n"
        shown = json.loads(rlx("network", "inspect", "a1").stdout)[0]
        assert list(shown) == ["Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal",
                               "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options",
                               "Labels"]
        assert shown["IPAM"]["Config"] == [{"Subnet": "10.91.0.0/24", "Gateway": "10.91.0.1"}]
        assert shown["Containers"] == {} and shown["Driver"] == "bridge"
    finally:
        rlx("network", "rm", "a1")


def test_holder_restarts_and_reset_leaves_no_process(rlx, env):
    import signal

    assert rlx("network", "create", "keep").returncode == 0
    first = rlx("run", "--rm", "--network", "keep", "busybox", "true")
    assert first.returncode == 0, first.stderr
    pids = holder_pids(env)
    assert len(pids) >= 3  # the holder, its namespace child, slirp4netns
    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(rl.process_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if rl.process_alive(p)]  # its children die with it
    again = rlx("run", "--rm", "--network", "keep", "busybox", "cat", "/etc/resolv.conf")
    assert again.returncode == 0 and "nameserver 10.89." in again.stdout, again.stderr
    pids = holder_pids(env)
    assert pids and all(rl.process_alive(p) for p in pids)
    # a slirp4netns that dies is replaced: the network's way out comes back
    slirps = [p for p in pids if b"slirp4netns" in open(f"/proc/{p}/cmdline", "rb").read()]
    assert len(slirps) == 1
    os.kill(slirps[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        ping = rlx("run", "--rm", "--network", "keep", "busybox", "sh", "-c",
                   "ping -c 1 -W 2 $(sed -n 's/nameserver \\(.*\\)\\.1$/\\1.2/p' /etc/resolv.conf)")
        if ping.returncode == 0 or time.monotonic() > deadline:
            break
    assert ping.returncode == 0, ping.stdout + ping.stderr
    pids = holder_pids(env)
    assert rlx("system", "reset", "-f").returncode == 0
    deadline = time.monotonic() + 5
    while any(rl.process_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if rl.process_alive(p)]
