"""`rl cp`: files between a container and the host, both ways, or as tar streams (`-`).

Container paths are resolved only from inside the container's root, never from the host side: a
helper process gets the container's root as its "/" (running: it joins the user and mount
namespaces of the container's first process, which puts its root at the container's root;
stopped: in the container's id mapping and a new mount namespace it mounts the rootfs as the
runtime does and chroots into it). Symlinks in the container, absolute or with `..`, therefore
resolve inside it. A container path that climbs above "/" with `..` is refused.

Data crosses between the helper and the CLI as a tar file under Paths.tmp. The host side extracts
with every name checked (relative, no `..`) and every parent directory checked to resolve inside
the destination (no writing through a symlink); the helper extracts the same way in the container.
Docker's rules: a directory is copied as itself into an existing directory, or becomes a new
one; `SRC/.` copies the contents; files copied into the container are owned by its root.
"""

from __future__ import annotations

import os
import pickle
import posixpath
import shutil
import sys
import tarfile

from rootless.errors import RlError, UsageError


def split_arg(arg: str) -> tuple[str | None, str]:
    """docker's splitCpArg: ("container", "path") or (None, "local path")."""
    if arg == "-" or arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    container, _, path = arg.partition(":")
    return container, path


def container_path(path: str) -> str:
    """The absolute path in the container (relative to its /); refuses `..` above the root."""
    depth = 0
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise RlError(f"cp: the path {path!r} escapes the container's root filesystem",
                              "container paths are relative to the container's /")
        elif part not in ("", "."):
            depth += 1
    absolute = posixpath.normpath("/" + path.lstrip("/"))
    return absolute.rstrip("/") + "/." if path.endswith("/.") else absolute


# ------------------------------------------------------------------------------------------------
# entering the container's root
def in_container_root(paths, record: dict, fn):
    """fn() run with "/" = the container's root filesystem, as its root user; returns its result."""
    from rootless.engine.lifecycle import truth

    state = record.get("State") or {}
    if truth.is_running(state) and state.get("Pid"):
        return _in_running(state["Pid"], fn)
    return _in_stopped(paths, record, fn)


def _in_running(pid: int, fn):
    from rootless.runtime import syscalls as sc

    fds = []
    for name, flag in (("user", sc.CLONE_NEWUSER), ("mnt", sc.CLONE_NEWNS)):
        if os.stat(f"/proc/{pid}/ns/{name}").st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
            fds.append((os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag))

    def enter():
        for fd, flag in fds:
            sc.setns(fd, flag)
        if not fds:  # as real root with --pid/mnt of the host: chroot into the process's root
            os.chroot(f"/proc/{pid}/root")
        os.chdir("/")
        return fn()
    try:
        return _forked(enter)
    finally:
        for fd, _ in fds:
            os.close(fd)


def _in_stopped(paths, record: dict, fn):

    from rootless.runtime import idmap
    from rootless.runtime import rootfs as rootfs_mod
    from rootless.runtime import syscalls as sc
    from rootless.runtime.userns import run_in_userns

    from rootless.engine.containers import bundle_config

    config = bundle_config(paths, record)
    mapping = idmap.choose(record.get("HostConfig", {}).get("UsernsMode", ""))
    annotations = config.get("annotations") or {}
    root = config["root"]["path"]

    def work():
        driver = rootfs_mod.mount(root, annotations, mapping.mode != "root")
        try:
            os.chdir(root)
            return _forked(lambda: (os.chroot("."), os.chdir("/"), fn())[2])
        finally:
            os.chdir("/")
            if driver != "vfs":
                sc.umount2(root, sc.MNT_DETACH)  # a fuse-overlayfs daemon ends with its mount
    return run_in_userns(mapping, work)


def _forked(fn):
    """fn() in a forked child; its result or RlError comes back pickled."""
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            try:
                payload = pickle.dumps((True, fn()))
            except RlError as e:
                payload = pickle.dumps((False, e.message, e.hint))
            except BaseException as e:  # noqa: BLE001 - reported in the parent
                payload = pickle.dumps((False, f"cp: {e}", None))
            os.write(wfd, payload)
        finally:
            os._exit(0)
    os.close(wfd)
    chunks = []
    while chunk := os.read(rfd, 65536):
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    if not chunks:
        raise RlError("cp: the helper in the container ended without a result")
    result = pickle.loads(b"".join(chunks))
    if not result[0]:
        raise RlError(result[1], result[2])
    return result[1]


# ------------------------------------------------------------------------------------------------
# tar on both sides
def write_tar(src: str, fd: int, where: str = "") -> str:
    """Tar `src` (a "/." suffix: its contents) to `fd`; returns "dir" or "file". Links not followed."""
    contents = src.endswith("/.")
    path = src[:-2] or "/" if contents else src
    try:
        os.lstat(path)
    except FileNotFoundError:
        raise RlError(f"Could not find the file {path} in {where}") from None
    kind = "dir" if os.path.isdir(path) and not os.path.islink(path) else "file"
    with os.fdopen(os.dup(fd), "wb") as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        if contents and kind == "dir":
            for name in sorted(os.listdir(path)):
                tf.add(os.path.join(path, name), arcname=name)
        else:
            tf.add(path, arcname=os.path.basename(path.rstrip("/")) or ".")
    return kind


def safe_extract(tf: tarfile.TarFile, base: str, rename: tuple[str, str] | None = None,
                 owner: tuple[int, int] | None = None) -> None:
    """Extract into `base`: names relative without `..`, every parent resolving inside `base`,
    existing symlinks replaced (never written through); `rename` maps the first name component."""
    real_base = os.path.realpath(base)
    for member in tf:
        parts = [p for p in member.name.split("/") if p not in ("", ".")]
        if member.name.startswith("/") or ".." in parts:
            raise RlError(f"cp: refusing the archive entry {member.name!r} (outside the destination)")
        if rename and parts and parts[0] == rename[0]:
            parts[0] = rename[1]
        if not parts:
            continue
        target = os.path.join(base, *parts)
        parent = os.path.realpath(os.path.dirname(target))
        if parent != real_base and not parent.startswith(real_base.rstrip("/") + "/"):
            raise RlError(f"cp: refusing to write {'/'.join(parts)!r} through a symlink out of the destination")
        if member.islnk():
            link = [p for p in member.linkname.split("/") if p not in ("", ".")]
            if member.linkname.startswith("/") or ".." in link:
                raise RlError(f"cp: refusing the hard link {member.name!r} -> {member.linkname!r}")
            if rename and link and link[0] == rename[0]:
                link[0] = rename[1]
            member.linkname = os.path.join(base, *link)
        if os.path.islink(target) or (os.path.lexists(target) and not member.isdir() and not os.path.isdir(target)):
            os.unlink(target)
        if owner is not None:
            member.uid, member.gid = owner
        member.name = os.path.relpath(target, base)
        tf.extract(member, base, set_attrs=True, numeric_owner=True)


def _plan(dest: str, src_name: str, kind: str, contents: bool) -> tuple[str, tuple[str, str] | None]:
    """docker's copy rules: (directory to extract into, rename of the top entry)."""
    if os.path.isdir(dest):
        return dest, None
    if dest.endswith("/") and kind == "file":
        raise RlError(f"destination directory {dest!r} does not exist")
    if os.path.lexists(dest) and kind == "dir":
        raise RlError(f"cannot copy a directory to a file: {dest}")
    parent = os.path.dirname(dest.rstrip("/")) or "/"
    if not os.path.isdir(parent):
        raise RlError(f"no such directory: {parent}")
    name = os.path.basename(dest.rstrip("/"))
    if contents:
        os.mkdir(dest)
        return dest, None
    return parent, (src_name, name)


# ------------------------------------------------------------------------------------------------
# the two directions
def _tmp_tar(paths) -> tuple[int, str]:
    paths.tmp.mkdir(parents=True, exist_ok=True)
    name = str(paths.tmp / f"cp-{os.getpid()}-{os.urandom(4).hex()}.tar")
    return os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), name


def copy_from(paths, record: dict, src: str, dest: str, name: str = "") -> None:
    """CONTAINER:SRC -> host DEST (or "-": the tar to stdout)."""
    csrc = container_path(src)
    fd, tmp = _tmp_tar(paths)
    try:
        kind = in_container_root(paths, record, lambda: write_tar(csrc, fd, f"container {name or record['Id']}"))
        if dest == "-":
            sys.stdout.flush()
            with open(tmp, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        contents = csrc.endswith("/.")
        base, rename = _plan(dest, posixpath.basename(csrc), kind, contents)
        with tarfile.open(tmp) as tf:
            safe_extract(tf, base, rename)
    finally:
        os.close(fd)
        os.unlink(tmp)


def copy_to(paths, record: dict, src: str, dest: str) -> None:
    """host SRC (or "-": a tar from stdin) -> CONTAINER:DEST."""
    cdest = container_path(dest)
    fd, tmp = _tmp_tar(paths)
    try:
        if src == "-":
            with os.fdopen(os.dup(fd), "wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out)
            kind = None
        else:
            if not os.path.lexists(src.removesuffix("/.") or "/"):
                raise UsageError(f"lstat {os.path.abspath(src)}: no such file or directory")
            kind = write_tar(src, fd)
        name = os.path.basename(src.removesuffix("/.").rstrip("/"))
        contents = src.endswith("/.")

        def extract() -> None:
            os.lseek(fd, 0, os.SEEK_SET)
            with os.fdopen(os.dup(fd), "rb") as f, tarfile.open(fileobj=f) as tf:
                if kind is None:
                    if not os.path.isdir(cdest):
                        raise RlError(f"Error: destination {cdest!r} must be a directory")
                    safe_extract(tf, cdest)
                else:
                    base, rename = _plan(cdest.removesuffix("/."), name, kind, contents)
                    safe_extract(tf, base, rename, owner=(0, 0))
        in_container_root(paths, record, extract)
    finally:
        os.close(fd)
        os.unlink(tmp)
