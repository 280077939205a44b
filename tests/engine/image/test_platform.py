"""Platform parsing and selection from an index (pure)."""

import pytest

from rootless.engine.image import platform as plat
from rootless.errors import RegistryError, UsageError

INDEX = {"manifests": [
    {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
    {"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"digest": "sha256:c", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
    {"digest": "sha256:d", "platform": {"os": "unknown", "architecture": "unknown"}},
]}


@pytest.mark.parametrize("text, expected", [
    ("linux/amd64", plat.Platform("linux", "amd64")),
    ("linux/arm64/v8", plat.Platform("linux", "arm64", "v8")),
    ("arm64", plat.Platform("linux", "arm64")),
    ("Linux/x86_64", plat.Platform("linux", "amd64")),
])
def test_parse(text, expected):
    assert plat.parse(text) == expected


@pytest.mark.parametrize("text", ["", "linux/", "a/b/c/d", "/amd64"])
def test_parse_bad(text):
    with pytest.raises(UsageError):
        plat.parse(text)


@pytest.mark.parametrize("wanted, digest", [
    ("linux/amd64", "sha256:a"), ("linux/arm64", "sha256:b"), ("linux/arm64/v8", "sha256:b"),
    ("linux/arm/v7", "sha256:c"), ("linux/arm", "sha256:c"),
])
def test_select(wanted, digest):
    assert plat.select(INDEX, plat.parse(wanted))["digest"] == digest


def test_select_none_lists_available():
    with pytest.raises(RegistryError) as info:
        plat.select(INDEX, plat.parse("linux/s390x"))
    assert str(info.value) == "no matching manifest for linux/s390x in the manifest list entries"
    assert "linux/amd64, linux/arm64/v8, linux/arm/v7" in info.value.hint


def test_host_is_linux():
    assert plat.host().os == "linux" and plat.host().architecture
