"""Signal names for `rl kill -s` and the stop signal (rootless.runtime.kill.parse_signal)."""

import pytest

from rootless.errors import UsageError
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
