"""The rl_env / run_rl fixtures isolate every rl path in the test's temp dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import rootless


def test_rl_env_puts_every_path_under_tmp_path(rl_env, tmp_path):
    for key in ("HOME", "RL_ROOT", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        assert Path(rl_env[key]).is_relative_to(tmp_path), key
    runtime = Path(rl_env["XDG_RUNTIME_DIR"])
    st = runtime.stat()
    assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700
    assert len(str(runtime)) < 40  # room for unix socket paths below it
    assert not any(k.startswith(("DOCKER_", "REGISTRY_")) for k in rl_env)


def test_run_rl_runs_this_trees_rl(run_rl):
    result = run_rl("--version")
    assert result.returncode == 0, result.stderr
    assert rootless.__version__ in result.stdout

