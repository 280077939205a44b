"""`rl system prune` and `rl system reset`.

prune: stopped containers, then dangling images (every unused image with --all) and orphan layers.
reset: every container (killed first), then the whole store root and rl's runtime dir. Layers and
upper dirs hold files owned by subordinate ids that the user cannot delete with rm, so removal
enters the store's user namespace (storage.rootfs.remove_tree); the layers of a store written
with another mapping are removed the same way.
"""

from __future__ import annotations

import os

from rootless.context import Context
from rootless.engine.container_store import ContainerStore
from rootless.errors import RlError


def prune(ctx: Context, all_images: bool = False) -> tuple[list[str], list, int]:
    """(removed container ids, image removals, bytes freed by images)."""
    from rootless.engine.containers import id_mapping, image_store
    from rootless.engine.lifecycle.remove import prune as prune_containers

    store = ContainerStore(ctx.paths)
    removed = prune_containers(ctx, store)
    images = image_store(ctx, id_mapping())
    deleted, freed = images.prune(all=all_images, in_use=store.images_in_use())
    _remove_stale_deletions(ctx)
    return removed, deleted, freed


def _remove_stale_deletions(ctx: Context, age: float = 60.0) -> None:
    """What a killed `rl run --rm` deleter left in Paths.tmp (container-<id>-rm, older than `age`
    seconds, so a deleter still at work is left alone)."""
    import time

    from rootless.engine.containers import id_mapping
    from rootless.engine.storage.rootfs import remove_tree

    for path in ctx.paths.tmp.glob("container-*-rm"):
        try:
            if time.time() - path.lstat().st_mtime > age:
                remove_tree(path, id_mapping())
        except (RlError, OSError):
            pass


def reset(ctx: Context) -> list[str]:
    """Delete every container, image, layer and volume of the store; what could not be deleted."""
    from rootless.engine.containers import id_mapping
    from rootless.engine.lifecycle.remove import remove
    from rootless.engine.storage.rootfs import remove_tree

    store = ContainerStore(ctx.paths)
    left = []
    for record in store.list():
        try:
            remove(ctx, store, record, force=True)
        except RlError as e:
            left.append(f"container {record['Id'][:12]}: {e.message}")
    from rootless.engine.net.holder import stop as stop_networks  # owner: network engineer
    stop_networks(ctx.paths)  # the user networks' namespace holder, its slirp4netns and DNS
    from rootless.engine.pause import stop as stop_pause

    stop_pause(ctx.paths)  # the pause process keeping rl's user namespace
    mapping = id_mapping()
    for path in (ctx.paths.root, ctx.paths.oci_state):
        try:
            remove_tree(path, mapping)
        except (RlError, OSError) as e:
            left.append(f"{path}: {getattr(e, 'message', None) or e}")
    if os.path.lexists(ctx.paths.root):
        left.append(f"{ctx.paths.root} still exists")
    return left
