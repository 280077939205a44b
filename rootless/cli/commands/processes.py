"""`rl top` (docker's tabwriter layout), `rl pause`, `rl unpause`: call the engine, print."""

from __future__ import annotations

import sys

from rootless.context import Context


def top(ctx: Context, container: str, ps_options: list[str] | None = None) -> None:
    from rootless.engine.container_store import ContainerStore
    from rootless.engine.processes import top as top_rows

    header, rows = top_rows(ContainerStore(ctx.paths), container, list(ps_options or []))
    for line in table(header, rows):
        print(line)


def table(header: str, rows: list[str]) -> list[str]:
    """docker's layout: len(titles) fields per row (the last keeps its spaces), tabwriter with
    minwidth 20 and padding 3."""
    titles = header.split()
    n = len(titles)
    cells = [titles] + [_fields(row, n) for row in rows]
    widths = [max(20, max(len(c[i]) for c in cells) + 3) for i in range(n - 1)]
    return ["".join(c[i].ljust(widths[i]) for i in range(n - 1)) + c[n - 1] for c in cells]


def _fields(row: str, n: int) -> list[str]:
    parts = row.split(None, n - 1)
    return parts + [""] * (n - len(parts))


def _each(ctx: Context, containers: list[str], action) -> int:
    from rootless.engine.container_store import ContainerStore
    from rootless.errors import RlError

    store, status = ContainerStore(ctx.paths), 0
    for name in containers:
        try:
            action(store, name)
            print(name)
        except RlError as e:
            print(f"Error: {e.message}", file=sys.stderr)  # as rl stop/rm report each failure
            if e.hint:
                print(f"Hint: {e.hint}", file=sys.stderr)
            status = 1
    return status


def pause(ctx: Context, containers: list[str]) -> int:
    from rootless.engine.processes import pause as pause_one

    return _each(ctx, containers, pause_one)


def unpause(ctx: Context, containers: list[str]) -> int:
    from rootless.engine.processes import unpause as unpause_one

    return _each(ctx, containers, unpause_one)
