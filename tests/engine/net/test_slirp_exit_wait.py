"""slirp.await_exit: blocking on a pidfd until a child has exited, instead of Popen.wait's polling."""

from __future__ import annotations

import subprocess
import sys
import time

from rootless.engine.net.slirp import await_exit


def _child(seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-S", "-c", f"import time; time.sleep({seconds})"])


def test_returns_as_soon_as_the_child_exits():
    proc = _child(0.2)
    start = time.monotonic()
    assert await_exit(proc.pid, 10.0) is True
    took = time.monotonic() - start
    assert 0.1 < took < 5.0
    assert proc.poll() == 0  # exited, and reaping is still the caller's: Popen gets the status


def test_gives_up_after_the_timeout():
    proc = _child(30)
    try:
        start = time.monotonic()
        assert await_exit(proc.pid, 0.2) is True
        assert 0.15 < time.monotonic() - start < 5.0
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_reaped_child_has_no_pidfd():
    proc = _child(0)
    proc.wait()
    assert await_exit(proc.pid, 5.0) is False
