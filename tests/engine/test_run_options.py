"""run_options.py: the flag-value parsers of `rl run`, table-driven plus hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from rootless.engine import run_options as ro
from rootless.errors import UsageError


@pytest.mark.parametrize("values,environ,expected", [
    (["A=1", "B="], {}, ["A=1", "B="]),
    (["A=x=y"], {}, ["A=x=y"]),
    (["HOME"], {"HOME": "/h"}, ["HOME=/h"]),
    (["UNSET"], {}, []),  # docker drops a -e NAME that rl's environment lacks
])
def test_parse_env(values, environ, expected):
    assert ro.parse_env(values, environ) == expected


@pytest.mark.parametrize("value", ["=x", "", " =1", "A B=1"])
def test_parse_env_bad(value):
    with pytest.raises(UsageError, match="invalid environment variable"):
        ro.parse_env([value], {})


def test_env_file_text():
    text = "# comment\n\nA=1\n  B=two words\nC\nD=\n"
    assert ro.parse_env_file_text(text, {"C": "c"}) == ["A=1", "B=two words", "C=c", "D="]
    with pytest.raises(UsageError, match="whitespaces"):
        ro.parse_env_file_text("BAD KEY=1\n", {})


@pytest.mark.parametrize("value,expected", [
    ("nofile=1024", ro.Ulimit("nofile", 1024, 1024)),
    ("nofile=1024:2048", ro.Ulimit("nofile", 1024, 2048)),
    ("core=-1", ro.Ulimit("core", (1 << 64) - 1, (1 << 64) - 1)),
])
def test_ulimit(value, expected):
    assert ro.parse_ulimit(value) == expected


@pytest.mark.parametrize("value,message", [
    ("nofile", "invalid ulimit argument"),
    ("bogus=1", "invalid ulimit type"),
    ("nofile=abc", "invalid ulimit argument"),
    ("nofile=10:5", "soft limit must be less"),
    ("nofile=1:2:3", "invalid ulimit argument"),
])
def test_ulimit_bad(value, message):
    with pytest.raises(UsageError, match=message):
        ro.parse_ulimit(value)


@given(st.text(max_size=30))
def test_ulimit_never_crashes(text):
    try:
        u = ro.parse_ulimit(text)
    except UsageError:
        return
    assert u.soft <= u.hard and u.name in ro.ULIMITS


@pytest.mark.parametrize("value,expected", [
    ("no", ro.RestartPolicy("no")), ("", ro.RestartPolicy("no")), ("always", ro.RestartPolicy("always")),
    ("on-failure", ro.RestartPolicy("on-failure")), ("on-failure:3", ro.RestartPolicy("on-failure", 3)),
    ("unless-stopped", ro.RestartPolicy("unless-stopped")),
])
def test_restart(value, expected):
    assert ro.parse_restart(value) == expected


@pytest.mark.parametrize("value", ["sometimes", "always:3", "on-failure:x"])
def test_restart_bad(value):
    with pytest.raises(UsageError):
        ro.parse_restart(value)


@pytest.mark.parametrize("value,expected", [("TERM", "SIGTERM"), ("sigkill", "SIGKILL"), ("9", "SIGKILL"),
                                            ("SIGQUIT", "SIGQUIT")])
def test_signal(value, expected):
    assert ro.parse_signal(value) == expected


@pytest.mark.parametrize("value", ["NOPE", "999", ""])
def test_signal_bad(value):
    with pytest.raises(UsageError):
        ro.parse_signal(value)


@pytest.mark.parametrize("value,expected", [
    ("/dev/fuse", ro.Device("/dev/fuse", "/dev/fuse", "rwm")),
    ("/dev/fuse:/dev/f", ro.Device("/dev/fuse", "/dev/f", "rwm")),
    ("/dev/fuse:r", ro.Device("/dev/fuse", "/dev/fuse", "r")),
    ("/dev/fuse:/dev/f:rw", ro.Device("/dev/fuse", "/dev/f", "rw")),
])
def test_device(value, expected):
    assert ro.parse_device(value) == expected


@pytest.mark.parametrize("value", ["fuse", "/dev/a:/b:xyz", "/a:b:c:d"])
def test_device_bad(value):
    with pytest.raises(UsageError):
        ro.parse_device(value)


@pytest.mark.parametrize("name,ok", [("web", True), ("/web", True), ("a", False), ("-x", False),
                                     ("my.app_1-2", True), ("bad name", False)])
def test_names(name, ok):
    if ok:
        assert ro.validate_name(name) == name.lstrip("/")
    else:
        with pytest.raises(UsageError, match="Invalid container name"):
            ro.validate_name(name)
