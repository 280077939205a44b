"""bench/report.py: ratios (minima for lower-is-better, medians for higher-is-better), goals, cells."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from report import CEILING, PODMAN, Figure, Goal, Result, fmt_value, render, row  # noqa: E402


@pytest.mark.parametrize("value, text", [
    (0.01234, "0.012"), (1.234, "1.23"), (12.34, "12.3"), (123.4, "123"), (15499.2, "15499"), (99.96, "100.0"),
])
def test_fmt_value(value, text):
    assert fmt_value(value) == text


@pytest.mark.parametrize("lower_better, rl, podman, ratio", [
    (True, [30, 10, 20], [100, 50, 200], 10 / 50),      # minima
    (False, [1, 9, 5], [10, 2, 20], 5 / 10),             # medians
    (True, [], [1.0], None),                             # rl failed
    (True, [1.0], [], None),                             # podman failed
    (True, [1.0], [0.0], None),                          # no division by zero
])
def test_ratio(lower_better, rl, podman, ratio):
    fig = Figure("f", "ms", lower_better=lower_better)
    fig.add("rl", Result(rl, reason="" if rl else "broke"))
    fig.add(PODMAN, Result(podman, reason="" if podman else "broke"))
    assert fig.ratio("rl", PODMAN) == (pytest.approx(ratio) if ratio is not None else None)
    assert fig.ratio(PODMAN, PODMAN) is None


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


@pytest.mark.parametrize("lower_better, rl, limit, verdict", [
    (True, [10.0], 0.15, "≤ 0.15× podman: met"),
    (True, [20.0], 0.15, "≤ 0.15× podman: NOT met"),
    (False, [90.0], 0.8, "≥ 0.8× podman: met"),
    (False, [70.0], 0.8, "≥ 0.8× podman: NOT met"),
    (True, [], 0.15, "≤ 0.15× podman: not measured"),
])
def test_goal_cell(lower_better, rl, limit, verdict):
    fig = Figure("f", "u", lower_better=lower_better, goals=[Goal("rl", PODMAN, limit)])
    fig.add("rl", Result(rl, command="rl x", reason="" if rl else "failed"))
    fig.add(PODMAN, Result([100.0], command="podman x"))
    assert cells(row(fig, "rl"))[6] == verdict
    assert cells(row(fig, PODMAN))[6] == ""


def test_failed_tool_is_na_with_reason_and_command():
    fig = Figure("run", "ms")
    fig.add("crun", Result(reason="cgroups in hybrid mode not supported", command="crun run x"))
    assert cells(row(fig, "crun"))[:4] == ["run (ms)", "crun", "n/a (cgroups in hybrid mode not supported)", ""]
    assert cells(row(fig, "crun"))[7] == "`crun run x`"


def test_render_one_table_with_ceiling_ratio_and_escaped_pipes():
    fig = Figure("wrk", "req/s", lower_better=False)
    fig.add("rl", Result([800.0, 900.0, 1000.0], command="wrk -H 'a|b' x"))
    fig.add(PODMAN, Result([450.0]))
    fig.add(CEILING, Result([1000.0], note="host nginx"))
    text = render([fig])
    lines = text.splitlines()
    assert lines[0].startswith("| figure |") and lines[1].startswith("|---")
    assert len(lines) == 5
    rl = cells(lines[2])
    assert rl[:6] == ["wrk (req/s, n=3)", "rl", "800", "900", "2.00×", "0.90×"]
    assert "a\\|b" in lines[2]
    assert cells(lines[4])[7] == "host nginx"
