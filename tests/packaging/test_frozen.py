"""rootless.frozen: the environment handed on by the frozen rl, how it runs itself, where its tools
are; and packaging/glibc_floor.py's reading of `objdump -T` (pure parts table-driven; the tool
lookup against real executables in a temp dir)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rootless import frozen

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("given, is_frozen, expected", [
    # from source nothing changes
    ({"LD_LIBRARY_PATH": "/x", "A": "1"}, False, {"LD_LIBRARY_PATH": "/x", "A": "1"}),
    # frozen, the user had none: the bootloader's value goes
    ({"LD_LIBRARY_PATH": "/tree/_internal", "A": "1"}, True, {"A": "1"}),
    # frozen, the user had one: it comes back
    ({"LD_LIBRARY_PATH": "/tree/_internal:/u", "LD_LIBRARY_PATH_ORIG": "/u"}, True,
     {"LD_LIBRARY_PATH": "/u"}),
    # frozen, the user's was empty: empty it stays
    ({"LD_LIBRARY_PATH": "/tree/_internal", "LD_LIBRARY_PATH_ORIG": ""}, True, {"LD_LIBRARY_PATH": ""}),
    # the bootloader's private variables go; RL_LAUNCHER stays (rl's own)
    ({"_PYI_APPLICATION_HOME_DIR": "/t", "_PYI_ARCHIVE_FILE": "/t/rl", "_MEIPASS2": "/t",
      "RL_LAUNCHER": "/d/rl", "PATH": "/bin"}, True, {"RL_LAUNCHER": "/d/rl", "PATH": "/bin"}),
])
def test_host_environ(given, is_frozen, expected):
    assert frozen.host_environ(given, frozen=is_frozen) == expected


def test_host_environ_does_not_change_its_argument():
    given = {"LD_LIBRARY_PATH": "/t", "LD_LIBRARY_PATH_ORIG": "/u"}
    frozen.host_environ(given, frozen=True)
    assert given == {"LD_LIBRARY_PATH": "/t", "LD_LIBRARY_PATH_ORIG": "/u"}


def test_from_source(monkeypatch):
    monkeypatch.setenv("RL_LAUNCHER", "/somewhere/rl")
    assert not frozen.is_frozen()
    assert frozen.launcher() is None  # only a frozen rl trusts RL_LAUNCHER
    assert frozen.bundle_dir() is None
    assert frozen.self_command("rootless.engine.monitor") == [sys.executable, "-m", "rootless.engine.monitor"]


def test_self_command_runs_the_module():
    proc = subprocess.run(frozen.self_command("rootless") + ["--version"], capture_output=True,
                          text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("rl version ")


def _exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_find_tool_prefers_the_host(tmp_path, monkeypatch):
    host = _exe(tmp_path / "hostbin" / "rl-fake-tool")
    tree = tmp_path / "tree"
    bundled = _exe(tree / "libexec" / "rl" / "rl-fake-tool")
    _exe(tree / "libexec" / "rl" / "rl-only-bundled")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(_exe(tree / "rl")))
    path = str(tmp_path / "hostbin")
    assert frozen.find_tool_with_source("rl-fake-tool", path) == (str(host), "host")
    assert frozen.find_tool_with_source("rl-only-bundled", path) == (
        str(tree / "libexec" / "rl" / "rl-only-bundled"), "bundled")
    assert frozen.find_tool_with_source("rl-no-such-tool", path) == (None, "missing")
    os.unlink(host)
    assert frozen.find_tool_with_source("rl-fake-tool", path) == (str(bundled), "bundled")


def test_find_tool_from_source_has_no_bundle(tmp_path):
    _exe(tmp_path / "rl-only-bundled")
    assert frozen.find_tool_with_source("rl-only-bundled", str(tmp_path / "empty")) == (None, "missing")


def _glibc_floor():
    spec = importlib.util.spec_from_file_location("rl_glibc_floor", REPO / "packaging" / "glibc_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OBJDUMP = """
DYNAMIC SYMBOL TABLE:
0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.2.5) free
0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.34) __libc_start_main
0000000000000000      DF *UND*	0000000000000000  GLIBC_2.4   __stack_chk_fail
0000000000004010 g    DF .text	0000000000000010  GLIBC_2.99  exported_not_needed
0000000000000000  w   D  *UND*	0000000000000000  Base        __gmon_start__
"""


@pytest.mark.parametrize("text, expected", [
    (OBJDUMP, {"2.2.5", "2.34", "2.4"}),
    ("", set()),
    ("0 DF *UND* 0 (GLIBCXX_3.4.29) x\n", set()),  # libstdc++'s versions are not glibc's
])
def test_needed_versions(text, expected):
    assert _glibc_floor().needed_versions(text) == expected


def test_versions_order_numerically():
    floor = _glibc_floor()
    assert max(["2.4", "2.34", "2.2.5", "2.17"], key=floor.version_key) == "2.34"


def test_floor_of_a_real_elf():
    floor = _glibc_floor()
    version = floor.floor_of(Path(sys.executable).resolve())
    assert version is not None and floor.version_key(version) >= (2, 2, 5)
