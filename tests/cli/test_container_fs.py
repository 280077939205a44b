"""`rl export` end to end: the real rl executable and runtime, the fixture busybox from the local
registry, as root, rltest (subuid range) and rltest1 (none) alike."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]

CHANGES = "echo hello > /hello.txt && mkdir -p /data/sub && echo x > /data/sub/f && rm /bin/zcat && rm -r /usr/local"


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("ctrfs"), fixture_images) as environ:
        yield environ


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
    assert "etc/hosts" not in names and "etc/resolv.conf" not in names  # runtime mount points


def test_commit_opaque_dir_and_changes(rlx, tmp_path):
    script = "rm -r /usr && mkdir /usr && echo only > /usr/only"
    done = rlx("run", "--name", "opq", "-e", "FROMRUN=1", "busybox", "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    try:
        done = rlx("commit", "-c", "ENV FOO=bar", "-c", 'CMD ["cat", "/usr/only"]', "opq", "opq:1")
        assert done.returncode == 0, done.stderr
        names = _layer_names(rlx, "opq:1", tmp_path)
        assert "usr/.wh..wh..opq" in names and "usr/only" in names
        done = rlx("run", "--rm", "opq:1")
        assert (done.returncode, done.stdout) == (0, "only\n"), done.stderr
        done = rlx("run", "--rm", "opq:1", "sh", "-c", 'ls /usr; echo "$FOO $FROMRUN"')
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


def test_diff_reports_added_changed_deleted(rlx, changed):
    done = rlx("diff", changed)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for line in ("A /hello.txt", "A /data", "A /data/sub", "A /data/sub/f", "C /bin", "D /bin/zcat",
                 "C /usr", "D /usr/local"):
        assert line in lines, done.stdout
    assert not any(line.endswith(("/etc/hosts", "/etc/resolv.conf", "/etc/hostname")) for line in lines)
    assert all(line[:2] in ("A ", "C ", "D ") for line in lines)


def test_diff_fresh_container_is_empty_and_modification_is_c(rlx):
    done = rlx("run", "--name", "fresh", "busybox", "true")
    assert done.returncode == 0, done.stderr
    try:
        assert rlx("container", "diff", "fresh").stdout == ""  # runtime mount points are no change
    finally:
        rlx("rm", "-f", "fresh")
    done = rlx("run", "--name", "mod", "busybox", "sh", "-c", "echo more >> /etc/passwd")
    try:
        assert rlx("diff", "mod").stdout.splitlines() == ["C /etc", "C /etc/passwd"]
    finally:
        rlx("rm", "-f", "mod")


def test_diff_no_such_container(rlx):
    done = rlx("diff", "nope")
    assert done.returncode == 1 and "No such container: nope" in done.stderr


def test_rename(rlx):
    for name in ("ren1", "ren2"):
        done = rlx("create", "--name", name, "busybox", "true")
        assert done.returncode == 0, done.stderr
    ren2_id = rlx("inspect", "-f", "{{.Id}}", "ren2").stdout.strip()
    try:
        done = rlx("rename", "ren1", "ren3")
        assert (done.returncode, done.stdout) == (0, ""), done.stderr
        assert rlx("inspect", "-f", "{{.Name}}", "ren3").stdout.strip() == "/ren3"
        assert "No such container: ren1" in rlx("inspect", "--type", "container", "ren1").stderr
        done = rlx("rename", "ren3", "ren2")
        assert done.returncode == 1
        assert done.stderr.strip() == (
            f'Error: Conflict. The container name "/ren2" is already in use by container "{ren2_id}". '
            "You have to remove (or rename) that container to be able to reuse that name.")
        done = rlx("container", "rename", "ren3", "ren3")
        assert done.returncode == 1 and "same name as its current name" in done.stderr
        done = rlx("rename", "ren3", "bad name")
        assert done.returncode != 0 and "Invalid container name (bad name)" in done.stderr
        done = rlx("rename", "nope", "other")
        assert done.returncode == 1 and "No such container: nope" in done.stderr
    finally:
        rlx("rm", "-f", "ren2", "ren3")


SETUP = ("mkdir -p /d/e && echo in > /d/e/f && ln -s /etc /d/abs && ln -s ../../../../../etc /d/rel && "
         "echo secret-of-the-container > /etc/marker")


@pytest.fixture
def host_tree(tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "sub" / "h").write_text("hostfile\n")
    (tmp_path / "one").write_text("one\n")
    (tmp_path / "out").mkdir()
    return tmp_path


@pytest.fixture
def cpbox(rlx):
    done = rlx("run", "-d", "--name", "cpbox", "busybox", "sh", "-c", SETUP + " && sleep 300")
    assert done.returncode == 0, done.stderr
    for _ in range(100):
        if rlx("exec", "cpbox", "test", "-e", "/etc/marker").returncode == 0:
            break
    yield "cpbox"
    rlx("rm", "-f", "cpbox")


def test_cp_from_container_dir_file_and_stream(rlx, cpbox, host_tree):
    out = host_tree / "out"
    done = rlx("cp", "cpbox:/d", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "d" / "e" / "f").read_text() == "in\n"
    assert os.readlink(out / "d" / "abs") == "/etc"  # links are copied as links
    done = rlx("cp", "cpbox:/d/e/f", str(out / "renamed"))
    assert done.returncode == 0 and (out / "renamed").read_text() == "in\n", done.stderr
    done = rlx("cp", "cpbox:/d/.", str(out / "contents"))
    assert done.returncode == 0 and (out / "contents" / "e" / "f").read_text() == "in\n", done.stderr
    done = rlx("container", "cp", "cpbox:/d/e", "-", input=b"")
    assert done.returncode == 0, done.stderr
    assert sorted(_members(done.stdout)) == ["e", "e/f"]


def test_cp_symlinks_resolve_inside_the_container(rlx, cpbox, host_tree):
    out = host_tree / "out"
    for link in ("abs", "rel"):
        done = rlx("cp", f"cpbox:/d/{link}/marker", str(out / link))
        assert done.returncode == 0, done.stderr
        assert (out / link).read_text() == "secret-of-the-container\n"  # the container's /etc
        done = rlx("cp", str(host_tree / "one"), f"cpbox:/d/{link}/from-host-{link}")
        assert done.returncode == 0, done.stderr
        assert not os.path.exists(f"/etc/from-host-{link}")  # never the host's /etc
        done = rlx("exec", "cpbox", "cat", f"/etc/from-host-{link}")
        assert done.stdout == "one\n", done.stderr


def test_cp_into_container(rlx, cpbox, host_tree):
    done = rlx("cp", str(host_tree / "src"), "cpbox:/d/")
    assert done.returncode == 0, done.stderr
    done = rlx("cp", str(host_tree / "src"), "cpbox:/newdir")
    assert done.returncode == 0, done.stderr
    done = rlx("exec", "cpbox", "sh", "-c", "cat /d/src/sub/h /newdir/sub/h; stat -c '%u:%g' /newdir/sub/h")
    assert done.stdout == "hostfile\nhostfile\n0:0\n", done.stderr
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as tf:
        tf.add(host_tree / "one", arcname="streamed")
    done = rlx("cp", "-", "cpbox:/tmp", input=stream.getvalue())
    assert done.returncode == 0, done.stderr
    assert rlx("exec", "cpbox", "cat", "/tmp/streamed").stdout == "one\n"


def test_cp_stopped_container_both_ways(rlx, changed, host_tree):
    done = rlx("cp", str(host_tree / "one"), f"{changed}:/data/added")
    assert done.returncode == 0, done.stderr
    done = rlx("cp", f"{changed}:/data", str(host_tree / "out"))
    assert done.returncode == 0, done.stderr
    assert (host_tree / "out" / "data" / "added").read_text() == "one\n"
    assert (host_tree / "out" / "data" / "sub" / "f").read_text() == "x\n"
    assert "A /data/added" in rlx("diff", changed).stdout.splitlines()


def test_cp_bad_input(rlx, cpbox, host_tree):
    done = rlx("cp", "cpbox:../../etc/passwd", str(host_tree / "out"))
    assert done.returncode == 1 and "escapes the container's root filesystem" in done.stderr
    done = rlx("cp", str(host_tree / "one"), "cpbox:/../../x")
    assert done.returncode == 1 and "escapes the container's root filesystem" in done.stderr
    done = rlx("cp", "cpbox:/nope", str(host_tree / "out"))
    assert done.returncode == 1 and "Could not find the file /nope in container cpbox" in done.stderr
    done = rlx("cp", "nope:/x", str(host_tree / "out"))
    assert done.returncode == 1 and "No such container: nope" in done.stderr
    done = rlx("cp", "cpbox:/x", "other:/y")
    assert done.returncode == 125 and "copying between containers is not supported" in done.stderr
    done = rlx("cp", str(host_tree / "one"), str(host_tree / "two"))
    assert done.returncode == 125 and "must specify at least one container source" in done.stderr
