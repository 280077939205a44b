"""`rl volume create|ls|inspect|rm|prune`: call the volume store, print as docker does."""

from __future__ import annotations

import sys

from rootless.context import Context

HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
           "Scope": "SCOPE", "Links": "LINKS", "Size": "SIZE", "CreatedAt": "CREATED AT"}
DEFAULT_TABLE = "table {{.Driver}}\t{{.Name}}"


def _store(ctx: Context):
    from rootless.engine.volumes import VolumeStore

    return VolumeStore(ctx.paths)


def create(ctx: Context, name: str | None = None, label: list[str] | None = None, driver: str = "local") -> int:
    from rootless.engine.run_options import parse_labels
    from rootless.errors import UsageError

    if driver != "local":
        raise UsageError(f"plugin \"{driver}\" not found", "rl has only the 'local' volume driver")
    made, _ = _store(ctx).create(name, parse_labels(label or ()))
    print(made)
    return 0


def _row(view: dict, users: int) -> dict:
    labels = view.get("Labels") or {}
    row = dict(view, Labels=",".join(f"{k}={v}" for k, v in labels.items()), Links=str(users), Size="N/A")
    row["Label"] = lambda name: str(labels.get(str(name), ""))
    return row


def _matches(view: dict, users: int, filters: list[str]) -> bool:
    from rootless.errors import UsageError

    for item in filters:
        key, _, value = item.partition("=")
        if key == "name" and value not in view["Name"]:
            return False
        if key == "label":
            k, eq, v = value.partition("=")
            if k not in view["Labels"] or (eq and view["Labels"][k] != v):
                return False
        elif key == "dangling":
            if value not in ("true", "false", "1", "0"):
                raise UsageError(f"invalid filter 'dangling={value}'")
            if (users == 0) != (value in ("true", "1")):
                return False
        elif key not in ("name", "label"):
            raise UsageError(f"invalid filter '{item}'", "filters: name=, label=, dangling=")
    return True


def ls(ctx: Context, quiet: bool = False, format: str | None = None, filter: list[str] | None = None) -> int:
    from rootless.cli.format import table

    store = _store(ctx)
    rows = []
    for name in store.names():
        view, users = store.inspect(name), len(store.users(name))
        if _matches(view, users, filter or []):
            rows.append(_row(view, users))
    if quiet:
        sys.stdout.write("".join(r["Name"] + "\n" for r in rows))
        return 0
    fmt = DEFAULT_TABLE if not format or format == "table" else format
    sys.stdout.write(table.render_rows(fmt, rows, HEADERS, type_name="*formatter.volumeContext"))
    return 0


def inspect(ctx: Context, volumes: list[str], format: str | None = None) -> int:
    from rootless.cli.commands.exec import print_objects
    from rootless.errors import VolumeNotFound

    store = _store(ctx)
    found, status = [], 0
    for name in volumes:
        try:
            found.append(store.inspect(name))
        except VolumeNotFound as e:
            print(f"Error: {e.message}", file=sys.stderr)
            status = 1
    print_objects(found, format)
    return status


def rm(ctx: Context, volumes: list[str], force: bool = False) -> int:
    from rootless.errors import RlError

    store, status = _store(ctx), 0
    for name in volumes:
        try:
            store.remove(name, force=force)
            print(name)
        except RlError as e:
            print(f"Error: {e.message}", file=sys.stderr)
            status = 1
    return status


def prune(ctx: Context, force: bool = False, all: bool = False) -> int:
    from rootless.engine.units import human_size

    if not force:
        print("WARNING! This will remove all local volumes not used by at least one container.\n"
              "Are you sure you want to continue? [y/N] ", end="", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed, size = _store(ctx).prune()
    if removed:
        print("Deleted Volumes:")
        for name in removed:
            print(name)
        print()
    print(f"Total reclaimed space: {human_size(size)}")
    return 0
