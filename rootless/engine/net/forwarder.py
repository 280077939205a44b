"""The port forwarder: host listeners -> the container's ports, one small C process per container.

`spawn(container_pid, listeners)` starts native/rl_forward.c (built into the package as
`rootless/_rl_forward`; its header says how it works) with the listening sockets inherited, and
returns once its helper is inside the container's user and network namespaces. The forwarder copies
TCP both ways on one edge-triggered epoll loop (recv/send for small messages, splice(2) through a
pipe for bulk) and relays UDP (one inner socket per client address, idle flows dropped after 90 s,
docker-proxy's timeout). It exits when the container's first process ends (a pidfd), on SIGTERM,
or with its parent, the monitor (PR_SET_PDEATHSIG); its helper dies with it. The caller closes its
copies of the listeners after spawn(), so the ports are free again as soon as the forwarder is gone.
A native executable, not a fork of Python: ~1 MiB of memory for both processes instead of ~27 MiB,
and no interpreter in the data path.

Keeping the client's source address (rootlesskit v3's "source IP transparent" builtin port driver):
inner sockets are made by the helper in the container's namespace and passed back in batches
(SCM_RIGHTS), and the forwarder binds and connects them itself, with no round trip per connection;
it may, since the user namespace that owns the network namespace was made by the forwarder's own
user, who has every capability in it (user_namespaces(7)).
- loopback clients (127.0.0.5): 127.0.0.0/8 is local in the container's namespace too, so the inner
  socket binds to the client's address and port (an ephemeral port when that one is taken);
- other IPv4 clients (TCP): the inner socket gets IP_TRANSPARENT (CAP_NET_ADMIN over the namespace,
  see above) and binds to the client's address, which is not local there. The server's replies must
  come back to that socket instead of leaving through slirp4netns' tap, so the helper once sets up
  policy routing in the namespace: the socket carries SO_MARK 100, `ip rule add fwmark 100 lookup
  100`, `ip route add local default dev lo table 100`, and net.ipv4.tcp_fwmark_accept=1 so the
  server's accepted socket inherits the SYN's mark and routes its replies through table 100
  (rootlesskit uses iptables CONNMARK for the same; no iptables here). When any of that fails, the
  connection falls back to the namespace's own address.
- UDP relays keep loopback client addresses only (rootlesskit dropped UDP transparency: replies to
  a non-local address have no per-flow socket to carry the mark); IPv6 clients are not kept.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rootless.engine.net.listeners import Listener
from rootless.errors import NetworkSetupError

BINARY = "_rl_forward"


@dataclass
class ForwarderProcess:
    """The caller's handle: the forwarder's pid (a child of the caller)."""

    pid: int

    def stop(self, timeout: float = 2.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; reaps it."""
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:
                return
            time.sleep(0.005)
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def wait(self) -> int:
        try:
            return os.waitpid(self.pid, 0)[1]
        except ChildProcessError:
            return 0


def binary() -> Path:
    """The forwarder executable, beside the package's modules (also in the frozen rl's tree)."""
    return Path(__file__).resolve().parents[2] / BINARY


def argv(exe: Path, container_pid: int, status_fd: int, listeners: Sequence[Listener],
         target_ip: str) -> list[str]:
    """The forwarder's command line (native/rl_forward.c's usage)."""
    return [str(exe), str(container_pid), str(os.getpid()), str(status_fd), target_ip,
            *(f"{item.sock.fileno()}/{item.bound.proto}/{item.bound.container_port}" for item in listeners)]


def spawn(container_pid: int, listeners: Sequence[Listener], target_ip: str = "127.0.0.1") -> ForwarderProcess:
    """Start the forwarder for `listeners` into the network namespace of `container_pid`; returns
    once its helper is inside the namespaces (NetworkSetupError otherwise). The caller should close
    its listener sockets afterwards. The listeners are made inheritable for the spawn: call it
    while no other thread of the caller forks."""
    exe = binary()
    if not os.access(exe, os.X_OK):
        raise NetworkSetupError(f"rl's port forwarder {exe} is missing",
                                "a source checkout builds it with `make native`")
    rfd, wfd = os.pipe2(os.O_CLOEXEC)
    fds = [item.sock.fileno() for item in listeners]
    try:
        for fd in (wfd, *fds):
            os.set_inheritable(fd, True)
        pid = os.posix_spawn(exe, argv(exe, container_pid, wfd, listeners, target_ip), os.environ)
    except OSError as exc:
        os.close(rfd)
        raise NetworkSetupError(f"cannot start the port forwarder {exe}: {exc.strerror}") from None
    finally:
        for fd in fds:
            os.set_inheritable(fd, False)
        os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        status = f.read()
    if status != b"OK":
        ForwarderProcess(pid).stop()
        text = status.decode(errors="replace")[2:] or "it exited"
        raise NetworkSetupError(f"cannot start the port forwarder: {text}")
    return ForwarderProcess(pid)
