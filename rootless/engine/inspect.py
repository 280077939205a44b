"""`rl inspect` for containers: docker's ContainerJSON built from a container's record.

The record (state.json) is already shaped like docker's inspect output; this module puts the keys
in docker's order, fills the fields rl does not keep with docker's values for them (empty labels,
null ExecIDs, ...), drops rl's private fields (State.Monitor/Process, "Rl") and adds what lives
elsewhere: GraphDriver from the bundle's rootfs annotations, Mounts from config.json's bind mounts
(not the hosts/hostname/resolv.conf files docker does not list either), SizeRw/SizeRootFs with -s.

`State.Pid` is the host pid of the container's first process while it runs: `nsenter -t PID -U -m
-u -i -n -p` enters it (rl containers have their own user namespace, hence -U; docker's do not).
"""

from __future__ import annotations

import json
import os

from rootless.engine.container_store import ZERO_TIME

STATE_KEYS = (("Status", "created"), ("Running", False), ("Paused", False), ("Restarting", False),
              ("OOMKilled", False), ("Dead", False), ("Pid", 0), ("ExitCode", 0), ("Error", ""),
              ("StartedAt", ZERO_TIME), ("FinishedAt", ZERO_TIME))
HOST_CONFIG_DEFAULTS = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "bridge", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None,
    "CgroupnsMode": "private", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None,
    "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None, "OomScoreAdj": 0,
    "PidMode": "", "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False,
    "SecurityOpt": None, "Tmpfs": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
    "Runtime": "rl", "Isolation": "", "Init": False, "Devices": [], "Ulimits": None,
    "Mounts": None, "MaskedPaths": None, "ReadonlyPaths": None,
}
CONFIG_DEFAULTS = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": True,
    "AttachStderr": True, "ExposedPorts": None, "Tty": False, "OpenStdin": False, "StdinOnce": False,
    "Env": None, "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
    "OnBuild": None, "Labels": {}, "StopSignal": None,
}
ETC_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def _ordered(defaults: dict, given: dict | None) -> dict:
    given = dict(given or {})
    out = {k: given.pop(k, v) for k, v in defaults.items()}
    out.update(given)
    return out


def state_view(state: dict) -> dict:
    out = {k: state.get(k, v) for k, v in STATE_KEYS}
    if state.get("Health"):
        out["Health"] = state["Health"]
    return out


def graph_driver(record: dict, config: dict) -> dict:
    notes = config.get("annotations") or {}
    driver = notes.get("rl.rootfs.driver") or record.get("Driver") or "vfs"
    merged = (config.get("root") or {}).get("path", "")
    if driver == "vfs":
        return {"Name": "vfs", "Data": {"MergedDir": merged} if merged else None}
    return {"Name": driver, "Data": {"LowerDir": notes.get("rl.rootfs.lowerdir", ""),
                                     "MergedDir": merged,
                                     "UpperDir": notes.get("rl.rootfs.upperdir", ""),
                                     "WorkDir": notes.get("rl.rootfs.workdir", "")}}


def mounts(record: dict, config: dict, volumes_root: str = "") -> list[dict]:
    """docker's Mounts: the bind mounts and volumes the user asked for (not rl's own files); a
    source under `volumes_root` is a volume (Name, Driver "local")."""
    if record.get("Mounts") is not None:
        return record["Mounts"]
    out = []
    for m in config.get("mounts") or ():
        if m.get("type") != "bind" or m.get("destination") in ETC_FILES:
            continue
        if m.get("source", "").startswith("/dev") and m.get("destination", "").startswith("/dev"):
            continue
        options = m.get("options") or []
        source = m.get("source", "")
        rw = "ro" not in options
        if volumes_root and source.startswith(volumes_root.rstrip("/") + "/"):
            name = source[len(volumes_root.rstrip("/")) + 1:].split("/")[0]
            out.append({"Type": "volume", "Name": name, "Source": source, "Destination": m["destination"],
                        "Driver": "local", "Mode": "", "RW": rw, "Propagation": ""})
            continue
        out.append({"Type": "bind", "Source": source, "Destination": m["destination"],
                    "Mode": "", "RW": rw, "Propagation": "rprivate"})
    return out


def network_settings(record: dict) -> dict:
    given = dict(record.get("NetworkSettings") or {})
    mode = (record.get("HostConfig") or {}).get("NetworkMode", "bridge")
    defaults = {"Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0, "Ports": {}, "SandboxKey": "", "SecondaryIPAddresses": None,
                "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                "MacAddress": "",
                "Networks": {{"slirp4netns": "bridge"}.get(mode, mode): {
                    "IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "", "EndpointID": "",
                    "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                    "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "",
                    "DriverOpts": None}}}
    return _ordered(defaults, given)


def container_view(record: dict, config: dict, *, size: tuple[int, int] | None = None,
                   volumes_root: str = "") -> dict:
    """docker's ContainerJSON for one container record and its bundle's config.json."""
    view = {
        "Id": record["Id"], "Created": record.get("Created", ZERO_TIME),
        "Path": record.get("Path", ""), "Args": record.get("Args") or [],
        "State": state_view(record.get("State") or {}),
        "Image": record.get("Image", ""),
        "ResolvConfPath": record.get("ResolvConfPath", ""), "HostnamePath": record.get("HostnamePath", ""),
        "HostsPath": record.get("HostsPath", ""), "LogPath": record.get("LogPath", ""),
        "Name": record.get("Name", ""), "RestartCount": record.get("RestartCount", 0),
        "Driver": record.get("Driver", ""), "Platform": "linux", "MountLabel": "", "ProcessLabel": "",
        "AppArmorProfile": "", "ExecIDs": None,
        "HostConfig": _ordered(HOST_CONFIG_DEFAULTS, record.get("HostConfig")),
        "GraphDriver": graph_driver(record, config),
    }
    if size is not None:
        view["SizeRw"], view["SizeRootFs"] = size
    view["Mounts"] = mounts(record, config, volumes_root)
    view["Config"] = _ordered(CONFIG_DEFAULTS, {k: v for k, v in (record.get("Config") or {}).items()
                                                if k != "StopTimeout" or v is not None})
    view["NetworkSettings"] = network_settings(record)
    return view


def read_config(directory) -> dict:
    try:
        with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def tree_size(path) -> int:
    """Bytes of the regular files under path (each inode once); unreadable parts are skipped."""
    total, seen = 0, set()
    for root, dirs, files in os.walk(path, onerror=lambda _: None):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen and (st.st_mode & 0o170000) == 0o100000:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def inspect_container(paths, store, ref: str, *, size: bool = False) -> dict:
    """The inspect view of container `ref` (ContainerNotFound when there is none)."""
    from rootless.engine.lifecycle import truth

    record = truth.current(store, store.resolve(ref))
    directory = paths.container(record["Id"])
    config = read_config(directory)
    sizes = None
    if size:
        rw = tree_size(directory / "upper")
        try:
            from rootless.engine.image.store import ImageStore

            image_size = ImageStore(paths).get(record["Image"]).size
        except Exception:  # noqa: BLE001 - the image may be gone (rmi -f): its size is unknown
            image_size = 0
        sizes = (rw, rw + image_size)
    return container_view(record, config, size=sizes, volumes_root=str(paths.volumes))
