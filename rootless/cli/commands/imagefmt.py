"""Docker's output formatting for image commands: tables, human sizes and ages, `--format`.

`render(template, rows, headers)` is the one place a `--format` template is applied. For now it
substitutes `{{.Field}}` (and `{{json .}}`, `{{json .Field}}`); a `table ` prefix adds a header row
and aligns columns the way docker's tabwriter does (min width 10, padding 3). A full Go-template
engine can replace this function without touching the commands.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

_FIELD = re.compile(r"\{\{\s*(json\s+)?\.([A-Za-z0-9_]*)\s*\}\}")
MIN_WIDTH, PADDING = 10, 3


def human_size(size: float) -> str:
    """go-units HumanSize: decimal units, 3 significant digits ("4.86MB", "187MB", "1.23kB")."""
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.3g}{units[i]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration ("About a minute", "3 hours", "2 weeks")."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds // 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


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


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Align columns like docker's tabwriter(minwidth 10, padding 3); the last column is not padded."""
    lines = [headers] + rows if headers else rows
    if not lines:
        return ""
    ncols = max(len(r) for r in lines)
    widths = [max(MIN_WIDTH, max(len(r[i]) for r in lines if i < len(r)) + PADDING) for i in range(ncols)]
    out = []
    for r in lines:
        cells = [c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        out.append("".join(cells).rstrip() if not r[-1] else "".join(cells))
    return "\n".join(out) + "\n"


def _substitute(template: str, row: dict) -> str:
    def field(m: re.Match) -> str:
        as_json, name = m.group(1), m.group(2)
        value = row if not name else row.get(name, "")
        return json.dumps(value) if as_json else str(value)
    return _FIELD.sub(field, template)


def render(template: str, rows: list[dict], headers: dict[str, str]) -> str:
    """Apply a `--format` template to every row; "table ..." adds aligned headers."""
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    if template.strip() == "json":
        return "".join(json.dumps(r) + "\n" for r in rows)
    if not template.startswith("table"):
        return "".join(_substitute(template, r) + "\n" for r in rows)
    body = template[len("table"):].strip() or "\t".join("{{." + k + "}}" for k in headers)
    names = [m.group(2) for m in _FIELD.finditer(body)]
    head = _substitute(body, {n: headers.get(n, n.upper()) for n in names}).split("\t")
    lines = [_substitute(body, r).split("\t") for r in rows]
    return table(head, lines)
