"""Pure parts of the process setup: signal names, env lists, the PATH search and docker's codes."""

import os
import signal

import pytest

from rootless.errors import UsageError
from rootless.runtime import process
from rootless.runtime.init import exit_code
from rootless.runtime.kill import parse_signal


@pytest.mark.parametrize("text, number", [
    (9, 9), ("9", 9), ("KILL", 9), ("SIGKILL", 9), ("sigterm", 15), ("term", 15), (" HUP ", 1), ("USR1", 10),
])
def test_parse_signal(text, number):
    assert parse_signal(text) == number


@pytest.mark.parametrize("junk", ["", "SIGFOO", "NSIG", "SIG_DFL", "-1"])
def test_parse_signal_rejects(junk):
    with pytest.raises(UsageError):
        parse_signal(junk)


def test_env_dict():
    assert process.env_dict(["A=1", "B=x=y", "C=", "junk"]) == {"A": "1", "B": "x=y", "C": ""}
    assert process.env_dict(None) == {}


@pytest.fixture
def bins(tmp_path):
    for name, mode in (("tool", 0o755), ("data", 0o644)):
        (tmp_path / name).write_text("#!/bin/sh\n")
        os.chmod(tmp_path / name, mode)
    return tmp_path


def test_lookup_in_path(bins):
    assert process.lookup("tool", {"PATH": f"/nonexistent:{bins}"}) == str(bins / "tool")


@pytest.mark.parametrize("arg0, code, message", [
    ("nosuch", 127, 'exec: "nosuch": executable file not found in $PATH'),
    ("data", 127, 'exec: "data": executable file not found in $PATH'),  # not executable: skipped
    ("", 127, 'exec: "": executable file not found in $PATH'),
    ("/no/such", 127, 'exec: "/no/such": stat /no/such: no such file or directory'),
    ("/", 126, 'exec: "/": is a directory'),
])
def test_lookup_failures(bins, arg0, code, message):
    with pytest.raises(process.ExecFailure) as info:
        process.lookup(arg0, {"PATH": str(bins)})
    assert (info.value.code, str(info.value)) == (code, message)


@pytest.mark.parametrize("status, code", [(0, 0), (3 << 8, 3), (signal.SIGKILL, 137), (signal.SIGTERM, 143)])
def test_init_exit_code(status, code):
    assert exit_code(status) == code
