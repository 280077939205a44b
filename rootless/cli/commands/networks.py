"""`rl network ls|inspect` of the predefined networks (bridge, host, none) in docker's output, and
`create|rm|connect|disconnect`, which fail (exit 1) until user-defined networks exist."""

from __future__ import annotations

import sys

from rootless.context import Context

HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
           "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}
DEFAULT_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
TYPE_NAME = "*formatter.networkContext"


def ls(ctx: Context, quiet: bool = False, format: str | None = None, no_trunc: bool = False,
       filter: list[str] | None = None) -> int:
    from rootless.cli.format import table
    from rootless.engine.net import networks

    rows = networks.rows(filter or ())
    if not no_trunc:
        rows = [{**r, "ID": r["ID"][:12]} for r in rows]
    if quiet:
        sys.stdout.write("".join(r["ID"] + "\n" for r in rows))
        return 0
    fmt = DEFAULT_TABLE if not format or format == "table" else format
    sys.stdout.write(table.render_rows(fmt, rows, HEADERS, type_name=TYPE_NAME))
    return 0


def inspect(ctx: Context, networks: list[str], format: str | None = None) -> int:
    from rootless.cli.commands.exec import print_objects
    from rootless.engine.container_store import ContainerStore
    from rootless.engine.lifecycle import truth
    from rootless.engine.net import networks as nets
    from rootless.errors import NetworkNotFound

    found, errors = [], []
    records = None
    for ref in networks:
        try:
            name = nets.find(ref)
        except NetworkNotFound as e:
            errors.append(e.message)
            continue
        if records is None:
            store = ContainerStore(ctx.paths)
            records = [truth.current(store, r) for r in store.list()]
        found.append(nets.inspect(name, records))
    print_objects(found, format)
    for message in errors:
        print(f"Error: {message}", file=sys.stderr)
    return 1 if errors else 0


def create(ctx: Context, name: str, **_flags) -> int:
    from rootless.engine.net import networks
    from rootless.errors import Conflict

    # printed here, not raised: main's exit 125 for engine errors of `create` means `rl create`
    err = Conflict(f"network with name {name} already exists") if name in networks.BUILTIN \
        else networks.unsupported(f"cannot create network {name}")
    print(f"Error: {err.message}", file=sys.stderr)
    if err.hint:
        print(f"Hint: {err.hint}", file=sys.stderr)
    return 1


def rm(ctx: Context, networks: list[str], force: bool = False) -> int:
    from rootless.engine.net import networks as nets
    from rootless.errors import NetworkNotFound

    status = 0
    for ref in networks:
        try:
            name = nets.find(ref)
            message = f"{name} is a pre-defined network and cannot be removed"
        except NetworkNotFound:
            if force:
                continue
            message = f"network {ref} not found: {nets.UNSUPPORTED}"
        print(f"Error: {message}", file=sys.stderr)
        status = 1
    return status


def connect(ctx: Context, network_name: str, container: str, alias: list[str] | None = None) -> int:
    from rootless.engine.net import networks

    raise networks.unsupported(f"cannot connect {container} to network {network_name}")


def disconnect(ctx: Context, network_name: str, container: str, force: bool = False) -> int:
    from rootless.engine.net import networks

    raise networks.unsupported(f"cannot disconnect {container} from network {network_name}")
