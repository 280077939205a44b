"""The container's root filesystem: the rl.rootfs.* annotations (see /tmp/rl-interfaces.md) checked
and turned into the plan keys native/rl_boot.c reads (its container process mounts the rootfs
inside its user+mount namespace before the mount tree is built), or mounted from Python by a
process already in those namespaces (`rl cp` into a stopped container):

- "rl.rootfs.driver": "overlay" | "fuse-overlayfs" | "vfs" (vfs or absent: root.path as it is)
- "rl.rootfs.lowerdir" (top-most first, ":"-joined), "rl.rootfs.upperdir", "rl.rootfs.workdir"

Kernel overlayfs in a user namespace needs the `userxattr` option (kernel >= 5.11) so whiteouts and
opaque directories are read from user.overlay.* xattrs; when the kernel refuses the mount we fall
back to fuse-overlayfs (the host's, else the copy bundled in dist/rl), and when that fails too the
error names both drivers and why.
"""

from __future__ import annotations

import os

from rootless.errors import StorageError

ANNOTATION_DRIVER = "rl.rootfs.driver"
ANNOTATION_LOWER = "rl.rootfs.lowerdir"
ANNOTATION_UPPER = "rl.rootfs.upperdir"
ANNOTATION_WORK = "rl.rootfs.workdir"


def overlay_options(lower: str, upper: str, work: str, userxattr: bool) -> str:
    opts = f"lowerdir={lower}"
    if upper:
        opts += f",upperdir={upper},workdir={work}"
    return opts + (",userxattr" if userxattr else "")


def _checked(annotations: dict) -> tuple[str, str, str, str]:
    """(driver, lower, upper, work) of the annotations; StorageError for what no driver can use."""
    driver = annotations.get(ANNOTATION_DRIVER) or "vfs"
    if driver == "vfs":
        return driver, "", "", ""
    if driver not in ("overlay", "fuse-overlayfs"):
        raise StorageError(f"unknown rootfs driver {driver!r}", "use overlay, fuse-overlayfs or vfs")
    lower = annotations.get(ANNOTATION_LOWER, "")
    upper = annotations.get(ANNOTATION_UPPER, "")
    work = annotations.get(ANNOTATION_WORK, "")
    if not lower or bool(upper) != bool(work):
        raise StorageError(f"rootfs driver {driver}: {ANNOTATION_LOWER} is required, "
                           f"and {ANNOTATION_UPPER} goes with {ANNOTATION_WORK}")
    return driver, lower, upper, work


def pairs(root: str, annotations: dict, userns: bool) -> list[tuple[str, object]]:
    """The plan keys with which the container process (native/rl_boot.c) mounts the rootfs on
    `root` as the annotations ask; StorageError for annotations no driver can use."""
    driver, lower, upper, work = _checked(annotations)
    out: list[tuple[str, object]] = [("root", root), ("driver", driver)]
    if driver == "vfs":
        return out
    from rootless.frozen import EXTRA_PATH, bundle_dir

    out += [("overlay", overlay_options(lower, upper, work, userns)),
            ("fuse", overlay_options(lower, upper, work, False)),
            ("fusepath", f"{os.environ.get('PATH', '')}:{EXTRA_PATH}")]
    bundled = bundle_dir()
    if bundled:
        out.append(("fusedir", bundled))
    return out


def mount(root: str, annotations: dict, userns: bool) -> str:
    """Mount the rootfs on `root` from this process (already in the container's user and mount
    namespaces: `rl cp` into a stopped container); returns the driver actually used. The same
    drivers and fallback as the container process."""
    from rootless.runtime import syscalls as sc

    driver, lower, upper, work = _checked(annotations)
    if driver == "vfs":
        return "vfs"
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
    """Mount with fuse-overlayfs (it daemonises)."""
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
