"""Docker's output formatting for image commands: ages, short ids, `--format`.

`render(template, rows, headers)` applies a `--format` through the one template engine
(rootless.cli.format); sizes and durations are docker's go-units (rootless.engine.units).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from rootless.engine.units import human_duration


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as images carry it (nanoseconds allowed)."""
    if not text:
        return None
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text.strip())
    if not m:
        return None
    frac = (m.group(2) or ".0")[:7]
    zone = m.group(3) or "Z"
    zone = "+00:00" if zone == "Z" else zone
    try:
        return datetime.fromisoformat(m.group(1) + frac + zone)
    except ValueError:
        return None


def since(text: str | None, now: datetime | None = None) -> str:
    """`CREATED` column: "About a minute ago", "N/A" when unknown."""
    when = parse_time(text)
    if when is None:
        return "N/A"
    now = now or datetime.now(timezone.utc)
    return human_duration(max(0.0, (now - when).total_seconds())) + " ago"


def short_id(image_id: str, no_trunc: bool = False) -> str:
    return image_id if no_trunc else image_id.partition(":")[2][:12]


def render(template: str, rows: list[dict], headers: dict[str, str]) -> str:
    """Apply a `--format` template (Go text/template, `table`, `json`) to every row."""
    from rootless.cli.format import table

    return table.render_rows(template, rows, headers)
