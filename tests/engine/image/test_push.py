"""push(): to a real docker-registry; the result read back by skopeo and by a fresh pull."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest

from rootless.context import Context
from rootless.engine.image.pull import open_store, pull
from rootless.engine.image.push import _mount_sources, push
from rootless.engine.image.reference import parse

pytestmark = [pytest.mark.integration, pytest.mark.registry]


@pytest.fixture(autouse=True)
def _remove_stores(remove_image_stores):
    """The stores of each test go at its end (conftest's remove_image_stores)."""


@pytest.mark.parametrize("chunk_size", [None, 256 << 10])
def test_push_then_read_back(rl_env, tmp_path, registry, fixture_images, chunk_size):
    ctx = Context.create(env=rl_env)
    image = pull(ctx, parse(fixture_images["nginx"]))
    target = parse(f"{registry.host}/second/nginx{chunk_size or ''}:v2")
    # no mount source: every blob is uploaded (monolithic or in PATCH chunks)
    bare = SimpleNamespace(**{**vars(image), "repo_tags": [], "repo_digests": []})
    digest = push(ctx, bare, target, chunk_size=chunk_size)
    assert digest == image.manifest_digest                     # the pulled manifest is pushed as is
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{target}"],
                         check=True, capture_output=True).stdout
    assert json.loads(raw)["config"]["digest"] == image.id

    fresh = Context.create(env=dict(rl_env, RL_ROOT=str(tmp_path / "fresh")))
    again = pull(fresh, target)
    assert again.id == image.id and open_store(fresh).layer_dirs(again)


def test_mount_sources():
    image = SimpleNamespace(repo_tags=["127.0.0.1:5000/a:latest", "docker.io/library/busybox:latest"],
                            repo_digests=["127.0.0.1:5000/b@sha256:" + "0" * 64])
    assert _mount_sources(image, parse("127.0.0.1:5000/c:1")) == ["b", "a"]
    assert _mount_sources(image, parse("127.0.0.1:5000/a:2")) == ["b"]
    assert _mount_sources(image, parse("other:1/a")) == []
