"""pull.run_parallel: layer downloads on a few threads, stopping at the first failure (pure
threading, no registry)."""

from __future__ import annotations

import threading
import time

import pytest

from rootless.engine.image.pull import run_parallel


def test_every_job_runs_in_order_at_most_width_at_once() -> None:
    started, running, most = [], [0], [0]
    lock = threading.Lock()

    def job(n):
        def run():
            with lock:
                started.append(n)
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 1
        return run

    run_parallel([job(n) for n in range(10)], threading.Event(), width=3)
    assert started == list(range(10)) and most[0] == 3


def test_the_first_failure_cancels_and_is_raised_after_all_stop() -> None:
    cancel, finished = threading.Event(), []

    def slow():
        while not cancel.wait(0.01):
            pass                        # a download that stops at its next chunk
        finished.append("slow")

    def bad():
        time.sleep(0.05)
        raise ValueError("layer 2 failed")

    never = []
    with pytest.raises(ValueError, match="layer 2 failed"):
        run_parallel([slow, bad] + [lambda: never.append(1)] * 5, cancel, width=2)
    assert cancel.is_set() and finished == ["slow"] and never == []
    assert not [t for t in threading.enumerate() if t.name.startswith("rl-layer-")]


def test_no_jobs() -> None:
    run_parallel([], threading.Event())
