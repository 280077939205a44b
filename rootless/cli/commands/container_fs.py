"""`rl export` (refusing a terminal as docker does) and `rl commit`: resolve, call the engine, print."""

from __future__ import annotations

import os
import sys

from rootless.context import Context


def export(ctx: Context, container: str, output: str | None = None) -> None:
    from rootless.engine import export as export_mod
    from rootless.engine.container_store import ContainerStore
    from rootless.errors import UsageError

    record = ContainerStore(ctx.paths).resolve(container)
    if output in (None, "-") and os.isatty(1):
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    sys.stdout.flush()
    export_mod.export_to(ctx.paths, record, output)


def commit(ctx: Context, container: str, repository: str | None = None, message: str | None = None,
           author: str | None = None, change: list[str] | None = None, pause: bool = True) -> None:
    from rootless.engine import commit as commit_mod
    from rootless.engine.container_store import ContainerStore
    from rootless.engine.image.changes import apply_changes
    from rootless.engine.image.reference import parse
    from rootless.engine.lifecycle import truth

    store = ContainerStore(ctx.paths)
    record = truth.current(store, store.resolve(container))
    ref = parse(repository) if repository else None
    apply_changes({}, list(change or []))  # a bad --change fails before any work
    image = commit_mod.commit(ctx.paths, record, ref=ref, message=message, author=author,
                              changes=list(change or []), pause=pause)
    print(image.id)
