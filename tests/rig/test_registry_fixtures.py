"""The registry fixtures serve the fixture images; auth and TLS variants behave like registries.

Checked with independent clients only (curl, skopeo), never with rl's code.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from fixtures import images

pytestmark = [pytest.mark.integration, pytest.mark.registry]


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}", *args],
                          capture_output=True, text=True, timeout=30)


def skopeo_inspect(ref: str, registry, *extra: str) -> subprocess.CompletedProcess:
    argv = ["skopeo", "inspect", *images.registry_options(registry, ""), *extra, f"docker://{ref}"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_catalog_lists_every_fixture_image(registry, fixture_images):
    out = subprocess.run(["curl", "-sSf", "--noproxy", "*", f"{registry.url}/v2/_catalog"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    assert set(images.IMAGES) <= set(json.loads(out)["repositories"])
    assert fixture_images == {name: f"{registry.host}/{name}:latest" for name in images.IMAGES}


@pytest.mark.parametrize("name, cmd", [("busybox", ["sh"]), ("layers", ["sh"]), ("busybox-zstd", ["sh"]),
                                       ("nginx", ["nginx", "-g", "daemon off;"])])
def test_skopeo_inspect_sees_image_config(registry, fixture_images, name, cmd):
    result = skopeo_inspect(fixture_images[name], registry, "--config")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    assert config["config"]["Cmd"] == cmd
    assert any(e.startswith("PATH=") for e in config["config"]["Env"])
    if name == "nginx":
        assert config["config"]["ExposedPorts"] == {"80/tcp": {}}


def test_layer_counts_and_compression(registry, fixture_images):
    def manifest(name):
        result = skopeo_inspect(fixture_images[name], registry, "--raw")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert len(manifest("busybox")["layers"]) == 1
    assert len(manifest("nginx")["layers"]) == 2
    assert len(manifest("layers")["layers"]) == 4
    gzip_layers = [layer["mediaType"] for layer in manifest("busybox")["layers"]]
    zstd_layers = [layer["mediaType"] for layer in manifest("busybox-zstd")["layers"]]
    assert gzip_layers == ["application/vnd.oci.image.layer.v1.tar+gzip"]
    assert zstd_layers == ["application/vnd.oci.image.layer.v1.tar+zstd"]
    digest = manifest("busybox-zstd")["layers"][0]["digest"]
    status, blob = registry.get(f"/v2/busybox-zstd/blobs/{digest}")
    assert status == 200 and blob[:4] == b"\x28\xb5\x2f\xfd"  # zstd frame magic


def test_multiarch_is_an_index_of_amd64_and_arm64(registry, fixture_images):
    result = skopeo_inspect(fixture_images["multiarch"], registry, "--raw")
    assert result.returncode == 0, result.stderr
    index = json.loads(result.stdout)
    assert index["mediaType"] == images.OCI_INDEX
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]}
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}
    for arch in ("amd64", "arm64"):
        result = skopeo_inspect(fixture_images["multiarch"], registry, "--config", "--override-arch", arch)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["architecture"] == arch


def test_auth_registry_wants_credentials(registry_auth, push_image):
    url = f"{registry_auth.url}/v2/"
    assert curl(url).stdout == "401"
    assert curl("-u", f"{registry_auth.username}:wrong-password", url).stdout == "401"
    assert curl("-u", f"{registry_auth.username}:{registry_auth.password}", url).stdout == "200"
    ref = push_image("busybox", registry_auth)
    assert skopeo_inspect(ref, registry_auth).returncode == 0
    anonymous = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--no-creds", f"docker://{ref}"],
                               capture_output=True, text=True, timeout=60)
    assert anonymous.returncode != 0
    assert "unauthorized" in anonymous.stderr.lower() or "authentication required" in anonymous.stderr.lower()


def test_tls_registry_is_trusted_only_with_its_ca(registry_tls, push_image):
    url = f"{registry_tls.url}/v2/"
    assert registry_tls.url.startswith("https://")
    untrusted = curl(url)
    assert untrusted.returncode == 60, untrusted  # curl: peer certificate cannot be authenticated
    assert curl("--cacert", str(registry_tls.ca_file), url).stdout == "200"
    ref = push_image("busybox", registry_tls, repo="tls/busybox")
    assert skopeo_inspect(ref, registry_tls).returncode == 0
    status, body = registry_tls.get("/v2/_catalog")
    assert status == 200 and "tls/busybox" in json.loads(body)["repositories"]
