"""`rl exec`: another process in a running container, as docker's exec makes it.

The process takes what the container's own process has (config.json's env, user, cwd,
capabilities, rlimits) with the exec options on top: `-e` entries replace the container's by name,
`-u` is resolved against the container's /etc/passwd and /etc/group as they are now (through
/proc/PID/root, the image's files when that is not readable), `-w` replaces the cwd,
`--privileged` gives every capability. The runtime joins the container init's namespaces
(rootless.runtime.exec); this process relays the pty with `-t` and returns the exit status.

A container that is not running is docker's daemon error "container <id> is not running" (exit 1).
"""

from __future__ import annotations

import json
import os

from rootless.engine.container_store import ContainerStore
from rootless.engine.lifecycle import truth
from rootless.errors import Conflict, ContainerNotRunning, InvalidState, UsageError
from rootless.paths import Paths


class ExecOptions:
    """What `rl exec` was asked for (a plain class: dataclasses cost milliseconds to import on
    this start-up path). `env`: KEY=VALUE entries already resolved against rl's environment."""

    __slots__ = ("args", "env", "user", "workdir", "interactive", "tty", "detach", "privileged")

    def __init__(self, args, env=(), user: str | None = None, workdir: str | None = None,
                 interactive: bool = False, tty: bool = False, detach: bool = False,
                 privileged: bool = False) -> None:
        self.args, self.env, self.user, self.workdir = tuple(args), tuple(env), user, workdir
        self.interactive, self.tty, self.detach, self.privileged = interactive, tty, detach, privileged


def merge_env(*layers) -> list[str]:
    """Later KEY=VALUE entries replace earlier ones of the same KEY (spec.merge_env's rule)."""
    order: dict[str, str] = {}
    for layer in layers:
        for entry in layer:
            order[entry.partition("=")[0]] = entry
    return list(order.values())


def process_for(config: dict, opts: ExecOptions, passwd: str = "", group: str = "",
                available: int | None = None) -> dict:
    """The OCI process object of the exec (pure): the container's process with the options on top.
    `available`: the capability mask --privileged is limited to (None: every capability; a
    container without a user namespace cannot get more than the caller's bounding set)."""
    if not opts.args:
        raise UsageError("exec requires at least 1 argument", "rl exec [OPTIONS] CONTAINER COMMAND [ARG...]")
    base = dict(config.get("process") or {})
    proc = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize")}
    proc["args"] = list(opts.args)
    proc["terminal"] = opts.tty
    env = list(base.get("env") or [])
    if opts.tty and not any(e.startswith("TERM=") for e in env + list(opts.env)):
        env.append("TERM=xterm")
    if opts.user:
        from rootless.engine.users import resolve_user

        user = resolve_user(opts.user, passwd, group)
        proc["user"] = {"uid": user.uid, "gid": user.gid, "umask": (base.get("user") or {}).get("umask", 0o022)}
        if user.additional_gids:
            proc["user"]["additionalGids"] = list(user.additional_gids)
        if not any(e.startswith("HOME=") for e in opts.env):
            env = merge_env(env, [f"HOME={user.home}"])
    proc["env"] = merge_env(env, list(opts.env))
    if opts.workdir:
        if not opts.workdir.startswith("/"):
            raise UsageError(f"the working directory '{opts.workdir}' is invalid, it needs to be an absolute path")
        proc["cwd"] = opts.workdir
    bounding = list((base.get("capabilities") or {}).get("bounding") or [])
    if opts.privileged:
        from rootless.engine import spec

        bounding = spec.capabilities((), (), True)
        if available is not None:
            from rootless.runtime.caps import number

            bounding = [c for c in bounding if available >> number(c) & 1]
    owned = bounding if proc.get("user", {}).get("uid", 0) == 0 else []
    proc["capabilities"] = {"bounding": bounding, "effective": owned, "permitted": owned}
    return proc


def _user_files(paths: Paths, record: dict, pid: int) -> tuple[str, str]:
    """The container's /etc/passwd and /etc/group: live through /proc/PID/root, else the image's."""
    try:
        with open(f"/proc/{pid}/root/etc/passwd", encoding="utf-8", errors="replace") as f:
            passwd = f.read()
        try:
            with open(f"/proc/{pid}/root/etc/group", encoding="utf-8", errors="replace") as f:
                group = f.read()
        except OSError:
            group = ""
        return passwd, group
    except OSError:
        pass
    from rootless.engine.containers import id_mapping
    from rootless.engine.image.store import ImageStore
    from rootless.engine.users import read_image_file

    store = ImageStore(paths, id_mapping(record.get("HostConfig", {}).get("UsernsMode", "")))
    layers = list(store.layer_dirs(store.get(record["Image"])))
    return read_image_file(layers, "etc/passwd"), read_image_file(layers, "etc/group")


def _available_caps(config: dict) -> int | None:
    """Our own bounding set when the container shares our user namespace (real root)."""
    if any(ns.get("type") == "user" for ns in (config.get("linux") or {}).get("namespaces") or ()):
        return None
    with open("/proc/self/status", encoding="ascii") as f:
        line = next(line for line in f if line.startswith("CapBnd:"))
    return int(line.split()[1], 16)


def running_record(store: ContainerStore, ref: str) -> dict:
    """The record of `ref`, which must be running (ContainerNotRunning otherwise)."""
    record = truth.current(store, store.resolve(ref))
    state = record["State"]
    if state.get("Status") not in ("running", "unknown") or not state.get("Pid"):
        raise ContainerNotRunning(record["Id"])
    if state.get("Paused"):
        raise Conflict(f"Container {record['Id']} is paused, unpause the container before exec")
    return record


def exec_in(paths: Paths, store: ContainerStore, ref: str, opts: ExecOptions) -> int:
    """Run the exec; returns the process's exit status (0 at once with -d)."""
    from rootless.runtime.exec import exec_process

    record = running_record(store, ref)
    with open(paths.container(record["Id"]) / "config.json", encoding="utf-8") as f:
        config = json.load(f)
    passwd = group = ""
    if opts.user:
        passwd, group = _user_files(paths, record, record["State"]["Pid"])
    proc = process_for(config, opts, passwd, group, _available_caps(config))
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        if opts.detach:
            stdio = (devnull, devnull, devnull)
        else:
            stdio = (0 if opts.interactive else devnull, 1, 2)
        try:
            return exec_process(paths.oci_state, record["Id"], proc, tty=opts.tty,
                                detach=opts.detach, stdio=stdio)
        except InvalidState:  # stopped between our check and the runtime's
            raise ContainerNotRunning(record["Id"]) from None
    finally:
        os.close(devnull)
