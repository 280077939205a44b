"""User-namespace id mappings: which host ids a container's ids stand for, and writing them.

Owns the parsing of /etc/subuid and /etc/subgid, the choice of a mapping for the invoking user
(DESIGN.md "Identity without root") and applying it to a freshly cloned child:

  mode "root"    real root: no user namespace is needed; when one is still wanted the identity
                 map 0..4294967294 is written directly (root may write any map).
  mode "subuid"  the user has ranges in both files and usable newuidmap/newgidmap: container 0 is
                 the user, 1..N the ranges (as podman). Written by the setuid helpers (~3.5 ms).
  mode "single"  otherwise: container 0 is the user and nothing else (as `unshare -r`). Written
                 directly, after "deny" to /proc/PID/setgroups, which user_namespaces(7) requires
                 of an unprivileged writer of gid_map (~0.1 ms: the hot path).

`--userns` values (`choose(userns=...)`):
  ""        the default above.
  "host"    no user namespace: mode "root"; only possible as real root.
  "keep-id" the user's uid/gid keep their number inside; 0..uid-1 and uid+1.. come from the
            subordinate ranges (podman's keep-id). Needs ranges and the helpers; mode "subuid".
  "auto"    for now the same as the default. (podman's auto picks a fresh sub-range per container
            from a pool; rl has no such pool yet.)

The pure parts (parse_subids, ranges_for, layout_default, layout_keep_id) are unit-tested
without a kernel; apply() needs a child that has unshared CLONE_NEWUSER.
"""

from __future__ import annotations

import os
import stat
from rootless.plainclass import dataclass, field

from rootless.errors import IdMappingError

#: ids are 32-bit; (uid_t)-1 is "no id", so a full identity map is 0..4294967294
ID_LIMIT = 1 << 32
FULL_SIZE = ID_LIMIT - 1
USERNS_MODES = ("", "host", "keep-id", "auto")
_HELPER_DIRS = ("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin")


class SubidFormatError(IdMappingError):
    """A line of /etc/subuid or /etc/subgid that does not parse."""


@dataclass(frozen=True)
class IdMap:
    """One line of /proc/PID/uid_map (OCI: one linux.uidMappings entry)."""

    container_id: int
    host_id: int
    size: int

    def line(self) -> str:
        return f"{self.container_id} {self.host_id} {self.size}\n"

    def to_oci(self) -> dict:
        return {"containerID": self.container_id, "hostID": self.host_id, "size": self.size}


@dataclass(frozen=True)
class SubidRange:
    """One line of /etc/subuid or /etc/subgid: `owner:start:count` (owner is a name or a uid)."""

    owner: str
    start: int
    count: int

    def line(self) -> str:
        return f"{self.owner}:{self.start}:{self.count}\n"


@dataclass(frozen=True)
class IdMapping:
    mode: str                      # "root", "subuid" or "single" (see the module docstring)
    uid_maps: tuple[IdMap, ...]
    gid_maps: tuple[IdMap, ...]
    userns: str = ""               # the --userns value it was chosen for ("keep-id", ...)
    note: str = field(default="", compare=False)  # why this mode (for `rl info`)

    def to_oci(self) -> dict:
        return {"uidMappings": [m.to_oci() for m in self.uid_maps],
                "gidMappings": [m.to_oci() for m in self.gid_maps]}

    def host_uid(self, container_uid: int) -> int | None:
        """The host uid container_uid stands for, None when unmapped."""
        return _translate(self.uid_maps, container_uid)

    def host_gid(self, container_gid: int) -> int | None:
        return _translate(self.gid_maps, container_gid)

    @classmethod
    def from_oci(cls, linux: dict, *, euid: int | None = None,
                 egid: int | None = None) -> IdMapping:
        """The mapping config.json's linux.uidMappings/gidMappings describe, with the mode that
        can write it as this user (euid/egid): "root", "single" (only our own ids) or "subuid"."""
        uids, gids = (tuple(IdMap(m["containerID"], m["hostID"], m["size"])
                            for m in linux.get(key) or ())
                      for key in ("uidMappings", "gidMappings"))
        if not uids or not gids:
            raise IdMappingError("a user namespace needs linux.uidMappings and linux.gidMappings")
        euid = os.geteuid() if euid is None else euid
        egid = os.getegid() if egid is None else egid
        if euid == 0:
            mode = "root"
        elif _only(uids, euid) and _only(gids, egid):  # any container id, our own host id
            mode = "single"
        else:
            mode = "subuid"
        return cls(mode, uids, gids)

    @property
    def size(self) -> int:
        """How many uids exist inside (65537 for a default 65536 range, 1 for "single")."""
        return sum(m.size for m in self.uid_maps)


def _only(maps: tuple[IdMap, ...], own: int) -> bool:
    return len(maps) == 1 and maps[0].size == 1 and maps[0].host_id == own


def _translate(maps: tuple[IdMap, ...], cid: int) -> int | None:
    for m in maps:
        if m.container_id <= cid < m.container_id + m.size:
            return m.host_id + cid - m.container_id
    return None


# --- /etc/subuid and /etc/subgid --------------------------------------------------------------

def parse_subids(text: str, source: str = "/etc/subuid", *,
                 strict: bool = True) -> list[SubidRange]:
    """The ranges in the text of a subuid/subgid file, in file order. Blank lines and `#` comments
    are skipped. A malformed line raises SubidFormatError naming the file and line, or, with
    strict=False, is skipped as shadow's newuidmap skips it."""
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.append(_parse_line(line))
        except ValueError as exc:
            if strict:
                raise SubidFormatError(f"{source} line {number}: {exc}: {raw!r}",
                                       "each line must read NAME_OR_UID:START:COUNT") from None
    return out


def _parse_line(line: str) -> SubidRange:
    parts = line.split(":")
    if len(parts) != 3:
        raise ValueError("expected 3 fields separated by ':'")
    owner, start, count = (p.strip() for p in parts)
    if not owner or any(c.isspace() for c in owner):
        raise ValueError("bad owner")
    if not (start.isascii() and start.isdigit() and count.isascii() and count.isdigit()):
        raise ValueError("start and count must be decimal numbers")
    first, size = int(start), int(count)
    if size == 0 or first + size > ID_LIMIT:
        raise ValueError("range is empty or beyond 4294967295")
    return SubidRange(owner, first, size)


def format_subids(ranges: list[SubidRange]) -> str:
    return "".join(r.line() for r in ranges)


def ranges_for(ranges: list[SubidRange], user: str | None, uid: int) -> list[SubidRange]:
    """The ranges that belong to the user, by name or by numeric uid (as shadow matches them)."""
    names = {str(uid)} | ({user} if user else set())
    return [r for r in ranges if r.owner in names]


def read_ranges(path: str, user: str | None, uid: int) -> list[SubidRange]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise IdMappingError(f"cannot read {path}: {exc.strerror}") from None
    return ranges_for(parse_subids(text, path, strict=False), user, uid)


# --- layouts (pure) -----------------------------------------------------------------------------

def layout_default(own: int, ranges: list[SubidRange]) -> tuple[IdMap, ...]:
    """Container 0 -> own id, then 1.. -> the ranges in file order (podman's rootless default)."""
    maps = [IdMap(0, own, 1)]
    return tuple(maps + _fill(1, ranges, skip=None))


def layout_keep_id(own: int, ranges: list[SubidRange]) -> tuple[IdMap, ...]:
    """Container `own` -> own id; every other container id from 0 upwards -> the ranges in order,
    stepping over `own` (podman's --userns=keep-id)."""
    maps = _fill(0, ranges, skip=own) + [IdMap(own, own, 1)]
    return tuple(sorted(maps, key=lambda m: m.container_id))


def _fill(first: int, ranges: list[SubidRange], skip: int | None) -> list[IdMap]:
    """Map container ids first, first+1, ... (not `skip`) onto the ranges, one IdMap per piece."""
    maps, cid = [], first
    for r in ranges:
        host, left = r.start, r.count
        while left > 0 and cid < FULL_SIZE:
            if cid == skip:
                cid += 1
                continue
            size = min(left, FULL_SIZE - cid)
            if skip is not None and cid < skip:
                size = min(size, skip - cid)
            maps.append(IdMap(cid, host, size))
            cid, host, left = cid + size, host + size, left - size
    return maps


# --- choosing ----------------------------------------------------------------------------------

def find_helper(name: str) -> str | None:
    """Path of newuidmap/newgidmap when present and able to work (setuid root or file caps)."""
    dirs = os.environ.get("PATH", "").split(":") + list(_HELPER_DIRS)
    for d in dirs:
        path = os.path.join(d or ".", name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or not os.access(path, os.X_OK):
            continue
        if (st.st_mode & stat.S_ISUID and st.st_uid == 0) or _has_file_caps(path):
            return path
    return None


def _has_file_caps(path: str) -> bool:
    try:
        return bool(os.getxattr(path, "security.capability"))
    except OSError:
        return False


def _user_name(uid: int) -> str | None:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _range_hint(user: str | None, uid: int) -> str:
    who = user or str(uid)
    return (f"add a line '{who}:100000:65536' to /etc/subuid and /etc/subgid as root "
            f"(usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {who}), "
            "and install newuidmap/newgidmap (Debian: apt-get install uidmap)")


def choose(userns: str = "", *, uid: int | None = None, gid: int | None = None,
           user: str | None = None, subuid: str = "/etc/subuid",
           subgid: str = "/etc/subgid") -> IdMapping:
    """The mapping for the invoking user (or the given uid/gid/user) and --userns value."""
    if userns not in USERNS_MODES:
        raise IdMappingError(f"unknown --userns value {userns!r}",
                             "use one of: host, keep-id, auto (or leave it out)")
    uid = os.geteuid() if uid is None else uid
    gid = os.getegid() if gid is None else gid
    if uid == 0:
        if userns == "keep-id":
            raise IdMappingError("--userns=keep-id is only for rootless use",
                                 "as root leave --userns out (or use --userns=host)")
        full = (IdMap(0, 0, FULL_SIZE),)
        return IdMapping("root", full, full, userns, "real root: no user namespace needed")
    if userns == "host":
        raise IdMappingError("--userns=host needs real root",
                             "leave --userns out: rl maps your uid to root in a user namespace")
    user = user if user is not None else _user_name(uid)
    return _choose_rootless(userns, uid, gid, user, subuid, subgid)


def _choose_rootless(userns: str, uid: int, gid: int, user: str | None, subuid: str,
                     subgid: str) -> IdMapping:
    uranges = read_ranges(subuid, user, uid)
    granges = read_ranges(subgid, user, uid)
    helpers = find_helper("newuidmap") and find_helper("newgidmap")
    if uranges and granges and helpers:
        if userns == "keep-id":
            return IdMapping("subuid", layout_keep_id(uid, uranges), layout_keep_id(gid, granges),
                             userns, "keep-id: own ids kept, the rest from the subordinate ranges")
        return IdMapping("subuid", layout_default(uid, uranges), layout_default(gid, granges),
                         userns, f"subordinate ranges of {user or uid} via newuidmap/newgidmap")
    if not (uranges and granges):
        missing = " and ".join(p for p, r in ((subuid, uranges), (subgid, granges)) if not r)
        why = f"no range for {user or uid} in {missing}"
    else:
        why = "newuidmap/newgidmap missing or not setuid"
    if userns == "keep-id":
        raise IdMappingError(f"--userns=keep-id needs subordinate ids: {why}",
                             _range_hint(user, uid))
    return IdMapping("single", (IdMap(0, uid, 1),), (IdMap(0, gid, 1),), userns,
                     f"only your own uid/gid is mapped ({why})")


# --- applying ----------------------------------------------------------------------------------

def apply(pid: int, mapping: IdMapping) -> None:
    """Write the mapping for `pid`, a child that has unshared CLONE_NEWUSER and waits for it.

    Called from the parent (in the user namespace that owns the child's). "single" and "root" are
    written directly; "subuid" maps need newuidmap/newgidmap (only they may map subordinate ids).
    """
    if mapping.mode == "subuid":
        _apply_helpers(pid, mapping)
        return
    if mapping.mode == "single":
        # user_namespaces(7): an unprivileged process may write gid_map only after setgroups is
        # "deny" (else it could drop groups used in deny ACLs)
        _write(pid, "setgroups", "deny")
    _write(pid, "uid_map", "".join(m.line() for m in mapping.uid_maps))
    _write(pid, "gid_map", "".join(m.line() for m in mapping.gid_maps))


def _write(pid: int, name: str, text: str) -> None:
    path = f"/proc/{pid}/{name}"
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise IdMappingError(
            f"writing {text.strip()!r} to {path}: {exc.strerror}",
            "the child must be in a new user namespace owned by this one, and a single map may "
            "only name your own uid/gid (see user_namespaces(7))") from None


def _spawn_quiet(argv: list[str]) -> tuple[int, int]:
    """Start argv with stdin/stdout on /dev/null; returns (pid, read end of its stderr)."""
    err_r, err_w = os.pipe()
    try:
        child = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, err_w, 2)])
    except OSError as exc:
        os.close(err_r)
        raise IdMappingError(f"cannot run {argv[0]}: {exc.strerror}") from None
    finally:
        os.close(err_w)
    return child, err_r


def _apply_helpers(pid: int, mapping: IdMapping) -> None:
    """Run newuidmap and newgidmap at once (they are independent) and wait for both.

    posix_spawn, not subprocess: `import subprocess` (threading, selectors, signal and enum with
    it) costs more start-up than both helpers together (docs/performance.md)."""
    jobs = []
    for name, maps in (("newuidmap", mapping.uid_maps), ("newgidmap", mapping.gid_maps)):
        helper = find_helper(name)
        if helper is None:
            raise IdMappingError(f"{name} not found or not setuid root",
                                 "install it (Debian: apt-get install uidmap)")
        argv = [helper, str(pid)] + [str(n) for m in maps
                                     for n in (m.container_id, m.host_id, m.size)]
        jobs.append((argv, _spawn_quiet(argv)))
    failures = []
    for argv, (child, err_r) in jobs:
        from rootless.runtime.children import read_all

        try:
            err = read_all(err_r)
        finally:
            os.close(err_r)
        code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
        if code != 0:
            text = err.decode(errors="replace").strip() or f"exit status {code}"
            failures.append(f"{' '.join(argv)}: {text}")
    if failures:
        raise IdMappingError("; ".join(failures), _range_hint(_user_name(os.getuid()), os.getuid())
                             + "; the ranges must match /etc/subuid and /etc/subgid")
