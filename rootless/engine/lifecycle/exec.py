"""`rl exec`: another process in a running container, as docker's exec makes it.

The process takes what the container's own process has (config.json's env, user, cwd,
capabilities, rlimits) with the exec options on top: `-e` entries replace the container's by name,
`-u` is resolved against the container's /etc/passwd and /etc/group as they are now (through
/proc/PID/root, the image's files when that is not readable), `-w` replaces the cwd,
`--privileged` gives every capability. The runtime joins the container process's namespaces
(rootless.runtime.exec, the C helper _rl_exec): `rl exec` itself becomes the helper (execve)
when it can; otherwise (a terminal to relay, an in-process caller) the helper is a child, this
process relays the pty with `-t` and returns the exit status.

A container that is not running is docker's daemon error "container <id> is not running" (exit 1).

Start-up path (docs/performance.md, "exec"): the usual case reads one record, the container's
config.json and nothing else, imports neither the container store nor json/re/pathlib, and writes
nothing. `quick_record` finds the record by full id, name (a byte search of each record before one
parse) or unique id prefix; the record is trusted when it says running and not paused, and its
container process (pid, start time, boot id: State.Process) is the one alive, which the runtime
checks again on the /proc/PID directory it joins through. Anything else (no such container, an
ambiguous prefix, paused, a stale record, an older record without State.Process) takes the store's
way (`running_record`: ContainerStore.resolve, truth.current), with its messages and write-back.
"""

from __future__ import annotations

import os

from rootless.fastjson import loads  # json without re/enum (start-up)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from rootless.engine.container_store import ContainerStore
    from rootless.paths import Paths

#: docker's container name rule; a ref outside it is never a name (no byte search)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_HEX = frozenset("0123456789abcdef")
STATE_FILE = "state.json"  # the store's record file (container_store.STATE_FILE)


class ExecOptions:
    """What `rl exec` was asked for (a plain class: dataclasses cost milliseconds to import on
    this start-up path). `env`: KEY=VALUE entries already resolved against rl's environment."""

    __slots__ = ("args", "env", "user", "workdir", "interactive", "tty", "detach", "privileged")

    def __init__(self, args, env=(), user: str | None = None, workdir: str | None = None,
                 interactive: bool = False, tty: bool = False, detach: bool = False,
                 privileged: bool = False) -> None:
        self.args, self.env, self.user, self.workdir = tuple(args), tuple(env), user, workdir
        self.interactive, self.tty, self.detach, self.privileged = interactive, tty, detach, privileged


def exec_env(values, environ: dict[str, str]) -> list[str]:
    """`-e KEY=VALUE` as is, `-e KEY` from rl's environment (dropped if unset): run_options.parse_env's
    rule, here so that `rl exec -e` does not import run_options (re, signal, dataclasses). A bad
    entry goes to parse_env for its error; tests check that the two agree on any input."""
    out: list[str] = []
    for value in values:
        key, eq, _ = value.partition("=")
        if not key.strip() or any(c.isspace() for c in key):
            from rootless.engine import run_options

            return run_options.parse_env(values, environ)
        if eq:
            out.append(value)
        elif key in environ:
            out.append(f"{key}={environ[key]}")
    return out


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
        from rootless.errors import UsageError

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
            from rootless.errors import UsageError

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
    with open("/proc/self/status", "rb") as f:
        line = next(line for line in f if line.startswith(b"CapBnd:"))
    return int(line.split()[1], 16)


# --- the record, the quick way ------------------------------------------------------------------
def _read_record(directory: str) -> dict | None:
    try:
        with open(os.path.join(directory, STATE_FILE), "rb") as f:
            return loads(f.read())
    except (OSError, ValueError):
        return None


def quick_record(containers: str, ref: str) -> dict | None:
    """The record `ref` names (full id, name, unique id prefix: docker's order), or None when
    the store must decide (nothing found, several ids with that prefix, an unreadable record)."""
    if len(ref) == 64 and _HEX.issuperset(ref):
        record = _read_record(os.path.join(containers, ref))
        if record is not None:
            return record
    try:
        ids = [e for e in os.listdir(containers) if len(e) == 64]
    except OSError:
        return None
    name = ref.lstrip("/")
    if name and _NAME_CHARS.issuperset(name):
        # the store writes records compactly (separators=(",", ":")): the name's exact bytes
        needle = b'"Name":"/' + name.encode() + b'"'
        for cid in ids:
            try:
                with open(os.path.join(containers, cid, STATE_FILE), "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if needle in data:
                record = loads(data)
                if isinstance(record, dict) and record.get("Name") == "/" + name:
                    return record
    if not ref.isalnum():
        return None
    matches = [cid for cid in ids if cid.startswith(ref.lower())]
    return _read_record(os.path.join(containers, matches[0])) if len(matches) == 1 else None


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            return f.read().strip().decode()
    except OSError:
        return ""


def trusted_process(record: dict | None) -> tuple[int, int] | None:
    """(pid, start time) of the container's process when the record can be trusted as it is:
    running (or "unknown": alive without its monitor), not paused, State.Process naming State.Pid
    in this boot. The runtime checks the start time against the live process when it joins."""
    if not isinstance(record, dict):
        return None
    state = record.get("State") or {}
    proc = state.get("Process") or {}
    pid = state.get("Pid")
    if state.get("Status") not in ("running", "unknown") or state.get("Paused") or not pid:
        return None
    if proc.get("Pid") != pid or not proc.get("Start") or not proc.get("Boot"):
        return None
    return (pid, proc["Start"]) if proc["Boot"] == boot_id() else None


def running_record(store: ContainerStore, ref: str) -> dict:
    """The record of `ref`, which must be running (ContainerNotRunning otherwise): the store's way,
    with truth.current's check of the monitor and the container process (written back)."""
    from rootless.engine.lifecycle import truth
    from rootless.errors import Conflict, ContainerNotRunning

    record = truth.current(store, store.resolve(ref))
    state = record["State"]
    if state.get("Paused") and state.get("Pid"):  # moby's errExecPaused names it as it was given
        raise Conflict(f"Container {ref} is paused, unpause the container before exec")
    if state.get("Status") not in ("running", "unknown") or not state.get("Pid"):
        raise ContainerNotRunning(record["Id"])
    return record


def _store_record(paths: Paths, store: ContainerStore | None, ref: str) -> tuple[dict, tuple[int, int] | None]:
    if store is None:
        from rootless.engine.container_store import ContainerStore

        store = ContainerStore(paths)
    record = running_record(store, ref)
    return record, trusted_process(record)


def exec_in(paths: Paths, ref: str, opts: ExecOptions, store: ContainerStore | None = None,
            replace: bool = False) -> int:
    """Run the exec; returns the process's exit status (0 at once with -d). `replace`: this
    process may become the exec helper (execve, runtime.exec.replace) when nothing needs Python
    after the join (no terminal to relay): the helper prints failures and exits with the code."""
    record = quick_record(paths.containers_dir(), ref) if store is None else None
    target = trusted_process(record)
    if target is None:
        record, target = _store_record(paths, store, ref)
    with open(os.path.join(paths.container_dir(record["Id"]), "config.json"), "rb") as f:
        config = loads(f.read())
    passwd = group = ""
    if opts.user:
        passwd, group = _user_files(paths, record, record["State"]["Pid"])
    proc = process_for(config, opts, passwd, group, _available_caps(config))
    return _run(paths, store, ref, record, target, proc, opts, replace)


def _run(paths, store, ref, record, target, proc, opts, replace=False) -> int:
    """The runtime's join: straight to the trusted pid; through the OCI state otherwise."""
    from rootless.runtime import exec as rt

    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        stdio = (devnull,) * 3 if opts.detach else (0 if opts.interactive else devnull, 1, 2)
        if target is not None and replace and not opts.tty and rt.start_time(target[0]) == target[1]:
            rt.replace(target[0], target[1], proc, container_id=record["Id"], detach=opts.detach,
                       stdio=tuple(None if fd == i else fd for i, fd in enumerate(stdio)))
        kw = {"tty": opts.tty, "detach": opts.detach, "stdio": stdio, "container_id": record["Id"]}
        if target is not None:
            status = rt.join_and_run(target[0], target[1], proc, **kw)
            if status is not None:
                return status
            record, _ = _store_record(paths, store, ref)  # the record was stale: what became of it
        from rootless.errors import ContainerNotRunning, InvalidState

        kw.pop("container_id")
        try:
            return rt.exec_process(paths.oci_state_dir(), record["Id"], proc, **kw)
        except InvalidState:  # stopped between our check and the runtime's
            raise ContainerNotRunning(record["Id"]) from None
    finally:
        os.close(devnull)
