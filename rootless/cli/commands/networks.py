"""`rl network ls|inspect|create|rm|prune|connect|disconnect`: the predefined networks (bridge,
host, none) and the user-defined ones (engine/net/usernet.py, endpoints.py), in docker's output."""

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

    rows = networks.rows(filter or (), ctx.paths)
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
            name = nets.find(ref, ctx.paths)
        except NetworkNotFound as e:
            errors.append(e.message)
            continue
        if records is None:
            store = ContainerStore(ctx.paths)
            records = [truth.current(store, r) for r in store.list()]
        found.append(nets.inspect(name, records, ctx.paths))
    print_objects(found, format)
    for message in errors:
        print(f"Error: {message}", file=sys.stderr)
    return 1 if errors else 0


def _report(err) -> int:
    """Print an engine error and return 1: `network create` errors exit 1 as docker's (main's 125
    for engine errors of `create` means `rl create`)."""
    print(f"Error: {err.message}", file=sys.stderr)
    if err.hint:
        print(f"Hint: {err.hint}", file=sys.stderr)
    return 1


def create(ctx: Context, name: str, driver: str = "bridge", subnet: list[str] | None = None,
           gateway: list[str] | None = None, internal: bool = False, label: list[str] | None = None) -> int:
    from rootless.engine.net import holder, usernet
    from rootless.errors import RlError, UsageError

    try:
        if len(subnet or ()) > 1 or len(gateway or ()) > 1:
            raise UsageError("only one --subnet and one --gateway are supported (IPv4)")
        labels = dict(item.partition("=")[::2] for item in label or ())
        network = usernet.create(ctx.paths, name, subnet=(subnet or [None])[0], gateway=(gateway or [None])[0],
                                 internal=internal, labels=labels, driver=driver)
    except RlError as e:
        return _report(e)
    holder.sync(ctx.paths)
    print(network["Id"])
    return 0


def rm(ctx: Context, networks: list[str], force: bool = False) -> int:
    from rootless.engine.net import holder, usernet
    from rootless.engine.net import networks as nets
    from rootless.errors import NetworkNotFound, RlError

    status, removed = 0, False
    for ref in networks:
        try:
            name = nets.find(ref, ctx.paths)
            if name in nets.BUILTIN:
                raise RlError(f"{name} is a pre-defined network and cannot be removed")
            network = usernet.find(ctx.paths, name)
            usernet.remove(ctx.paths, network, _in_use(ctx, network))
        except NetworkNotFound as e:
            if not force:
                status = _report(e)
            continue
        except RlError as e:
            status = _report(e)
            continue
        removed = True
        print(ref)
    if removed:
        holder.sync(ctx.paths)
    return status


def _in_use(ctx: Context, network: dict) -> list[str]:
    """Names of the running containers attached to a user network (its live endpoints)."""
    from rootless.engine.net import usernet

    return [e["Name"] for e in usernet.endpoints(ctx.paths, network["Id"]).values()]


def prune(ctx: Context, force: bool = False, filter: list[str] | None = None) -> int:
    from rootless.engine.net import holder, usernet
    from rootless.engine.net import networks as nets

    parsed = nets.parse_filters(filter or ())
    if not force:
        sys.stdout.write("WARNING! This will remove all custom networks not used by at least one container.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    deleted = []
    for network in usernet.all_networks(ctx.paths):
        if nets.matches(network["Name"], parsed, network) and not _in_use(ctx, network):
            usernet.remove(ctx.paths, network, [])
            deleted.append(network["Name"])
    if deleted:
        print("Deleted Networks:")
        print("\n".join(deleted))
        holder.sync(ctx.paths)
    return 0


def _user_network(ctx: Context, ref: str, verb: str) -> dict:
    from rootless.engine.net import networks as nets
    from rootless.engine.net import usernet
    from rootless.errors import RlError

    name = nets.find(ref, ctx.paths)
    if name in nets.BUILTIN:
        raise RlError(f"cannot {verb} the predefined network {name}",
                      "rl connects containers to user-defined networks only (rl network create)")
    return usernet.find(ctx.paths, name)


def connect(ctx: Context, network_name: str, container: str, alias: list[str] | None = None) -> int:
    from rootless.engine.net import membership

    network = _user_network(ctx, network_name, "connect a container to")
    membership.connect(ctx.paths, network, container, list(alias or ()))
    return 0


def disconnect(ctx: Context, network_name: str, container: str, force: bool = False) -> int:
    from rootless.engine.net import membership

    network = _user_network(ctx, network_name, "disconnect a container from")
    membership.disconnect(ctx.paths, network, container)
    return 0
