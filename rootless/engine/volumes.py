"""Data volumes: `-v` specs (pure parsing, docker's rules and messages) and the named-volume store.

    parse("/srv/data:/data:ro") -> VolumeSpec(kind="bind", source="/srv/data", destination="/data", read_only=True)
    parse("cache:/var/cache")   -> VolumeSpec(kind="volume", source="cache", ...)
    parse("/var/lib/x")         -> VolumeSpec(kind="volume", source="", ...)    an anonymous volume

A named volume lives in `Paths.volume(name)`: `_data/` (what the container sees) and
`volume.json` (CreatedAt, Labels). It is created on first use; an empty one is filled from the
image's content at the mount point (docker's copy-up) by the caller. Every change runs under the
volumes lock. A volume is "in use" while a container's config.json bind-mounts its `_data`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from pathlib import Path

from rootless.errors import Conflict, RlError, UsageError, VolumeNotFound

NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
PROPAGATION = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
MODES = {"ro", "rw", "z", "Z", "nocopy", *PROPAGATION}
DATA = "_data"
META = "volume.json"


class VolumeSpec:
    """One parsed `-v` or `--mount` (type bind or volume): kind "bind" (source: absolute host path)
    or "volume" (source: a name, "" for an anonymous volume). `propagation` and `recursive` shape
    the bind; `mount_flag`: from --mount (a missing bind source is an error there, not created,
    and docker lists it in HostConfig.Mounts, not Binds); `labels`: a new volume's labels."""

    __slots__ = ("kind", "source", "destination", "read_only", "copy", "host_path", "inherited",
                 "propagation", "recursive", "mount_flag", "labels")

    def __init__(self, kind: str, source: str, destination: str, read_only: bool = False, copy: bool = True,
                 host_path: str = "", *, propagation: str = "rprivate", recursive: bool = True,
                 mount_flag: bool = False, labels: dict | None = None) -> None:
        self.kind, self.source, self.destination, self.read_only, self.copy = kind, source, destination, read_only, copy
        self.host_path = host_path  # set by resolve(): the directory or file mounted
        self.inherited = False      # from --volumes-from (not one of this container's Binds)
        self.propagation, self.recursive, self.mount_flag = propagation, recursive, mount_flag
        self.labels = labels or {}

    def resolved(self, host_path: str) -> "VolumeSpec":
        """A copy with the host directory or file it mounts."""
        out = VolumeSpec(self.kind, self.source, self.destination, self.read_only, self.copy, host_path,
                         propagation=self.propagation, recursive=self.recursive, mount_flag=self.mount_flag,
                         labels=self.labels)
        out.inherited = self.inherited
        return out

    def oci_mount(self) -> dict:
        """The config.json bind mount (a named volume: its _data dir once resolved)."""
        options = ["rbind" if self.recursive else "bind", self.propagation] + (["ro"] if self.read_only else [])
        return {"destination": self.destination, "type": "bind", "source": self.host_path or self.source,
                "options": options}

    def bind_text(self) -> str:
        """HostConfig.Binds' entry, as docker records it."""
        return f"{self.source}:{self.destination}" + (":ro" if self.read_only else "")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VolumeSpec) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def is_bind_entry(self) -> bool:
        """Whether docker lists it in HostConfig.Binds (a -v with a source, not --volumes-from)."""
        return bool(self.source) and not self.inherited and not self.mount_flag

    def __repr__(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)!r}" for k, default in
                        (("propagation", "rprivate"), ("recursive", True), ("mount_flag", False), ("copy", True))
                        if getattr(self, k) != default)
        return f"VolumeSpec({self.kind!r}, {self.source!r}, {self.destination!r}, ro={self.read_only}{extra})"


def parse(text: str) -> VolumeSpec:
    """docker's `-v [SOURCE:]DEST[:MODE]` (Linux rules); UsageError with docker's messages."""
    parts = text.split(":")
    if not text or not 1 <= len(parts) <= 3 or any(p == "" for p in parts):
        raise UsageError(f"invalid volume specification: '{text}'")
    if len(parts) == 1:
        source, dest, mode = "", parts[0], ""
    elif len(parts) == 2 and parts[1].startswith("/") or len(parts) == 3:
        source, dest, mode = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
    else:  # "DEST:MODE"
        source, dest, mode = "", parts[0], parts[1]
    if not dest.startswith("/"):
        raise UsageError(f"invalid volume specification: '{text}': invalid mount config for type "
                         f"\"{'bind' if source.startswith('/') else 'volume'}\": invalid mount path: "
                         f"'{dest}' mount path must be absolute")
    if os.path.normpath(dest) == "/":
        raise UsageError(f"invalid volume specification: '{text}': invalid mount config: destination can't be '/'")
    modes = [m for m in mode.split(",") if m] if mode else []
    bad = [m for m in modes if m not in MODES]
    if bad or ("ro" in modes and "rw" in modes):
        raise UsageError(f"invalid mode: {mode}")
    read_only = "ro" in modes  # z/Z (SELinux relabelling) accepted and ignored, as podman without SELinux
    dest = os.path.normpath(dest)
    propagation = [m for m in modes if m in PROPAGATION]
    if len(propagation) > 1:
        raise UsageError(f"invalid mode: {mode}")
    if source.startswith("/"):
        return VolumeSpec("bind", os.path.normpath(source), dest, read_only,
                          propagation=propagation[0] if propagation else "rprivate")
    if source and not NAME.match(source):
        raise UsageError(f'create {source}: "{source}" includes invalid characters for a local volume name, '
                         f'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                         "directory, use absolute path")
    return VolumeSpec("volume", source, dest, read_only, copy="nocopy" not in modes)


def check_destinations(specs: list[VolumeSpec], tmpfs=()) -> None:
    """docker's "Duplicate mount point" over -v, --mount and --tmpfs ("/path[:options]")."""
    seen = set()
    for dest in [spec.destination for spec in specs] + [os.path.normpath(t.partition(":")[0]) for t in tmpfs]:
        if dest in seen:
            raise UsageError(f"Duplicate mount point: {dest}")
        seen.add(dest)


def from_flags(volume_values, mount_values, tmpfs_values) -> tuple[tuple, tuple]:
    """`-v`, `--mount` and `--tmpfs` of run/create -> (VolumeSpecs, --tmpfs strings): a --mount of
    type tmpfs joins the --tmpfs list ("/path:size=64m,mode=1770"), the others the -v specs."""
    from rootless.engine.mount_flag import parse_mount

    specs = [parse(v) for v in volume_values]
    tmpfs = list(tmpfs_values)
    for value in mount_values:
        mount = parse_mount(value)
        (tmpfs if isinstance(mount, str) else specs).append(mount)
    check_destinations(specs, tmpfs)
    return tuple(specs), tuple(tmpfs)


def resolve(paths, opts, layer_dirs):
    """The run options with every -v resolved: bind sources created when missing (docker makes a
    directory), named and anonymous volumes created on first use and, when new, filled from the
    image's content at the mount point (docker's copy-up)."""
    from rootless import plainclass

    store = VolumeStore(paths)
    resolved = []
    for spec in opts.volumes:
        if spec.kind == "bind":
            if not os.path.lexists(spec.source):
                if spec.mount_flag:  # --mount never creates it (docker's daemon refuses)
                    raise UsageError(f'invalid mount config for type "bind": bind source path does not exist: {spec.source}')
                os.makedirs(spec.source, exist_ok=True)
            host = spec.source
        else:
            name, created = store.create(spec.source or None, spec.labels)
            host = str(store.data_dir(name))
            if created and spec.copy:
                copy_up(layer_dirs, spec.destination, Path(host))
        resolved.append(spec.resolved(host))
    resolved += from_containers(paths, opts.volumes_from, {v.destination for v in resolved})
    return plainclass.replace(opts, volumes=tuple(resolved))


def from_containers(paths, refs, taken: set[str]) -> list[VolumeSpec]:
    """--volumes-from CONTAINER[:ro|rw]: the bind mounts and volumes of those containers, at the
    same places (read-only with :ro, else as they are there); a path -v already mounts is kept."""
    from rootless.engine.container_store import ContainerStore
    from rootless.engine.inspect import mounts, read_config

    store = ContainerStore(paths)
    out = []
    for ref in refs:
        name, _, mode = ref.partition(":")
        if mode not in ("", "ro", "rw"):
            raise UsageError(f"invalid mode: {mode}")
        record = store.resolve(name)
        config = read_config(paths.container(record["Id"]))
        for m in mounts(record, config, str(paths.volumes)):
            if m["Destination"] in taken:
                continue
            taken.add(m["Destination"])
            read_only = mode == "ro" or (mode == "" and not m["RW"])
            kind = "volume" if m["Type"] == "volume" else "bind"
            spec = VolumeSpec(kind, m.get("Name", m["Source"]), m["Destination"], read_only, host_path=m["Source"])
            spec.inherited = True
            out.append(spec)
    return out


def _whiteout(path: str, st: os.stat_result) -> bool:
    return (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0


def copy_up(layer_dirs, destination: str, target: Path) -> None:
    """Copy what the image holds under `destination` into the empty volume `target`: layers bottom
    first, upper ones replacing, whiteouts (".wh.x" or a 0/0 char device) deleting. Owners become
    the user's (container root); files the user cannot read are left out."""
    import shutil

    rel = destination.strip("/")
    for layer in layer_dirs:
        top = os.path.join(layer, rel)
        if not os.path.isdir(top) or os.path.islink(top):
            continue
        for root, dirs, files in os.walk(top, onerror=lambda _: None):
            out_dir = target / os.path.relpath(root, top)
            out_dir.mkdir(parents=True, exist_ok=True)
            for name in dirs + files:
                src, dst = os.path.join(root, name), out_dir / name
                try:
                    st = os.lstat(src)
                    if name.startswith(".wh.") or _whiteout(src, st):
                        gone = out_dir / name.removeprefix(".wh.")
                        if gone.is_dir() and not gone.is_symlink():
                            shutil.rmtree(gone, ignore_errors=True)
                        elif os.path.lexists(gone):
                            gone.unlink()
                        continue
                    if name in dirs and not os.path.islink(src):
                        dst.mkdir(exist_ok=True)
                        os.chmod(dst, st.st_mode & 0o7777)
                    elif (st.st_mode & 0o170000) in (0o100000, 0o120000):
                        if os.path.lexists(dst) and not dst.is_dir():
                            dst.unlink()
                        shutil.copy2(src, dst, follow_symlinks=False)
                except OSError:
                    continue


class VolumeStore:
    """The named volumes of one store root."""

    def __init__(self, paths) -> None:
        self.paths = paths

    @contextlib.contextmanager
    def lock(self):
        self.paths.locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.paths.locks / "volumes.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def data_dir(self, name: str) -> Path:
        return self.paths.volume(name) / DATA

    def exists(self, name: str) -> bool:
        return (self.paths.volume(name) / META).exists()

    def names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.paths.volumes) if self.exists(n))
        except FileNotFoundError:
            return []

    def create(self, name: str | None = None, labels: dict | None = None) -> tuple[str, bool]:
        """Create `name` (a random 64-hex name when None) unless it exists; (name, created)."""
        from rootless.engine.container_store import now_rfc3339

        name = name or os.urandom(32).hex()
        if not NAME.match(name):
            raise UsageError(f'create {name}: "{name}" includes invalid characters for a local volume name, '
                             'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed')
        with self.lock():
            if self.exists(name):
                return name, False
            directory = self.paths.volume(name)
            (directory / DATA).mkdir(parents=True, exist_ok=True)
            meta = {"CreatedAt": now_rfc3339()[:19] + "Z", "Labels": labels or {}, "Anonymous": False}
            tmp = directory / f".{META}.tmp"
            tmp.write_text(json.dumps(meta))
            os.replace(tmp, directory / META)
        return name, True

    def inspect(self, name: str) -> dict:
        try:
            meta = json.loads((self.paths.volume(name) / META).read_text())
        except FileNotFoundError:
            raise VolumeNotFound(f"get {name}: no such volume") from None
        except (OSError, ValueError) as e:
            raise RlError(f"cannot read volume {name}: {e}") from None
        return {"CreatedAt": meta.get("CreatedAt", ""), "Driver": "local", "Labels": meta.get("Labels") or {},
                "Mountpoint": str(self.data_dir(name)), "Name": name, "Options": {}, "Scope": "local"}

    def users(self, name: str) -> list[str]:
        """Ids of the containers whose config.json mounts the volume."""
        data = str(self.data_dir(name))
        out = []
        try:
            ids = os.listdir(self.paths.containers)
        except FileNotFoundError:
            return []
        for cid in ids:
            try:
                with open(self.paths.container(cid) / "config.json", encoding="utf-8") as f:
                    mounts = json.load(f).get("mounts") or []
            except (OSError, ValueError):
                continue
            if any(m.get("source") == data for m in mounts):
                out.append(cid)
        return out

    def remove(self, name: str, force: bool = False) -> None:
        if not self.exists(name):
            if force:
                return
            raise VolumeNotFound(f"get {name}: no such volume")
        users = self.users(name)
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]",
                           "remove the containers first (rl rm)")
        self._delete(name)

    def _delete(self, name: str) -> None:
        directory = self.paths.volume(name)
        with self.lock():
            os.unlink(directory / META)
        delete_tree(self.paths, directory)

    def prune(self) -> tuple[list[str], int]:
        """Remove every volume no container uses; (names, bytes reclaimed)."""
        from rootless.engine.inspect import tree_size

        removed, total = [], 0
        for name in self.names():
            if not self.users(name):
                total += tree_size(self.data_dir(name))
                self._delete(name)
                removed.append(name)
        return removed, total


def remove_anonymous(paths, record: dict) -> list[str]:
    """`rl rm -v`: the removed container's anonymous volumes, unless another container uses one."""
    store = VolumeStore(paths)
    removed = []
    for name in (record.get("Rl") or {}).get("AnonymousVolumes") or ():
        if store.exists(name) and not store.users(name):
            store._delete(name)
            removed.append(name)
    return removed


def delete_tree(paths, directory: Path) -> None:
    """Delete a volume's directory; files a container wrote as other (subordinate) ids are removed
    inside the user namespace."""
    import shutil

    try:
        shutil.rmtree(directory)
        return
    except FileNotFoundError:
        return
    except PermissionError:
        pass
    from rootless.engine.image.layerstore import remove_trees
    from rootless.runtime import idmap

    remove_trees(idmap.choose(), [directory])
