"""The networks `rl network ls|inspect` show: docker's three predefined ones, as rl provides them.

`bridge` is rl's default user-mode network (slirp4netns, or pasta when slirp4netns is absent), shown
under docker's name and driver; `host` and `none` (driver "null") are the host's and a loopback-only
namespace. Their ids are stable: the sha256 of the name. User-defined networks (usernet.py: a
bridge in the holder's namespace, a DNS responder, slirp4netns for the way out) are listed beside
them when the store's `paths` are given; their ids are random, 64 hex digits.
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


def network_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def find(ref: str, paths=None) -> str:
    """The name of the network a name, a full id or a unique id prefix means (docker's order:
    a name, then a full id, then a unique prefix), among the predefined and, with `paths`, the
    user-defined networks."""
    if ref in BUILTIN:
        return ref
    user = _user_networks(paths)
    if any(n["Name"] == ref for n in user):
        return ref
    low = ref.lower()
    ids = {network_id(n): n for n in BUILTIN} | {n["Id"]: n["Name"] for n in user}
    matches = [name for nid, name in ids.items() if nid == low] or \
              ([name for nid, name in ids.items() if nid.startswith(low)] if re.fullmatch(r"[0-9a-f]+", low) else [])
    if len(matches) == 1:
        return matches[0]
    raise NetworkNotFound(f"network {ref} not found")


def _user_networks(paths) -> list[dict]:
    if paths is None:
        return []
    from rootless.engine.net import usernet

    return usernet.all_networks(paths)


def parse_filters(values) -> list[tuple[str, str]]:
    out = []
    for value in values or ():
        key, sep, want = value.partition("=")
        if not sep or key not in FILTERS:
            raise RlError(f"Invalid filter '{key if sep else value}'")
        out.append((key, want))
    return out


def matches(name: str, filters: list[tuple[str, str]], user: dict | None = None) -> bool:
    """docker's rules: values of one key are alternatives (OR), different keys must all match.
    `user`: the definition of a user network (usernet.py), None for a predefined one."""
    nid = user["Id"] if user else network_id(name)
    labels = (user or {}).get("Labels") or {}
    facts = {"name": lambda w: w in name or bool(_search(w, name)),
             "id": lambda w: nid.startswith(w.lower()),
             "driver": lambda w: w == (user.get("Driver", "bridge") if user else BUILTIN[name]),
             "scope": lambda w: w == "local",
             "type": lambda w: w == ("custom" if user else "builtin"),
             "label": lambda w: _label_matches(w, labels)}
    keys = {k for k, _ in filters}
    return all(any(facts[k](w) for kk, w in filters if kk == k) for k in keys)


def _label_matches(want: str, labels: dict) -> bool:
    key, sep, value = want.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _search(pattern: str, text: str):
    try:
        return re.search(pattern, text)
    except re.error:
        return None


def rows(filters=(), paths=None) -> list[dict]:
    """The `network ls` rows (docker's networkContext fields), by name; user networks too with `paths`."""
    parsed = parse_filters(filters)
    out = [{"ID": network_id(n), "Name": n, "Driver": BUILTIN[n], "Scope": "local", "IPv6": "false",
            "Internal": "false", "Labels": "", "CreatedAt": "0001-01-01 00:00:00 +0000 UTC"}
           for n in BUILTIN if matches(n, parsed)]
    out += [{"ID": u["Id"], "Name": u["Name"], "Driver": u.get("Driver", "bridge"), "Scope": "local",
             "IPv6": "false", "Internal": str(bool(u.get("Internal"))).lower(),
             "Labels": ",".join(f"{k}={v}" for k, v in sorted((u.get("Labels") or {}).items())),
             "CreatedAt": _created_at(u["Created"])}
            for u in _user_networks(paths) if matches(u["Name"], parsed, u)]
    return sorted(out, key=lambda r: r["Name"])


def _created_at(created: str) -> str:
    """docker's CreatedAt column: '2026-11-27 21:51:57.123456789 +0000 UTC'."""
    return created.replace("T", " ").rstrip("Z") + " +0000 UTC"


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


def inspect(name: str, records: list[dict], paths=None) -> dict:
    """docker's NetworkResource for a network (a user network's needs `paths`)."""
    if name not in BUILTIN:
        from rootless.engine.net import usernet

        network = usernet.find(paths, name)
        out = usernet.resource(network)
        members = usernet.endpoints(paths, network["Id"])
        containers = {k: {f: v[f] for f in ("Name", "EndpointID", "MacAddress", "IPv4Address", "IPv6Address")}
                      for k, v in members.items()}
        return {**{k: out[k] for k in list(out) if k not in ("Options", "Labels")},
                "Containers": containers, "Options": out["Options"], "Labels": out["Labels"]}
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


def users(records: list[dict], network: dict) -> list[str]:
    """Names of the containers (running or not) attached to a user network, from their records."""
    from rootless.engine.net import endpoints

    return [(r.get("Name") or r["Id"][:12]).lstrip("/") for r in records
            if network["Name"] in (name for name, _ in endpoints.wanted(r))]
