"""rm (-f) and prune, and removing a container's files (upper dir and vfs copies hold files owned by
subordinate ids: storage.rootfs.remove_tree enters the user namespace for them)."""

from __future__ import annotations

from rootless.context import Context
from rootless.engine.container_store import ContainerStore
from rootless.engine.lifecycle import truth
from rootless.errors import Conflict, RlError
from rootless.paths import Paths


def _mapping(record: dict):
    from rootless.runtime import idmap

    try:
        return idmap.choose(record.get("HostConfig", {}).get("UsernsMode", ""))
    except RlError:
        return idmap.choose("")


def remove_files(paths: Paths, record: dict) -> None:
    """Drop the record and every file of the container (and the runtime's state for it)."""
    from rootless.runtime import container as runtime
    from rootless.engine.storage.rootfs import remove_tree

    store = ContainerStore(paths)
    store.forget(record["Id"])
    try:
        runtime.delete(paths.oci_state, record["Id"], force=True)
    except (RlError, OSError):
        pass
    remove_tree(paths.container(record["Id"]), _mapping(record))


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
