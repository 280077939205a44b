"""`rl start|stop|restart|kill|rm|wait|logs|ps|container prune`: resolve, call the engine, print.

Commands taking several containers go on after a failure, print "Error: ..." for it, and exit 1
at the end, as docker does; each success prints the name or id the user gave.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rootless.context import Context


def _store(ctx: Context):
    from rootless.engine.container_store import ContainerStore

    return ContainerStore(ctx.paths)


def _each(ctx: Context, refs: list[str], action: Callable[[object, dict, str], None]) -> int:
    from rootless.errors import RlError

    store = _store(ctx)
    failed = 0
    for ref in refs:
        try:
            action(store, store.resolve(ref), ref)
        except RlError as e:
            print(f"Error: {e.message}", file=sys.stderr)
            if e.hint:
                print(f"Hint: {e.hint}", file=sys.stderr)
            failed = 1
    return failed


def start(ctx: Context, containers: list[str], attach: bool = False, interactive: bool = False) -> int:
    if attach or interactive:
        from rootless.engine.lifecycle.attach import run_attached

        store = _store(ctx)
        record = store.resolve(containers[0])
        tty = bool(record["Config"].get("Tty"))
        try:
            return run_attached(ctx, store, record, interactive=interactive, tty=tty)
        finally:
            if record["HostConfig"].get("AutoRemove"):
                from rootless.engine.lifecycle.remove import remove_files

                remove_files(ctx.paths, record)
    from rootless.engine.lifecycle.start import start_detached

    def one(store, record, ref):
        start_detached(ctx, store, record)
        print(ref)
    return _each(ctx, containers, one)


def stop(ctx: Context, containers: list[str], time: int | None = None) -> int:
    from rootless.engine.lifecycle.stop import stop as stop_one

    def one(store, record, ref):
        stop_one(ctx, store, record, time)
        print(ref)
    return _each(ctx, containers, one)


def restart(ctx: Context, containers: list[str], time: int | None = None) -> int:
    from rootless.engine.lifecycle.stop import restart as restart_one

    def one(store, record, ref):
        restart_one(ctx, store, record, time)
        print(ref)
    return _each(ctx, containers, one)


def kill(ctx: Context, containers: list[str], signal: str = "KILL") -> int:
    from rootless.engine.lifecycle.stop import kill as kill_one
    from rootless.engine.run_options import parse_signal

    parse_signal(signal)  # a bad signal fails before anything is sent

    def one(store, record, ref):
        kill_one(ctx, store, record, signal)
        print(ref)
    return _each(ctx, containers, one)


def rm(ctx: Context, containers: list[str], force: bool = False, volumes: bool = False) -> int:
    from rootless.engine.lifecycle.remove import remove

    def one(store, record, ref):
        remove(ctx, store, record, force)
        if volumes:  # -v: its anonymous volumes too (owner: containers II)
            from rootless.engine.volumes import remove_anonymous

            remove_anonymous(ctx.paths, record)
        print(ref)
    return _each(ctx, containers, one)


def wait(ctx: Context, containers: list[str]) -> int:
    from rootless.engine.lifecycle.wait import wait as wait_one

    def one(store, record, ref):
        print(wait_one(store, record), flush=True)
    return _each(ctx, containers, one)


def logs(ctx: Context, container: str, follow: bool = False, tail: str = "all", timestamps: bool = False,
         since: str | None = None) -> int:
    from rootless.engine import logs as logs_mod
    from rootless.engine.lifecycle import truth
    from rootless.errors import UsageError

    store = _store(ctx)
    record = store.resolve(container)
    if tail != "all" and not tail.lstrip("-").isdigit():
        raise UsageError(f"invalid value for --tail: {tail!r}", "a number of lines, or 'all'")
    count = None if tail == "all" or int(tail) < 0 else int(tail)
    cutoff = logs_mod.parse_since(since) if since else None
    entries, offset = logs_mod.read_entries(record["LogPath"], tail=count, since=cutoff)
    for entry in entries:
        _show(entry, timestamps)
    if follow:
        def running() -> bool:
            try:
                return truth.is_running(truth.current(store, store.load(record["Id"]))["State"])
            except Exception:  # noqa: BLE001 - removed: stop following
                return False
        for entry in logs_mod.follow(record["LogPath"], offset, running):
            _show(entry, timestamps)
    return 0


def _show(entry, timestamps: bool) -> None:
    out = sys.stderr if entry.stream == "stderr" else sys.stdout
    out.write((entry.time + " " if timestamps else "") + entry.log)
    out.flush()


def ps(ctx: Context, all: bool = False, quiet: bool = False, latest: bool = False, last: int | None = None,
       no_trunc: bool = False, size: bool = False, filter: list[str] | None = None, format: str | None = None) -> int:
    from rootless.engine import listing
    from rootless.engine.lifecycle import truth

    store = _store(ctx)
    filters = listing.parse_filters(filter or [])
    records = [truth.current(store, r) for r in store.list()]
    chosen = listing.select(records, all_=all, last=last, latest=latest, filters=filters)
    rows = [listing.row(r, trunc=not no_trunc, size=_size(ctx, r) if size else "") for r in chosen]
    from rootless.cli.commands import containerfmt

    fmt = format
    if size and not fmt:
        fmt = containerfmt.DEFAULT_TABLE + "\t{{.Size}}"
    text = containerfmt.format_rows(rows, fmt, quiet)
    if text:
        print(text)
    return 0


def _size(ctx: Context, record: dict) -> str:
    """The writable layer's size as docker prints it ("12B (virtual ...)" without the virtual part
    we cannot know cheaply). Files the user cannot read (other subordinate ids) are skipped."""
    import os

    total = 0
    top = ctx.paths.container(record["Id"]) / ("upper" if record.get("Driver") != "vfs" else "rootfs")
    for root, _, files in os.walk(top):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    from rootless.engine.units import human_size

    return human_size(total)


def prune(ctx: Context, force: bool = False, filter: list[str] | None = None) -> int:
    from rootless.engine.lifecycle.remove import prune as prune_all

    labels: dict[str, str | None] = {}
    for f in filter or []:
        key, _, value = f.partition("=")
        if key != "label":
            from rootless.errors import UsageError

            raise UsageError(f"invalid filter '{f}'", "prune takes label=key[=value]")
        k, eq, v = value.partition("=")
        labels[k] = v if eq else None
    if not force:
        print("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ",
              end="", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = prune_all(ctx, _store(ctx), labels)
    if removed:
        print("Deleted Containers:")
        for cid in removed:
            print(cid)
        print()
    print("Total reclaimed space: 0B")
    return 0
