"""Pure logic of tests/rig/run_suite.py: pytest summary lines and the combined exit status."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("run_suite", Path(__file__).with_name("run_suite.py"))
run_suite = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("run_suite", run_suite)  # dataclasses look their module up there
_spec.loader.exec_module(run_suite)


@pytest.mark.parametrize("codes, expected", [
    ([0, 0, 0], 0),
    ([0, 5, 0], 0),          # one run collected nothing, the others ran tests
    ([5, 5, 5], 5),          # nothing ran anywhere: not a success
    ([5], 5),
    ([0], 0),
    ([0, 1, 0], 1),
    ([5, 2, 1], 2),          # the first failing run's status
    ([0, 0, 4], 4),
    ([-9, 0, 0], 137),       # killed by SIGKILL (the OOM killer): 128 + 9, as a shell reports it
    ([], 0),
])
def test_overall_status(codes, expected):
    assert run_suite.overall(codes) == expected


@pytest.mark.parametrize("lines, expected", [
    (["...\n", "13 passed in 4.58s\n"], "13 passed in 4.58s"),
    (["x\n", "==== 1 failed, 12 passed, 2 skipped in 10.01s ====\n"], "1 failed, 12 passed, 2 skipped in 10.01s"),
    (["==== no tests ran in 0.01s ====\n"], "no tests ran in 0.01s"),
    (["3 passed in 1.00s\n", "rl-suite noise\n"], "3 passed in 1.00s"),
    (["1 error in 0.20s\n"], "1 error in 0.20s"),
    (["collected 0 items\n"], ""),
])
def test_summary_of(lines, expected):
    assert run_suite.summary_of(lines) == expected


def test_report_line_names_user_and_status():
    run = run_suite.Run("rltest1", 1002, "no subuid range", code=1, summary="1 failed in 1.0s")
    line = run_suite.report_line(run)
    assert line.startswith("rl-suite: rltest1") and "FAIL (tests failed)" in line and line.endswith("1 failed in 1.0s")
    assert "NO TESTS" in run_suite.report_line(run_suite.Run("root", 0, "real root", code=5))
    assert "killed by signal 9" in run_suite.report_line(run_suite.Run("root", 0, "real root", code=-9))


GIB = 1 << 30


@pytest.mark.parametrize("env, ram, expected", [
    ({}, 23 * GIB, 6 * GIB),                              # capped at 6 GiB
    ({}, 8 * GIB, 4 * GIB),                               # half the RAM
    ({}, 2 * GIB, 2 * GIB),                               # never below 2 GiB
    ({"RL_TEST_MEMORY_LIMIT_GB": "10"}, 23 * GIB, 10 * GIB),
    ({"RL_TEST_MEMORY_LIMIT_GB": "0.5"}, 23 * GIB, GIB // 2),
    ({"RL_TEST_MEMORY_LIMIT_GB": "0"}, 23 * GIB, run_suite.resource.RLIM_INFINITY),
])
def test_memory_limit(env, ram, expected):
    assert run_suite.memory_limit(env, ram) == expected
