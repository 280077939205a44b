"""The one-file launcher (packaging/launcher.c + packaging/pack.py), built for real with gcc and
run on a tiny payload whose `rl` is a shell script: unpack once into the cache, atomic under
parallel first runs, keyed by content, argv and exit status passed through, RL_LAUNCHER set, a
clear error when the cache cannot be written. dist/rl itself is exercised by `make binary-test`."""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"

SCRIPT = """#!/bin/sh
# a stand-in for the frozen rl: says where it runs from and what it got
echo "tree=${0%/*}"
echo "launcher=$RL_LAUNCHER"
for a in "$@"; do echo "arg=[$a]"; done
cat "${0%/*}/data/version"
exit "${RL_FAKE_EXIT:-0}"
"""


def _load_pack():
    spec = importlib.util.spec_from_file_location("rl_pack", PACKAGING / "pack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pack = _load_pack()


@pytest.fixture(scope="module")
def launcher(tmp_path_factory) -> Path:
    cc = shutil.which("gcc")
    assert cc, "gcc is needed to build packaging/launcher.c (Debian: apt-get install gcc)"
    out = tmp_path_factory.mktemp("launcher") / "launcher"
    subprocess.run([cc, "-static", "-Os", "-Wall", "-Werror", "-o", str(out),
                    str(PACKAGING / "launcher.c")], check=True)
    return out


def make_tree(root: Path, version: str = "v1", filler_files: int = 0) -> Path:
    tree = root / "tree"
    (tree / "data" / "deep").mkdir(parents=True)
    (tree / "rl").write_text(SCRIPT)
    (tree / "rl").chmod(0o755)
    (tree / "data" / "version").write_text(version + "\n")
    (tree / "data" / "link").symlink_to("version")
    for i in range(filler_files):  # makes an unpack slow enough for first runs to overlap
        (tree / "data" / "deep" / f"f{i}").write_bytes(os.urandom(4096))
    return tree


def packed(launcher: Path, tree: Path, out: Path) -> tuple[Path, str]:
    sha = pack.pack(launcher, tree, out)
    return out, sha[:16]


def run(exe: Path, *args: str, cache: Path | None, **extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(exe.parent / "home"), **extra}
    if cache is not None:
        env["RL_CACHE"] = str(cache)
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=60)


def test_first_run_unpacks_and_execs_with_argv_unchanged(launcher, tmp_path):
    exe, key = packed(launcher, make_tree(tmp_path), tmp_path / "rl")
    cache = tmp_path / "cache"
    proc = run(exe, "run", "a b", "--x=1", "", "ü", "-itd", cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"tree={cache / key}", f"launcher={exe}",
        "arg=[run]", "arg=[a b]", "arg=[--x=1]", "arg=[]", "arg=[ü]", "arg=[-itd]", "v1"]
    tree = cache / key
    assert os.readlink(tree / "data" / "link") == "version"
    assert stat.S_IMODE((tree / "rl").stat().st_mode) == 0o755
    assert sorted(p.name for p in cache.iterdir()) == [key]


def test_exit_status_is_the_programs(launcher, tmp_path):
    exe, _ = packed(launcher, make_tree(tmp_path), tmp_path / "rl")
    assert run(exe, cache=tmp_path / "c", RL_FAKE_EXIT="3").returncode == 3


def test_warm_run_reuses_the_unpacked_tree(launcher, tmp_path):
    exe, key = packed(launcher, make_tree(tmp_path), tmp_path / "rl")
    cache = tmp_path / "cache"
    assert run(exe, cache=cache).returncode == 0
    entry = cache / key / "rl"
    before = entry.stat().st_ino
    (cache / key / "data" / "version").write_text("edited in the cache\n")
    proc = run(exe, cache=cache)
    assert proc.stdout.splitlines()[-1] == "edited in the cache"  # not unpacked again
    assert entry.stat().st_ino == before


def test_parallel_first_runs_share_one_tree(launcher, tmp_path):
    exe, key = packed(launcher, make_tree(tmp_path, filler_files=600), tmp_path / "rl")
    cache = tmp_path / "cache"
    env = {"PATH": "/usr/bin:/bin", "RL_CACHE": str(cache)}
    procs = [subprocess.Popen([str(exe), f"n{i}"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    for i, proc in enumerate(procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.splitlines()[0] == f"tree={cache / key}"
        assert f"arg=[n{i}]" in out.splitlines()
    assert sorted(p.name for p in cache.iterdir()) == [key]  # losers removed their temp dirs
    assert len(list((cache / key / "data" / "deep").iterdir())) == 600


def test_changed_payload_unpacks_to_a_new_directory(launcher, tmp_path):
    cache = tmp_path / "cache"
    exe1, key1 = packed(launcher, make_tree(tmp_path / "one", "v1"), tmp_path / "rl1")
    exe2, key2 = packed(launcher, make_tree(tmp_path / "two", "v2"), tmp_path / "rl2")
    assert key1 != key2
    assert run(exe1, cache=cache).stdout.splitlines()[-1] == "v1"
    assert run(exe2, cache=cache).stdout.splitlines()[-1] == "v2"
    assert sorted(p.name for p in cache.iterdir()) == sorted([key1, key2])


def test_same_tree_packs_to_the_same_bytes(launcher, tmp_path):
    tree = make_tree(tmp_path, filler_files=3)
    a, _ = packed(launcher, tree, tmp_path / "a")
    b, _ = packed(launcher, tree, tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("env, where", [
    ({"XDG_CACHE_HOME": "{t}/xdg"}, "{t}/xdg/rl"),
    ({}, "{t}/home/.cache/rl"),                                  # HOME (set by run())
    ({"XDG_CACHE_HOME": "{t}/xdg", "RL_CACHE": "{t}/mine"}, "{t}/mine"),
    ({"XDG_CACHE_HOME": "relative"}, "{t}/home/.cache/rl"),      # XDG ignores relative paths
])
def test_cache_location(launcher, tmp_path, env, where):
    exe, key = packed(launcher, make_tree(tmp_path), tmp_path / "rl")
    extra = {k: v.format(t=tmp_path) for k, v in env.items()}
    cache = extra.pop("RL_CACHE", None)
    proc = run(exe, cache=Path(cache) if cache else None, **extra)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"tree={where.format(t=tmp_path)}/{key}"


def test_cache_under_a_file_is_a_clear_error(launcher, tmp_path):
    exe, _ = packed(launcher, make_tree(tmp_path), tmp_path / "rl")
    (tmp_path / "afile").write_text("")
    proc = run(exe, cache=tmp_path / "afile" / "cache")
    assert proc.returncode == 127
    assert proc.stderr == (f"rl: cannot unpack into {tmp_path}/afile/cache: Not a directory; "
                           "set RL_CACHE to a writable directory\n")


def test_unwritable_cache_is_a_clear_error(launcher, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes through permission bits (the rltest/rltest1 runs check this)")
    exe, _ = packed(launcher, make_tree(tmp_path), tmp_path / "rl")
    readonly = tmp_path / "ro"
    readonly.mkdir(mode=0o555)
    proc = run(exe, cache=readonly)
    assert proc.returncode == 127
    assert proc.stderr == (f"rl: cannot unpack into {readonly}: Permission denied; "
                           "set RL_CACHE to a writable directory\n")
    assert list(readonly.iterdir()) == []


def test_no_home_and_no_cache_is_a_clear_error(launcher, tmp_path):
    exe, _ = packed(launcher, make_tree(tmp_path), tmp_path / "rl")
    proc = subprocess.run([str(exe)], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert proc.returncode == 127
    assert "set RL_CACHE to a writable directory" in proc.stderr


@pytest.mark.parametrize("damage", ["truncate", "no-trailer"])
def test_damaged_file_is_refused(launcher, tmp_path, damage):
    exe, _ = packed(launcher, make_tree(tmp_path), tmp_path / "rl")
    data = exe.read_bytes()
    exe.write_bytes(data[:-200] + data[-88:] if damage == "truncate" else data[:-88])
    proc = run(exe, cache=tmp_path / "cache")
    assert proc.returncode == 127
    assert ("damaged" if damage == "truncate" else "no payload found") in proc.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
