"""`rl export`: a container's root filesystem as one flat tar (docker export's format).

The merged view is made exactly as the container sees it, by the kernel: in a child that has a
new mount namespace (and the container's user namespace mapping, so owners are the container's
ids), the container's upper dir and the image's layers are mounted as a read-only overlay with
lower dirs only (upper top-most; whiteouts and opaque dirs honoured by overlayfs itself,
`userxattr` in a user namespace like the runtime's mount), falling back to fuse-overlayfs. The
vfs driver's rootfs is already flat. The child writes the tar straight to the output descriptor.
Nothing the container mounted (volumes, /proc, /dev) is in it, as with docker.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from rootless.errors import RlError, StorageError


def export_to(paths, record: dict, output: str | None) -> None:
    """Write the container's rootfs as a tar to the file `output` (stdout when None or "-")."""
    if output in (None, "-"):
        export_fd(paths, record, 1)
        return
    target = Path(output)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as e:
        raise RlError(f"failed to export container: open {output}: {(e.strerror or str(e)).lower()}") from None
    try:
        try:
            export_fd(paths, record, fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export_fd(paths, record: dict, fd: int) -> None:
    """Write the tar to the open descriptor `fd` from a child in the container's id mapping."""
    from rootless.runtime import idmap
    from rootless.runtime.userns import run_in_userns

    from rootless.engine.containers import bundle_config

    directory = paths.container(record["Id"])
    config = bundle_config(paths, record)
    mapping = idmap.choose(record.get("HostConfig", {}).get("UsernsMode", ""))
    annotations = config.get("annotations") or {}
    userns = mapping.mode != "root"

    def work() -> None:
        root = merged_view(directory, config, annotations, userns)
        with os.fdopen(os.dup(fd), "wb") as out:
            write_tar(root, out)

    run_in_userns(mapping, work)


def merged_view(directory: Path, config: dict, annotations: dict, userns: bool) -> str:
    """In a private mount namespace: mount the read-only merged rootfs; returns its path."""
    driver = annotations.get("rl.rootfs.driver", "vfs")
    if driver == "vfs":
        return config["root"]["path"]
    from rootless.runtime import syscalls as sc

    lower = f"{annotations['rl.rootfs.upperdir']}:{annotations['rl.rootfs.lowerdir']}"
    target = str(directory / "rootfs")
    why = ""
    if driver == "overlay":
        try:
            sc.mount("overlay", target, "overlay", sc.MS_RDONLY,
                     f"lowerdir={lower}" + (",userxattr" if userns else ""))
            return target
        except OSError as e:
            why = f"kernel overlay: {e.strerror}; "
    _fuse_overlay(target, lower, why)
    return target


def _fuse_overlay(target: str, lower: str, why: str) -> None:
    import subprocess

    from rootless.frozen import find_tool

    exe = find_tool("fuse-overlayfs")
    if not exe:
        raise StorageError(f"cannot mount the container's rootfs: {why}fuse-overlayfs: not installed")
    proc = subprocess.run([exe, "-o", f"lowerdir={lower}", target], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise StorageError(f"cannot mount the container's rootfs: {why}fuse-overlayfs: "
                           f"{msg[-1] if msg else proc.returncode}")


def write_tar(root: str, out) -> None:
    """A flat tar of the tree at `root`: relative names, numeric owners, hard links kept."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in dirnames + sorted(filenames):
                path = os.path.join(dirpath, name)
                _add(tf, path, os.path.relpath(path, root))


def _add(tf: tarfile.TarFile, path: str, arcname: str) -> None:
    try:
        info = tf.gettarinfo(path, arcname)
    except OSError:
        return  # gone meanwhile (a running container)
    if info is None:  # a socket: docker skips those too
        return
    info.uname = info.gname = ""
    if info.isreg():
        try:
            with open(path, "rb") as f:
                tf.addfile(info, f)
        except OSError:
            return
    else:
        tf.addfile(info)
