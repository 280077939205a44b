"""`rl stats`: docker's table (or --format) of each container's resource usage, once with
--no-stream, else every second: redrawn in place on a terminal (docker's clear-screen and home
escapes), one block per round otherwise, until Ctrl-C (exit 0)."""

from __future__ import annotations

import sys
import time

from rootless.context import Context

#: docker's titles (cli/command/container/formatter_stats.go) and default table
HEADERS = {"ID": "CONTAINER ID", "Name": "NAME", "Container": "CONTAINER", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}
DEFAULT_TABLE = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
TYPE_NAME = "*container.statsContext"
INTERVAL = 1.0          # docker's collector period
NO_STREAM_WINDOW = 0.5  # --no-stream: CPU % over this long (two samples)
CLEAR = "\033[2J\033[H"


def stats(ctx: Context, containers: list[str] | None = None, all: bool = False, format: str | None = None,
          no_stream: bool = False, no_trunc: bool = False) -> int:
    from rootless.engine import stats as engine
    from rootless.engine.container_store import ContainerStore

    store = ContainerStore(ctx.paths)
    named = _resolve(store, containers or [])
    tty = sys.stdout.isatty()
    previous = None
    try:
        while True:
            records = named if containers else _listed(store, all)
            records = [_current(store, r) for r in records]
            rows, previous = engine.measure(records, previous, NO_STREAM_WINDOW if no_stream else INTERVAL)
            text = render([u.row(no_trunc) for u in rows], format)
            sys.stdout.write((CLEAR if tty and not no_stream else "") + text)
            sys.stdout.flush()
            if no_stream:
                return 0
            time.sleep(INTERVAL)
    except KeyboardInterrupt:
        return 0


def render(rows: list[dict], fmt: str | None) -> str:
    from rootless.cli.format import table

    if not fmt or fmt == "table":
        fmt = DEFAULT_TABLE
    return table.render_rows(fmt, rows, HEADERS, type_name=TYPE_NAME).rstrip("\n") + "\n"


def _resolve(store, refs: list[str]) -> list[dict]:
    out = []
    for ref in refs:
        record = dict(store.resolve(ref))  # ContainerNotFound: "No such container: x", exit 1
        record["_ref"] = ref
        out.append(record)
    return out


def _listed(store, all: bool) -> list[dict]:
    from rootless.engine.lifecycle import truth

    records = sorted(store.list(), key=lambda r: r.get("Created", ""), reverse=True)
    records = [truth.current(store, r) for r in records]
    return records if all else [r for r in records if truth.is_running(r["State"])]


def _current(store, record: dict) -> dict:
    """The record as it is now (named containers start and stop while we watch)."""
    from rootless.engine.lifecycle import truth
    from rootless.errors import RlError

    try:
        fresh = dict(truth.current(store, store.load(record["Id"])))
    except RlError:  # removed meanwhile: shown as stopped
        fresh = dict(record, State={})
    fresh["_ref"] = record.get("_ref", "")
    return fresh
