"""Pure translator: `RunOptions` + the image config -> an OCI runtime config.json (podman's specgen).

Nothing here touches the disk, the kernel or the environment: every fact from outside (the
image's /etc/passwd text, the id mapping, the host's ids and hostname, paths of the files the
engine writes) comes in through `SpecInputs`. Docker semantics followed exactly:

* ENTRYPOINT/CMD (Dockerfile reference "Understand how CMD and ENTRYPOINT interact", the seed's
  3.1.4): args = ENTRYPOINT + (run's COMMAND or the image's CMD); `--entrypoint X` replaces the
  image's ENTRYPOINT with the single executable X (no splitting) *and* drops the image's CMD;
  `--entrypoint ""` clears it. A shell-form string becomes ["/bin/sh", "-c", string].
* Env: PATH (docker's default), HOSTNAME, TERM=xterm with -t, then the image's Env, then -e and
  --env-file in order, later values replacing earlier ones by name; HOME from passwd if unset.
* Capabilities: docker's default set adjusted by --cap-add/--cap-drop ("ALL" allowed); all of
  them with --privileged; a non-root user gets them in the bounding set only.
* Masked and read-only paths as podman (none with --privileged).
"""

from __future__ import annotations

from rootless.plainclass import dataclass, field

from rootless.engine.run_options import RunOptions
from rootless.engine.users import ExecUser, resolve_user
from rootless.errors import UsageError

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELL = ("/bin/sh", "-c")

#: docker's default capability set (moby oci/caps/defaults.go)
DEFAULT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
#: every capability the kernel knows (linux/capability.h, 0..40)
ALL_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
            "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
            "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
            "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
            "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
            "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
            "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
            "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
            "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE")

#: podman's (containers/common pkg/config) masked and read-only paths
MASKED_PATHS = ("/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/fs/selinux", "/sys/dev/block")
READONLY_PATHS = ("/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                  "/proc/sysrq-trigger")


@dataclass(frozen=True)
class SpecInputs:
    """The facts from outside that the translation needs."""
    container_id: str
    options: RunOptions
    image_config: dict                      # the OCI image config JSON (with its "config" key)
    rootfs: str                             # root.path (the overlay mount point or the vfs copy)
    passwd: str = ""                        # the image's /etc/passwd text
    group: str = ""                         # the image's /etc/group text
    id_mappings: dict | None = None         # IdMapping.to_oci(); None: no user namespace
    userns_path: str = ""                   # join this user namespace (the pause process's)
    host_ids: tuple[int, int] = (0, 0)      # the user's uid/gid (for --userns keep-id)
    host_hostname: str = "localhost"        # for --network host
    rootfs_annotations: dict = field(default_factory=dict)  # rl.rootfs.*
    etc_files: dict = field(default_factory=dict)           # "/etc/hosts" -> host path ...


def exec_form(value) -> list[str]:
    """An image ENTRYPOINT/CMD value as a list: a string is the shell form."""
    if value is None:
        return []
    if isinstance(value, str):
        return [*SHELL, value]
    return [str(v) for v in value]


def process_args(image_entrypoint, image_cmd, entrypoint: str | None, command) -> list[str]:
    """docker's ENTRYPOINT/CMD rule; raises when nothing is left to run."""
    if entrypoint is not None:
        args = ([entrypoint] if entrypoint else []) + list(command)
    else:
        args = exec_form(image_entrypoint) + (list(command) if command else exec_form(image_cmd))
    if not args:
        raise UsageError("No command specified", "give a command after the image name")
    return args


def merge_env(*layers: list[str] | tuple[str, ...]) -> list[str]:
    """Later KEY=VALUE entries replace earlier ones of the same KEY, keeping first positions."""
    order: dict[str, str] = {}
    for layer in layers:
        for entry in layer:
            key = entry.partition("=")[0]
            order[key] = entry
    return list(order.values())


def capabilities(cap_add, cap_drop, privileged: bool) -> list[str]:
    """docker's TweakCapabilities over DEFAULT_CAPS."""
    if privileged:
        return list(ALL_CAPS)
    add = [_cap_name(c) for c in cap_add]
    drop = [_cap_name(c) for c in cap_drop]
    if "ALL" in drop:
        base: list[str] = []
    elif "ALL" in add:
        base = list(ALL_CAPS)
    else:
        base = list(DEFAULT_CAPS)
    for cap in add:
        if cap != "ALL" and cap not in base:
            base.append(cap)
    return [c for c in base if c not in drop]


def _cap_name(name: str) -> str:
    upper = name.strip().upper()
    if upper == "ALL":
        return "ALL"
    cap = upper if upper.startswith("CAP_") else "CAP_" + upper
    if cap not in ALL_CAPS:
        raise UsageError(f'unknown capability: "{cap}"', "see capabilities(7) for the names")
    return cap


def hostname_for(inputs: SpecInputs) -> str:
    opts = inputs.options
    if opts.hostname:
        return opts.hostname
    if opts.network == "host":
        return inputs.host_hostname
    return inputs.container_id[:12]


def exec_user(inputs: SpecInputs) -> ExecUser:
    opts = inputs.options
    spec = opts.user if opts.user else inputs.image_config.get("config", {}).get("User", "")
    if opts.userns == "keep-id" and not opts.user:
        uid, gid = inputs.host_ids
        found = resolve_user(str(uid), inputs.passwd, inputs.group)
        return ExecUser(uid, gid, found.additional_gids, found.home)
    return resolve_user(spec, inputs.passwd, inputs.group)


def environment(inputs: SpecInputs, user: ExecUser, hostname: str) -> list[str]:
    opts = inputs.options
    base = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"] + (["TERM=xterm"] if opts.tty else [])
    env = merge_env(base, inputs.image_config.get("config", {}).get("Env") or [], opts.env)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    return env


def process(inputs: SpecInputs, hostname: str) -> dict:
    opts = inputs.options
    cfg = inputs.image_config.get("config", {})
    user = exec_user(inputs)
    caps = capabilities(opts.cap_add, opts.cap_drop, opts.privileged)
    owned = caps if user.uid == 0 else []
    proc = {
        "terminal": opts.tty,
        "user": {"uid": user.uid, "gid": user.gid, "umask": 0o022},
        "args": process_args(cfg.get("Entrypoint"), cfg.get("Cmd"), opts.entrypoint, opts.command),
        "env": environment(inputs, user, hostname),
        "cwd": opts.workdir or cfg.get("WorkingDir") or "/",
        "capabilities": {"bounding": caps, "effective": owned, "permitted": owned},
        "rlimits": [u.to_oci() for u in opts.ulimits],
        "noNewPrivileges": False,
    }
    _check_mapped(inputs, user)
    extra = [g for g in user.additional_gids if _in_maps(inputs, "gidMappings", g)]
    if extra:
        proc["user"]["additionalGids"] = extra
    if not proc["cwd"].startswith("/"):
        raise UsageError(f"the working directory '{proc['cwd']}' is invalid, it needs to be an absolute path")
    return proc


def _in_maps(inputs: SpecInputs, key: str, cid: int) -> bool:
    if inputs.id_mappings is None:
        return True
    return any(m["containerID"] <= cid < m["containerID"] + m["size"] for m in inputs.id_mappings.get(key, []))


def _check_mapped(inputs: SpecInputs, user: ExecUser) -> None:
    """A uid/gid outside the user namespace's map cannot be switched to (setresuid EINVAL)."""
    if _in_maps(inputs, "uidMappings", user.uid) and _in_maps(inputs, "gidMappings", user.gid):
        return
    from rootless.errors import IdMappingError

    raise IdMappingError(
        f"cannot run as {user.uid}:{user.gid}: that user does not exist in rl's user namespace, "
        "where only your own uid/gid is mapped (no subordinate id range)",
        "ask the administrator for a range in /etc/subuid and /etc/subgid (uidmap package), "
        "or run the container as root inside (-u 0), which is your own user outside")


def mounts(inputs: SpecInputs) -> list[dict]:
    opts = inputs.options
    maps = inputs.id_mappings or {}
    has_tty_group = not maps or any(m["containerID"] <= 5 < m["containerID"] + m["size"]
                                    for m in maps.get("gidMappings", []))
    pts = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] + (["gid=5"] if has_tty_group else [])
    out = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": pts},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    ]
    if opts.network == "host":
        out.append({"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    else:
        out.append({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]})
    for dest in ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf"):
        if dest in inputs.etc_files:
            out.append({"destination": dest, "type": "bind", "source": str(inputs.etc_files[dest]),
                        "options": ["rbind", "rprivate"] + (["ro"] if opts.read_only else [])})
    from rootless.engine.run_options import parse_tmpfs

    for spec in opts.tmpfs:
        path, options = parse_tmpfs(spec)
        out.append({"destination": path, "type": "tmpfs", "source": "tmpfs", "options": options})
    for dev in opts.devices:
        mode = "rw" if "w" in dev.permissions else "ro"
        out.append({"destination": dev.container_path, "type": "bind", "source": dev.host_path,
                    "options": ["bind", "nosuid", mode]})
    out += [vol.oci_mount() for vol in opts.volumes]  # -v, resolved by engine.volumes.resolve
    return out


def namespace_types(network: str) -> list[str]:
    """The namespaces a container gets besides the user namespace (a network one unless host)."""
    return ["pid", "ipc", "uts", "mount"] + ([] if network == "host" else ["network"])


def namespaces(inputs: SpecInputs) -> list[dict]:
    out = [{"type": t} for t in namespace_types(inputs.options.network)]
    if inputs.id_mappings is not None:
        out.insert(0, {"type": "user", "path": inputs.userns_path} if inputs.userns_path else {"type": "user"})
    return out


def annotations(inputs: SpecInputs) -> dict:
    opts = inputs.options
    out = {k: str(v) for k, v in inputs.rootfs_annotations.items()}
    if opts.init:
        out["rl.init"] = "true"
    stop = opts.stop_signal or inputs.image_config.get("config", {}).get("StopSignal")
    if stop:
        out["org.opencontainers.image.stopSignal"] = stop
    return out


def build(inputs: SpecInputs) -> dict:
    """The OCI runtime config.json for the container."""
    opts = inputs.options
    hostname = hostname_for(inputs)
    linux: dict = {"namespaces": namespaces(inputs)}
    if inputs.id_mappings is not None:
        linux["uidMappings"] = inputs.id_mappings.get("uidMappings", [])
        linux["gidMappings"] = inputs.id_mappings.get("gidMappings", [])
    if not opts.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    return {
        "ociVersion": OCI_VERSION,
        "process": process(inputs, hostname),
        "root": {"path": inputs.rootfs, "readonly": opts.read_only},
        "hostname": hostname,
        "mounts": mounts(inputs),
        "annotations": annotations(inputs),
        "linux": linux,
    }
