"""`rl export` (refusing a terminal as docker does), `rl commit`, `rl diff`, `rl rename`, `rl cp`: resolve,
call the engine, print."""

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


def diff(ctx: Context, container: str) -> None:
    from rootless.engine import diff as diff_mod
    from rootless.engine.container_store import ContainerStore

    record = ContainerStore(ctx.paths).resolve(container)
    for kind, path in diff_mod.changes(ctx.paths, record):
        print(kind, path)


def rename(ctx: Context, container: str, new_name: str) -> None:
    from rootless.engine.container_store import ContainerStore
    from rootless.engine.rename import rename as rename_container

    rename_container(ContainerStore(ctx.paths), container, new_name)


def cp(ctx: Context, src: str, dest: str) -> None:
    from rootless.engine import cp as cp_mod
    from rootless.engine.container_store import ContainerStore
    from rootless.engine.lifecycle import truth
    from rootless.errors import UsageError

    (src_ctr, src_path), (dest_ctr, dest_path) = cp_mod.split_arg(src), cp_mod.split_arg(dest)
    if src_ctr is not None and dest_ctr is not None:
        raise UsageError("copying between containers is not supported")
    if src_ctr is None and dest_ctr is None:
        raise UsageError("must specify at least one container source")
    store = ContainerStore(ctx.paths)
    if src_ctr is not None:
        if dest == "-" and os.isatty(1):
            raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        record = truth.current(store, store.resolve(src_ctr))
        cp_mod.copy_from(ctx.paths, record, src_path, dest_path, src_ctr)
    else:
        record = truth.current(store, store.resolve(dest_ctr))
        cp_mod.copy_to(ctx.paths, record, src_path, dest_path)
