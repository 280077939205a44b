"""`--mount` on run/create end to end (bind, volume, tmpfs; docker's errors, exit 125) and `-v ...:z`:
the real rl, the fixture busybox, as root, rltest (subuid range) and rltest1 (none) alike."""

from __future__ import annotations

import json
import os

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("mount"), fixture_images) as environ:
        yield environ


def test_bind_volume_and_tmpfs(rlx, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("hello\n")
    script = ("cat /ro/in; (echo x > /ro/in) 2>/dev/null || echo read-only; echo out > /rw/out; "
              "echo kept > /vol/f; stat -c %a /scratch; grep ' /scratch ' /proc/mounts; cat /z/in")
    done = rlx("run", "--rm", "--network", "none",
               "--mount", f"type=bind,source={host},target=/ro,readonly",
               "--mount", f"type=bind,src={host},dst=/rw,bind-propagation=rslave",
               "--mount", "type=volume,src=mvol,dst=/vol,volume-label=team=a",
               "--mount", "type=tmpfs,destination=/scratch,tmpfs-size=2m,tmpfs-mode=1770",
               "-v", f"{host}:/z:ro,z", "busybox", "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ["hello", "read-only", "1770"]
    assert "size=2048k" in lines[3] and "mode=1770" in lines[3]
    assert lines[4] == "hello"
    assert (host / "out").read_text() == "out\n" and (host / "out").stat().st_uid == os.getuid()
    view = json.loads(rlx("volume", "inspect", "mvol").stdout)[0]
    assert view["Labels"] == {"team": "a"}
    with open(os.path.join(view["Mountpoint"], "f")) as f:
        assert f.read() == "kept\n"
    # the named volume is the same one -v reaches
    assert rlx("run", "--rm", "-v", "mvol:/again:ro", "busybox", "cat", "/again/f").stdout == "kept\n"
    assert rlx("volume", "rm", "mvol").returncode == 0


def test_create_records_mounts_not_binds(rlx, tmp_path):
    done = rlx("create", "--name", "mounted", "--mount", f"type=bind,src={tmp_path},dst=/data,ro",
               "-v", f"{tmp_path}:/other", "busybox", "true")
    assert done.returncode == 0, done.stderr
    try:
        view = json.loads(rlx("inspect", "mounted").stdout)[0]
        assert view["HostConfig"]["Binds"] == [f"{tmp_path}:/other"]  # docker: --mount is not a Bind
        assert view["HostConfig"]["Mounts"] == [{"Type": "bind", "Source": str(tmp_path), "Target": "/data",
                                                 "ReadOnly": True}]
        mounts = {m["Destination"]: m for m in view["Mounts"]}
        assert mounts["/data"]["Source"] == str(tmp_path) and mounts["/data"]["RW"] is False
        assert mounts["/other"]["RW"] is True
    finally:
        rlx("rm", "mounted")


def test_bind_source_must_exist_and_nothing_is_left(rlx, tmp_path):
    before = rlx("ps", "-aq").stdout
    missing = tmp_path / "missing"
    done = rlx("run", "--rm", "--mount", f"type=bind,src={missing},dst=/x", "busybox", "true")
    assert done.returncode == 125
    assert f'Error: invalid mount config for type "bind": bind source path does not exist: {missing}' in done.stderr
    assert not missing.exists()  # -v would create it; --mount does not
    assert rlx("ps", "-aq").stdout == before


@pytest.mark.parametrize("spec,message", [
    ("type=bind,target=/x,bogus", """invalid argument "type=bind,target=/x,bogus" for "--mount" flag: invalid field 'bogus' must be a key=value pair"""),
    ("source=/a", """invalid argument "source=/a" for "--mount" flag: target is required"""),
    ("type=tmpfs,dst=/t,tmpfs-size=lots", """for "--mount" flag: invalid value for tmpfs-size: lots"""),
    ("type=volume,src=vv,dst=/t,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type 'volume'"),
    ("type=disk,dst=/x", 'invalid mount config for type "disk": mount type unknown'),
    ("type=bind,src=rel,dst=/x", "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"),
    ("type=tmpfs,src=/a,dst=/x", 'invalid mount config for type "tmpfs": field Source must not be specified'),
    ("type=bind,src=/tmp,dst=/", "destination can't be '/'"),
])
@pytest.mark.parametrize("command", ["run", "create"])
def test_bad_specs(rlx, command, spec, message):
    done = rlx(command, "--mount", spec, "busybox", "true")
    assert done.returncode == 125 and message in done.stderr, done.stderr


def test_duplicate_mount_point_across_flags(rlx, tmp_path):
    done = rlx("run", "--rm", "-v", f"{tmp_path}:/x", "--mount", "type=tmpfs,dst=/x", "busybox", "true")
    assert done.returncode == 125 and "Duplicate mount point: /x" in done.stderr
