"""The `rl info` report: pure rules that turn the probes' raw facts into verdicts, fixes and text.

`assemble(raw)` builds the report (a JSON-ready dict: docker's `info` keys where docker has the
fact — ServerVersion, KernelVersion, OperatingSystem, NCPU, MemTotal, DockerRootDir, Driver,
CgroupVersion, Warnings — and rl's own sections for the rest), `problems()` lists what `rl run`
needs and the host lacks (blocking or warning, each with its fix) and `render()` prints the
docker-info-like text. No I/O here: every rule is tested table-driven.
"""

from __future__ import annotations

from rootless.plainclass import dataclass

from rootless.engine.host import parse

SINGLE_CONSEQUENCE = "files in images are all owned by root inside; chown to other ids fails"
NO_CGROUP_CONSEQUENCE = "resource limits unavailable; rl runs without cgroups"
ROOT_FIX = "use a directory on a local filesystem: --root /local/dir or RL_ROOT=/local/dir"


@dataclass(frozen=True)
class Problem:
    blocking: bool
    problem: str
    fix: str

    def to_json(self) -> dict:
        return {"Blocking": self.blocking, "Problem": self.problem, "Fix": self.fix}


def userns_diagnosis(works: bool, sysctls: dict[str, int | None]) -> tuple[str | None, str | None]:
    """Why unprivileged user namespaces fail, and the fix, from the sysctls that can forbid them."""
    if works:
        return None, None
    if sysctls.get("kernel.unprivileged_userns_clone") == 0:
        return ("kernel.unprivileged_userns_clone is 0 (Debian's switch)",
                "as root: sysctl -w kernel.unprivileged_userns_clone=1 (persist it in /etc/sysctl.d/)")
    if sysctls.get("user.max_user_namespaces") == 0:
        return ("user.max_user_namespaces is 0",
                "as root: sysctl -w user.max_user_namespaces=28633 (persist it in /etc/sysctl.d/)")
    if sysctls.get("kernel.apparmor_restrict_unprivileged_userns") == 1:
        return ("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10+)",
                "as root: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or give rl an AppArmor "
                "profile that allows `userns,` (see /etc/apparmor.d/)")
    return ("the kernel refused (none of the known switches is set: a seccomp filter, an LSM or a "
            "container around this host may forbid it)",
            "ask the administrator to allow unprivileged user namespaces")


def parse_id_map(text: str) -> list[dict]:
    """/proc/PID/uid_map lines as OCI idmap entries."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and all(f.isdigit() for f in fields):
            entries.append({"containerID": int(fields[0]), "hostID": int(fields[1]), "size": int(fields[2])})
    return entries


def choose_driver(overlay_works: bool, fuse_overlayfs: str | None, dev_fuse: bool) -> tuple[str, str]:
    """overlay > fuse-overlayfs > vfs (DESIGN.md "Root filesystem"), with the reason."""
    if overlay_works:
        return "overlay", "kernel overlayfs mounted and worked when tried"
    if fuse_overlayfs and dev_fuse:
        return "fuse-overlayfs", "kernel overlayfs failed; fuse-overlayfs and /dev/fuse are usable"
    missing = "fuse-overlayfs is not installed" if not fuse_overlayfs else "/dev/fuse cannot be opened"
    return "vfs", f"kernel overlayfs failed and {missing}: every container gets a full copy"


def _idmap_section(raw: dict) -> dict:
    mapping, user = raw.get("mapping"), raw["user"]
    section = {"Mode": mapping["Mode"] if mapping else None, "Error": raw.get("mapping_error"),
               "Note": mapping.get("Note") if mapping else None,
               **raw["subids"], "Newuidmap": raw["newuidmap"], "Newgidmap": raw["newgidmap"],
               "UidMappings": mapping["UidMappings"] if mapping else [],
               "GidMappings": mapping["GidMappings"] if mapping else [],
               "PauseProcess": raw.get("pause"), "Works": False, "Consequence": None, "Fix": None}
    overlay = raw["overlay"]
    if mapping and mapping["Mode"] == "root":
        section["Works"] = not overlay.get("NamespaceError", False)
    elif mapping and overlay.get("UidMap") is not None:
        section["Works"] = parse_id_map(overlay["UidMap"]) == mapping["UidMappings"]
    if mapping and mapping["Mode"] == "single":
        section["Consequence"] = SINGLE_CONSEQUENCE
        helpers = raw["newuidmap"]["Usable"] and raw["newgidmap"]["Usable"]
        if section["SubuidRanges"] and section["SubgidRanges"] and not helpers:
            section["Fix"] = "install newuidmap/newgidmap setuid root (Debian/Ubuntu: apt-get install uidmap)"
        else:
            name = user["Name"] or user["Uid"]
            section["Fix"] = (f"as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {name}"
                              + ("" if helpers else " and install the uidmap package"))
    return section


def _storage_section(raw: dict) -> dict:
    store, overlay = raw["store"], raw["overlay"]
    fstype = store.get("Filesystem")
    kind = parse.classify_fs(fstype) if fstype else None
    warning = None
    if kind in ("network", "overlay", "fuse"):
        warning = f"the store root is on {fstype} ({kind} filesystem): overlay upper dirs fail or misbehave there"
    fuse = raw["tools"]["fuse-overlayfs"]
    if overlay["Tried"]:
        driver, reason = choose_driver(overlay["Works"], fuse["Path"], raw["dev_fuse"]["Usable"])
    else:
        driver, reason = "none", f"kernel overlayfs {overlay['Error']}"
    return {"Root": store["Root"], "RootSource": store["RootSource"], "Exists": store["Exists"],
            "Filesystem": fstype, "FilesystemKind": kind, "Mountpoint": store.get("Mountpoint"),
            "FilesystemWarning": warning, "Writable": store["Writable"], "WritableError": store["WritableError"],
            "Overlay": {"Works": overlay["Works"], "Tried": overlay["Tried"], "Error": overlay["Error"]},
            "FuseOverlayfs": fuse, "DevFuse": raw["dev_fuse"], "Driver": driver, "DriverReason": reason}


def _cgroup_section(cgroups: dict) -> dict:
    section = dict(cgroups)
    section["Limits"] = bool(cgroups["Delegated"] and {"memory", "pids"} <= set(cgroups["Controllers"]))
    section["Consequence"] = None if section["Limits"] else NO_CGROUP_CONSEQUENCE
    return section


def assemble(raw: dict) -> dict:
    """The report from the raw probe results (see `host.collect` for their shape)."""
    userns = dict(raw["userns"])
    userns["Reason"], userns["Fix"] = userns_diagnosis(userns["Works"], userns["Sysctls"])
    storage = _storage_section(raw)
    cgroups = _cgroup_section(raw["cgroups"])
    report = {
        "ServerVersion": raw["version"], **raw["host"],
        "DockerRootDir": storage["Root"], "Driver": storage["Driver"],
        "CgroupVersion": {"v2": "2", "v1": "1", "hybrid": "1"}.get(cgroups["Version"], ""),
        "CgroupDriver": "cgroupfs" if cgroups["Limits"] else "none",
        "User": raw["user"], "UserNamespaces": userns, "IdMapping": _idmap_section(raw),
        "Storage": storage,
        "Network": {"Slirp4netns": raw["tools"]["slirp4netns"], "Pasta": raw["tools"]["pasta"],
                    "DevNetTun": raw["dev_tun"], "IpUnprivilegedPortStart": raw["port_start"]},
        "Cgroups": cgroups, "RuntimeDir": raw["runtime"], "Config": raw["config"],
    }
    found = problems(report)
    report["Problems"] = [p.to_json() for p in found]
    report["Warnings"] = [f"WARNING: {p.problem}" for p in found]
    return report


def _userns_problems(report: dict) -> list[Problem]:
    userns, idmap, rootless = report["UserNamespaces"], report["IdMapping"], report["User"]["Rootless"]
    found = []
    if not userns["Works"]:
        text = f"unprivileged user namespaces do not work: {userns['Error']}; {userns['Reason']}"
        found.append(Problem(rootless, text + ("" if rootless else " (not needed as root)"), userns["Fix"]))
    if idmap["Mode"] is None:
        found.append(Problem(rootless, f"no usable id mapping: {idmap['Error']}",
                             "give the user a range in /etc/subuid and /etc/subgid, or fix the error above"))
    elif idmap["Mode"] == "single":
        found.append(Problem(False, f"id mapping is single (only uid {report['User']['Uid']} maps): "
                             f"{SINGLE_CONSEQUENCE}", idmap["Fix"]))
    elif not idmap["Works"] and userns["Works"]:
        found.append(Problem(rootless, f"the {idmap['Mode']} id mapping failed when tried: "
                             f"{report['Storage']['Overlay']['Error']}",
                             "check /etc/subuid, /etc/subgid and that newuidmap/newgidmap are setuid root"))
    return found


def _storage_problems(storage: dict) -> list[Problem]:
    found = []
    if not storage["Writable"]:
        found.append(Problem(True, f"the store root {storage['Root']} is not writable: {storage['WritableError']}",
                             "choose a directory you own: --root /local/dir or RL_ROOT=/local/dir"))
    if storage["FilesystemWarning"]:
        found.append(Problem(False, storage["FilesystemWarning"], ROOT_FIX))
    if storage["Driver"] not in ("overlay", "none"):
        if storage["Driver"] == "fuse-overlayfs":
            fix = "none needed (fuse-overlayfs is slower); a newer kernel (5.11+) on a local filesystem mounts overlay natively"
        else:
            fix = ("install fuse-overlayfs (apt-get install fuse-overlayfs) and make /dev/fuse usable "
                   "(as root: chmod 666 /dev/fuse), or move the store to a local filesystem")
        found.append(Problem(False, f"kernel overlayfs does not work here ({storage['Overlay']['Error']}); "
                             f"rl uses {storage['Driver']}", fix))
    return found


def _network_problems(network: dict) -> list[Problem]:
    found = []
    if not network["Slirp4netns"]["Path"] and not network["Pasta"]["Path"]:
        found.append(Problem(False, "neither slirp4netns nor pasta is installed: containers get no network "
                             "but --network none or host", "install slirp4netns (apt-get install slirp4netns) or passt"))
    if not network["DevNetTun"]["Usable"]:
        found.append(Problem(False, f"/dev/net/tun cannot be opened ({network['DevNetTun']['Error']}): "
                             "slirp4netns and pasta need it", "as root: chmod 666 /dev/net/tun"))
    return found


def _cgroup_problems(cgroups: dict) -> list[Problem]:
    if cgroups["Limits"]:
        return []
    if cgroups["Version"] == "v2":
        fix = ("delegate a cgroup subtree to the user (systemd: Delegate=yes for user@.service, "
               "controllers memory pids cpu)")
    else:
        fix = "boot with the unified cgroup v2 hierarchy (systemd.unified_cgroup_hierarchy=1) and delegate a subtree"
    why = cgroups["Error"] or (f"controllers available: {' '.join(cgroups['Controllers']) or 'none'}"
                               if cgroups["Delegated"] else f"cgroup layout is {cgroups['Version']}")
    return [Problem(False, f"{NO_CGROUP_CONSEQUENCE} ({why})", fix)]


def problems(report: dict) -> list[Problem]:
    """What `rl run` needs and this host lacks, blocking ones first."""
    found = (_userns_problems(report) + _storage_problems(report["Storage"])
             + _network_problems(report["Network"]) + _cgroup_problems(report["Cgroups"]))
    return sorted(found, key=lambda p: not p.blocking)
