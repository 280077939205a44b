"""`rl export` end to end: the real rl executable and runtime, the fixture busybox from the local
registry, as root, rltest (subuid range) and rltest1 (none) alike."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]

CHANGES = "echo hello > /hello.txt && mkdir -p /data/sub && echo x > /data/sub/f && rm /bin/zcat && rm -r /usr/local"


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    environ = rl.make_rl_env(tmp_path_factory.mktemp("ctrfs"))
    for args in (("pull", fixture_images["busybox"]), ("tag", fixture_images["busybox"], "busybox")):
        done = rl.run_rl(*args, env=environ)
        assert done.returncode == 0, done.stderr
    yield environ
    rl.run_rl("rm", "-f", *rl.run_rl("ps", "-aq", env=environ).stdout.split(), env=environ)
    rl.cleanup_rl_env(environ)


@pytest.fixture
def rlx(env):
    def run(*args, **kwargs):
        return rl.run_rl(*args, env=env, **kwargs)
    return run


@pytest.fixture(scope="module")
def changed(env):
    """A stopped container that added files and deleted a file and a directory of the image."""
    done = rl.run_rl("run", "--name", "changed", "busybox", "sh", "-c", CHANGES, env=env)
    assert done.returncode == 0, done.stderr
    return "changed"


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name.rstrip("/"): m for m in tf.getmembers()}


def test_export_stdout_is_the_merged_rootfs(rlx, changed):
    done = rlx("export", changed, input=b"")
    assert done.returncode == 0, done.stderr
    members = _members(done.stdout)
    assert "hello.txt" in members and "data/sub/f" in members
    assert "bin/busybox" in members and "bin/sh" in members
    assert "bin/zcat" not in members  # deleted in the container: a whiteout in the upper dir
    assert not any(n == "usr/local" or n.startswith("usr/local/") for n in members)
    assert not any(n.startswith(("/", "./", "..")) or ".wh." in n for n in members)
    assert members["hello.txt"].uid == 0 and members["hello.txt"].mode & 0o777 == 0o644


def test_export_to_file_then_import_and_run_shows_the_same_files(rlx, changed, tmp_path):
    out = tmp_path / "changed.tar"
    done = rlx("container", "export", "-o", str(out), changed)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    done = rlx("import", str(out), "roundtrip:1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sha256:")
    listing = "cat /hello.txt /data/sub/f; ls /bin/zcat /usr/local 2>&1; echo status $?"
    done = rlx("run", "--rm", "roundtrip:1", "sh", "-c", listing)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["hello", "x"]
    assert "No such file or directory" in done.stdout and lines[-1] == "status 1"


def test_export_running_container(rlx, env):
    done = rlx("run", "-d", "--name", "live", "busybox", "sh", "-c", "echo up > /up; sleep 60")
    assert done.returncode == 0, done.stderr
    try:
        for _ in range(100):
            members = _members(rlx("export", "live", input=b"").stdout)
            if "up" in members:
                break
        assert "up" in members and "bin/sh" in members
    finally:
        rlx("rm", "-f", "live")


def test_export_no_such_container(rlx, tmp_path):
    done = rlx("export", "-o", str(tmp_path / "x.tar"), "nope")
    assert done.returncode != 0
    assert "No such container: nope" in done.stderr
    assert not (tmp_path / "x.tar").exists()


def test_export_refuses_a_terminal(env, changed):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(rl.rl_command()[0], [*rl.rl_command()[1:], "export", changed], env=env, timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert b"cowardly refusing to save to a terminal" in child.before
    assert child.exitstatus != 0


def _layer_names(rlx, image: str, tmp_path) -> list[str]:
    """Names in the top layer of `image` (from `rl save`)."""
    out = tmp_path / "saved.tar"
    done = rlx("save", "-o", str(out), image)
    assert done.returncode == 0, done.stderr
    with tarfile.open(out) as tf:
        index = json.load(tf.extractfile("manifest.json"))
        layer = tf.extractfile(index[0]["Layers"][-1]).read()
    return sorted(_members(layer))


def test_commit_message_author_and_the_change_runs(rlx, changed, tmp_path):
    done = rlx("commit", "-m", "added hello", "-a", "Jane Doe <jane@example.com>", changed, "committed:v1")
    assert done.returncode == 0, done.stderr
    image_id = done.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    inspect = rlx("image", "inspect", "committed:v1")
    assert inspect.returncode == 0, inspect.stderr
    info = json.loads(inspect.stdout)[0]
    assert info["Id"] == image_id
    assert (info["Author"], info["Comment"], len(info["RootFS"]["Layers"])) == ("Jane Doe <jane@example.com>", "added hello", 2)
    history = rlx("history", "--no-trunc", "committed:v1")
    assert "added hello" in history.stdout, history.stdout
    listing = "cat /hello.txt /data/sub/f; ls /bin/zcat /usr/local 2>&1; echo status $?"
    done = rlx("run", "--rm", "committed:v1", "sh", "-c", listing)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["hello", "x"]
    assert "No such file or directory" in done.stdout and lines[-1] == "status 1"  # deletions stay
    names = _layer_names(rlx, "committed:v1", tmp_path)
    assert "bin/.wh.zcat" in names and "usr/.wh.local" in names and "hello.txt" in names
    assert "bin/busybox" not in names  # only the changes


def test_commit_opaque_dir_and_changes(rlx, tmp_path):
    script = "rm -r /etc && mkdir /etc && echo only > /etc/only"
    done = rlx("run", "--name", "opq", "-e", "FROMRUN=1", "busybox", "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    try:
        done = rlx("commit", "-c", "ENV FOO=bar", "-c", 'CMD ["cat", "/etc/only"]', "opq", "opq:1")
        assert done.returncode == 0, done.stderr
        names = _layer_names(rlx, "opq:1", tmp_path)
        assert "etc/.wh..wh..opq" in names and "etc/only" in names
        done = rlx("run", "--rm", "opq:1")
        assert (done.returncode, done.stdout) == (0, "only\n"), done.stderr
        done = rlx("run", "--rm", "opq:1", "sh", "-c", 'ls /etc; echo "$FOO $FROMRUN"')
        assert done.stdout.split() == ["only", "bar", "1"], done.stdout
    finally:
        rlx("rm", "-f", "opq")


def test_commit_running_container_with_pause(rlx):
    done = rlx("run", "-d", "--name", "busy", "busybox", "sh", "-c", "echo up > /up; sleep 60")
    assert done.returncode == 0, done.stderr
    try:
        for _ in range(100):
            if "up" in _members(rlx("export", "busy", input=b"").stdout):
                break
        done = rlx("commit", "busy")
        assert done.returncode == 0, done.stderr
        image_id = done.stdout.strip()
        done = rlx("run", "--rm", image_id, "cat", "/up")
        assert (done.returncode, done.stdout) == (0, "up\n"), done.stderr
        state = rlx("inspect", "-f", "{{.State.Status}}", "busy")
        assert state.stdout.strip() == "running"
        done = rlx("exec", "busy", "echo", "alive")  # continued after the commit
        assert done.stdout == "alive\n", done.stderr
    finally:
        rlx("rm", "-f", "busy")


def test_commit_bad_input(rlx, changed):
    done = rlx("commit", "nope")
    assert done.returncode != 0 and "No such container: nope" in done.stderr
    done = rlx("commit", "-c", "BOGUS x", changed)
    assert done.returncode != 0 and done.stderr
