"""`-v` and `rl volume` end to end: bind mounts of dirs and files, named volumes with copy-up,
volumes in use; the real rl, the fixture busybox, as root, rltest and rltest1."""

from __future__ import annotations

import json
import os

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    environ = rl.make_rl_env(tmp_path_factory.mktemp("volume"))
    for args in (("pull", fixture_images["busybox"]), ("tag", fixture_images["busybox"], "busybox")):
        done = rl.run_rl(*args, env=environ)
        assert done.returncode == 0, done.stderr
    yield environ
    rl.run_rl("rm", "-f", *rl.run_rl("ps", "-aq", env=environ).stdout.split(), env=environ)
    rl.run_rl("volume", "prune", "-f", env=environ)
    rl.cleanup_rl_env(environ)


@pytest.fixture
def rlx(env):
    def run(*args, **kwargs):
        return rl.run_rl(*args, env=env, **kwargs)
    return run


def test_bind_dir_and_file(rlx, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("hello\n")
    conf = tmp_path / "app.conf"
    conf.write_text("conf\n")
    missing = tmp_path / "made" / "here"
    done = rlx("run", "--rm", "-v", f"{host}:/mnt", "-v", f"{conf}:/etc/app.conf:ro", "-v", f"{missing}:/new",
               "busybox", "sh", "-c", "cat /mnt/in /etc/app.conf; echo out > /mnt/out; "
               "(echo x > /etc/app.conf) 2>/dev/null || echo read-only; ls -d /new")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello\nconf\nread-only\n/new\n"
    # written as root in the container: owned by the invoking user on the host
    assert (host / "out").read_text() == "out\n" and (host / "out").stat().st_uid == os.getuid()
    assert missing.is_dir() and conf.read_text() == "conf\n"


def test_named_volume_copy_up_and_sharing(rlx):
    done = rlx("run", "--rm", "-v", "etcvol:/etc", "busybox", "sh", "-c", "echo mine > /etc/added; cat /etc/passwd | head -1")
    assert done.returncode == 0 and done.stdout.startswith("root:"), done.stderr
    mountpoint = rlx("volume", "inspect", "-f", "{{.Mountpoint}}", "etcvol").stdout.strip()
    assert os.path.exists(os.path.join(mountpoint, "passwd"))  # copied up from the image
    assert rlx("run", "--rm", "-v", "etcvol:/data:ro", "busybox", "cat", "/data/added").stdout == "mine\n"
    assert "etcvol" in rlx("volume", "ls", "-q").stdout.split()
    cid = rlx("create", "--name", "holder", "-v", "etcvol:/etc", "busybox", "true").stdout.strip()
    view = json.loads(rlx("inspect", "holder").stdout)[0]
    assert view["HostConfig"]["Binds"] == ["etcvol:/etc"]
    assert view["Mounts"][0]["Type"] == "volume" and view["Mounts"][0]["Name"] == "etcvol"
    busy = rlx("volume", "rm", "etcvol")
    assert busy.returncode == 1 and f"volume is in use - [{cid}]" in busy.stderr
    assert rlx("rm", "holder").returncode == 0
    assert rlx("volume", "rm", "etcvol").stdout == "etcvol\n"
    assert "etcvol" not in rlx("volume", "ls", "-q").stdout.split()


def test_volume_commands(rlx):
    assert rlx("volume", "create", "-l", "tier=db", "dbdata").stdout == "dbdata\n"
    table = rlx("volume", "ls").stdout.splitlines()
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME"] and ["local", "dbdata"] in [l.split() for l in table]
    assert rlx("volume", "ls", "--format", "{{.Name}}:{{.Label \"tier\"}}", "-f", "name=dbd").stdout == "dbdata:db\n"
    view = json.loads(rlx("volume", "inspect", "dbdata").stdout)[0]
    assert view["Driver"] == "local" and view["Labels"] == {"tier": "db"} and view["Scope"] == "local"
    missing = rlx("volume", "inspect", "nosuch")
    assert missing.returncode == 1 and "no such volume" in missing.stderr
    pruned = rlx("volume", "prune", "-f")
    assert "dbdata" in pruned.stdout and "Total reclaimed space:" in pruned.stdout
    assert rlx("volume", "rm", "nosuch").returncode == 1


@pytest.mark.parametrize("spec,message", [
    ("./rel:/x", "If you intended to pass a host directory, use absolute path"),
    ("/tmp:rel:ro", "mount path must be absolute"),
    ("/tmp:/x:bogus", "invalid mode: bogus"),
    ("a:b:c:d", "invalid volume specification"),
])
def test_bad_specs(rlx, spec, message):
    done = rlx("run", "--rm", "-v", spec, "busybox", "true")
    assert done.returncode == 125 and message in done.stderr, done.stderr


def test_anonymous_volume(rlx):
    before = set(rlx("volume", "ls", "-q").stdout.split())
    cid = rlx("run", "-d", "-v", "/data", "busybox", "sh", "-c", "echo anon > /data/x").stdout.strip()
    assert rlx("wait", cid).stdout == "0\n"
    view = json.loads(rlx("inspect", cid).stdout)[0]
    assert view["HostConfig"]["Binds"] is None
    [mount] = view["Mounts"]
    assert mount["Type"] == "volume" and len(mount["Name"]) == 64 and mount["Destination"] == "/data"
    assert set(rlx("volume", "ls", "-q").stdout.split()) - before == {mount["Name"]}
    with open(os.path.join(mount["Source"], "x")) as f:
        assert f.read() == "anon\n"
    rlx("rm", cid)
    assert rlx("volume", "rm", mount["Name"]).returncode == 0


def test_rm_v_removes_anonymous_volumes_only(rlx):
    rlx("volume", "create", "keepme")
    cid = rlx("create", "-v", "/anon", "-v", "keepme:/named", "busybox", "true").stdout.strip()
    [anon] = [m["Name"] for m in json.loads(rlx("inspect", cid).stdout)[0]["Mounts"] if m["Destination"] == "/anon"]
    assert rlx("rm", "-v", cid).returncode == 0
    names = rlx("volume", "ls", "-q").stdout.split()
    assert anon not in names and "keepme" in names
    assert rlx("volume", "rm", "keepme").returncode == 0


def test_volumes_from_as_in_the_seed(rlx):
    """The seed's data-container pattern: one container's volumes mounted into others."""
    assert rlx("run", "--name", "dbdata", "-v", "/dbdata", "busybox", "sh", "-c", "echo shared > /dbdata/f").returncode == 0
    try:
        done = rlx("run", "--rm", "--volumes-from", "dbdata", "busybox", "cat", "/dbdata/f")
        assert (done.returncode, done.stdout) == (0, "shared\n"), done.stderr
        assert rlx("run", "--rm", "--volumes-from", "dbdata", "busybox", "sh", "-c", "echo db1 >> /dbdata/f").returncode == 0
        ro = rlx("run", "--rm", "--volumes-from", "dbdata:ro", "busybox", "sh", "-c",
                 "cat /dbdata/f; (echo x >> /dbdata/f) 2>/dev/null || echo read-only")
        assert ro.stdout == "shared\ndb1\nread-only\n", ro.stderr
        cid = rlx("create", "--volumes-from", "dbdata", "busybox", "true").stdout.strip()
        view = json.loads(rlx("inspect", cid).stdout)[0]
        assert view["HostConfig"]["VolumesFrom"] == ["dbdata"] and view["HostConfig"]["Binds"] is None
        assert [m["Destination"] for m in view["Mounts"]] == ["/dbdata"]
        rlx("rm", cid)
        missing = rlx("run", "--rm", "--volumes-from", "nosuch", "busybox", "true")
        assert missing.returncode == 125 and "No such container: nosuch" in missing.stderr
    finally:
        rlx("rm", "dbdata")
