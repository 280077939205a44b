"""packaging/dev_entry.py: the venv's rl script without `site` still finds rl and its libraries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "packaging"))
import dev_entry  # noqa: E402

pytestmark = pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs the project's venv")


def test_site_paths_are_what_site_adds_and_hold_rl_and_typer():
    paths = dev_entry.site_paths()
    assert all(os.path.isdir(p) for p in paths)
    assert str(REPO) in paths or any(Path(p, "rootless").is_dir() for p in paths)
    assert any(Path(p, "typer").is_dir() for p in paths)
    assert not any(p.endswith(("lib-dynload", "python3.11")) for p in paths)


def test_written_script_runs_the_fast_and_the_typer_path_without_site(tmp_path):
    target = tmp_path / "rl"
    target.write_text(dev_entry.script(sys.executable, dev_entry.site_paths()))
    target.chmod(0o755)
    assert target.read_text().splitlines()[0] == f"#!{sys.executable} -S"
    done = subprocess.run([str(target), "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "rl version 0.1.0\n")
    helped = subprocess.run([str(target), "network", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "Usage: rl network" in helped.stdout  # typer, from site-packages
