"""`rl diff`: what a container changed, read from its overlay upper dir (docker's A / C / D lines).

The walk runs in a child in the container's id mapping (owners and modes compare as the container
sees them). Rules, as docker's overlay driver reports them:
  - a whiteout (0/0 character device) in the upper dir            -> D /path
  - an entry with no counterpart in the image's layers            -> A /path (and all below it)
  - a file that replaces one of the image's                       -> C /path
  - a directory of the image copied up                            -> C /path when something below
    it is reported, when it is opaque, or when its mode or owner changed (a mere copy-up is not)
Mount points the runtime had to create (an empty file or directory at a mount destination of the
bundle, absent from the image: /etc/hosts, /etc/resolv.conf, volume targets...) are no change,
as docker keeps them in its init layer; `rl commit` leaves them out of the new layer too.
"""

from __future__ import annotations

import os
import stat

from rootless.errors import StorageError

OPAQUE_XATTRS = ("user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque")


class Layout:
    """A container's upper dir, lower dirs (top-most first) and mount destinations."""

    def __init__(self, paths, record: dict) -> None:
        from rootless.engine.containers import bundle_config

        config = bundle_config(paths, record)
        annotations = config.get("annotations") or {}
        if annotations.get("rl.rootfs.driver", "vfs") == "vfs":
            raise StorageError("not supported for containers on the vfs storage driver (no upper dir)",
                               "use the overlay or fuse-overlayfs driver")
        self.upper = annotations["rl.rootfs.upperdir"]
        self.lowers = annotations["rl.rootfs.lowerdir"].split(":")
        self.mount_points = {m["destination"].strip("/") for m in config.get("mounts") or []
                             if m.get("destination")}

    def lower_stat(self, rel: str) -> os.stat_result | None:
        """The image's entry at `rel` (top-most layer that has one), None when absent/whited out."""
        for lower in self.lowers:
            try:
                st = os.lstat(os.path.join(lower, rel))
            except OSError:
                continue
            return None if is_whiteout(st) else st
        return None

    def runtime_mount_point(self, rel: str, path: str, st: os.stat_result) -> bool:
        if rel not in self.mount_points or self.lower_stat(rel) is not None:
            return False
        if stat.S_ISREG(st.st_mode):
            return st.st_size == 0
        return stat.S_ISDIR(st.st_mode) and not os.listdir(path)


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    for attr in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def changes(paths, record: dict) -> list[tuple[str, str]]:
    """[(kind, "/path")] for the container `record`, kind A, C or D."""
    from rootless.runtime import idmap
    from rootless.runtime.userns import run_in_userns

    layout = Layout(paths, record)
    mapping = idmap.choose(record.get("HostConfig", {}).get("UsernsMode", ""))
    return run_in_userns(mapping, lambda: walk(layout))


def walk(layout: Layout) -> list[tuple[str, str]]:
    out: list = []
    _walk(layout, "", out)
    return [entry for entry in out if entry is not None]


def _walk(layout: Layout, rel_dir: str, out: list, added: bool = False) -> None:
    base = os.path.join(layout.upper, rel_dir)
    for name in sorted(os.listdir(base)):
        rel = f"{rel_dir}/{name}" if rel_dir else name
        path = os.path.join(base, name)
        st = os.lstat(path)
        if is_whiteout(st):
            out.append(("D", "/" + rel))
            continue
        if layout.runtime_mount_point(rel, path, st):
            continue
        lower = None if added else layout.lower_stat(rel)
        if not stat.S_ISDIR(st.st_mode):
            out.append(("A" if lower is None else "C", "/" + rel))
            continue
        index = len(out)
        out.append(None)
        _walk(layout, rel, out, added=lower is None)
        if lower is None:
            out[index] = ("A", "/" + rel)
        elif (any(e is not None for e in out[index + 1:]) or is_opaque(path)
              or (st.st_mode, st.st_uid, st.st_gid) != (lower.st_mode, lower.st_uid, lower.st_gid)):
            out[index] = ("C", "/" + rel)


def skipped_mount_points(layout: Layout) -> set[str]:
    """Relative paths of the runtime-made mount points in the upper dir (call in the mapping)."""
    skip = set()
    for rel in layout.mount_points:
        path = os.path.join(layout.upper, rel)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if layout.runtime_mount_point(rel, path, st):
            skip.add(rel)
    return skip
