"""A container's root filesystem on disk, per driver, and the removal of a container's files.

overlay / fuse-overlayfs: nothing is mounted here. The engine creates `upper/`, `work/` and the
empty mount point `rootfs/` in the container's directory and hands the runtime the
rl.rootfs.* annotations (lower dirs top-most first, as overlayfs wants); the runtime mounts inside
the container's user+mount namespace (userxattr) and falls back to fuse-overlayfs itself.

vfs: the layers are flattened into `rootfs/` once, inside the store's user namespace so owners
match what containers see; overlay whiteouts (0/0 character devices) delete, an opaque directory
(xattr user.overlay.opaque or trusted.overlay.opaque = "y") hides what lower layers put in it.

Removal: the upper dir (or vfs copy) holds files owned by subordinate ids that the user cannot
delete; `remove_tree` retries inside the user namespace, where those ids are ours.
"""

from __future__ import annotations

import os
import stat

from rootless.errors import StorageError
from rootless.paths import Path  # pathlib.Path, loaded on first use (start-up)

OPAQUE_XATTRS = ("user.overlay.opaque", "trusted.overlay.opaque")


def prepare(container_dir, driver: str, layer_dirs: list, mapping) -> tuple[str, dict]:
    """Create the container's rootfs for `driver`; returns (root.path, rl.rootfs.* annotations).
    Paths as strings or path objects (strings on the run path: no pathlib)."""
    container_dir = os.fspath(container_dir)
    rootfs = os.path.join(container_dir, "rootfs")
    if driver == "vfs":
        if not os.path.exists(rootfs):
            _flatten_in_userns([Path(d) for d in layer_dirs], Path(rootfs), mapping)
        return rootfs, {"rl.rootfs.driver": "vfs"}
    for name in ("rootfs", "upper", "work"):
        try:
            os.mkdir(os.path.join(container_dir, name), 0o755)
        except FileExistsError:
            pass
    if not layer_dirs:
        raise StorageError("the image has no layers to mount")
    return rootfs, {
        "rl.rootfs.driver": driver,
        "rl.rootfs.lowerdir": ":".join(os.fspath(d) for d in reversed(layer_dirs)),
        "rl.rootfs.upperdir": os.path.join(container_dir, "upper"),
        "rl.rootfs.workdir": os.path.join(container_dir, "work"),
    }


def _flatten_in_userns(layer_dirs: list[Path], dest: Path, mapping) -> None:
    from rootless.runtime.userns import run_in_userns

    tmp = dest.with_name("rootfs.tmp")
    remove_tree(tmp, mapping)

    def work() -> None:
        tmp.mkdir(mode=0o755)
        for layer in layer_dirs:
            flatten_layer(layer, tmp)

    run_in_userns(mapping, work)
    os.rename(tmp, dest)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        _shutil().rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _copy_meta(src: str, dst: str, st: os.stat_result) -> None:
    os.lchown(dst, st.st_uid, st.st_gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def flatten_layer(layer: Path, dest: Path) -> None:
    """Apply one unpacked layer (overlay format) on top of `dest`."""
    dirs_meta = []
    for root, dirnames, filenames in os.walk(layer):
        rel = os.path.relpath(root, layer)
        target_root = dest if rel == "." else dest / rel
        for name in dirnames + filenames:
            src, dst = os.path.join(root, name), os.path.join(target_root, name)
            st = os.lstat(src)
            if _is_whiteout(st):
                _remove(dst)
            elif stat.S_ISDIR(st.st_mode):
                if os.path.lexists(dst) and (not os.path.isdir(dst) or os.path.islink(dst)):
                    _remove(dst)
                elif os.path.isdir(dst) and _is_opaque(src):
                    _shutil().rmtree(dst)
                os.makedirs(dst, exist_ok=True)
                dirs_meta.append((src, dst, st))
            else:
                _remove(dst)
                _copy_entry(src, dst, st)
    for src, dst, st in reversed(dirs_meta):  # after their contents: keep mtimes, allow 0555 dirs
        _copy_meta(src, dst, st)


def _copy_entry(src: str, dst: str, st: os.stat_result) -> None:
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        _shutil().copyfile(src, dst, follow_symlinks=False)
    else:
        try:
            os.mknod(dst, st.st_mode, st.st_rdev)
        except OSError:
            return  # a device node we may not make: the runtime binds the usual ones
    _copy_meta(src, dst, st)


def remove_tree(path: Path, mapping) -> None:
    """rm -rf `path`, entering the user namespace for what the user alone cannot delete."""
    if not os.path.lexists(path):
        return
    try:
        _rmtree_forcing(path)
        return
    except OSError:
        pass
    from rootless.runtime.userns import run_in_userns

    run_in_userns(mapping, lambda: _rmtree_forcing(path))
    if os.path.lexists(path):
        raise StorageError(f"cannot remove {path}", "remove it as root, or run `rl system reset`")


def _rmtree_forcing(path: Path) -> None:
    """rmtree that first makes directories writable/searchable (overlay leaves work/work 000)."""
    def onerror(func, failed, exc_info):
        parent = os.path.dirname(failed)
        os.chmod(parent, 0o700)
        if os.path.isdir(failed) and not os.path.islink(failed):
            os.chmod(failed, 0o700)
            _shutil().rmtree(failed)
        else:
            func(failed)
    if os.path.isdir(path) and not os.path.islink(path):
        _shutil().rmtree(path, onerror=onerror)
    else:
        os.unlink(path)


def _shutil():
    import shutil  # here: it loads bz2 and lzma, ~3 ms of `rl run`'s start-up

    return shutil
