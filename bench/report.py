"""The benchmark's table: figures (min and median of repeated runs), ratios to podman and to the
no-forwarding ceiling, goals met or not, rendered as one markdown table. Pure: no processes, no I/O.

A `Figure` is one measured quantity (e.g. "`run --rm busybox true` latency") with a `Result` per
tool. A Result holds the samples and the command that produced them, or the reason it has none
("n/a (reason)"). Ratios compare minima for lower-is-better figures (latency, memory, disk: the
minimum is the figure least disturbed by the other load on the machine) and medians for
higher-is-better ones (throughput: a 3 s wrk run is already an average).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

PODMAN = "podman"
CEILING = "ceiling"


@dataclass
class Result:
    samples: list[float] = field(default_factory=list)
    command: str = ""
    reason: str = ""          # why there are no samples ("n/a (reason)")
    note: str = ""            # shown after the command (e.g. a fallback that was used)

    @property
    def ok(self) -> bool:
        return bool(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


@dataclass
class Goal:
    """tool's ratio to `against` must be <= limit (lower_better figures) or >= limit."""
    tool: str
    against: str
    limit: float


@dataclass
class Figure:
    title: str
    unit: str
    lower_better: bool = True
    results: dict[str, Result] = field(default_factory=dict)   # tool -> Result, in display order
    goals: list[Goal] = field(default_factory=list)

    def add(self, tool: str, result: Result) -> Result:
        self.results[tool] = result
        return result

    def key_value(self, tool: str) -> float | None:
        """The value ratios use: the minimum (lower is better) or the median (higher is better)."""
        r = self.results.get(tool)
        if r is None or not r.ok:
            return None
        return r.min if self.lower_better else r.median

    def ratio(self, tool: str, against: str) -> float | None:
        a, b = self.key_value(tool), self.key_value(against)
        if a is None or b is None or tool == against or b == 0:
            return None
        return a / b


def fmt_value(value: float) -> str:
    """Three significant figures at most, no exponent: 0.123, 1.23, 12.3, 123, 12345."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_ratio(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}×"


def goal_text(figure: Figure, tool: str) -> str:
    parts = []
    for goal in figure.goals:
        if goal.tool != tool:
            continue
        sign = "≤" if figure.lower_better else "≥"
        ratio = figure.ratio(tool, goal.against)
        target = f"{sign} {goal.limit:g}× {goal.against}"
        if ratio is None:
            parts.append(f"{target}: not measured")
            continue
        met = ratio <= goal.limit if figure.lower_better else ratio >= goal.limit
        parts.append(f"{target}: {'met' if met else 'NOT met'}")
    return "; ".join(parts)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


HEADER = ("| figure | tool | min | median | ratio to podman | ratio to ceiling | goal | command |\n"
          "|---|---|---|---|---|---|---|---|")


def row(figure: Figure, tool: str) -> str:
    r = figure.results[tool]
    label = f"{figure.title} ({figure.unit}, n={len(r.samples)})" if r.ok else f"{figure.title} ({figure.unit})"
    if r.ok:
        lo, med = fmt_value(r.min), fmt_value(r.median)
    else:
        lo, med = f"n/a ({r.reason or 'not measured'})", ""
    command = f"`{r.command}`" if r.command else ""
    if r.note:
        command = f"{command} ({r.note})" if command else r.note
    cells = [label, tool, lo, med, fmt_ratio(figure.ratio(tool, PODMAN)),
             fmt_ratio(figure.ratio(tool, CEILING)), goal_text(figure, tool), command]
    return "| " + " | ".join(_escape(c) for c in cells) + " |"


def render(figures: list[Figure]) -> str:
    lines = [HEADER]
    for figure in figures:
        lines.extend(row(figure, tool) for tool in figure.results)
    return "\n".join(lines) + "\n"
