"""`rl commit`: a container's upper dir becomes a new layer on its image, with a new image config.

The layer tar is written by a child in the container's id mapping (so owners are the ids the
container sees) walking the overlay upper dir: a whiteout (a 0/0 character device) becomes an
empty `.wh.<name>` entry, a directory marked opaque (xattr user.overlay.opaque,
trusted.overlay.opaque or user.fuseoverlayfs.opaque = "y") gets a `.wh..wh..opq` entry, and
`.wh.` files fuse-overlayfs may have left are kept as they are; mount points the runtime made
(see diff.py) are left out. The store unpacks it as a layer whose parent is the image's top layer.

The new config is docker's: the parent image's config with the container's Env, Cmd, Entrypoint,
WorkingDir, User, Labels and ExposedPorts, then the --change lines; a history entry (created_by:
the container's command, comment, author); rootfs.diff_ids + the new diff_id.

--pause (the default, as docker) stops every process of a running container (SIGSTOP to each
process in its pid namespace) while the layer is read, and continues them afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import tarfile
import time
from pathlib import Path

from rootless.engine.diff import is_opaque


WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts")


def commit(paths, record: dict, *, ref=None, message: str | None = None, author: str | None = None,
           changes: list[str] = (), pause: bool = True):
    """Commit the container `record`; returns the new Image."""
    from rootless.engine.image.changes import apply_changes
    from rootless.engine.image.store import ImageStore
    from rootless.runtime import idmap

    mapping = idmap.choose(record.get("HostConfig", {}).get("UsernsMode", ""))
    store = ImageStore(paths, mapping)
    parent = store.get(record["Image"])
    container_config = apply_changes(image_config(parent.config.get("config") or {}, record), list(changes))
    from rootless.engine.diff import Layout

    layout = Layout(paths, record)
    tmp_dir = paths.tmp
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tar_path = tmp_dir / f"commit-{record['Id'][:12]}-{os.getpid()}.tar"
    try:
        with paused(record if pause else None):
            write_layer_tar(layout, tar_path, mapping)
        with open(tar_path, "rb") as stream:
            added = store.add_layer(stream, parent.chain_ids[-1] if parent.chain_ids else None)
    finally:
        tar_path.unlink(missing_ok=True)
    config = new_config(parent.config, container_config, record, added["diff_id"], message, author)
    raw = json.dumps(config, separators=(",", ":")).encode()
    return store.add_image(raw, ref=ref, layers=[*parent.layers, added["descriptor"]])


def image_config(parent: dict, record: dict) -> dict:
    """The parent image's container config with the container's own settings (docker's merge)."""
    config = dict(parent)
    mine = record.get("Config") or {}
    for key in CONFIG_FIELDS:
        if mine.get(key) not in (None, "", [], {}):
            config[key] = mine[key]
    return config


def new_config(parent: dict, container_config: dict, record: dict, diff_id: str,
               message: str | None, author: str | None) -> dict:
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"
    entry = {"created": now, "created_by": " ".join([record.get("Path", ""), *record.get("Args", [])]).strip()}
    if message:
        entry["comment"] = message
    if author:
        entry["author"] = author
    config = {k: v for k, v in parent.items() if k not in ("history", "rootfs", "config", "author")}
    config.update(created=now, config=container_config, container=record["Id"],
                  history=[*(parent.get("history") or []), entry],
                  rootfs={"type": "layers", "diff_ids": [*((parent.get("rootfs") or {}).get("diff_ids") or []), diff_id]})
    if author:
        config["author"] = author
    return config


def write_layer_tar(layout, dest: Path, mapping) -> None:
    """Write the upper dir as an OCI layer tar to `dest`, from inside the container's mapping."""
    from rootless.engine.diff import skipped_mount_points
    from rootless.runtime.userns import run_in_userns

    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        def work() -> None:
            with os.fdopen(os.dup(fd), "wb") as out:
                layer_tar(layout.upper, out, skipped_mount_points(layout))
        run_in_userns(mapping, work)
    finally:
        os.close(fd)


def layer_tar(upper: str, out, skip: set[str] = frozenset()) -> None:
    """The overlay upper dir `upper` as a layer tar (whiteouts and opaque dirs translated),
    without the relative paths in `skip`."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(upper):
            dirnames.sort()
            for name in dirnames + sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.relpath(path, upper) not in skip:
                    _add(tf, path, os.path.relpath(path, upper))


def _add(tf: tarfile.TarFile, path: str, arcname: str) -> None:
    st = os.lstat(path)
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        head, tail = os.path.split(arcname)
        _empty(tf, os.path.join(head, WHITEOUT_PREFIX + tail), st)
        return
    info = tf.gettarinfo(path, arcname)
    if info is None:  # a socket
        return
    info.uname = info.gname = ""
    if info.isreg():
        with open(path, "rb") as f:
            tf.addfile(info, f)
        return
    tf.addfile(info)
    if info.isdir() and is_opaque(path):
        _empty(tf, os.path.join(arcname, OPAQUE_MARKER), st)


def _empty(tf: tarfile.TarFile, name: str, st: os.stat_result) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = int(st.st_mtime)
    info.mode = 0o644
    tf.addfile(info)


# ------------------------------------------------------------------------------------------------
# --pause
class paused:
    """Context manager: SIGSTOP every process of a running container, SIGCONT them on exit."""

    def __init__(self, record: dict | None) -> None:
        state = (record or {}).get("State") or {}
        self.init = state.get("Pid", 0) if state.get("Running") and not state.get("Paused") else 0
        self.pids: list[int] = []

    def __enter__(self) -> "paused":
        from rootless.engine.processes import container_pids, signal_all

        if self.init:
            self.pids = container_pids(self.init)
            signal_all(self.pids, signal.SIGSTOP)
        return self

    def __exit__(self, *exc) -> None:
        from rootless.engine.processes import signal_all

        signal_all(self.pids, signal.SIGCONT)
