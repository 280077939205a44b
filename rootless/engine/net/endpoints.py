"""A container's attachments to user networks: which networks (record), and the veth plumbing.

Which: HostConfig.NetworkMode names the first network (docker records the name); more come from
`rl network connect` and the aliases from `--network-alias`/`--alias`, kept in the record under
Rl.Endpoints ({network name: {"Aliases": [...]}}, in attachment order). At each start:

    prepare(paths, record, bundle)    the holder runs; config.json joins its user namespace;
                                      /etc/resolv.conf names the first network's DNS (its gateway)
    attach_all(paths, cid, name, pid, networks)   per network: an address, a veth pair to its
                                      bridge (eth0, eth1... inside), /etc/hosts with the address
    release_all(paths, cid, networks) when the container's process has ended

`connect`/`disconnect` of a running container attach or detach one network on the fly; that needs
the container to be in the holder's user namespace already (it started on a user network).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rootless.errors import InvalidState, NetworkSetupError, UsageError

BUILTIN_MODES = ("", "bridge", "default", "slirp4netns", "pasta", "host", "none", "private")


def is_user_network(mode: str) -> bool:
    return bool(mode) and mode not in BUILTIN_MODES and not mode.startswith("container:")


def wanted(record: dict) -> list[tuple[str, list[str]]]:
    """(network name, aliases) of every user network the container is attached to, in order."""
    mode = (record.get("HostConfig") or {}).get("NetworkMode") or ""
    extra = ((record.get("Rl") or {}).get("Endpoints") or {})
    out = []
    if is_user_network(mode):
        out.append((mode, list((extra.get(mode) or {}).get("Aliases") or ())))
    out += [(name, list(cfg.get("Aliases") or ())) for name, cfg in extra.items() if name != mode]
    return out


def resolve(paths, record: dict) -> list[tuple[dict, list[str]]]:
    """wanted() with each network's definition (NetworkNotFound for one that is gone)."""
    from rootless.engine.net import usernet

    return [(usernet.find(paths, name), aliases) for name, aliases in wanted(record)]


def _user_ns_path(info: dict) -> str:
    return f"/proc/{info['ns_pid']}/ns/user"


def join_holder(config: dict, info: dict) -> dict:
    """config.json with the holder's user namespace joined by path (pure; UsageError when the
    container's id mappings are not the holder's, e.g. --userns=keep-id)."""
    linux = dict(config.get("linux") or {})
    has_user = any(ns.get("type") == "user" for ns in linux.get("namespaces") or ())
    if not info.get("userns"):
        return config
    mapping = info.get("mapping") or {}
    if not has_user or any(linux.get(k) != mapping.get(k) for k in ("uidMappings", "gidMappings")):
        raise UsageError("a container on a user network needs rl's default user namespace mapping",
                         "leave --userns out for containers on user networks")
    linux["namespaces"] = [{"type": "user", "path": _user_ns_path(info)} if ns.get("type") == "user"
                           else ns for ns in linux["namespaces"]]
    return {**config, "linux": linux}


def resolv_conf(gateway: str, host_resolv: str = "") -> str:
    """/etc/resolv.conf of a container on a user network: the network's DNS, the host's options.
    The host's search domains are left out: the network's names are single labels."""
    options = [w for line in host_resolv.splitlines() if line.split()[:1] == ["options"]
               for w in line.split()[1:]]
    return f"nameserver {gateway}\n" + (f"options {' '.join(options)}\n" if options else "")


def hosts(hostname: str, addresses: list[str], name: str) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    names = " ".join(dict.fromkeys(n for n in (hostname, name) if n))
    lines += [f"{a}\t{names}" for a in addresses[:1]]
    return "\n".join(lines) + "\n"


def _etc_sources(config: dict) -> dict:
    return {m["destination"]: m["source"] for m in config.get("mounts") or ()
            if m.get("destination") in ("/etc/hosts", "/etc/resolv.conf")}


def _rewrite_in_place(path: str, text: str) -> None:
    """Files bind-mounted into a container are rewritten in place (same inode), never replaced."""
    with open(path, "w") as f:
        f.write(text)


def prepare(paths, record: dict, bundle) -> dict | None:
    """Before the runtime creates the container: the holder's facts (None: no user network)."""
    networks = resolve(paths, record)
    if not networks:
        return None
    from rootless.engine.net import holder

    info = holder.ensure(paths)
    path = Path(bundle) / "config.json"
    config = join_holder(json.loads(path.read_text()), info)
    tmp = path.with_name(".config.json.tmp")
    tmp.write_text(json.dumps(config, separators=(",", ":")))
    os.replace(tmp, path)
    resolv = _etc_sources(config).get("/etc/resolv.conf")
    if resolv:  # the first user network's DNS (it forwards what it does not know)
        try:
            host = Path("/etc/resolv.conf").read_text()
        except OSError:
            host = ""
        _rewrite_in_place(resolv, resolv_conf(networks[0][0]["Gateway"], host))
    return info


def attach(paths, info: dict, cid: str, name: str, pid: int, network: dict, aliases: list[str],
           ifname: str, route: bool) -> dict:
    """Give the container (first process `pid`) an address on `network` and its veth; the endpoint."""
    import ipaddress

    from rootless.engine.net import bridge, usernet

    endpoint = usernet.allocate(paths, network, cid, name, aliases, pid)
    user_pid = info["ns_pid"] if info.get("userns") else None
    router = usernet.slirp_addresses(ipaddress.IPv4Network(network["Subnet"]))[0]
    veth = bridge.veth_lines(cid, network, pid, ifname, usernet.MTU)
    try:
        try:
            bridge.ip_batch(user_pid, info["ns_pid"], veth)
        except NetworkSetupError:  # the holder-side end of an earlier run left over: drop it, again
            bridge.ip_batch(user_pid, info["ns_pid"], [f"link del {bridge.veth_name(cid, network['Id'])}"],
                            check=False)
            bridge.ip_batch(user_pid, info["ns_pid"], veth)
        bridge.ip_batch(user_pid, pid, bridge.inside_lines(
            endpoint, ifname, router if route and not network.get("Internal") else None))
    except BaseException:
        usernet.release(paths, network["Id"], cid)
        raise
    return endpoint


def attach_all(paths, info: dict, cid: str, name: str, pid: int, networks, *, first_route: bool = True,
               first_index: int = 0) -> list[tuple[dict, dict]]:
    """attach() every network (eth<first_index>, ...); /etc/hosts written; [(network, endpoint)]."""
    done = []
    try:
        for i, (network, aliases) in enumerate(networks):
            ep = attach(paths, info, cid, name, pid, network, aliases, f"eth{first_index + i}",
                        route=first_route and i == 0)
            done.append((network, ep))
    except BaseException:
        release_all(paths, cid, [n for n, _ in done])
        raise
    config = json.loads((Path(paths.container(cid)) / "config.json").read_text())
    hosts_file = _etc_sources(config).get("/etc/hosts")
    if hosts_file and done:
        _rewrite_in_place(hosts_file, hosts(config.get("hostname") or "", [
            ep["IPv4Address"].split("/")[0] for _, ep in done], name))
    return done


def release_all(paths, cid: str, networks) -> None:
    from rootless.engine.net import usernet

    for network in networks:
        try:
            usernet.release(paths, network["Id"], cid)
        except OSError:
            pass


def settings(network: dict, endpoint: dict) -> dict:
    """docker's NetworkSettings.Networks.<name> of an attached container."""
    address, _, prefix = endpoint["IPv4Address"].partition("/")
    return {"IPAMConfig": None, "Links": None, "Aliases": endpoint.get("Aliases"),
            "MacAddress": endpoint["MacAddress"], "NetworkID": network["Id"],
            "EndpointID": endpoint["EndpointID"], "Gateway": network["Gateway"], "IPAddress": address,
            "IPPrefixLen": int(prefix or 0), "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DriverOpts": None, "DNSNames": endpoint.get("Aliases")}


def same_userns(info: dict, pid: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/user").st_ino == os.stat(_user_ns_path(info)).st_ino
    except OSError:
        return False


def free_ifname(dev_text: str) -> str:
    """The lowest ethN that /proc/PID/net/dev (its text) does not list."""
    names = {line.split(":", 1)[0].strip() for line in dev_text.splitlines() if ":" in line}
    return next(f"eth{i}" for i in range(len(names) + 1) if f"eth{i}" not in names)


def hot_attach(paths, cid: str, name: str, pid: int, network: dict, aliases: list[str]) -> dict:
    """`network connect` of a running container: it must be in the holder's user namespace."""
    from rootless.engine.net import holder

    info = holder.ensure(paths)
    if info.get("userns") and not same_userns(info, pid):
        raise InvalidState(f"cannot connect running container {name} to network {network['Name']}: "
                           "it was not started on a user network",
                           "stop it, connect it, and start it again")
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            ifname = free_ifname(f.read())
    except OSError as e:
        raise InvalidState(f"cannot read the interfaces of container {name}: {e.strerror}") from None
    return attach(paths, info, cid, name, pid, network, aliases, ifname, route=False)


def hot_detach(paths, cid: str, network: dict) -> None:
    from rootless.engine.net import bridge, holder, usernet

    info = holder.current(paths)
    if info is not None:
        user_pid = info["ns_pid"] if info.get("userns") else None
        bridge.ip_batch(user_pid, info["ns_pid"], [f"link del {bridge.veth_name(cid, network['Id'])}"],
                        check=False)
    usernet.release(paths, network["Id"], cid)

