"""packaging/bundle_tools.py: which libraries go with a bundled tool (glibc's own never do), and a
real bundle of a real dynamically linked program that runs through its wrapper."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("rl_bundle_tools", REPO / "packaging" / "bundle_tools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle_tools = _load()


@pytest.mark.parametrize("soname, is_glibc", [
    ("libc.so.6", True), ("libm.so.6", True), ("libpthread.so.0", True), ("libdl.so.2", True),
    ("librt.so.1", True), ("ld-linux-x86-64.so.2", True),
    ("libglib-2.0.so.0", False), ("libslirp.so.0", False), ("libfuse3.so.3", False),
    ("libcap.so.2", False), ("libcrypt.so.1", False), ("libmount.so.1", False),
])
def test_glibc_libraries_stay_behind(soname, is_glibc):
    assert bool(bundle_tools.GLIBC.match(soname)) is is_glibc


def test_bundle_runs_with_its_own_libraries(tmp_path, monkeypatch):
    """A real dynamically linked program, ls (libselinux, libpcre2 besides glibc), bundled."""
    exe = shutil.which("ls")
    libs = bundle_tools.needed_libraries(exe)
    assert libs and not any(bundle_tools.GLIBC.match(lib.name) for lib in libs)
    monkeypatch.setattr(bundle_tools.shutil, "which", lambda name, path=None: exe if name == "ls" else None)
    assert bundle_tools.bundle(tmp_path, "ls") is True
    assert bundle_tools.bundle(tmp_path, "rl-no-such-tool") is False
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == sorted(lib.name for lib in libs)
    done = subprocess.run([str(tmp_path / "ls"), "-d", str(tmp_path)], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})
    assert (done.returncode, done.stdout) == (0, f"{tmp_path}\n"), done.stderr
    # with the LD_LIBRARY_PATH the wrapper sets, the copies are the ones the loader picks
    traced = subprocess.run([str(tmp_path / "bin" / "ls")], capture_output=True, text=True,
                            env={"LD_TRACE_LOADED_OBJECTS": "1", "LD_LIBRARY_PATH": str(tmp_path / "lib")}).stdout
    for lib in libs:
        assert f"{lib.name} => {tmp_path / 'lib' / lib.name}" in traced
    assert 'LD_LIBRARY_PATH="$here/lib' in (tmp_path / "ls").read_text()
