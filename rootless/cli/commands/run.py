"""`rl run` and `rl create`: flags -> RunOptions -> engine.containers.create -> start or attach."""

from __future__ import annotations

import os
import sys

from rootless.context import Context


def _options(ctx: Context, p: dict):
    from rootless.engine import run_options as ro
    from rootless.errors import UsageError

    env: list[str] = []
    for path in p.get("env_file") or ():
        env += ro.read_env_file(path, ctx.env)
    env += ro.parse_env(p.get("env") or (), ctx.env)
    network = p.get("network") or "bridge"
    if not network.startswith("container:") and network not in ro.NETWORKS:
        from rootless.engine.net.usernet import find  # a user network (owner: network engineer)
        network = find(ctx.paths, network)["Name"]
    publish: tuple = ()
    if p.get("publish"):  # (the network modules load only when a run asks for them: start-up)
        from rootless.engine.net.ports import parse_publish  # owner: network engineer
        publish = tuple(parse_publish(p["publish"]))
    if network.startswith("container:"):
        from rootless.engine.net.joined import normalize  # owner: network II
        network = normalize(ctx.paths, network, publish)
    if network == "host" and publish:
        from rootless.engine.net.stack import HOST_WARNING
        _notify(HOST_WARNING)
    restart = ro.parse_restart(p.get("restart") or "no")
    if p.get("rm") and restart.name != "no":
        raise UsageError("Conflicting options: --restart and --rm")
    if p.get("stop_timeout") is not None and p["stop_timeout"] < 0:
        raise UsageError("--stop-timeout must not be negative")
    volumes, tmpfs = _volumes(p)
    return ro.RunOptions(
        image=p["image"], command=tuple(p.get("command") or ()), entrypoint=p.get("entrypoint"),
        name=ro.validate_name(p["name"]) if p.get("name") else None, env=tuple(env),
        workdir=p.get("workdir"), user=p.get("user"), hostname=p.get("hostname"),
        tty=p.get("tty", False), interactive=p.get("interactive", False), detach=p.get("detach", False),
        auto_remove=p.get("rm", False), init=p.get("init", False), read_only=p.get("read_only", False),
        tmpfs=tmpfs, network=network,
        cap_add=tuple(p.get("cap_add") or ()), cap_drop=tuple(p.get("cap_drop") or ()),
        privileged=p.get("privileged", False),
        ulimits=tuple(ro.parse_ulimit(u) for u in p.get("ulimit") or ()),
        stop_signal=ro.parse_signal(p["stop_signal"]) if p.get("stop_signal") else None,
        stop_timeout=p.get("stop_timeout"), labels=ro.parse_labels(p.get("label") or ()),
        restart=restart, devices=tuple(ro.check_device_on_host(ro.parse_device(d)) for d in p.get("device") or ()),
        userns=ro.validate_choice("--userns", p.get("userns") or "", ro.USERNS_MODES),
        pull=ro.validate_choice("--pull", p.get("pull") or "missing", ro.PULL_POLICIES),
        publish=publish, publish_all=p.get("publish_all", False),
        volumes=volumes, volumes_from=tuple(p.get("volumes_from") or ()),
    )


def _volumes(p: dict) -> tuple[tuple, tuple]:
    """(-v and --mount specs, --tmpfs values with --mount's tmpfs) (owner: containers II,
    rootless.engine.volumes)."""
    if not p.get("volume") and not p.get("mount"):
        return (), tuple(p.get("tmpfs") or ())
    from rootless.engine import volumes

    return volumes.from_flags(p.get("volume") or (), p.get("mount") or (), p.get("tmpfs") or ())


def _network_aliases(ctx: Context, record: dict, p: dict) -> dict:
    """--network-alias: kept for the container's user network (engine/net/membership.py)."""
    if not p.get("network_alias"):
        return record
    from rootless.engine.net import membership

    return membership.set_aliases(ctx.paths, record, p["network_alias"])


def _notify(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def create(ctx: Context, **params) -> int:
    from rootless.engine import containers

    record = containers.create(ctx, _options(ctx, params), notify=_notify)
    record = _network_aliases(ctx, record, params)  # owner: network engineer
    print(record["Id"])
    return 0


def run(ctx: Context, **params) -> int:
    import gc

    enabled = gc.isenabled()
    gc.disable()  # performance: ~20 collections cost ~4 ms of start-up (docs/performance.md)
    try:
        status = _run(ctx, params)
        from rootless.cli.quick_exit import leave

        # before the collector is on again: its first allocation would start a full collection
        # (~0.5 ms) in a process about to end
        return leave(status)
    finally:
        if enabled:
            gc.enable()


def _run(ctx: Context, params: dict) -> int:
    from rootless.engine import containers
    from rootless.engine.container_store import ContainerStore

    opts = _options(ctx, params)
    if opts.detach:
        record = containers.create(ctx, opts, notify=_notify)
        record = _network_aliases(ctx, record, params)  # owner: network engineer
        return _run_detached(ctx, ContainerStore(ctx.paths), record, opts)
    from rootless.engine.lifecycle.attach import discard_early, run_attached, start_early

    mapping = containers.id_mapping(opts.userns)  # (read once: /etc/subuid, the helpers' paths)
    early = start_early(ctx, opts, mapping)  # its clone overlaps the bookkeeping below (runtime/early.py)
    try:
        record = containers.create(ctx, opts, notify=_notify, mapping=mapping)
        record = _network_aliases(ctx, record, params)  # owner: network engineer
        store = ContainerStore(ctx.paths)
        held: list = []  # the container's mount namespace, for the deleter (run_attached says why)
        try:
            sys.stdout.flush()
            return run_attached(ctx, store, record, interactive=opts.interactive, tty=opts.tty,
                                remove_after=opts.auto_remove, held=held if opts.auto_remove else None,
                                early=early)
        finally:
            if opts.auto_remove:
                _remove(ctx, store, record, held)
    finally:
        discard_early(early)


def _run_detached(ctx: Context, store, record: dict, opts) -> int:
    from rootless.engine.lifecycle.start import start_detached

    try:
        start_detached(ctx, store, record)
    except BaseException:
        if opts.auto_remove:
            _remove(ctx, store, record)
        raise
    print(record["Id"])
    return 0


def _remove(ctx: Context, store, record: dict, held: list | None = None) -> None:
    from rootless.engine.lifecycle.remove import remove_files
    from rootless.errors import RlError

    try:
        remove_files(ctx.paths, store.load(record["Id"]), detach=True, inherit=held or ())
    except RlError:
        pass  # already gone
    finally:
        for fd in held or ():
            os.close(fd)
