"""`rl network ls|inspect|create|rm|connect|disconnect` end to end through the real rl: docker's
columns and JSON, and the clear refusal of user-defined networks. As root, rltest and rltest1."""

from __future__ import annotations

import hashlib
import json

import pytest

from fixtures import rl

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environ = rl.make_rl_env(tmp_path_factory.mktemp("networks"))
    yield environ
    rl.cleanup_rl_env(environ)


@pytest.fixture
def rlx(env):
    def run(*args, **kwargs):
        return rl.run_rl(*args, env=env, **kwargs)
    return run


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def test_ls_default_table(rlx):
    done = rlx("network", "ls")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "NETWORK ID     NAME      DRIVER    SCOPE",
        f"{sha('bridge')[:12]}   bridge    bridge    local",
        f"{sha('host')[:12]}   host      host      local",
        f"{sha('none')[:12]}   none      null      local",
    ]


def test_ls_quiet_no_trunc_filter_format(rlx):
    assert rlx("network", "ls", "-q").stdout.split() == [sha(n)[:12] for n in ("bridge", "host", "none")]
    assert rlx("network", "ls", "-q", "--no-trunc", "--filter", "name=host").stdout.split() == [sha("host")]
    assert rlx("network", "ls", "--format", "{{.Name}}:{{.Driver}}").stdout == "bridge:bridge\nhost:host\nnone:null\n"
    table = rlx("network", "ls", "--format", "table {{.Name}}\t{{.Scope}}", "-f", "driver=null").stdout
    assert table.splitlines() == ["NAME      SCOPE", "none      local"]
    rows = [json.loads(line) for line in rlx("network", "ls", "--format", "json").stdout.splitlines()]
    assert [r["Name"] for r in rows] == ["bridge", "host", "none"]
    bad = rlx("network", "ls", "--filter", "nope=1")
    assert bad.returncode == 1 and "Invalid filter 'nope'" in bad.stderr


def test_inspect(rlx):
    done = rlx("network", "inspect", "bridge", "host", sha("none")[:12])
    assert done.returncode == 0, done.stderr
    bridge, host, none = json.loads(done.stdout)
    assert bridge["Name"] == "bridge" and bridge["Id"] == sha("bridge") and bridge["Driver"] == "bridge"
    assert bridge["IPAM"]["Config"] == [{"Subnet": "10.0.2.0/24", "Gateway": "10.0.2.2"}]
    assert (host["Driver"], none["Driver"], none["Name"]) == ("host", "null", "none")
    for net in (bridge, host, none):
        assert net["Scope"] == "local" and net["EnableIPv6"] is False and net["Containers"] == {}
    assert rlx("network", "inspect", "-f", "{{.Id}}", "host").stdout == sha("host") + "\n"
    missing = rlx("network", "inspect", "nope")
    assert missing.returncode == 1 and "network nope not found" in missing.stderr


@pytest.mark.parametrize("args, message", [
    (("create", "bridge"), "network with name bridge already exists"),
    (("create", "bad name"), "invalid network name"),
    (("create", "--driver", "macvlan", "mv"), "network driver macvlan is not supported"),
    (("create", "--subnet", "10.9.0.0/33", "n"), "invalid subnet"),
    (("create", "--subnet", "10.9.0.1/24", "n"), "host bits set"),
    (("create", "--subnet", "10.9.0.0/24", "--gateway", "10.9.0.2", "n"), "reserved for the user-mode stack"),
    (("rm", "appnet"), "network appnet not found"),
    (("rm", "bridge"), "bridge is a pre-defined network and cannot be removed"),
    (("connect", "appnet", "web"), "network appnet not found"),
    (("connect", "bridge", "web"), "cannot connect a container to the predefined network bridge"),
    (("disconnect", "appnet", "web"), "network appnet not found"),
])
def test_network_errors(rlx, args, message):
    done = rlx("network", *args)
    assert done.returncode == 1
    assert message in done.stderr
    assert rlx("network", "ls", "-q").stdout.split() == [sha(n)[:12] for n in ("bridge", "host", "none")]


def test_create_ls_inspect_rm_user_network(rlx):
    created = rlx("network", "create", "--subnet", "10.77.0.0/24", "--label", "tier=db", "appnet")
    assert created.returncode == 0, created.stderr
    nid = created.stdout.strip()
    assert len(nid) == 64 and int(nid, 16) >= 0
    try:
        rows = rlx("network", "ls").stdout.splitlines()
        assert rows[1].split() == [nid[:12], "appnet", "bridge", "local"]
        assert rlx("network", "ls", "-q", "-f", "label=tier=db", "--no-trunc").stdout.split() == [nid]
        assert rlx("network", "ls", "-q", "-f", "label=tier=web").stdout == ""
        assert rlx("network", "inspect", "-f", "{{.Id}}", nid[:10]).stdout.strip() == nid
        shown = json.loads(rlx("network", "inspect", "appnet").stdout)[0]
        assert shown["IPAM"]["Config"] == [{"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.1"}]
        assert shown["Labels"] == {"tier": "db"} and shown["Internal"] is False and shown["Containers"] == {}
        again = rlx("network", "create", "appnet")
        assert again.returncode == 1 and "network with name appnet already exists" in again.stderr
        overlap = rlx("network", "create", "--subnet", "10.77.0.0/16", "other")
        assert overlap.returncode == 1 and "overlaps" in overlap.stderr
        # connect of a container that does not exist
        missing = rlx("network", "connect", "appnet", "nosuchcontainer")
        assert missing.returncode == 1 and "nosuchcontainer" in missing.stderr
    finally:
        assert rlx("network", "rm", "appnet").stdout == "appnet\n"
    assert rlx("network", "ls", "-q").stdout.split() == [sha(n)[:12] for n in ("bridge", "host", "none")]
