"""`--network container:X`, `host` and `none` end to end, as docker behaves: the real rl executable,
the fixture nginx and busybox images, traffic on 127.0.0.0/8 only. Runs as root, rltest and rltest1."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]

NGINX = ("nginx", "nginx", "-c", "/etc/nginx/single-uid.conf", "-g", "daemon off;")


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("modes"), fixture_images, ("nginx", "busybox")) as environ:
        yield environ


record = rl.container_record


def fetch_from_joined(rlx, target: str, timeout: float = 15.0):
    """`wget` of 127.0.0.1 in a container sharing `target`'s network, retried while nginx starts."""
    deadline = time.monotonic() + timeout
    while True:
        done = rlx("run", "--rm", "--network", f"container:{target}", "busybox",
                   "wget", "-qO-", "http://127.0.0.1/")
        if done.returncode == 0 or time.monotonic() > deadline:
            return done
        time.sleep(0.3)


def test_container_mode_shares_localhost(rlx, env):
    assert rlx("run", "-d", "--name", "web", *NGINX).returncode == 0
    try:
        done = fetch_from_joined(rlx, "web")
        assert done.returncode == 0, done.stderr
        assert "Welcome to nginx" in done.stdout or "nginx" in done.stdout
        web = record(env, "web")
        created = rlx("create", "--name", "joined", "--network", "container:web", "busybox", "true")
        assert created.returncode == 0, created.stderr
        assert record(env, "joined")["HostConfig"]["NetworkMode"] == f"container:{web['Id']}"
        shown = rlx("inspect", "-f", "{{.HostConfig.NetworkMode}}", "joined")
        assert shown.stdout.strip() == f"container:{web['Id']}"
        # a joined container starts no user-mode stack and no forwarder of its own
        started = rlx("run", "-d", "--name", "joined2", "--network", "container:web", "busybox", "sleep", "30")
        assert started.returncode == 0, started.stderr
        assert record(env, "joined2").get("Rl", {}).get("NetworkHelpers") == []
        view = json.loads(rlx("inspect", "joined2").stdout)[0]
        assert view["NetworkSettings"]["Networks"] == {}
        assert view["HostConfig"]["NetworkMode"] == f"container:{web['Id']}"
        listed = rlx("ps", "--filter", "name=joined2", "--format", "{{.Networks}}").stdout.strip()
        assert listed == f"container:{web['Id']}"
        # as docker: web's hostname and resolv.conf (the user-mode stack's DNS)
        same = rlx("run", "--rm", "--network", "container:web", "busybox", "sh", "-c",
                   "hostname; cat /etc/resolv.conf")
        assert same.returncode == 0, same.stderr
        assert same.stdout.splitlines()[0] == rlx("exec", "web", "hostname").stdout.strip()
        assert "nameserver 10.0.2.3" in same.stdout
        # and it sees web's interfaces: the same network namespace
        links = rlx("exec", "joined2", "cat", "/proc/net/dev").stdout
        assert "tap0" in links or "eth0" in links
    finally:
        rlx("rm", "-f", "web", "joined", "joined2")


def test_container_mode_refuses_publish(rlx):
    assert rlx("run", "-d", "--name", "pubtarget", "busybox", "sleep", "30").returncode == 0
    try:
        done = rlx("run", "--rm", "-p", "8080:80", "--network", "container:pubtarget", "busybox", "true")
        assert done.returncode == 125
        assert "conflicting options: port publishing and the container type network mode" in done.stderr
    finally:
        rlx("rm", "-f", "pubtarget")


def test_container_mode_target_not_running(rlx, env):
    assert rlx("create", "--name", "stopped", "busybox", "sleep", "30").returncode == 0
    try:
        done = rlx("run", "--rm", "--network", "container:stopped", "busybox", "true")
        assert done.returncode == 125
        assert f"cannot join network of a non running container: {record(env, 'stopped')['Id']}" in done.stderr
    finally:
        rlx("rm", "-f", "stopped")


def test_container_mode_unknown_target(rlx):
    done = rlx("run", "--rm", "--network", "container:nosuchthing", "busybox", "true")
    assert done.returncode == 125
    assert "No such container: nosuchthing" in done.stderr


def _host_interfaces() -> set[str]:
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    return {line.split(":")[0].strip() for line in lines}


def test_host_mode_sees_host_interfaces_and_discards_ports(rlx):
    done = rlx("run", "--rm", "-p", "8081:80", "--network", "host", "busybox", "cat", "/proc/net/dev")
    assert done.returncode == 0, done.stderr
    assert "WARNING: Published ports are discarded when using host network mode" in done.stderr
    inside = {line.split(":")[0].strip() for line in done.stdout.splitlines()[2:]}
    assert inside == _host_interfaces()


def test_none_mode_has_loopback_only(rlx):
    done = rlx("run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev")
    assert done.returncode == 0, done.stderr
    inside = {line.split(":")[0].strip() for line in done.stdout.splitlines()[2:]}
    assert inside == {"lo"}


def test_network_inspect_lists_running_containers(rlx, env):
    assert rlx("run", "-d", "--name", "onbridge", "busybox", "sleep", "30").returncode == 0
    assert rlx("run", "-d", "--name", "onhost", "--network", "host", "busybox", "sleep", "30").returncode == 0
    try:
        bridge, host, none = json.loads(rlx("network", "inspect", "bridge", "host", "none").stdout)
        ids = {name: record(env, name)["Id"] for name in ("onbridge", "onhost")}
        assert bridge["Containers"][ids["onbridge"]]["Name"] == "onbridge"
        assert bridge["Containers"][ids["onbridge"]]["IPv4Address"] == "10.0.2.100/24"
        assert list(host["Containers"]) == [ids["onhost"]]
        assert none["Containers"] == {}
    finally:
        rlx("rm", "-f", "onbridge", "onhost")
    assert json.loads(rlx("network", "inspect", "bridge").stdout)[0]["Containers"] == {}
