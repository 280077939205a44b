"""The port forwarder: host listeners -> the container's ports, one process per container.

`spawn(container_pid, listeners)` forks the forwarder (PR_SET_PDEATHSIG: it dies with its parent,
the monitor). The forwarder, still single-threaded, forks its helper (nshelper.py) which joins the
container's user and network namespaces, and then runs one loop on one thread:
- TCP: accept on the host listener, take a fresh socket of the container's namespace (the helper
  hands them out in batches), bind it to the client's address (nshelper.bind_source), connect it
  (non-blocking) to the container port, and copy both ways with splice(2) through a pipe per
  direction (no copy to user space; empty pipes are reused), driven by edge-triggered epoll;
- UDP: a datagram relay per published port, one inner socket per client address (idle flows are
  dropped after UDP_IDLE seconds, docker-proxy's timeout);
It exits when the helper's socket closes (the container's first process ended, or the helper died),
on SIGTERM, or with its parent. The caller closes its copies of the listeners after spawn(), so the
ports are free again as soon as the forwarder is gone.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rootless.engine.net import nshelper
from rootless.engine.net.listeners import Listener
from rootless.errors import NetworkSetupError
from rootless.runtime import syscalls

PIPE_SIZE = 1 << 16         # a new pipe's capacity (the kernel's default)
BULK_PIPE_SIZE = 1 << 20    # grown to this once a direction fills it: fewer splices per MB
F_SETPIPE_SZ = 1031
SPLICE = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
UDP_IDLE = 90.0
SOCKET_BATCH = 64           # fresh sockets asked from the helper at a time
PIPE_POOL = 64              # empty pipe pairs kept for reuse
EV_ALL = select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLET
_DROP = (ConnectionError, BrokenPipeError, OSError)
EV_READ = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
EV_WRITE = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR
EV_BOTH = EV_READ | EV_WRITE


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
            time.sleep(0.01)
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


def spawn(container_pid: int, listeners: Sequence[Listener], target_ip: str = "127.0.0.1") -> ForwarderProcess:
    """Start the forwarder for `listeners` into the network namespace of `container_pid`; returns
    once its helper is inside the namespaces (NetworkSetupError otherwise). Call it while the
    caller has one thread. The caller should close its listener sockets afterwards."""
    rfd, wfd = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        _forwarder_main(container_pid, listeners, target_ip, wfd)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        status = f.read()
    if status != b"OK":
        ForwarderProcess(pid).stop()
        text = status.decode(errors="replace")[2:] or "it exited"
        raise NetworkSetupError(f"cannot start the port forwarder: {text}")
    return ForwarderProcess(pid)


def _forwarder_main(container_pid: int, listeners: Sequence[Listener], target_ip: str, status_fd: int) -> None:
    code = 0
    try:
        syscalls.set_pdeathsig(signal.SIGKILL)
        _close_inherited({status_fd, *(listener.sock.fileno() for listener in listeners)})
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        hr, hw = os.pipe2(os.O_CLOEXEC)
        helper = os.fork()
        if helper == 0:
            ours.close()
            os.close(hr)
            os.close(status_fd)
            for listener in listeners:
                listener.close()
            nshelper.run(theirs, container_pid, hw)
        theirs.close()
        os.close(hw)
        with os.fdopen(hr, "rb") as f:
            status = f.read()
        os.write(status_fd, status)
        os.close(status_fd)
        if status == b"OK":
            ours.setblocking(False)
            Loop(ours, listeners, target_ip).run()
        os.kill(helper, signal.SIGKILL)
        os.waitpid(helper, 0)
    except BaseException as exc:  # noqa: BLE001
        try:
            os.write(status_fd, f"E {exc}".encode())
        except OSError:
            pass
        code = 1
    os._exit(code)


def _close_inherited(keep: set[int]) -> None:
    """Close every fd of the caller (the monitor's log pipes, the CLI's ready pipe...) but `keep`,
    and point stdio at /dev/null: the forwarder must hold nothing open that others wait on."""
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        if target not in keep:
            os.dup2(null, target)
    os.close(null)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


class Direction:
    """One way of a TCP connection: src -> pipe -> dst."""

    __slots__ = ("src", "dst", "pr", "pw", "pending", "eof", "done", "size")

    def __init__(self, src: socket.socket, dst: socket.socket, pipe: tuple[int, int], size: int) -> None:
        self.src, self.dst = src, dst
        self.pr, self.pw = pipe
        self.size = size
        self.pending = 0
        self.eof = False
        self.done = False

    def pump(self) -> None:
        """Move what can be moved now: write what the pipe holds, read more while it has room, until
        neither moves (edge-triggered epoll then tells when to come back: each resource that
        stopped us said EAGAIN). Raises OSError when the connection breaks."""
        src, dst = self.src.fileno(), self.dst.fileno()
        while not self.done:
            progressed = False
            if self.pending:
                try:
                    self.pending -= os.splice(self.pr, dst, self.pending, flags=SPLICE)
                    progressed = True
                except BlockingIOError:
                    pass
            if self.eof:
                if not self.pending:
                    self.dst.shutdown(socket.SHUT_WR)
                    self.done = True
                if not progressed:
                    return
                continue
            if self.pending < self.size:
                try:
                    moved = os.splice(src, self.pw, self.size - self.pending, flags=SPLICE)
                except BlockingIOError:
                    moved = -1
                if moved == 0:
                    self.eof = True
                    progressed = True
                elif moved > 0:
                    self.pending += moved
                    progressed = True
                    if self.pending == self.size and self.size < BULK_PIPE_SIZE:
                        self.grow()
            if not progressed:
                return

    def grow(self) -> None:
        """A bulk transfer: a bigger pipe (the per-user pipe budget may say no: keep the old)."""
        try:
            self.size = fcntl.fcntl(self.pw, F_SETPIPE_SZ, BULK_PIPE_SIZE)
        except OSError:
            self.size = BULK_PIPE_SIZE  # not to try again


class Connection:
    __slots__ = ("client", "server", "up", "down", "connected", "pipes")

    def __init__(self, client: socket.socket, server: socket.socket, pipes: list[int]) -> None:
        self.client, self.server = client, server
        self.pipes = pipes
        self.up = Direction(client, server, (pipes[0], pipes[1]), PIPE_SIZE)
        self.down = Direction(server, client, (pipes[2], pipes[3]), PIPE_SIZE)
        self.connected = False

    def close(self) -> None:
        self.client.close()
        self.server.close()
        for fd in self.pipes:
            os.close(fd)


def _pipe() -> tuple[int, int]:
    return os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)



class UdpRelay:
    """One published UDP port: client address -> inner socket connected to the container port."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.flows: dict[tuple, tuple[socket.socket, float]] = {}


class Loop:
    """The forwarder's event loop (one thread)."""

    def __init__(self, helper: socket.socket, listeners: Sequence[Listener], target_ip: str) -> None:
        self.helper = helper
        self.target_ip = target_ip
        self.ep = select.epoll()
        self.tcp: dict[int, Listener] = {}
        self.udp: dict[int, UdpRelay] = {}
        self.conns: dict[int, Connection] = {}
        self.inner_udp: dict[int, tuple[UdpRelay, tuple]] = {}
        self.pool: dict[str, list[socket.socket]] = {"tcp": [], "udp": []}
        self.asked: list[str] = []                     # socket batches asked for, in order
        self.queued: dict[str, list[tuple]] = {"tcp": [], "udp": []}  # waiting for a socket
        self.pipes: list[int] = []                     # free pipe pairs (r, w, r, w), empty
        self.transparent: bool | None = None
        self.ep.register(helper.fileno(), select.EPOLLIN)
        for listener in listeners:
            fd = listener.sock.fileno()
            if listener.bound.proto == "tcp":
                self.tcp[fd] = listener
            else:
                self.udp[fd] = UdpRelay(listener)
            self.ep.register(fd, select.EPOLLIN)
        for proto, table in (("tcp", self.tcp), ("udp", self.udp)):
            if table:
                self.refill(proto)
        self.next_sweep = time.monotonic() + UDP_IDLE

    def run(self) -> None:
        helper_fd = self.helper.fileno()
        while True:
            for fd, events in self.ep.poll(UDP_IDLE if self.inner_udp else -1):
                conn = self.conns.get(fd)
                if conn is not None:
                    self.on_conn(conn, fd, events)
                elif fd == helper_fd:
                    if not self.from_helper(events):
                        return
                elif fd in self.tcp:
                    self.accept(self.tcp[fd])
                elif fd in self.udp:
                    self.from_udp_client(self.udp[fd])
                elif fd in self.inner_udp:
                    self.from_udp_inner(fd)
            if self.inner_udp and time.monotonic() > self.next_sweep:
                self.sweep_udp()

    # --- sockets from the helper -----------------------------------------------------------------
    def refill(self, proto: str) -> None:
        """Ask the helper for a batch of fresh sockets unless one is on its way."""
        if proto in self.asked:
            return
        try:
            self.helper.send(nshelper.REQUEST.pack(b"s", proto[0].encode(), SOCKET_BATCH))
        except OSError:
            return
        self.asked.append(proto)

    def from_helper(self, events: int) -> bool:
        """Socket batches from the helper; False once it is gone."""
        while self.asked:
            try:
                data, fds, _, _ = socket.recv_fds(self.helper, nshelper.REPLY.size, nshelper.MAX_FDS,
                                                  socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            proto = self.asked.pop(0)
            self.pool[proto].extend(socket.socket(fileno=fd) for fd in fds)
            waiting, self.queued[proto] = self.queued[proto], []
            for item in waiting:
                self.start(proto, *item)
        if events & (select.EPOLLHUP | select.EPOLLERR):
            return False
        try:
            return self.helper.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def inner_socket(self, proto: str, addr: tuple, port: int) -> socket.socket | None:
        """A fresh socket of the container's namespace, bound to the client's address where that
        works, connecting (non-blocking) to the container port; None when the pool is empty."""
        pool = self.pool[proto]
        if len(pool) < SOCKET_BATCH // 2:
            self.refill(proto)
        if not pool:
            return None
        sock = pool.pop()
        if self.transparent is None and not nshelper.is_loopback(addr[0]):
            self.transparent = self.ask_routing()
        nshelper.bind_source(sock, proto, addr[0], addr[1], bool(self.transparent))
        sock.connect_ex((self.target_ip, port))
        return sock

    def ask_routing(self) -> bool | None:
        """Once, synchronously: the helper sets up routing for transparent sockets (None: not now,
        a batch of sockets is on its way and replies come in order; asked again next time)."""
        if self.asked:
            return None
        try:
            self.helper.send(nshelper.REQUEST.pack(b"r", b"t", 0))
            self.helper.settimeout(10)
            (err,) = nshelper.REPLY.unpack(self.helper.recv(nshelper.REPLY.size))
        except (OSError, struct.error):
            return False
        finally:
            self.helper.setblocking(False)
        return err == 0

    def start(self, proto: str, *item) -> None:
        if proto == "tcp":
            self.start_tcp(*item)
        else:
            self.start_udp(*item)

    # --- TCP -------------------------------------------------------------------------------------
    def accept(self, listener: Listener) -> None:
        port = listener.bound.container_port
        while True:
            try:
                client, addr = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # EMFILE and friends: try again on the next event
            client.setblocking(False)
            self.start_tcp(client, addr, port)

    def start_tcp(self, client: socket.socket, addr: tuple, port: int) -> None:
        server = self.inner_socket("tcp", addr, port)
        if server is None:
            self.queued["tcp"].append((client, addr, port))
            return
        pipes = self.pipes[-4:] if self.pipes else [*_pipe(), *_pipe()]
        del self.pipes[-4:]
        conn = Connection(client, server, pipes)
        self.conns[client.fileno()] = conn
        self.conns[server.fileno()] = conn
        self.ep.register(client.fileno(), EV_ALL)
        self.ep.register(server.fileno(), EV_ALL)

    def on_conn(self, conn: Connection, fd: int, events: int) -> None:
        """Pump the directions this event concerns: data in on a socket moves the direction it is
        the source of, room out the one it is the destination of; anything else, both."""
        try:
            if not conn.connected:
                err = conn.server.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                if fd != conn.server.fileno() and not _is_connected(conn.server):
                    return
                conn.connected = True
                events = EV_BOTH
            outward, inward = (conn.up, conn.down) if fd == conn.client.fileno() else (conn.down, conn.up)
            if events & EV_READ:
                outward.pump()
            if events & EV_WRITE:
                inward.pump()
        except _DROP:
            self.drop(conn)
            return
        if conn.up.done and conn.down.done:
            self.drop(conn)

    def drop(self, conn: Connection) -> None:
        for sock in (conn.client, conn.server):
            self.conns.pop(sock.fileno(), None)
        conn.client.close()
        conn.server.close()
        up, down = conn.up, conn.down
        if (not up.pending and not down.pending and up.size == down.size == PIPE_SIZE
                and len(self.pipes) < PIPE_POOL * 4):
            self.pipes.extend(conn.pipes)  # empty and not grown: reusable
        else:
            for fd in conn.pipes:
                os.close(fd)

    # --- UDP -------------------------------------------------------------------------------------
    def from_udp_client(self, relay: UdpRelay) -> None:
        while True:
            try:
                data, addr = relay.listener.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            flow = relay.flows.get(addr)
            if flow is None:
                self.start_udp(relay, addr, data)
                continue
            inner, _ = flow
            relay.flows[addr] = (inner, time.monotonic())
            try:
                inner.send(data)
            except OSError:
                pass

    def start_udp(self, relay: UdpRelay, addr: tuple, first: bytes) -> None:
        if addr in relay.flows:  # more datagrams of a flow that waited for a socket
            relay.flows[addr][0].send(first)
            return
        inner = self.inner_socket("udp", addr, relay.listener.bound.container_port)
        if inner is None:
            self.queued["udp"].append((relay, addr, first))
            return
        relay.flows[addr] = (inner, time.monotonic())
        self.inner_udp[inner.fileno()] = (relay, addr)
        self.ep.register(inner.fileno(), select.EPOLLIN)
        try:
            inner.send(first)
        except OSError:
            pass

    def from_udp_inner(self, fd: int) -> None:
        relay, addr = self.inner_udp[fd]
        inner, _ = relay.flows[addr]
        while True:
            try:
                data = inner.recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            try:
                relay.listener.sock.sendto(data, addr)
            except OSError:
                pass
        relay.flows[addr] = (inner, time.monotonic())

    def sweep_udp(self) -> None:
        now = time.monotonic()
        self.next_sweep = now + UDP_IDLE
        for fd, (relay, addr) in list(self.inner_udp.items()):
            inner, last = relay.flows[addr]
            if now - last > UDP_IDLE:
                del self.inner_udp[fd]
                del relay.flows[addr]
                inner.close()


def _is_connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            return False
        raise
    return True
