"""Binding the host side of published ports, before the container starts.

`bind_published(mappings)` opens one listening TCP socket (or one UDP socket) per host address of
every `PortMapping` and returns them with the `Bound` facts NetworkSettings.Ports records. Binding
happens in the caller, so a port in use or a privileged port is an error of `rl run` itself, with
nothing started yet (docker's "Bind for 0.0.0.0:8080 failed: port is already allocated"). The
sockets are then handed to the forwarder process, which inherits them.

Host address "" means every address: 0.0.0.0 and, where the host has IPv6, [::] (IPV6_V6ONLY) on
the same port, as docker does. Host port "" or "0" picks a free port in the kernel's ephemeral range
(net.ipv4.ip_local_port_range, docker's 32768-60999 style), lowest first as docker's allocator
does on a fresh daemon; "8000-8010" picks the first free one in that range.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable
from rootless.plainclass import dataclass

from rootless.engine.net.ports import Bound, PortMapping
from rootless.errors import PublishError

LOCAL_PORT_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
UNPRIVILEGED_PORT_START = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
LISTEN_BACKLOG = 4096


@dataclass
class Listener:
    """One bound host socket and the published port it serves."""

    bound: Bound
    sock: socket.socket

    def close(self) -> None:
        self.sock.close()


def ephemeral_range(path: str = LOCAL_PORT_RANGE) -> tuple[int, int]:
    try:
        with open(path) as f:
            first, last = f.read().split()[:2]
        return int(first), int(last)
    except (OSError, ValueError):
        return 32768, 60999


def unprivileged_port_start(path: str = UNPRIVILEGED_PORT_START) -> int:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 1024


def _addresses(host_ip: str) -> list[tuple[socket.AddressFamily, str]]:
    if host_ip == "":
        out = [(socket.AF_INET, "0.0.0.0")]
        if socket.has_ipv6 and _ipv6_works():
            out.append((socket.AF_INET6, "::"))
        return out
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    return [(family, host_ip)]


def _ipv6_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _open(family: socket.AddressFamily, proto: str, ip: str, port: int) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind | socket.SOCK_CLOEXEC)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT of a last run
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((ip, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _display(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _bind_port(m: PortMapping, port: int) -> list[Listener]:
    """Bind every address of `m` on `port`; OSError (sockets closed) when one cannot be bound."""
    out: list[Listener] = []
    try:
        for family, ip in _addresses(m.host_ip):
            sock = _open(family, m.proto, ip, port)
            real_port = sock.getsockname()[1]
            out.append(Listener(Bound(m.container_port, m.proto, ip, real_port), sock))
    except BaseException:
        for listener in out:
            listener.close()
        raise
    return out


def _error(m: PortMapping, port: int, exc: OSError) -> PublishError:
    ip = _addresses(m.host_ip)[0][1]
    where = _display(ip, port)
    if exc.errno == errno.EADDRINUSE:
        return PublishError(f"Bind for {where} failed: port is already allocated",
                            "choose another host port, or leave it out for a free one")
    if exc.errno == errno.EACCES and port < unprivileged_port_start():
        start = unprivileged_port_start()
        return PublishError(
            f"cannot publish port {port}: ports below {start} are privileged on this host "
            f"(net.ipv4.ip_unprivileged_port_start = {start})",
            f"publish a port >= {start} (e.g. -p {port + 8000 if port + 8000 < 65536 else 8080}:"
            f"{m.container_port}), or as root: sysctl -w net.ipv4.ip_unprivileged_port_start={port}")
    return PublishError(f"listen {m.proto} {where}: bind: {exc.strerror}")


def _bind_one(m: PortMapping) -> list[Listener]:
    wanted = m.host_port_range()
    if wanted and wanted[0] == wanted[1]:
        try:
            return _bind_port(m, wanted[0])
        except OSError as exc:
            raise _error(m, wanted[0], exc) from None
    first, last = wanted or ephemeral_range()
    last_error: OSError | None = None
    for port in range(first, last + 1):
        try:
            return _bind_port(m, port)
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise _error(m, port, exc) from None
            last_error = exc
    if last_error is not None and last_error.errno == errno.EACCES:
        raise _error(m, first, last_error)
    where = _display(_addresses(m.host_ip)[0][1], 0)
    raise PublishError(f"Bind for {where} failed: no free port in {first}-{last}")


def bind_published(mappings: Iterable[PortMapping]) -> list[Listener]:
    """Bind every published port; on any failure close what was bound and raise PublishError."""
    out: list[Listener] = []
    try:
        for m in mappings:
            if m.proto == "sctp":
                raise PublishError(f"cannot publish {m.key}: SCTP is not supported by rl's forwarder")
            out.extend(_bind_one(m))
    except BaseException:
        for listener in out:
            listener.close()
        raise
    return out
