"""rootless.paths: one layout in two spellings (pathlib properties, string methods) that agree,
the defaults from the environment, and the private runtime directory check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rootless.errors import StorageError
from rootless.paths import Paths, default_root, default_runroot, ensure_private_dir

D = "sha256:" + "ab" * 32


def test_string_methods_and_properties_name_the_same_paths(tmp_path):
    p = Paths(tmp_path / "root", tmp_path / "run", tmp_path / "cfg", tmp_path)
    pairs = [
        (p.root, p.root_dir), (p.runroot, p.runroot_dir), (p.blobs, p.blobs_dir()),
        (p.blob(D), p.blob_file(D)), (p.layers, p.layers_dir()), (p.layer(D), p.layer_dir(D)),
        (p.layer_meta(D), p.layer_meta_file(D)), (p.images_json, p.images_json_file()),
        (p.containers, p.containers_dir()), (p.container("c1"), p.container_dir("c1")),
        (p.tmp, p.tmp_dir()), (p.locks, p.locks_dir()), (p.containers_lock, p.containers_lock_file()),
        (p.oci_state, p.oci_state_dir()), (p.storage_driver_file, p.storage_driver_json()),
    ]
    for path, text in pairs:
        assert isinstance(path, Path) and isinstance(text, str) and path == Path(text)
    assert p.container("c1") == tmp_path / "root" / "containers" / "c1"
    assert p == Paths(str(tmp_path / "root") + "/", tmp_path / "run", tmp_path / "cfg", tmp_path)


def test_defaults_follow_the_environment(tmp_path):
    env = {"HOME": str(tmp_path)}
    assert default_root(env) == (tmp_path / ".local/share/rl", "HOME")
    assert default_root({**env, "XDG_DATA_HOME": "/x"}) == (Path("/x/rl"), "XDG_DATA_HOME")
    assert default_root({**env, "RL_ROOT": "/r"}) == (Path("/r"), "RL_ROOT")
    assert default_runroot(env, 4242) == (Path("/tmp/rl-4242"), "fallback")
    assert default_runroot({"XDG_RUNTIME_DIR": str(tmp_path)}, 1) == (tmp_path / "rl", "XDG_RUNTIME_DIR")
    p = Paths.from_env(env)
    assert p.config_file == tmp_path / ".config/rl/config.toml"
    assert p.docker_auth_file == tmp_path / ".docker/config.json"


def test_private_dir_is_made_0700_and_a_shared_one_refused(tmp_path):
    made = ensure_private_dir(str(tmp_path / "a" / "b"))
    assert os.stat(made).st_mode & 0o777 == 0o700
    (tmp_path / "open").mkdir(mode=0o777)
    os.chmod(tmp_path / "open", 0o777)
    with pytest.raises(StorageError, match="not a private directory"):
        ensure_private_dir(tmp_path / "open")


def test_paths_loads_pathlib_only_when_a_property_is_used():
    code = ("import sys\nfrom rootless.paths import Paths\n"
            "p = Paths.from_env({'HOME': '/h'})\np.container_dir('x'); p.blob_file('sha256:' + 'a' * 64)\n"
            "print('pathlib' in sys.modules)\np.root\nprint('pathlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n" + code],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
