"""The networks `rl network ls|inspect` show: docker's three predefined ones, as rl provides them.

`bridge` is rl's default user-mode network (slirp4netns, or pasta when slirp4netns is absent), shown
under docker's name and driver; `host` and `none` (driver "null") are the host's and a loopback-only
namespace. Their ids are stable: the sha256 of the name. User-defined networks (a shared namespace
with a bridge and a DNS responder) do not exist yet: `create`, `rm`, `connect` and `disconnect`
raise `unsupported()`.
"""

from __future__ import annotations

import hashlib
import re

from rootless.engine.net import slirp
from rootless.errors import NetworkNotFound, RlError

#: name -> driver, in docker's `network ls` order (by name)
BUILTIN = {"bridge": "bridge", "host": "host", "none": "null"}
#: HostConfig.NetworkMode values -> the network a container is attached to
MODE_NETWORK = {"bridge": "bridge", "default": "bridge", "slirp4netns": "bridge", "": "bridge",
                "host": "host", "none": "none", "private": "none"}
FILTERS = ("name", "id", "driver", "scope", "type", "label")
ZERO_TIME = "0001-01-01T00:00:00Z"
UNSUPPORTED = "user-defined networks are not supported yet"


def network_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def find(ref: str) -> str:
    """The name of the network a name, a full id or a unique id prefix means (docker's order)."""
    if ref in BUILTIN:
        return ref
    low = ref.lower()
    matches = [n for n in BUILTIN if network_id(n) == low] or \
              ([n for n in BUILTIN if network_id(n).startswith(low)] if re.fullmatch(r"[0-9a-f]+", low) else [])
    if len(matches) == 1:
        return matches[0]
    raise NetworkNotFound(f"network {ref} not found", UNSUPPORTED if not matches else None)


def parse_filters(values) -> list[tuple[str, str]]:
    out = []
    for value in values or ():
        key, sep, want = value.partition("=")
        if not sep or key not in FILTERS:
            raise RlError(f"Invalid filter '{key if sep else value}'")
        out.append((key, want))
    return out


def matches(name: str, filters: list[tuple[str, str]]) -> bool:
    """docker's rules: values of one key are alternatives (OR), different keys must all match."""
    facts = {"name": lambda w: w in name or bool(_search(w, name)),
             "id": lambda w: network_id(name).startswith(w.lower()),
             "driver": lambda w: w == BUILTIN[name], "scope": lambda w: w == "local",
             "type": lambda w: w == "builtin", "label": lambda w: False}
    keys = {k for k, _ in filters}
    return all(any(facts[k](w) for kk, w in filters if kk == k) for k in keys)


def _search(pattern: str, text: str):
    try:
        return re.search(pattern, text)
    except re.error:
        return None


def rows(filters=()) -> list[dict]:
    """The `network ls` rows (docker's networkContext fields), by name."""
    parsed = parse_filters(filters)
    return [{"ID": network_id(n), "Name": n, "Driver": BUILTIN[n], "Scope": "local", "IPv6": "false",
             "Internal": "false", "Labels": "", "CreatedAt": "0001-01-01 00:00:00 +0000 UTC"}
            for n in sorted(BUILTIN) if matches(n, parsed)]


def attached(records: list[dict], name: str) -> dict:
    """docker's Containers of a network: the running containers attached to it."""
    out = {}
    for rec in records:
        state = rec.get("State") or {}
        mode = (rec.get("HostConfig") or {}).get("NetworkMode", "bridge")
        if not state.get("Running") or MODE_NETWORK.get(mode) != name:
            continue
        address = f"{slirp.ADDRESS}/24" if name == "bridge" else ""
        out[rec["Id"]] = {"Name": rec.get("Name", "").lstrip("/"), "EndpointID": "", "MacAddress": "",
                          "IPv4Address": address, "IPv6Address": ""}
    return out


def inspect(name: str, records: list[dict]) -> dict:
    """docker's NetworkResource for a predefined network."""
    bridge = name == "bridge"
    config = [{"Subnet": slirp.CIDR, "Gateway": slirp.GATEWAY}] if bridge else []
    return {
        "Name": name, "Id": network_id(name), "Created": ZERO_TIME, "Scope": "local",
        "Driver": BUILTIN[name], "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": config},
        "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
        "ConfigOnly": False, "Containers": attached(records, name),
        "Options": {"com.docker.network.driver.mtu": str(slirp.MTU)} if bridge else {},
        "Labels": {},
    }


def unsupported(what: str) -> RlError:
    """The error of `network create/rm/connect/disconnect` for anything but the predefined networks."""
    return RlError(f"{what}: {UNSUPPORTED}", "use the predefined networks: bridge, host, none, "
                   "or --network container:NAME to share another container's network")
