"""rm (-f) and prune, and removing a container's files (upper dir and vfs copies hold files owned by
subordinate ids: storage.rootfs.remove_tree enters the user namespace for them)."""

from __future__ import annotations

from rootless.context import Context
from rootless.engine.container_store import ContainerStore
from rootless.engine.lifecycle import truth
from rootless.errors import Conflict, RlError
from rootless.paths import Paths


def _mapping(record: dict):
    return mapping_for(record.get("HostConfig", {}).get("UsernsMode", ""))


def mapping_for(userns: str):
    """The id mapping of a container run with --userns `userns` (the default one if that mode
    no longer works here)."""
    from rootless.runtime import idmap

    try:
        return idmap.choose(userns)
    except RlError:
        return idmap.choose("")


def remove_files(paths: Paths, record: dict, *, detach: bool = False, inherit=()) -> None:
    """Drop the record and every file of the container (and the runtime's state for it).

    With `detach` (`rl run --rm` in the foreground) the container's directory is renamed out of
    the store at once, so no listing shows it and its name is free, and a detached process
    deletes the files: the caller does not wait for the file system (docs/performance.md). The
    deleter inherits the descriptors `inherit` (and closes them when it ends)."""
    from rootless.runtime import container as runtime

    store = ContainerStore(paths)
    store.forget(record["Id"])
    directory = paths.container_dir(record["Id"])
    # detached, the runtime's state goes with the files: the caller reaped the container already,
    # so that is a plain rm (runtime.delete would kill a process that is still there)
    if detach and _delete_detached(paths, directory, record.get("HostConfig", {}).get("UsernsMode", ""),
                                   inherit, runtime_state(paths, record["Id"])):
        return
    try:
        runtime.delete(paths.oci_state_dir(), record["Id"], force=True)
    except (RlError, OSError):
        pass
    from rootless.engine.storage.rootfs import remove_tree

    remove_tree(directory, _mapping(record))


def runtime_state(paths: Paths, cid: str) -> str:
    """The runtime's state directory of container `cid` (rootless.runtime.state.container_dir)."""
    from rootless.runtime.state import container_dir

    return container_dir(paths.oci_state_dir(), cid)


def _delete_detached(paths: Paths, directory: str, userns: str, inherit=(), also: str = "") -> bool:
    """Rename `directory` to Paths.tmp/container-<id>-rm and have a detached process delete it
    and `also` (lifecycle.deleter). False if that could not start: the caller deletes both."""
    import os

    from rootless.engine.lifecycle import deleter

    doomed = os.path.join(paths.tmp_dir(), f"container-{os.path.basename(directory)}-rm")
    try:
        os.makedirs(paths.tmp_dir(), exist_ok=True)
        os.rename(directory, doomed)
    except OSError:
        return False
    if deleter.spawn(doomed, userns, inherit, also):
        return True
    os.rename(doomed, directory)
    return False


def remove(ctx: Context, store: ContainerStore, record: dict, force: bool = False) -> None:
    from rootless.engine.lifecycle.stop import _signal, wait_stopped

    record = truth.current(store, record)
    if truth.is_running(record["State"]):
        if not force:
            raise Conflict(f"You cannot remove a running container {record['Id']}. Stop the container "
                           "before attempting removal or force remove")
        store.set_state(record["Id"], ManuallyStopped=True)
        _signal(ctx, record, 9)
        record = wait_stopped(store, record["Id"], 10)
        if record["State"]["Status"] == "unknown":
            from rootless.engine.lifecycle.launch import record_exit

            record_exit(ctx.paths, store, record["Id"], 137)
    remove_files(ctx.paths, record)


def prune(ctx: Context, store: ContainerStore, labels: dict[str, str | None] | None = None) -> list[str]:
    """Remove every stopped container (exited, created, dead); their ids."""
    removed = []
    for record in store.list():
        record = truth.current(store, record)
        if record["State"]["Status"] not in ("exited", "created", "dead"):
            continue
        have = record.get("Config", {}).get("Labels") or {}
        if labels and not all(k in have and (v is None or have[k] == v) for k, v in labels.items()):
            continue
        try:
            remove_files(ctx.paths, record)
            removed.append(record["Id"])
        except RlError:
            continue
    _remove_stale_new_dirs(ctx.paths)
    return removed


def _remove_stale_new_dirs(paths: Paths, age: float = 60.0) -> None:
    """".new-<id>" dirs a killed `rl create` left before its record existed (ContainerStore.create)."""
    import shutil
    import time

    try:
        entries = list(paths.containers.glob(".new-*"))
    except OSError:
        return
    for entry in entries:
        try:
            if time.time() - entry.stat().st_mtime > age:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
