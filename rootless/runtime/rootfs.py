"""The container's root filesystem, mounted by its first process inside its user+mount namespace
before the mount tree is built, as the rl.rootfs.* annotations ask (see /tmp/rl-interfaces.md):

- "rl.rootfs.driver": "overlay" | "fuse-overlayfs" | "vfs" (vfs or absent: root.path as it is)
- "rl.rootfs.lowerdir" (top-most first, ":"-joined), "rl.rootfs.upperdir", "rl.rootfs.workdir"

Kernel overlayfs in a user namespace needs the `userxattr` option (kernel >= 5.11) so whiteouts and
opaque directories are read from user.overlay.* xattrs; when the kernel refuses the mount we fall
back to fuse-overlayfs, and when that fails too the error names both drivers and why.
"""

from __future__ import annotations

import os

from rootless.errors import StorageError
from rootless.runtime import syscalls as sc

ANNOTATION_DRIVER = "rl.rootfs.driver"
ANNOTATION_LOWER = "rl.rootfs.lowerdir"
ANNOTATION_UPPER = "rl.rootfs.upperdir"
ANNOTATION_WORK = "rl.rootfs.workdir"


def overlay_options(lower: str, upper: str, work: str, userxattr: bool) -> str:
    opts = f"lowerdir={lower}"
    if upper:
        opts += f",upperdir={upper},workdir={work}"
    return opts + (",userxattr" if userxattr else "")


def mount(root: str, annotations: dict, userns: bool) -> str:
    """Mount the rootfs on `root` as the annotations ask; returns the driver actually used."""
    driver = annotations.get(ANNOTATION_DRIVER) or "vfs"
    if driver == "vfs":
        return "vfs"
    if driver not in ("overlay", "fuse-overlayfs"):
        raise StorageError(f"unknown rootfs driver {driver!r}", "use overlay, fuse-overlayfs or vfs")
    lower = annotations.get(ANNOTATION_LOWER, "")
    upper = annotations.get(ANNOTATION_UPPER, "")
    work = annotations.get(ANNOTATION_WORK, "")
    if not lower or bool(upper) != bool(work):
        raise StorageError(f"rootfs driver {driver}: {ANNOTATION_LOWER} is required, "
                           f"and {ANNOTATION_UPPER} goes with {ANNOTATION_WORK}")
    os.makedirs(root, exist_ok=True)
    why = ""
    if driver == "overlay":
        try:
            sc.mount("overlay", root, "overlay", 0, overlay_options(lower, upper, work, userns))
            return "overlay"
        except OSError as e:
            why = f"kernel overlay: {e.strerror}"
    try:
        fuse_overlayfs(root, lower, upper, work)
        return "fuse-overlayfs"
    except StorageError as e:
        raise StorageError(f"cannot mount the container's root filesystem ({why + '; ' if why else ''}{e.message})",
                           "check that the store is on a local filesystem, or use the vfs driver") from None


def fuse_overlayfs(root: str, lower: str, upper: str, work: str) -> None:
    """Mount with fuse-overlayfs (it daemonises; it lives in the container's pid namespace and dies
    with it)."""
    import subprocess

    from rootless.frozen import find_tool  # the host's, else the copy bundled in dist/rl

    exe = find_tool("fuse-overlayfs")
    if not exe:
        raise StorageError("fuse-overlayfs: not installed")
    opts = overlay_options(lower, upper, work, False)
    proc = subprocess.run([exe, "-o", opts, root], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise StorageError(f"fuse-overlayfs: {msg[-1] if msg else f'exit status {proc.returncode}'}")
