"""`rl ps`: filters, and docker's column values and wording. Pure: records in, rows out.

Rows carry docker's ContainerContext fields (ID, Image, Command, CreatedAt, RunningFor, Status,
State, Ports, Names, Labels, Size, Mounts, Networks). Status: "Up 5 seconds", "Exited (0) 3 seconds
ago", "Created", "Restarting (1) 2 seconds ago", and rl's own "Exited (unknown) ..." /
"Unknown (monitor gone)" when the truth is that nobody saw the end. The rows are rendered (table,
--format templates) by rootless.cli.commands.containerfmt with the Go template engine.
"""

from __future__ import annotations

import json
import re
import time

from rootless.engine.container_store import parse_time
from rootless.engine.units import human_duration
from rootless.errors import UsageError

FILTER_KEYS = ("status", "name", "label", "ancestor", "exited", "id")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead", "unknown")


def _ago(stamp: str, now: float) -> str:
    t = parse_time(stamp)
    return human_duration(max(0.0, now - t)) + " ago" if t is not None else ""


def status_text(state: dict, now: float) -> str:
    status = state.get("Status")
    if status == "running":
        t = parse_time(state.get("StartedAt", ""))
        return "Up " + human_duration(max(0.0, now - t)) if t else "Up"
    if status == "paused":
        return "Up " + human_duration(max(0.0, now - (parse_time(state.get("StartedAt", "")) or now))) + " (Paused)"
    if status == "restarting":
        return f"Restarting ({state.get('ExitCode', 0)}) {_ago(state.get('FinishedAt', ''), now)}".rstrip()
    if status == "exited":
        from rootless.engine.lifecycle.truth import exit_unknown

        code = "unknown" if exit_unknown(state) else state.get("ExitCode", 0)
        return f"Exited ({code}) {_ago(state.get('FinishedAt', ''), now)}".rstrip()
    if status == "unknown":
        return "Unknown (monitor gone)"
    if status == "dead":
        return "Dead"
    if status == "removing":
        return "Removal In Progress"
    return "Created"


def ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def command_text(record: dict, trunc: bool) -> str:
    command = " ".join([record.get("Path", "")] + list(record.get("Args") or [])).strip()
    return json.dumps(ellipsis(command, 20) if trunc else command, ensure_ascii=False)


def row(record: dict, *, now: float | None = None, trunc: bool = True, size: str = "") -> dict:
    now = time.time() if now is None else now
    labels = record.get("Config", {}).get("Labels") or {}
    created = parse_time(record.get("Created", "")) or now
    return {
        "ID": record["Id"][:12] if trunc else record["Id"],
        "Image": record.get("Config", {}).get("Image", ""),
        "Command": command_text(record, trunc),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(created)),
        "RunningFor": _ago(record.get("Created", ""), now),
        "Status": status_text(record["State"], now),
        "State": record["State"].get("Status", ""),
        "Ports": _ports_column(record),
        "Names": record.get("Name", "").lstrip("/"),
        "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "Size": size,
        "Mounts": "",
        "Networks": record.get("HostConfig", {}).get("NetworkMode", ""),
        "_labels": labels,
    }


# --- filters ---------------------------------------------------------------------------------
def parse_filters(values: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not eq or key not in FILTER_KEYS:
            raise UsageError(f"invalid filter '{value}'", f"filters: {', '.join(FILTER_KEYS)} (key=value)")
        if key == "status" and val not in STATUSES:
            raise UsageError(f"invalid filter 'status={val}'", f"statuses: {', '.join(STATUSES)}")
        if key == "exited" and not val.lstrip("-").isdigit():
            raise UsageError(f"invalid filter 'exited={val}'", "exited takes an exit code")
        out.setdefault(key, []).append(val)
    return out


def _ancestor_match(record: dict, wanted: str) -> bool:
    image = record.get("Config", {}).get("Image", "")
    image_id = record.get("Image", "").removeprefix("sha256:")
    bare = wanted.removeprefix("sha256:")
    if wanted in (image, image.rsplit(":", 1)[0]) or (len(bare) >= 4 and image_id.startswith(bare)):
        return True
    return image == wanted + ":latest" or wanted == image + ":latest"


def matches(record: dict, filters: dict[str, list[str]]) -> bool:
    """docker's rule: values of one key are OR'd, keys are AND'ed."""
    state = record["State"]
    labels = record.get("Config", {}).get("Labels") or {}
    tests = {
        "status": lambda v: state.get("Status") == v,
        "name": lambda v: re.search(v, record.get("Name", "").lstrip("/")) is not None,
        "id": lambda v: record["Id"].startswith(v),
        "label": lambda v: (v.partition("=")[0] in labels and
                            ("=" not in v or labels[v.partition("=")[0]] == v.partition("=")[2])),
        "ancestor": lambda v: _ancestor_match(record, v),
        "exited": lambda v: state.get("Status") == "exited" and state.get("ExitCode") == int(v),
    }
    return all(any(tests[key](v) for v in values) for key, values in filters.items())


def select(records: list[dict], *, all_: bool, last: int | None, latest: bool,
           filters: dict[str, list[str]]) -> list[dict]:
    """records newest first -> those ps shows."""
    chosen = [r for r in records if matches(r, filters)]
    show_all = all_ or last is not None or latest or "status" in filters or "exited" in filters
    if not show_all:
        chosen = [r for r in chosen if r["State"].get("Status") in ("running", "restarting", "paused", "unknown")]
    if latest:
        chosen = chosen[:1]
    if last is not None and last >= 0:
        chosen = chosen[:last]
    return chosen


# --- output ----------------------------------------------------------------------------------
def _ports_column(record: dict) -> str:
    """docker's PORTS column (owner: network engineer)."""
    from rootless.engine.net.ports import ps_ports

    if not record.get("State", {}).get("Running"):
        return ""
    return ps_ports((record.get("NetworkSettings") or {}).get("Ports") or {})
