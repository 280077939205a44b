"""The registry client against real docker-registry instances (plain, basic auth, TLS), and the
bearer-token flow and retries at the HTTP transport seam."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from rootless.engine.image import registry as reg
from rootless.engine.image import transport as tp
from rootless.engine.image.auth import Authenticator, Credentials
from rootless.engine.image.config import RegistryConfig
from rootless.errors import AuthError, ImageNotFound, RegistryError

pytestmark = pytest.mark.registry


def _client(host, **kw) -> reg.Registry:
    return reg.Registry(host, kw.pop("config", RegistryConfig()), kw.pop("auth", None), **kw)


def _repo(ref: str) -> tuple[str, str, str]:
    host, _, rest = ref.partition("/")
    repo, _, tag = rest.partition(":")
    return host, repo, tag


def test_manifest_config_and_blobs(fixture_images):
    host, repo, tag = _repo(fixture_images["busybox"])
    with _client(host) as r:
        m = r.get_manifest(repo, tag)
        assert r.base == f"http://{host}"           # loopback: HTTPS refused, plain HTTP used
        assert m.media_type in reg.MANIFEST_TYPES and not m.is_index
        assert r.get_manifest(repo, m.digest).raw == m.raw
        assert r.head_manifest(repo, tag) == m.digest
        config = json.loads(r.get_blob(repo, m.data["config"]["digest"]))
        assert config["rootfs"]["type"] == "layers"
        layer = m.data["layers"][0]
        with r.open_blob(repo, layer["digest"]) as resp:
            data = b"".join(resp.iter_bytes())
        assert "sha256:" + hashlib.sha256(data).hexdigest() == layer["digest"]
        assert r.blob_exists(repo, layer["digest"])
        assert not r.blob_exists(repo, "sha256:" + "0" * 64)
        assert tag in r.tags(repo)


def test_index(fixture_images):
    host, repo, tag = _repo(fixture_images["multiarch"])
    with _client(host) as r:
        m = r.get_manifest(repo, tag)
        assert m.is_index
        archs = {d["platform"]["architecture"] for d in m.data["manifests"]}
        assert {"amd64", "arm64"} <= archs


def test_unknown_manifest_and_repo(fixture_images):
    host, repo, _ = _repo(fixture_images["busybox"])
    with _client(host) as r:
        with pytest.raises(ImageNotFound, match=r"^manifest for busybox:nope not found: manifest unknown$"):
            r.get_manifest(repo, "nope", display="busybox:nope")
        with pytest.raises(ImageNotFound):
            r.get_manifest("no/such/repo", "latest")
        with pytest.raises(ImageNotFound, match=f"manifest for {repo}@sha256:1111"):
            r.get_manifest(repo, "sha256:" + "1" * 64)


def test_unreachable_registry():
    with _client("127.0.0.1:9") as r:
        with pytest.raises(RegistryError, match=r'Get "http://127.0.0.1:9/v2/"'):
            r.get_manifest("x", "latest")


def test_catalog_paginates(registry, fixture_images):
    with _client(registry.host) as r:
        names = r.catalog(page=1)
    assert {"busybox", "nginx", "multiarch"} <= set(names)
    assert names == sorted(names)


@pytest.mark.parametrize("chunk_size", [None, 1000])
def test_upload_mount_and_manifest(registry, fixture_images, chunk_size):
    data = os.urandom(2500 + (chunk_size or 0))
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    repo = f"uploads/c{chunk_size or 0}"
    with _client(registry.host) as r:
        r.upload_blob(repo, digest, len(data), iter([data[:700], data[700:]]), chunk_size=chunk_size)
        assert r.get_blob(repo, digest) == data
        other = f"{repo}-mounted"
        assert r.mount_blob(other, digest, repo) is True
        assert r.blob_exists(other, digest)
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        config_digest = reg.sha256(config)
        r.upload_blob(other, config_digest, len(config), [config])
        manifest = json.dumps({"schemaVersion": 2, "mediaType": reg.MEDIA_OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": config_digest, "size": len(config)},
                               "layers": []}).encode()
        assert r.put_manifest(other, "v1", manifest, reg.MEDIA_OCI_MANIFEST) == reg.sha256(manifest)
        assert r.get_manifest(other, "v1").raw == manifest


def test_basic_auth(registry_auth, push_image):
    ref = push_image("busybox", registry_auth)
    host, repo, tag = _repo(ref)
    with _client(host) as r:
        with pytest.raises(AuthError, match="unauthorized: authentication required"):
            r.get_manifest(repo, tag)
    creds = Credentials(registry_auth.username, registry_auth.password)
    with _client(host, auth=Authenticator(host, creds)) as r:
        assert r.get_manifest(repo, tag).data["schemaVersion"] == 2
        reg.check_login(r)
    with _client(host, auth=Authenticator(host, Credentials(registry_auth.username, "wrong"))) as r:
        with pytest.raises(AuthError, match="incorrect username or password"):
            reg.check_login(r)


def test_tls_needs_the_ca(registry_tls, push_image, tmp_path):
    ref = push_image("busybox", registry_tls)
    host, repo, tag = _repo(ref)
    certs = tmp_path / "certs.d"
    with _client(host, config=RegistryConfig(certs_dir=certs)) as r:
        with pytest.raises(RegistryError, match="certificate signed by unknown authority") as info:
            r.get_manifest(repo, tag)
        assert str(certs) in info.value.hint
    (certs / host).mkdir(parents=True)
    shutil.copy(registry_tls.ca_file, certs / host / "ca.crt")
    with _client(host, config=RegistryConfig(certs_dir=certs)) as r:
        r.get_manifest(repo, tag)
        assert r.base == f"https://{host}"
    with _client(host, config=RegistryConfig(insecure=(host,), certs_dir=tmp_path / "none")) as r:
        r.get_manifest(repo, tag)                    # insecure: TLS without verification
        assert r.base == f"https://{host}"


# --- the HTTP transport seam: Docker Hub's bearer flow, retries -------------------------------
def _hub_like(log: list, fail_first: int = 0):
    state = {"fails": fail_first}

    def handler(request: tp.Request) -> tp.Response:
        log.append((request.method, str(request.url), request.headers.get("authorization")))
        if request.url.host == "auth.example":
            if request.headers.get("authorization") not in (None, Credentials("u", "p").basic_header()):
                return tp.Response(401)
            scopes = request.url.params.get_list("scope")
            return tp.Response(200, json={"token": "tok-" + ",".join(scopes), "expires_in": 300})
        if state["fails"] > 0:
            state["fails"] -= 1
            return tp.Response(503)
        scope = "repository:library/busybox:pull"
        if request.headers.get("authorization") != f"Bearer tok-{scope}":
            return tp.Response(401, headers={"WWW-Authenticate":
                f'Bearer realm="https://auth.example/token",service="registry.example",scope="{scope}"'})
        if request.url.path == "/v2/":
            return tp.Response(200)
        body = json.dumps({"schemaVersion": 2, "mediaType": reg.MEDIA_OCI_MANIFEST, "layers": []}).encode()
        return tp.Response(200, content=body, headers={"Content-Type": reg.MEDIA_OCI_MANIFEST})
    return handler


@pytest.mark.parametrize("creds", [None, Credentials("u", "p")])
def test_bearer_token_flow_and_cache(creds):
    log: list = []
    r = reg.Registry("registry.example", RegistryConfig(), Authenticator("registry.example", creds),
                     transport=_hub_like(log))
    with r:
        r.get_manifest("library/busybox", "latest")
        r.get_manifest("library/busybox", "latest")
    token_calls = [entry for entry in log if "auth.example" in entry[1]]
    assert len(token_calls) == 1                       # cached per scope
    assert "scope=repository%3Alibrary%2Fbusybox%3Apull" in token_calls[0][1]
    assert "service=registry.example" in token_calls[0][1]
    assert token_calls[0][2] == (creds.basic_header() if creds else None)
    assert log[-1][2] == "Bearer tok-repository:library/busybox:pull"


def test_bearer_wrong_credentials():
    r = reg.Registry("registry.example", RegistryConfig(), Authenticator("registry.example", Credentials("u", "x")),
                     transport=_hub_like([]))
    with r, pytest.raises(AuthError, match="incorrect username or password"):
        r.get_manifest("library/busybox", "latest")


def test_retries_5xx(monkeypatch):
    monkeypatch.setattr(reg, "BACKOFF", (0, 0, 0))
    log: list = []
    with reg.Registry("registry.example", RegistryConfig(), transport=_hub_like(log, 2)) as r:
        r.get_manifest("library/busybox", "latest")
    assert sum(1 for entry in log if entry[1].endswith("/v2/")) >= 3
    log.clear()
    with reg.Registry("registry.example", RegistryConfig(), transport=_hub_like(log, 10)) as r:
        with pytest.raises(RegistryError, match="503"):
            r.get_manifest("library/busybox", "latest")


def test_hub_search_parses_results():
    def handler(request):
        assert request.url.params["q"] == "busy"
        return tp.Response(200, json={"results": [{"name": "busybox", "star_count": 3, "is_official": True}]})
    assert reg.hub_search("busy", 5, transport=handler)[0]["name"] == "busybox"


@pytest.mark.parametrize("header, expected", [
    ('</v2/_catalog?last=b&n=1>; rel="next"', "/v2/_catalog?last=b&n=1"), ("", None),
])
def test_next_link(header, expected):
    assert reg._next_link(header) == expected


def test_hub_search_unreachable_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(reg, "HUB_SEARCH", "https://127.0.0.1:9/v1/search")
    with pytest.raises(RegistryError, match=r'^Get "https://127.0.0.1:9/v1/search\?q=busybox"') as info:
        reg.hub_search("busybox", 25)
    assert "rl search HOST:PORT/TERM" in info.value.hint
