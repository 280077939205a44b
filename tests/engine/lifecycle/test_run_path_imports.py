"""Import discipline of `rl run --rm` (not timed; docs/performance.md has the figures): a
foreground run of a stored image on `--network=none` must not load the standard modules that
cost it a third of its start-up (pathlib, re, json, enum, dataclasses...). A real container runs;
the check is `sys.modules` of the rl process afterwards."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration]

AVOIDED = ("pathlib", "re", "json", "enum", "signal", "dataclasses", "typing", "subprocess", "socket",
           "hashlib", "contextlib", "datetime", "random", "shutil", "tempfile", "threading", "inspect",
           "_cffi_backend")  # the container process is C (native/rl_boot.c): no cffi call left here


def test_run_rm_loads_none_of_the_costly_standard_modules(tmp_path, busybox_rootfs):
    env = rl.make_rl_env(tmp_path)
    try:
        tar = subprocess.run(["tar", "-C", str(busybox_rootfs), "-c", "."], capture_output=True, check=True).stdout
        done = rl.run_rl("import", "-", "busybox", env=env, input=tar)
        assert done.returncode == 0, done.stderr
        assert rl.run_rl("run", "--rm", "--network=none", "busybox", "true", env=env).returncode == 0  # probe cached
        code = ("import sys\nfrom rootless.cli.main import main\n"
                "status = main(['run', '--rm', '--network=none', 'busybox', 'sh', '-c', 'exit 3'])\n"
                "print('STATUS', status, 'MODULES', *sorted(sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert "STATUS 3 " in out.stdout, out.stderr
        modules = set(out.stdout.split("MODULES", 1)[1].split())
        assert sorted(m for m in AVOIDED if m in modules) == []
        assert rl.run_rl("ps", "-aq", env=env).stdout == ""
    finally:
        rl.cleanup_rl_env(env)
