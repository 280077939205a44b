"""Fixtures shared by the whole suite: real registries, fixture images, a busybox rootfs, rl runs.

Session fixtures (one per pytest run, i.e. per user when `make test` runs the suite three times):
  registry, registry_auth, registry_tls   Debian's docker-registry on 127.0.0.1 (tests/fixtures/registry.py);
                                           shared by the session: push under repo names of your
                                           own and do not expect the catalog to hold only yours
  fixture_layout                          the cached OCI layout with every fixture image
  fixture_images                          {"busybox"|"nginx"|"layers"|"multiarch"|"busybox-zstd":
                                           "127.0.0.1:PORT/<name>:latest"} pushed to `registry`
                                           (contents: tests/fixtures/images.py; nginx workers run as
                                           www-data, uid 33: without a subuid range use
                                           `nginx -c /etc/nginx/single-uid.conf -g 'daemon off;'`)
  push_image                              push_image(name, registry, repo=None) -> ref, e.g. to
                                           registry_auth / registry_tls
  busybox_rootfs                          a world-readable busybox rootfs dir (do not modify it)
Per test:
  rl_env                                  env dict with HOME, RL_ROOT, XDG_* under tmp_path
  run_rl                                  run_rl(*args, env=rl_env, input=None, ...) -> CompletedProcess
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `fixtures` whatever the import mode

from fixtures import images, rl, rootfs  # noqa: E402
from fixtures.registry import start_registry  # noqa: E402

try:  # hypothesis keeps its caches and example database in ./.hypothesis: never write into the tree
    from hypothesis.configuration import set_hypothesis_home_dir
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass
else:
    set_hypothesis_home_dir(images.cache_root() / "hypothesis")


def pytest_report_header(config) -> list[str]:
    uid = os.getuid()
    name = pwd.getpwuid(uid).pw_name
    try:
        ranges = [line for line in Path("/etc/subuid").read_text().splitlines() if line.split(":")[0] in (name, str(uid))]
    except OSError:
        ranges = []
    mode = "root" if uid == 0 else ("subuid " + ",".join(r.split(":", 1)[1] for r in ranges) if ranges else "single id (no subuid range)")
    return [f"rl suite running as {name} (uid {uid}): {mode}"]


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def registry_auth(tmp_path_factory):
    reg = start_registry(tmp_path_factory.mktemp("registry-auth"), auth=True)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory):
    reg = start_registry(tmp_path_factory.mktemp("registry-tls"), tls=True)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def fixture_layout() -> Path:
    return images.fixture_layout()


@pytest.fixture(scope="session")
def fixture_images(registry, fixture_layout) -> dict[str, str]:
    return images.push_all(fixture_layout, registry)


@pytest.fixture(scope="session")
def push_image(fixture_layout):
    def push(name: str, registry, repo: str | None = None) -> str:
        return images.push_fixture(fixture_layout, name, registry, repo)
    return push


@pytest.fixture(scope="session")
def busybox_rootfs():
    root = rootfs.make_busybox_rootfs()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def rl_env(tmp_path):
    env = rl.make_rl_env(tmp_path)
    yield env
    rl.cleanup_rl_env(env)


@pytest.fixture
def run_rl(rl_env):
    def run(*args, env=None, **kwargs):
        return rl.run_rl(*args, env=rl_env if env is None else env, **kwargs)
    return run


@pytest.fixture
def rlx(env):
    """`rlx(*args)`: run rl in the requesting module's `env` fixture (its store and HOME)."""
    def run(*args, **kwargs):
        return rl.run_rl(*args, env=env, **kwargs)
    return run


@pytest.fixture
def remove_image_stores(rl_env, tmp_path):
    """Layers hold files owned by subordinate ids: remove the test's stores (tmp_path/root and
    tmp_path/fresh) from inside the user namespace at its end, or pytest cannot clean its temp dirs."""
    yield
    from rootless.engine.image.layerstore import remove_trees
    from rootless.runtime import idmap

    remove_trees(idmap.choose(), [str(p) for p in (tmp_path / "root", tmp_path / "fresh") if p.exists()])
