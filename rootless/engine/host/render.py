"""The human layout of `rl info` (docker info's: titled sections of " Key: value" lines, warnings
last) and of `rl system check`. Pure: report dict in, text out."""

from __future__ import annotations

from rootless.engine.host.parse import format_bytes


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _tool(tool: dict) -> str:
    if not tool["Path"]:
        return "not found"
    bundled = ", bundled with rl" if tool.get("Source") == "bundled" else ""  # rootless.frozen.find_tool
    return f"{tool['Path']} (version {tool['Version']}{bundled})"


def _ranges(ranges: list[dict]) -> str:
    return ", ".join(f"{r['Start']}:{r['Size']}" for r in ranges) or "none"


def _maps(maps: list[dict]) -> str:
    return ", ".join(f"{m['containerID']}:{m['hostID']}:{m['size']}" for m in maps) or "none"


def _helper(helper: dict) -> str:
    if not helper["Path"]:
        return "not found"
    how = helper["Privilege"] or "neither setuid root nor file capabilities"
    return f"{helper['Path']} ({how}; {'usable' if helper['Usable'] else 'unusable'})"


def _device(device: dict, fix: str = "") -> str:
    return "usable" if device["Usable"] else f"cannot open: {device['Error']}{fix}"


def _overlay(overlay: dict) -> str:
    if overlay["Works"]:
        return "works"
    return f"fails: {overlay['Error']}" if overlay["Tried"] else str(overlay["Error"])


def _sysctl(value: int | None) -> str:
    return "absent" if value is None else str(value)


def _host(r: dict) -> list[str]:
    return ["Host:", f" Kernel Version: {r['KernelVersion']}", f" Operating System: {r['OperatingSystem']}",
            f" OSType: {r['OSType']}", f" Architecture: {r['Architecture']}", f" CPUs: {r['NCPU']}",
            f" Total Memory: {format_bytes(r['MemTotal'])}", f" Name: {r['Name']}"]


def _user(r: dict) -> list[str]:
    user, ns = r["User"], r["UserNamespaces"]
    lines = ["User:", f" Uid: {user['Uid']}", f" Gid: {user['Gid']}", f" Name: {user['Name'] or 'unknown'}",
             f" Rootless: {str(user['Rootless']).lower()}",
             f" User Namespaces: {'work' if ns['Works'] else 'do not work: ' + str(ns['Error'])}"]
    if not ns["Works"]:
        lines += [f"  Reason: {ns['Reason']}", f"  Fix: {ns['Fix']}"]
    lines += [f" {name}: {_sysctl(value)}" for name, value in ns["Sysctls"].items()]
    return lines


def _idmap(r: dict) -> list[str]:
    m = r["IdMapping"]
    lines = ["ID Mapping:", f" Mode: {m['Mode'] or 'none: ' + str(m['Error'])}",
             f" Subuid Ranges: {_ranges(m['SubuidRanges'])}", f" Subgid Ranges: {_ranges(m['SubgidRanges'])}",
             f" newuidmap: {_helper(m['Newuidmap'])}", f" newgidmap: {_helper(m['Newgidmap'])}",
             f" UID Mappings: {_maps(m['UidMappings'])}", f" GID Mappings: {_maps(m['GidMappings'])}",
             f" Mapping Tried: {'works' if m['Works'] else 'failed'}"]
    pause = m.get("PauseProcess") or {}
    if pause.get("Used"):
        lines.append(" Pause Process: " + (f"running (pid {pause['Pid']}): containers join its user namespace"
                                           if pause.get("Pid") else "not running: the next container starts one"))
    if m["Note"]:
        lines.insert(2, f"  Why: {m['Note']}")
    if m["Consequence"]:
        lines.append(f" Consequence: {m['Consequence']}")
    if m["Fix"]:
        lines.append(f" Fix: {m['Fix']}")
    return lines


def _storage(r: dict) -> list[str]:
    s = r["Storage"]
    fs = f"{s['Filesystem']} ({s['FilesystemKind']}, mounted on {s['Mountpoint']})" if s["Filesystem"] else "unknown"
    where = " (as real root)" if r["IdMapping"]["Mode"] == "root" else " In User Namespace"
    lines = ["Storage:", f" Root: {s['Root']} (from {s['RootSource']})", f" Filesystem: {fs}"]
    if s["FilesystemWarning"]:
        lines.append(f"  Warning: {s['FilesystemWarning']}; fix: --root /local/dir or RL_ROOT")
    lines += [f" Writable: {'yes' if s['Writable'] else 'no: ' + str(s['WritableError'])}",
              f" Kernel Overlay{where}: {_overlay(s['Overlay'])}",
              f" fuse-overlayfs: {_tool(s['FuseOverlayfs'])}", f" /dev/fuse: {_device(s['DevFuse'])}",
              f" Driver: {s['Driver']} ({s['DriverReason']})"]
    return lines


def _network(r: dict) -> list[str]:
    n = r["Network"]
    return ["Network:", f" slirp4netns: {_tool(n['Slirp4netns'])}", f" pasta: {_tool(n['Pasta'])}",
            f" /dev/net/tun: {_device(n['DevNetTun'], '; fix: chmod 666 /dev/net/tun (as root)')}",
            f" Unprivileged Port Start: {_sysctl(n['IpUnprivilegedPortStart'])}"]


def _cgroups(r: dict) -> list[str]:
    c = r["Cgroups"]
    where = f" (cgroup2 at {c['V2Mountpoint']})" if c["V2Mountpoint"] else ""
    lines = ["Cgroups:", f" Version: {c['Version']}{where}", f" Cgroup: {c['Path'] or 'none'}",
             f" Controllers: {' '.join(c['Controllers']) or 'none'}",
             f" Delegated: {'yes' if c['Delegated'] else 'no' + (': ' + c['Error'] if c['Error'] else '')}",
             f" Resource Limits: {'available' if c['Limits'] else 'unavailable'}"]
    if c["Consequence"]:
        lines.append(f"  Consequence: {c['Consequence']}")
    return lines


def _runtime(r: dict) -> list[str]:
    rt, cfg = r["RuntimeDir"], r["Config"]
    return ["Runtime Dir:", f" XDG_RUNTIME_DIR: {rt['XdgRuntimeDir'] or 'unset'}",
            f" Runroot: {rt['Runroot']} (from {rt['RunrootSource']})", "",
            "Registry Config:", f" Path: {cfg['Path']} ({'exists' if cfg['Exists'] else 'missing'})"]


def render_info(report: dict) -> str:
    sections = [["Client: rl", f" Version: {report['ServerVersion']}"], _host(report), _user(report),
                _idmap(report), _storage(report), _network(report), _cgroups(report), _runtime(report)]
    lines = [line for section in sections for line in section + [""]]
    lines += report["Warnings"]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_check(report: dict) -> str:
    problems = report["Problems"]
    blocking = [p for p in problems if p["Blocking"]]
    lines = ["rl cannot run containers on this host:" if blocking else "rl can run containers on this host"]
    for p in problems:
        lines += [f"{'ERROR' if p['Blocking'] else 'WARNING'}: {p['Problem']}", f"  fix: {p['Fix']}"]
    return "\n".join(lines) + "\n"
