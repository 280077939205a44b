"""User-defined networks: their definitions (in the store) and their endpoints (at run time).

A network is `<root>/networks/<name>.json`: docker's Name, Id (64 hex), Created, Driver "bridge",
Subnet, Gateway, Internal, Labels, Options. The holder (holder.py) gives it a Linux bridge in the
shared network namespace, with the gateway address on it, the DNS responder on <gateway>:53 and,
unless --internal, a slirp4netns attached to the bridge by its tap device: slirp4netns' own
address (the network's 2nd, `slirp_addresses`) is the containers' default route and its NAT is
their way out; its DNS forwarder takes the 3rd. Containers get the other addresses, lowest first.

An endpoint is a running container's attachment: `<usernet_dir>/<id12>.endpoints.json` maps the
container id to docker's endpoint fields (Name, EndpointID, MacAddress, IPv4Address) plus the
names the DNS answers for it (Aliases) and the container process (Pid, PidStart): an endpoint
whose process is gone is stale, skipped by the DNS and reused by the allocator. Every change is
made under `Paths.networks_lock` and written atomically.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import re
import secrets
import time
from contextlib import contextmanager
from pathlib import Path

from rootless.errors import Conflict, NetworkNotFound, UsageError

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
#: the pool rl picks subnets from when --subnet is not given (podman's 10.89.x.0/24 family)
POOL = ipaddress.IPv4Network("10.89.0.0/16")
MTU = 65520
RESERVED_NAMES = ("bridge", "host", "none", "default", "private", "slirp4netns", "pasta")


# --- pure ----------------------------------------------------------------------------------------

def validate_name(name: str) -> str:
    if not NAME_RE.fullmatch(name or "") or len(name) > 200:
        raise UsageError(f"invalid network name {name!r}",
                         "use letters, digits and _ . - (starting with a letter or a digit)")
    if name in RESERVED_NAMES or name.startswith("container:"):
        raise Conflict(f"network with name {name} already exists")
    return name


def choose_subnet(used: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """The first /24 of POOL (from 10.89.1.0) that overlaps none of `used`."""
    for net in list(POOL.subnets(new_prefix=24))[1:]:
        if not any(net.overlaps(u) for u in used):
            return net
    raise UsageError("no free subnet left in 10.89.0.0/16", "give one with --subnet")


def slirp_addresses(net: ipaddress.IPv4Network) -> tuple[str, str]:
    """(slirp4netns' address: the containers' router, its DNS forwarder) in `net`."""
    return str(net.network_address + 2), str(net.network_address + 3)


def plan_addresses(subnet: str | None, gateway: str | None, internal: bool,
                   used: list[ipaddress.IPv4Network]) -> tuple[str, str]:
    """(subnet, gateway) of a new network from --subnet/--gateway (UsageError when they do not fit)."""
    try:
        net = ipaddress.IPv4Network(subnet, strict=False) if subnet else choose_subnet(used)
    except ValueError as e:
        raise UsageError(f"invalid subnet {subnet}: {e}", "use CIDR form, e.g. 10.90.0.0/24") from None
    if subnet and str(net) != subnet:
        raise UsageError(f"invalid subnet {subnet}: host bits set", f"use {net}")
    if net.prefixlen > 28:
        raise UsageError(f"subnet {net} is too small", "use a prefix of /28 or shorter")
    if subnet and any(net.overlaps(u) for u in used):
        raise Conflict(f"subnet {net} overlaps with another network")
    try:
        gw = ipaddress.IPv4Address(gateway) if gateway else net.network_address + 1
    except ValueError:
        raise UsageError(f"invalid gateway {gateway}") from None
    if gw not in net or gw in (net.network_address, net.broadcast_address):
        raise UsageError(f"gateway {gw} is not a host address of {net}")
    if not internal and str(gw) in slirp_addresses(net):
        raise UsageError(f"gateway {gw} is reserved for the user-mode stack of the network",
                         f"use another address (not {' or '.join(slirp_addresses(net))})")
    return str(net), str(gw)


def free_address(network: dict, taken: set[str]) -> str:
    """The lowest address of the network that no endpoint, gateway or slirp4netns holds."""
    net = ipaddress.IPv4Network(network["Subnet"])
    reserved = {network["Gateway"], *slirp_addresses(net)} | taken
    for host in net.hosts():
        if str(host) not in reserved:
            return str(host)
    raise Conflict(f"no free address left in network {network['Name']} ({net})")


def mac_for(address: str) -> str:
    """docker's MAC for an IPv4 address: 02:42 and the four address bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)


def resource(network: dict) -> dict:
    """docker's NetworkResource of a user network (without Containers)."""
    return {
        "Name": network["Name"], "Id": network["Id"], "Created": network["Created"], "Scope": "local",
        "Driver": network.get("Driver", "bridge"), "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": {},
                 "Config": [{"Subnet": network["Subnet"], "Gateway": network["Gateway"]}]},
        "Internal": bool(network.get("Internal")), "Attachable": False, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Options": dict(network.get("Options") or {}), "Labels": dict(network.get("Labels") or {}),
    }


# --- definitions ---------------------------------------------------------------------------------

@contextmanager
def locked(paths):
    paths.locks.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.networks_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except (OSError, ValueError):
        return default


def all_networks(paths) -> list[dict]:
    """Every user network of the store, by name."""
    try:
        files = sorted(Path(paths.networks).glob("*.json"))
    except OSError:
        return []
    return [n for n in (_read_json(f, None) for f in files) if isinstance(n, dict) and "Id" in n]


def load(paths, name: str) -> dict | None:
    return _read_json(paths.network_file(name), None) if NAME_RE.fullmatch(name or "") else None


def create(paths, name: str, *, subnet: str | None = None, gateway: str | None = None,
           internal: bool = False, labels: dict | None = None, driver: str = "bridge") -> dict:
    """Define a network (Conflict when the name is taken or the subnet overlaps)."""
    validate_name(name)
    if driver != "bridge":
        raise UsageError(f"network driver {driver} is not supported", "rl has the bridge driver only")
    with locked(paths):
        existing = all_networks(paths)
        if any(n["Name"] == name for n in existing):
            raise Conflict(f"network with name {name} already exists")
        used = [ipaddress.IPv4Network(n["Subnet"]) for n in existing]
        sub, gw = plan_addresses(subnet, gateway, internal, used)
        network = {"Name": name, "Id": hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
                   "Created": _now(), "Driver": "bridge", "Subnet": sub, "Gateway": gw,
                   "Internal": internal, "Labels": dict(labels or {}),
                   "Options": {"com.docker.network.driver.mtu": str(MTU)}}
        _write_json(paths.network_file(name), network)
    return network


def remove(paths, network: dict, in_use: list[str]) -> None:
    """Delete a network's definition (Conflict when containers use it: `in_use` names them)."""
    if in_use:
        raise Conflict(f"error while removing network: network {network['Name']} id {network['Id']} "
                       f"has active endpoints", f"used by: {', '.join(in_use)}")
    with locked(paths):
        paths.network_file(network["Name"]).unlink(missing_ok=True)
        Path(paths.network_endpoints(network["Id"])).unlink(missing_ok=True)


def find(paths, ref: str) -> dict:
    """The user network a name, full id or unique id prefix means (NetworkNotFound)."""
    nets = all_networks(paths)
    for n in nets:
        if n["Name"] == ref or n["Id"] == ref.lower():
            return n
    if re.fullmatch(r"[0-9a-fA-F]+", ref or ""):
        hits = [n for n in nets if n["Id"].startswith(ref.lower())]
        if len(hits) == 1:
            return hits[0]
    raise NetworkNotFound(f"network {ref} not found")


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


# --- endpoints -----------------------------------------------------------------------------------

def _alive(entry: dict) -> bool:
    from rootless.runtime.state import pid_start_time

    pid = entry.get("Pid") or 0
    try:
        return pid > 0 and pid_start_time(pid) == entry.get("PidStart")
    except Exception:  # noqa: BLE001 - gone, or unreadable: not alive
        return False


def endpoints(paths, network_id: str, *, live: bool = True) -> dict:
    """container id -> endpoint of a network (only those whose process runs, unless live=False)."""
    data = _read_json(Path(paths.network_endpoints(network_id)), {})
    return {k: v for k, v in data.items() if not live or _alive(v)} if isinstance(data, dict) else {}


def allocate(paths, network: dict, cid: str, name: str, aliases: list[str], pid: int) -> dict:
    """Give container `cid` (first process `pid`) an address on `network`; returns the endpoint."""
    from rootless.runtime.state import pid_start_time

    with locked(paths):
        if load(paths, network["Name"]) is None:
            raise NetworkNotFound(f"network {network['Name']} not found")
        path = Path(paths.network_endpoints(network["Id"]))
        current = {k: v for k, v in endpoints(paths, network["Id"], live=True).items() if k != cid}
        address = free_address(network, {e["IPv4Address"].split("/")[0] for e in current.values()})
        prefix = ipaddress.IPv4Network(network["Subnet"]).prefixlen
        names = [name] + [a for a in dict.fromkeys(list(aliases) + [cid[:12]]) if a and a != name]
        entry = {"Name": name, "EndpointID": hashlib.sha256(f"{cid}/{network['Id']}".encode()).hexdigest(),
                 "MacAddress": mac_for(address), "IPv4Address": f"{address}/{prefix}", "IPv6Address": "",
                 "Aliases": names, "Pid": pid, "PidStart": pid_start_time(pid)}
        current[cid] = entry
        _write_json(path, current)
    return entry


def release(paths, network_id: str, cid: str) -> None:
    """Drop container `cid`'s endpoint (and every stale one) from a network."""
    with locked(paths):
        path = Path(paths.network_endpoints(network_id))
        if not path.exists():
            return
        _write_json(path, {k: v for k, v in endpoints(paths, network_id).items() if k != cid})


def lookup(paths, network_id: str, qname: str) -> list[str]:
    """The addresses the DNS answers for `qname` on a network (names compare case-insensitively,
    with or without a trailing dot)."""
    want = qname.rstrip(".").lower()
    return [e["IPv4Address"].split("/")[0] for e in endpoints(paths, network_id).values()
            if want in (a.lower() for a in e.get("Aliases") or ())]
