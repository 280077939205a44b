"""The forwarder's helper inside the container's network namespace: a socket factory.

Forked by the forwarder before it has any thread, the helper joins the container's user namespace
(unless it is ours: real root without one) and then its network namespace (setns, STYLE.md 3). It
answers requests from the forwarder over a SOCK_SEQPACKET socketpair: "give me N fresh TCP (or UDP)
sockets", created in the container's namespace and passed back in one SCM_RIGHTS message. A socket
keeps the namespace it was created in, so the forwarder binds and connects them itself, with no
round trip per connection; it may, since the user namespace that owns the network namespace was
made by the forwarder's own user, who has every capability in it (user_namespaces(7)). The helper
exits when the forwarder closes its end, when the container's first process exits (a pidfd), or
with its parent (PR_SET_PDEATHSIG).

Keeping the client's source address (rootlesskit v3's "source IP transparent" builtin port driver),
done by the forwarder with `bind_source()` on the inner socket:
- loopback clients (127.0.0.5): 127.0.0.0/8 is local in the container's namespace too, so the inner
  socket binds to the client's address and port (an ephemeral port when that one is taken);
- other IPv4 clients (TCP): the inner socket gets IP_TRANSPARENT (CAP_NET_ADMIN over the namespace,
  see above) and binds to the client's address, which is not local there. The server's replies must
  come back to that socket instead of leaving through slirp4netns' tap, so the helper once sets up
  policy routing in the namespace (request "r"): the socket carries SO_MARK 100,
  `ip rule add fwmark 100 lookup 100`, `ip route add local default dev lo table 100`, and
  net.ipv4.tcp_fwmark_accept=1 so the server's accepted socket inherits the SYN's mark and routes its
  replies through table 100 (rootlesskit uses iptables CONNMARK for the same; no iptables here).
  When any of that fails, the connection falls back to the namespace's own address.
UDP relays keep loopback client addresses only (rootlesskit dropped UDP transparency: replies to a
non-local address have no per-flow socket to carry the mark).
"""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import struct
import subprocess

from rootless.runtime import syscalls

IP_TRANSPARENT = 19         # linux/in.h, level SOL_IP
SOL_IP = 0
TRANSPARENT_MARK = 100
#: request: op (b"s" sockets, b"r" routing), proto (b"t"/b"u"), count
REQUEST = struct.Struct("!ccH")
REPLY = struct.Struct("!i")
MAX_FDS = 250               # SCM_RIGHTS carries at most 253 fds per message


def join(pid: int) -> None:
    """Enter the user namespace (when not ours) and the network namespace of `pid`."""
    own = os.stat("/proc/self/ns/user").st_ino
    user = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if os.fstat(user).st_ino != own:
            syscalls.setns(user, syscalls.CLONE_NEWUSER)
        syscalls.setns(net, syscalls.CLONE_NEWNET)
    finally:
        os.close(user)
        os.close(net)


class Helper:
    """The request loop, run in the forked helper once it is in the namespaces."""

    def __init__(self, sock: socket.socket, pidfd: int) -> None:
        self.sock = sock
        self.pidfd = pidfd

    def serve(self) -> None:
        while True:
            ready, _, _ = select.select([self.sock, self.pidfd], [], [])
            if self.pidfd in ready:
                return
            try:
                data = self.sock.recv(REQUEST.size)
            except OSError:
                return
            if not data:
                return
            self.answer(*REQUEST.unpack(data))

    def answer(self, op: bytes, proto: bytes, count: int) -> None:
        if op == b"r":
            self.sock.send(REPLY.pack(0 if setup_transparent_routing() else 1))
            return
        kind = socket.SOCK_STREAM if proto == b"t" else socket.SOCK_DGRAM
        fds = []
        try:
            for _ in range(min(count, MAX_FDS)):
                fds.append(socket.socket(socket.AF_INET, kind | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC).detach())
            socket.send_fds(self.sock, [REPLY.pack(0)], fds)
        except OSError as exc:
            self.sock.send(REPLY.pack(exc.errno or errno.EIO))
        finally:
            for fd in fds:
                os.close(fd)


def is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1" or ip.startswith("::ffff:127.")


def bind_source(sock: socket.socket, proto: str, ip: str, port: int, transparent: bool) -> None:
    """Bind an inner socket to the client's address (see the module doc); silently leaves it
    unbound (the namespace's own address) when that cannot be done. `transparent`: the routing for
    non-local addresses is in place."""
    if ":" in ip:
        return
    if not is_loopback(ip):
        if proto != "tcp" or not transparent:
            return
        try:
            sock.setsockopt(SOL_IP, IP_TRANSPARENT, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, TRANSPARENT_MARK)
        except OSError:
            return
    for candidate in (port, 0):
        try:
            sock.bind((ip, candidate))
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return


def setup_transparent_routing() -> bool:
    """Policy routing in the (current) namespace for IP_TRANSPARENT sockets (see the module doc)."""
    commands = (
        ["ip", "route", "replace", "local", "default", "dev", "lo", "table", str(TRANSPARENT_MARK)],
        ["ip", "rule", "add", "fwmark", str(TRANSPARENT_MARK), "lookup", str(TRANSPARENT_MARK),
         "priority", str(TRANSPARENT_MARK)],
    )
    try:
        with open("/proc/sys/net/ipv4/tcp_fwmark_accept", "w") as f:
            f.write("1")
        for argv in commands:
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def run(sock: socket.socket, container_pid: int, status_fd: int) -> None:
    """The helper's body (in the forked child): never returns."""
    code = 0
    try:
        syscalls.set_pdeathsig(signal.SIGKILL)
        pidfd = os.pidfd_open(container_pid)
        join(container_pid)
        os.write(status_fd, b"OK")
        os.close(status_fd)
        Helper(sock, pidfd).serve()
    except BaseException as exc:  # noqa: BLE001 - the forwarder reads the reason
        try:
            os.write(status_fd, f"E {exc}".encode())
        except OSError:
            pass
        code = 1
    os._exit(code)
