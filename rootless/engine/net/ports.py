"""Published ports: `-p`/`-P` parsing and docker's JSON and text forms of them. Pure: no sockets.

* `parse_port_spec("127.0.0.1:8080:80/udp")` follows docker's nat.ParsePortSpec (go-connections)
  exactly, error messages included: `hostPort:containerPort`, `ip:hostPort:containerPort`,
  `ip::containerPort`, `containerPort`, ranges (`8000-8010:80-90`, lengths must match; a host range
  with one container port means "any free port within the range"), `/tcp`, `/udp`, `/sctp`,
  IPv6 host addresses in brackets (`[::1]:8080:80`).
* `publish_all(exposed, mappings)`: `-P`, every ExposedPort without a -p binding gets a random one.
* `port_bindings()` is HostConfig.PortBindings; `network_ports()` is NetworkSettings.Ports once the
  host ports are bound (`Bound`); `ps_ports()` is the `rl ps` PORTS column (docker's
  DisplayablePorts: equal public/private ports are grouped into ranges, others listed one by one,
  `0.0.0.0:32768->80/tcp, :::32768->80/tcp`); `port_lines()` is `rl port`'s output.
"""

from __future__ import annotations

from rootless.plainclass import dataclass

from rootless.errors import InvalidPortSpec, RlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True)
class PortMapping:
    """One container port and where to publish it (docker's nat.PortMapping)."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""       # "": every address (0.0.0.0 and ::)
    host_port: str = ""     # "" or "0": a free ephemeral port; "8080"; "8000-8010": free one within

    @property
    def key(self) -> str:
        """docker's nat.Port: "80/tcp"."""
        return f"{self.container_port}/{self.proto}"

    def host_port_range(self) -> tuple[int, int] | None:
        """(first, last) host ports to choose from, or None for "any ephemeral port"."""
        if self.host_port in ("", "0"):
            return None
        first, _, last = self.host_port.partition("-")
        return int(first), int(last or first)


@dataclass(frozen=True)
class Bound:
    """A published port once bound on the host: what NetworkSettings.Ports records."""

    container_port: int
    proto: str
    host_ip: str            # the address actually bound: "0.0.0.0", "::", "127.0.0.1"...
    host_port: int

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


# --- parsing -------------------------------------------------------------------------------------

def _uint16(text: str) -> int:
    """Go's strconv.ParseUint(text, 10, 16): digits only, at most 65535."""
    if not (text.isascii() and text.isdigit()):  # [0-9]+ (without `re`: start-up)
        raise ValueError(text)
    value = int(text)
    if value > 65535:
        raise ValueError(text)
    return value


def parse_port_range(text: str) -> tuple[int, int]:
    """nat.ParsePortRange: "80" -> (80, 80), "80-90" -> (80, 90); ValueError otherwise."""
    if text == "":
        raise ValueError("empty string specified for ports")
    if "-" not in text:
        value = _uint16(text)
        return value, value
    parts = text.split("-")
    start, end = _uint16(parts[0]), _uint16(parts[1])
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def _split_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _split_proto_port(raw: str) -> tuple[str, str]:
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _host_ip(ip: str) -> str:
    if ip.startswith("["):
        if not ip.endswith("]") or "]" in ip[:-1]:
            raise InvalidPortSpec(f"invalid IP address: {ip}")
        ip = ip[1:-1]
    if ip and ("%" in ip or not _is_ip(ip)):
        raise InvalidPortSpec(f"invalid IP address: {ip}")
    return ip


def _is_ip(text: str) -> bool:
    import ipaddress  # only for an address in a -p spec (start-up)

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_port_spec(raw: str) -> list[PortMapping]:
    """One `-p` value -> its mappings (one per container port); InvalidPortSpec on bad input."""
    ip, host_port, container_port = _split_parts(raw)
    proto, container_port = _split_proto_port(container_port)
    ip = _host_ip(ip)
    if container_port == "":
        raise InvalidPortSpec(f"no port specified: {raw}<empty>")
    try:
        start, end = parse_port_range(container_port)
    except ValueError:
        raise InvalidPortSpec(f"invalid containerPort: {container_port}") from None
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = parse_port_range(host_port)
        except ValueError:
            raise InvalidPortSpec(f"Invalid hostPort: {host_port}") from None
        if end - start != host_end - host_start and end != start:
            raise InvalidPortSpec(f"invalid ranges specified for container and host Ports: "
                                  f"{container_port} and {host_port}")
    proto = proto.lower()
    if proto not in PROTOCOLS:
        raise InvalidPortSpec(f"invalid proto: {proto}")
    out = []
    for i in range(end - start + 1):
        hp = str(host_start + i) if host_port else ""
        if start == end and host_start != host_end:
            hp = f"{hp}-{host_end}"
        out.append(PortMapping(start + i, proto, ip, hp))
    return out


def parse_publish(specs: Iterable[str]) -> list[PortMapping]:
    """Every `-p` value of a run, in order."""
    return [m for spec in specs for m in parse_port_spec(spec)]


def parse_port_key(key: str) -> tuple[int, str]:
    """An ExposedPorts key or `rl port` argument: "80/tcp", "80" -> (80, "tcp")."""
    port, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    try:
        number = _uint16(port)
    except ValueError:
        raise InvalidPortSpec(f"invalid port: {port}") from None
    if proto not in PROTOCOLS:
        raise InvalidPortSpec(f"invalid proto: {proto}")
    return number, proto


def publish_all(exposed: Iterable[str], mappings: Iterable[PortMapping]) -> list[PortMapping]:
    """`-P`: `mappings` plus a random host port for every exposed port that has no binding."""
    out = list(mappings)
    have = {m.key for m in out}
    for key in sorted(set(exposed), key=parse_port_key):
        port, proto = parse_port_key(key)
        if f"{port}/{proto}" not in have:
            out.append(PortMapping(port, proto))
    return out


def exposed_ports(image_exposed: Iterable[str], mappings: Iterable[PortMapping]) -> dict:
    """Config.ExposedPorts: the image's plus every published port (docker adds those too)."""
    keys = {f"{p}/{proto}" for p, proto in map(parse_port_key, image_exposed)}
    keys |= {m.key for m in mappings}
    return {k: {} for k in sorted(keys, key=parse_port_key)}


# --- docker's JSON -------------------------------------------------------------------------------

def port_bindings(mappings: Iterable[PortMapping]) -> dict:
    """HostConfig.PortBindings: {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}."""
    out: dict[str, list[dict]] = {}
    for m in mappings:
        out.setdefault(m.key, []).append({"HostIp": m.host_ip, "HostPort": m.host_port})
    return out


def mappings_from_bindings(bindings: dict) -> list[PortMapping]:
    """HostConfig.PortBindings back to mappings (to publish again when a container restarts)."""
    out = []
    for key, entries in bindings.items():
        port, proto = parse_port_key(key)
        for b in entries or [{}]:
            out.append(PortMapping(port, proto, b.get("HostIp", ""), b.get("HostPort", "")))
    return out


def network_ports(exposed: Iterable[str], bound: Iterable[Bound]) -> dict:
    """NetworkSettings.Ports: every exposed port, null when not published."""
    out: dict[str, list[dict] | None] = {}
    for key in exposed:
        port, proto = parse_port_key(key)
        out[f"{port}/{proto}"] = None
    for b in bound:
        entries = out.get(b.key) or []
        entries.append({"HostIp": b.host_ip, "HostPort": str(b.host_port)})
        out[b.key] = entries
    return {k: out[k] for k in sorted(out, key=parse_port_key)}


# --- text ----------------------------------------------------------------------------------------

def _ports_list(ports: dict) -> list[tuple[int, str, int, str]]:
    """docker's []types.Port as (private, ip, public, type) tuples, in comparePorts order."""
    out = []
    for key, entries in (ports or {}).items():
        private, proto = parse_port_key(key)
        if not entries:
            out.append((private, "", 0, proto))
        for e in entries or []:
            public = int(e.get("HostPort") or 0)
            out.append((private, e.get("HostIp", ""), public, proto))
    return sorted(out)


def ps_ports(ports: dict) -> str:
    """The PORTS column from NetworkSettings.Ports (docker's formatter.DisplayablePorts)."""
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    host_mappings: list[str] = []
    for private, ip, public, proto in _ports_list(ports):
        key = proto
        if ip:
            if public != private:
                host_mappings.append(f"{ip}:{public}->{private}/{proto}")
                continue
            key = f"{ip}/{proto}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
            order.append(key)
        elif private == group[1] + 1:
            group[1] = private
        else:
            result.append(_form_group(key, *group))
            groups[key] = [private, private]
    result += [_form_group(key, *groups[key]) for key in order]
    return ", ".join(result + host_mappings)


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{ip}:{group}->{group}"
    return f"{group}/{proto}"


def port_lines(ports: dict, container: str, private: str | None = None) -> list[str]:
    """`rl port CONTAINER [PRIVATE_PORT[/PROTO]]` output lines (docker's wording)."""
    if private is not None:
        port, _, proto = private.partition("/")
        proto = proto or "tcp"
        key = "%d/%s" % parse_port_key(f"{port}/{proto}")
        entries = (ports or {}).get(key)
        if not entries:
            raise RlError(f"No public port '{port}/{proto}' published for {container}")
        return [f"{e['HostIp']}:{e['HostPort']}" for e in entries]
    lines = []
    for key in sorted(ports or {}, key=parse_port_key):
        for e in ports[key] or []:
            lines.append(f"{key} -> {e['HostIp']}:{e['HostPort']}")
    return lines
