"""The probes of `rl info`: thin functions that try what rl needs on this host and return facts.

Every fact is found by trying, not guessed: a user namespace is created, an overlay is mounted in
one, /dev/net/tun and /dev/fuse are opened, a cgroup child is made and removed, the tools are asked
for their versions. Each probe returns a small dict of raw facts (JSON-ready); the rules that turn
them into a verdict and a fix live in `host.report` (pure). Namespaces are entered only in forked
children (`runtime.userns.run_in_userns`), never in the CLI process.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from rootless.engine.host import parse
from rootless.frozen import find_tool_with_source, source_of  # host tools first, else dist/rl's

SYSCTLS = {
    "kernel.unprivileged_userns_clone": "/proc/sys/kernel/unprivileged_userns_clone",
    "user.max_user_namespaces": "/proc/sys/user/max_user_namespaces",
    "kernel.apparmor_restrict_unprivileged_userns": "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    "net.ipv4.ip_unprivileged_port_start": "/proc/sys/net/ipv4/ip_unprivileged_port_start",
}
#: where helpers live when PATH lacks them (e.g. sbin for a user's login PATH)
EXTRA_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
TOOLS = ("slirp4netns", "pasta", "fuse-overlayfs")


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def read_sysctl(name: str) -> int | None:
    text = read_text(SYSCTLS[name])
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def which(name: str, env: dict[str, str]) -> str | None:
    return find_tool_with_source(name, f"{env.get('PATH', '')}:{EXTRA_PATH}")[0]


def _error(e: BaseException) -> str:
    return getattr(e, "message", None) or str(e) or type(e).__name__


# --- tools ---------------------------------------------------------------------------------------
def start_versions(env: dict[str, str]) -> dict[str, tuple[str, subprocess.Popen | None]]:
    """Start `tool --version` for each helper at once (they run while the other probes do)."""
    started = {}
    for tool in TOOLS:
        path = which(tool, env)
        proc = None
        if path:
            try:
                proc = subprocess.Popen([path, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, errors="replace")
            except OSError:
                proc = None
        started[tool] = (path, proc)
    return started


def finish_versions(started: dict[str, tuple[str, subprocess.Popen | None]]) -> dict[str, dict]:
    tools = {}
    for tool, (path, proc) in started.items():
        version = None
        if proc is not None:
            try:
                out, _ = proc.communicate(timeout=5)
                version = parse.parse_version(out, tool)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                version = "unknown (--version timed out)"
        tools[tool] = {"Path": path, "Version": version, "Source": source_of(path)}
    return tools


# --- host and user -------------------------------------------------------------------------------
def host_facts() -> dict:
    uname = os.uname()
    return {
        "KernelVersion": uname.release,
        "OperatingSystem": parse.pretty_os_name(parse.parse_os_release(
            read_text("/etc/os-release") or read_text("/usr/lib/os-release") or "")),
        "OSType": "linux",
        "Architecture": uname.machine,
        "NCPU": len(os.sched_getaffinity(0)),
        "MemTotal": parse.parse_meminfo_total(read_text("/proc/meminfo") or ""),
        "Name": uname.nodename,
    }


def user_facts() -> dict:
    import pwd

    uid, gid = os.getuid(), os.getgid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = None
    return {"Uid": uid, "Gid": gid, "Name": name, "Rootless": uid != 0}


def _mount_tmpfs() -> bool:
    """In a new user+mount namespace: the capabilities it grants must let us mount (AppArmor's
    userns restriction lets the clone succeed and takes the capabilities away)."""
    from rootless.runtime import syscalls

    syscalls.mount("tmpfs", "/tmp", "tmpfs", 0, "size=64k")  # "/" is rslave here (run_in_userns)
    return True


def userns_facts(uid: int, gid: int) -> dict:
    """Try a user namespace with the user's own id mapped to 0 (what `unshare -r` does)."""
    from rootless.runtime import idmap, syscalls, userns

    mapping = idmap.IdMapping("single", (idmap.IdMap(0, uid, 1),), (idmap.IdMap(0, gid, 1),))
    try:
        userns.run_in_userns(mapping, _mount_tmpfs, flags=syscalls.CLONE_NEWNS)
        works, error = True, None
    except Exception as e:  # noqa: BLE001 - every failure is a fact to report
        works, error = False, _error(e)
    sysctls = {name: read_sysctl(name) for name in (
        "kernel.unprivileged_userns_clone", "user.max_user_namespaces",
        "kernel.apparmor_restrict_unprivileged_userns")}
    return {"Works": works, "Error": error, "Sysctls": sysctls}


# --- id mapping ------------------------------------------------------------------------------------
def helper_facts(path: str | None) -> dict:
    """newuidmap/newgidmap: present, and privileged the way shadow needs (setuid root or file caps)."""
    if not path:
        return {"Path": None, "Privilege": None, "Usable": False}
    try:
        st = os.stat(path)
    except OSError:
        return {"Path": path, "Privilege": None, "Usable": False}
    privilege = None
    if st.st_uid == 0 and st.st_mode & stat.S_ISUID:
        privilege = "setuid root"
    else:
        try:
            os.getxattr(path, "security.capability")
            privilege = "file capabilities"
        except OSError:
            privilege = None
    return {"Path": path, "Privilege": privilege, "Usable": bool(privilege) and os.access(path, os.X_OK)}


def subid_facts(name: str | None, uid: int) -> dict:
    """This user's ranges in /etc/subuid and /etc/subgid (parsed the way idmap.choose() does)."""
    from rootless.runtime import idmap

    out = {}
    for key, path in (("SubuidRanges", "/etc/subuid"), ("SubgidRanges", "/etc/subgid")):
        try:
            ranges = idmap.read_ranges(path, name, uid)
        except Exception:  # noqa: BLE001 - an unreadable file grants nothing
            ranges = []
        out[key] = [{"Start": r.start, "Size": r.count} for r in ranges]
    return out


def choose_mapping():
    """(mapping, None) or (None, error text) from the runtime's own choice."""
    from rootless.runtime import idmap

    try:
        return idmap.choose(), None
    except Exception as e:  # noqa: BLE001
        hint = getattr(e, "hint", None)
        return None, _error(e) + (f" ({hint})" if hint else "")


# --- storage ---------------------------------------------------------------------------------------
def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not os.path.exists(path) and path != path.parent:
        path = path.parent
    return path


def store_facts(root: Path) -> tuple[dict, Path | None]:
    """Where the store root lives (filesystem from mountinfo) and whether we can write there.
    Returns the facts and a fresh private probe directory on the store's filesystem (the caller
    removes it), or None when nothing can be written."""
    existing = _nearest_existing(root)
    real = os.path.realpath(existing)
    mount = parse.mount_for_path(parse.parse_mountinfo(read_text("/proc/self/mountinfo") or ""), real)
    facts = {"Exists": os.path.isdir(root), "Filesystem": mount.fstype if mount else None,
             "Mountpoint": mount.mountpoint if mount else None, "Writable": False, "WritableError": None}
    probe_dir = None
    try:
        probe_dir = Path(tempfile.mkdtemp(prefix=".rl-probe-", dir=existing))
        facts["Writable"] = True
    except OSError as e:
        facts["WritableError"] = f"{existing}: {e.strerror}"
    return facts, probe_dir


def _overlay_child(probe_dir: str, userxattr: bool) -> dict:
    """Inside the user+mount namespace: mount an overlay, write through it, delete a lower file
    (a whiteout in the upper dir), unmount and clean up. Kernel overlayfs in a user namespace
    needs the userxattr option (Linux 5.11+)."""
    from rootless.runtime import syscalls

    base = Path(probe_dir)
    dirs = {name: base / name for name in ("lower", "upper", "work", "merged")}
    result = {"UidMap": read_text("/proc/self/uid_map") or "", "Works": False, "Tried": True, "Error": None}
    try:
        for d in dirs.values():
            d.mkdir()
        (dirs["lower"] / "gone").write_text("x")
        options = f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']}"
        syscalls.mount("overlay", str(dirs["merged"]), "overlay", 0, options + (",userxattr" if userxattr else ""))
        try:
            (dirs["merged"] / "new").write_text("y")
            (dirs["merged"] / "gone").unlink()
            if not (dirs["upper"] / "new").exists() or not os.path.lexists(dirs["upper"] / "gone"):
                raise OSError("overlay mounted but writes did not reach the upper dir (no whiteout)")
            result["Works"] = True
        finally:
            syscalls.umount2(str(dirs["merged"]), syscalls.MNT_DETACH)
    except OSError as e:
        result["Error"] = e.strerror or str(e)
    for d in dirs.values():  # as namespace root we may remove the work dir overlay made 000
        shutil.rmtree(d, ignore_errors=True)
    return result


def overlay_facts(mapping, probe_dir: Path | None) -> dict:
    """Mount kernel overlayfs in a user+mount namespace with the chosen mapping, on the store's
    filesystem; also reports the uid_map the child saw (the mapping, tried)."""
    from rootless.runtime import syscalls, userns

    if mapping is None:
        return {"Works": False, "Tried": False, "Error": "not tried: no usable id mapping", "UidMap": None}
    if probe_dir is None:
        def child() -> dict:
            return {"UidMap": read_text("/proc/self/uid_map"), "Works": False, "Tried": False,
                    "Error": "not tried: the store root is not writable"}
    else:
        def child() -> dict:
            return _overlay_child(str(probe_dir), mapping.mode != "root")
    try:
        return userns.run_in_userns(mapping, child, flags=syscalls.CLONE_NEWNS)
    except Exception as e:  # noqa: BLE001
        return {"Works": False, "Tried": False, "Error": _error(e), "UidMap": None, "NamespaceError": True}


def remove_probe_dir(probe_dir: Path) -> None:
    """Remove a probe directory a child may have left behind (overlay makes work/work mode 000)."""
    for dirpath, dirnames, _ in os.walk(probe_dir):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o700)
    shutil.rmtree(probe_dir, ignore_errors=True)


def open_device(path: str) -> dict:
    """Open a device read-write the way slirp4netns/pasta (/dev/net/tun) and fuse (/dev/fuse) do."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return {"Path": path, "Usable": False, "Error": e.strerror}
    os.close(fd)
    return {"Path": path, "Usable": True, "Error": None}


# --- cgroups ---------------------------------------------------------------------------------------
def cgroup_facts() -> dict:
    """cgroup layout from mountinfo; for the unified tree, this process's cgroup, its controllers,
    and whether we may create a child in it (what a delegated subtree allows)."""
    layout = parse.cgroup_layout(parse.parse_mountinfo(read_text("/proc/self/mountinfo") or ""))
    facts = {"Version": layout.version, "V2Mountpoint": layout.v2_mountpoint, "V1Controllers":
             list(layout.v1_controllers), "Path": None, "Controllers": [], "Delegated": False, "Error": None}
    if layout.v2_mountpoint is None:
        return facts
    path = parse.v2_cgroup_path(read_text("/proc/self/cgroup") or "")
    facts["Path"] = path
    if path is None:
        facts["Error"] = "no unified-hierarchy line in /proc/self/cgroup"
        return facts
    directory = Path(layout.v2_mountpoint + path.rstrip("/"))
    facts["Controllers"] = (read_text(str(directory / "cgroup.controllers")) or "").split()
    child = directory / f"rl-probe-{os.getpid()}"
    try:
        child.mkdir()
        child.rmdir()
        facts["Delegated"] = os.access(directory / "cgroup.subtree_control", os.W_OK)
        if not facts["Delegated"]:
            facts["Error"] = f"{directory}/cgroup.subtree_control is not writable"
    except OSError as e:
        facts["Error"] = f"cannot create a cgroup in {directory}: {e.strerror}"
    return facts
