"""dist/rl itself, end to end (`make binary-test`, after `make binary`; not part of `make test`,
which must not depend on a 40 MB build): a copy of the one file, run from a directory that is not
the repo with no venv on PATH, as root, rltest and rltest1 (packaging/binary_test.sh).

The file name does not match test_*.py on purpose: pytest collects it only when named."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("RL_DIST", REPO / "dist" / "rl"))
HOST_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    """(copy of dist/rl, environment, work dir): nothing of the repo or its venv in sight."""
    assert DIST.is_file(), f"{DIST} is missing: run `make binary` first"
    base = tmp_path_factory.mktemp("dist")
    exe = base / "bin" / "rl"
    exe.parent.mkdir()
    shutil.copy(DIST, exe)
    home = base / "home"
    home.mkdir()
    runtime = tempfile.mkdtemp(prefix="rl-run-")  # short: unix socket paths stay < 108 bytes
    env = {"PATH": HOST_PATH, "HOME": str(home), "RL_ROOT": str(base / "root"),
           "XDG_RUNTIME_DIR": runtime, "LANG": "C.UTF-8"}
    yield exe, env, base
    shutil.rmtree(runtime, ignore_errors=True)


def run(frozen, *args, extra=None, timeout=120):
    exe, env, base = frozen
    return subprocess.run([str(exe), *args], env={**env, **(extra or {})}, cwd=base,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)


def test_version(frozen):
    done = run(frozen, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rl version ")
    exe, env, _ = frozen
    assert list((Path(env["HOME"]) / ".cache" / "rl").iterdir())  # unpacked into the default cache


def test_environment_restored_and_self_run(frozen):
    """`rl -m module` works frozen (helpers re-run rl so), and what it sees is the user's
    environment: LD_LIBRARY_PATH as given, no PyInstaller variables; RL_LAUNCHER is the file."""
    done = run(frozen, "-m", "rootless.frozen", extra={"LD_LIBRARY_PATH": "/rl-test-marker"})
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["Frozen"] is True
    assert facts["Launcher"] == str(frozen[0])
    seen = facts["Environment"]  # LD_*, _PYI*, PYINSTALLER* and RL_* variables
    assert {k: v for k, v in seen.items() if not k.startswith("RL_")} == {"LD_LIBRARY_PATH": "/rl-test-marker"}
    assert seen["RL_LAUNCHER"] == str(frozen[0])
    done = run(frozen, "-m", "rootless.frozen")
    assert "LD_LIBRARY_PATH" not in json.loads(done.stdout)["Environment"]


def test_bundled_tools_run(frozen):
    facts = json.loads(run(frozen, "-m", "rootless.frozen").stdout)
    bundle = Path(facts["BundleDir"])
    for tool in ("slirp4netns", "fuse-overlayfs"):
        if shutil.which(tool, path=HOST_PATH) is None:
            continue  # this build host had none to bundle
        done = subprocess.run([str(bundle / tool), "--version"], capture_output=True, text=True,
                              env={"PATH": HOST_PATH})
        assert done.returncode == 0, done.stderr
        assert "version" in done.stdout.lower()


def test_info(frozen):
    done = run(frozen, "info")
    assert done.returncode == 0, done.stderr
    assert "slirp4netns:" in done.stdout and "fuse-overlayfs:" in done.stdout


def test_run_busybox_echo_hi(frozen, fixture_images):
    done = run(frozen, "pull", fixture_images["busybox"])
    assert done.returncode == 0, done.stderr
    assert run(frozen, "tag", fixture_images["busybox"], "busybox").returncode == 0
    done = run(frozen, "run", "--rm", "busybox", "echo", "hi")
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr
