"""pull(): real registry (docker-registry from the rig), real store, real layer unpacking."""

from __future__ import annotations

import shutil
import threading

import pytest

from rootless.context import Context
from rootless.engine.image.pull import pull
from rootless.engine.image.reference import parse
from rootless.engine.image.pull import open_store
from rootless.errors import ImageNotFound, RegistryError, RlError

from badregistry import BadRegistry

pytestmark = [pytest.mark.integration, pytest.mark.registry]


@pytest.fixture(autouse=True)
def _remove_stores(remove_image_stores):
    """The stores of each test go at its end (conftest's remove_image_stores)."""


@pytest.fixture
def ctx(rl_env):
    return Context.create(env=rl_env)


class Events:
    """A progress sink that records what pull reports."""

    def __init__(self):
        self.lines, self.lock = [], threading.Lock()

    def message(self, text):
        with self.lock:
            self.lines.append(text)

    def layer(self, short_id, total):
        owner = self

        class Layer:
            def start(self, status="Downloading"):
                pass

            def advance(self, n):
                pass

            def done(self, status):
                owner.message(f"{short_id}: {status}")
        return Layer()


def _store_files(ctx) -> set[str]:
    root = ctx.paths.root
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and "locks" not in p.parts and p.name != "images.json"} | \
        {str(p.relative_to(root)) for p in ctx.paths.layers.glob("*")} if root.exists() else set()


def test_pull_busybox_then_nginx_shares_layers(ctx, fixture_images):
    events = Events()
    image = pull(ctx, parse(fixture_images["busybox"]), progress=events)
    store = open_store(ctx)
    assert store.resolve(fixture_images["busybox"]).id == image.id
    dirs = store.layer_dirs(image)
    assert (dirs[0] / "bin" / "busybox").is_file()
    assert events.lines[0] == "latest: Pulling from busybox"
    assert any(line.endswith(": Pull complete") for line in events.lines)
    assert events.lines[-2].startswith("Digest: sha256:")
    assert events.lines[-1] == f"Status: Downloaded newer image for {fixture_images['busybox']}"
    for chain_id in image.chain_ids:
        assert ctx.paths.layer(chain_id).is_dir()

    events = Events()
    nginx = pull(ctx, parse(fixture_images["nginx"]), progress=events)
    assert any(line.endswith(": Already exists") for line in events.lines)
    assert nginx.chain_ids[0] == image.chain_ids[0]

    events = Events()
    pull(ctx, parse(fixture_images["busybox"]), progress=events)
    assert events.lines[-1] == f"Status: Image is up to date for {fixture_images['busybox']}"


def test_pull_zstd(ctx, fixture_images):
    image = pull(ctx, parse(fixture_images["busybox-zstd"]))
    assert (open_store(ctx).layer_dirs(image)[0] / "bin" / "busybox").is_file()


@pytest.mark.parametrize("platform, arch", [("linux/amd64", "amd64"), ("linux/arm64", "arm64"), (None, None)])
def test_pull_multiarch(ctx, fixture_images, platform, arch):
    from rootless.engine.image.platform import host

    image = pull(ctx, parse(fixture_images["multiarch"]), platform=platform)
    assert image.config["architecture"] == (arch or host().architecture)


def test_pull_no_matching_platform(ctx, fixture_images):
    with pytest.raises(RegistryError) as info:
        pull(ctx, parse(fixture_images["multiarch"]), platform="linux/s390x")
    assert info.value.message == "no matching manifest for linux/s390x in the manifest list entries"
    assert "linux/amd64" in info.value.hint and "linux/arm64" in info.value.hint


def test_unknown_tag_and_registry(ctx, registry, fixture_images):
    with pytest.raises(ImageNotFound, match=rf"^manifest for {registry.host}/busybox:nope not found: manifest unknown$"):
        pull(ctx, parse(f"{registry.host}/busybox:nope"))
    with pytest.raises(RegistryError, match=r'^Get "http://127.0.0.1:9/v2/"'):
        pull(ctx, parse("127.0.0.1:9/busybox"))
    assert not ctx.paths.layers.exists() or not any(ctx.paths.layers.iterdir())


@pytest.mark.parametrize("mode, fragment", [("layer-bytes", "digest mismatch"), ("diff-id", "diff_id mismatch")])
def test_corrupt_registry_leaves_store_unchanged(ctx, fixture_images, mode, fragment):
    pull(ctx, parse(fixture_images["busybox"]))
    store = open_store(ctx)
    before_images = [i.id for i in store.list()]
    before_files = _store_files(ctx)
    bad = BadRegistry(mode)
    try:
        with pytest.raises(RlError, match=fragment):
            pull(ctx, parse(f"{bad.host}/bad:latest"))
    finally:
        bad.close()
    assert [i.id for i in open_store(ctx).list()] == before_images
    assert _store_files(ctx) == before_files
    assert not ctx.paths.blob(bad.layer_digest).exists()


@pytest.mark.parametrize("as_url", [True, False])
def test_mirror_serves_docker_hub_names(ctx, registry, push_image, tmp_path, as_url):
    push_image("busybox", registry, "library/busybox")
    cfg = tmp_path / "mirror.toml"
    cfg.write_text(f'registry-mirrors = ["{registry.url if as_url else registry.host}"]\n')
    mirrored = Context.create(env=dict(ctx.env, RL_CONFIG=str(cfg)))
    image = pull(mirrored, parse("busybox"))
    store = open_store(mirrored)
    assert store.resolve("busybox").id == image.id
    assert store.resolve("docker.io/library/busybox:latest").id == image.id


def test_pull_over_tls_with_certs_d(ctx, registry_tls, push_image):
    ref = push_image("busybox", registry_tls)
    with pytest.raises(RegistryError, match="certificate signed by unknown authority"):
        pull(ctx, parse(ref))
    ca = ctx.paths.registry_ca_file(registry_tls.host)
    ca.parent.mkdir(parents=True)
    shutil.copy(registry_tls.ca_file, ca)
    assert pull(ctx, parse(ref)).config["os"] == "linux"


def test_concurrent_pulls_both_succeed(ctx, fixture_images):
    results, errors = [], []

    def one():
        try:
            results.append(pull(ctx, parse(fixture_images["nginx"])).id)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1


def test_single_platform_image_checked_against_platform(ctx, fixture_images):
    with pytest.raises(RegistryError, match=r"was found but does not match the specified platform: "
                                            r"wanted linux/arm64, actual: linux/amd64"):
        pull(ctx, parse(fixture_images["busybox"]), platform="linux/arm64")
    assert pull(ctx, parse(fixture_images["busybox"]), platform="linux/amd64").config["architecture"] == "amd64"


def test_pull_by_digest(ctx, fixture_images):
    image = pull(ctx, parse(fixture_images["busybox"]))
    name = fixture_images["busybox"].rsplit(":", 1)[0]
    events = Events()
    again = pull(ctx, parse(f"{name}@{image.manifest_digest}"), progress=events)
    assert again.id == image.id
    assert events.lines[0] == f"{image.manifest_digest}: Pulling from busybox"
    assert events.lines[-1] == f"Status: Image is up to date for {name}@{image.manifest_digest}"
