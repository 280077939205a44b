"""The pause process: one user namespace with the user's subordinate-id mapping, kept for the
containers to join, as podman's rootless pause process does.

Mapping subordinate ids needs the setuid newuidmap and newgidmap for every new user namespace:
two process starts, ~4 ms of every `rl run` here. With a pause process the namespace is made
once per user and run directory: the container's config.json names it (a user namespace by path)
and the runtime joins it; the container still gets its own mount, pid, uts, ipc and network
namespaces. Only for the default mapping of a user with subordinate ranges (`--userns=keep-id`
and single-id maps make their own namespace; real root needs none).

The process is native/rl_pause.c (`_rl_pause`): in its own session, it unshares the user
namespace, waits for the maps, then sleeps until `Paths.pause_file()` (pid and start time) is
gone or names another process: `rl system reset` removes the file and stops it, and deleting the
run directory ends it too. It is checked on every use (pid, start time, and the maps the kernel
shows for it), and started again when it is gone (after a reboot, or killed).
"""

from __future__ import annotations

import os

from rootless.errors import IdMappingError

BINARY = "_rl_pause"
_LOCK_SUFFIX = ".lock"


def current(paths, mapping) -> tuple[int, int] | None:
    """(pid, start time) of the pause process for `mapping` (started if needed), or None when
    containers make their own user namespace (not a default subordinate-id mapping, or the pause
    process cannot be started: the caller falls back to a namespace per container)."""
    if mapping.mode != "subuid" or mapping.userns:
        return None
    found = _running(paths.pause_file(), mapping)
    if found:
        return found
    try:
        return _start_locked(paths, mapping)
    except (OSError, IdMappingError):
        return None


def userns_path(pid: int) -> str:
    return f"/proc/{pid}/ns/user"


def alive(held) -> bool:
    """Whether `held` ([pid, start] from `current`) is still that process."""
    from rootless.runtime.state import pid_start_time

    return bool(held) and held[0] > 0 and pid_start_time(held[0]) == held[1]


def _running(info_path: str, mapping) -> tuple[int, int] | None:
    """(pid, start) of the pause process named by `info_path` if it runs and its namespace has
    `mapping`, else None."""
    from rootless import fastjson
    from rootless.runtime.state import pid_start_time

    try:
        with open(info_path, "rb") as f:
            info = fastjson.loads(f.read())
        pid, start = int(info["pid"]), int(info["start"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid <= 0 or pid_start_time(pid) != start:
        return None
    if not (_maps_equal(pid, "uid_map", mapping.uid_maps) and _maps_equal(pid, "gid_map", mapping.gid_maps)):
        return None
    return pid, start


def _maps_equal(pid: int, name: str, maps) -> bool:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            lines = f.read().split(b"\n")
    except OSError:
        return False
    have = sorted(tuple(int(x) for x in line.split()) for line in lines if line.strip())
    return have == sorted((m.container_id, m.host_id, m.size) for m in maps)


def _start_locked(paths, mapping) -> tuple[int, int] | None:
    """Start the pause process under the run directory's lock (another rl may be starting one:
    then that one is used)."""
    import fcntl

    from rootless.paths import ensure_private_dir

    ensure_private_dir(paths.runroot_dir)
    info_path = paths.pause_file()
    lock = os.open(info_path + _LOCK_SUFFIX, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _running(info_path, mapping)
        if found:
            return found
        stop(paths)   # a pause process with another mapping (subuid ranges edited) goes
        return _start(info_path, mapping)
    finally:
        os.close(lock)


def binary() -> str:
    """native/rl_pause.c's executable, beside the package's modules (also in the frozen rl)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), BINARY)


def _start(info_path: str, mapping) -> tuple[int, int] | None:
    from rootless import fastjson
    from rootless.runtime import idmap
    from rootless.runtime.state import pid_start_time

    from rootless.runtime.children import spawn

    ready_r, ready_w = os.pipe()
    sync_r, sync_w = os.pipe()
    try:
        null = os.devnull
        pid = spawn(binary(), [BINARY, str(ready_w), str(sync_r), info_path], (ready_w, sync_r),
                    file_actions=[(os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
                                  (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
                                  (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0)],
                    setsid=True)
    except OSError:
        for fd in (ready_r, ready_w, sync_r, sync_w):
            os.close(fd)
        return None
    os.close(ready_w)
    os.close(sync_r)
    try:
        if os.read(ready_r, 256) != b"R":
            return None
        idmap.apply(pid, mapping)
        start = pid_start_time(pid)
        tmp = f"{info_path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(fastjson.dumps({"pid": pid, "start": start}))
        os.replace(tmp, info_path)
        os.write(sync_w, b"G")
        return pid, start
    except BaseException:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        raise
    finally:
        os.close(ready_r)
        os.close(sync_w)


def stop(paths) -> None:
    """End the pause process (`rl system reset`, or a mapping that changed): SIGTERM, and its
    file removed. Containers still in its namespace keep it alive; they are not touched."""
    from rootless import fastjson
    from rootless.runtime.state import pid_start_time

    info_path = paths.pause_file()
    try:
        with open(info_path, "rb") as f:
            info = fastjson.loads(f.read())
        os.unlink(info_path)
    except (OSError, ValueError):
        return
    pid, start = info.get("pid", 0), info.get("start")
    if isinstance(pid, int) and pid > 0 and pid_start_time(pid) == start and _is_pause(pid):
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass


def _is_pause(pid: int) -> bool:
    """Whether `pid` is a pause process (its name, set by rl_pause.c): a damaged or forged file
    must not make rl signal anything else."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().strip() == b"rl-pause"
    except OSError:
        return False


def refresh(paths, store, record: dict, bundle: str) -> None:
    """Before a container's process starts: one made to join a pause process that is gone since
    (a reboot, a kill, `system reset`) joins the current one instead, or makes its own user
    namespace with the same mapping (its config.json keeps linux.uidMappings/gidMappings)."""
    held = (record.get("Rl") or {}).get("Pause")
    if not held or alive(held):
        return
    from rootless import fastjson
    from rootless.engine.containers import id_mapping

    try:
        now = current(paths, id_mapping((record.get("HostConfig") or {}).get("UsernsMode") or ""))
    except IdMappingError:
        now = None
    path = os.path.join(bundle, "config.json")
    with open(path, "rb") as f:
        config = fastjson.loads(f.read())
    linux = config.get("linux") or {}
    linux["namespaces"] = [({"type": "user", "path": userns_path(now[0])} if now else {"type": "user"})
                           if ns.get("type") == "user" else ns for ns in linux.get("namespaces") or ()]
    tmp = os.path.join(bundle, ".config.json.tmp")
    with open(tmp, "w") as f:
        f.write(fastjson.dumps(config))
    os.replace(tmp, path)

    def remember(rec: dict) -> None:
        rec.setdefault("Rl", {})["Pause"] = list(now) if now else None
    store.update(record["Id"], remember)
    record.setdefault("Rl", {})["Pause"] = list(now) if now else None


def status(paths, mapping) -> dict:
    """For `rl info`: whether containers join a pause process's user namespace, and its pid."""
    used = mapping is not None and mapping.mode == "subuid" and not mapping.userns
    found = _running(paths.pause_file(), mapping) if used else None
    return {"Used": used, "Pid": found[0] if found else None}
