"""Registry config (config.toml, RL_CONFIG, certs.d) and auth file / challenge parsing: pure logic."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, strategies as st

from rootless.engine.image import auth, config
from rootless.engine.image.config import ConfigError, RegistryConfig
from rootless.paths import Paths


def _paths(tmp_path) -> Paths:
    return Paths.from_env({"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
                           "RL_ROOT": str(tmp_path / "root")})


@pytest.mark.parametrize("text, mirrors, insecure", [
    ("", (), ()),
    ('registry-mirrors = ["http://127.0.0.1:5000"]', ("http://127.0.0.1:5000",), ()),
    ('registry-mirrors = ["mirror.example:5000/"]', ("mirror.example:5000",), ()),
    ('insecure-registries = ["reg:5000", " "]', (), ("reg:5000",)),
])
def test_parse(text, mirrors, insecure):
    cfg = config.parse(text)
    assert cfg.mirrors == mirrors and cfg.insecure == insecure


@pytest.mark.parametrize("text, fragment", [
    ("registry-mirrors = 1", "must be a list of strings"),
    ('registry-mirrors = ["ftp://x"]', "scheme must be http or https"),
    ("registry-mirrors = [", "invalid config file"),
])
def test_parse_errors(text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        config.parse(text)


@pytest.mark.parametrize("host, expected", [
    ("reg:5000", True), ("reg", False), ("10.1.2.3:5000", True), ("10.2.0.1", False), ("other:5000", False),
])
def test_is_insecure(host, expected):
    cfg = RegistryConfig(insecure=("reg:5000", "10.1.0.0/16"))
    assert cfg.is_insecure(host) is expected


@pytest.mark.parametrize("host, expected", [
    ("localhost:5000", True), ("127.0.0.1", True), ("127.3.4.5:80", True), ("[::1]:5000", True),
    ("example.com", False), ("10.0.0.1:5000", False),
])
def test_is_loopback(host, expected):
    assert config.is_loopback(host) is expected


def test_load_file_env_and_certs(tmp_path):
    paths = _paths(tmp_path)
    assert config.load(paths, {}).mirrors == ()
    paths.config_file.parent.mkdir(parents=True)
    paths.config_file.write_text('registry-mirrors = ["http://127.0.0.1:1"]\n')
    assert config.load(paths, {}).mirrors == ("http://127.0.0.1:1",)
    other = tmp_path / "other.toml"
    other.write_text('insecure-registries = ["a:1"]\n')
    cfg = config.load(paths, {"RL_CONFIG": str(other)})
    assert cfg.mirrors == () and cfg.insecure == ("a:1",)
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(paths, {"RL_CONFIG": str(tmp_path / "missing.toml")})
    ca = paths.registry_ca_file("127.0.0.1:5000")
    ca.parent.mkdir(parents=True)
    ca.write_text("x")
    cfg = config.load(paths, {})
    assert cfg.ca_file("127.0.0.1:5000") == ca and cfg.ca_file("127.0.0.1:6000") is None


@pytest.mark.parametrize("header, scheme, params", [
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
     "bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                "scope": "repository:library/busybox:pull"}),
    ('Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}),
    ('Bearer realm=https://x/t, service=reg', "bearer", {"realm": "https://x/t", "service": "reg"}),
    ('Bearer realm="a\\"b"', "bearer", {"realm": 'a"b'}),
])
def test_parse_challenge(header, scheme, params):
    ch = auth.parse_challenge(header)
    assert ch.scheme == scheme and ch.params == params


@given(st.text(max_size=80))
def test_parse_challenge_never_raises(text):
    result = auth.parse_challenge(text)
    assert result is None or isinstance(result.params, dict)


def test_credentials_roundtrip(tmp_path):
    path = tmp_path / ".docker" / "config.json"
    assert auth.get_credentials(path, "reg:5000") is None
    auth.store_credentials(path, "reg:5000", auth.Credentials("u", "p:w"))
    auth.store_credentials(path, "docker.io", auth.Credentials("hub", "x"))
    data = json.loads(path.read_text())
    assert base64.b64decode(data["auths"]["reg:5000"]["auth"]) == b"u:p:w"
    assert "https://index.docker.io/v1/" in data["auths"]
    assert path.stat().st_mode & 0o777 == 0o600
    assert auth.get_credentials(path, "reg:5000") == auth.Credentials("u", "p:w")
    assert auth.get_credentials(path, "docker.io") == auth.Credentials("hub", "x")
    assert auth.remove_credentials(path, "reg:5000") is True
    assert auth.remove_credentials(path, "reg:5000") is False
    assert auth.get_credentials(path, "reg:5000") is None


def test_credentials_keep_other_keys(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"https://old:5000": {"auth": base64.b64encode(b"a:b").decode()}},
                                "psFormat": "x"}))
    assert auth.get_credentials(path, "old:5000") == auth.Credentials("a", "b")
    auth.store_credentials(path, "new:1", auth.Credentials("c", "d"))
    assert json.loads(path.read_text())["psFormat"] == "x"
