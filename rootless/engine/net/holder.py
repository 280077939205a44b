"""The namespace holder of the user networks: one long-lived process per user and store.

    holder (host namespaces, setsid)          rl's other processes find it by holder.json
    |-- ns child (new user + network namespace: "the holder's namespaces"), sleeps
    |-- slirp4netns per non-internal network, its tap on the network's bridge (the way out)
    `-- serves: a control socket (sync, stop) and one DNS socket per network, bound to
        <gateway>:53 inside the holder's network namespace (made there by a child, handed back)

Containers on a user network join the holder's user namespace (so their network namespaces are
owned by it) and get a veth pair to the network's bridge (bridge.py). The holder's user
namespace has the mapping `idmap.choose()` gives the user, as a container's would; as real root
there is none (only the network namespace). `ensure()` starts the holder when it is not running
(pid and start time in holder.json checked), `sync` makes its bridges, slirp4netns and DNS
sockets match the network definitions, and it exits when no network is left (after `network rm`
or `prune` of the last), when the store is deleted (`system reset`) or on `stop()`. Its children
die with it (PR_SET_PDEATHSIG); the networks' containers lose their link when it goes.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path

from rootless.errors import NetworkSetupError

POLL = 1.0
UPSTREAM_TIMEOUT = 5.0
REQUEST_TIMEOUT = 30.0


def info_file(paths) -> Path:
    return Path(paths.usernet_dir) / "holder.json"


def control_socket(paths) -> Path:
    return Path(paths.usernet_dir) / "ctl.sock"


def _alive(pid: int, start: int) -> bool:
    from rootless.runtime.state import pid_start_time

    return pid > 0 and pid_start_time(pid) == start


def current(paths) -> dict | None:
    """The running holder's facts (pid, ns_pid, userns, mapping), None when it is not running."""
    try:
        info = json.loads(info_file(paths).read_text())
    except (OSError, ValueError):
        return None
    if _alive(info.get("pid", 0), info.get("start")) and _alive(info.get("ns_pid", 0), info.get("ns_start")):
        return info
    return None


def ensure(paths) -> dict:
    """The running holder (started when there is none), synced with the network definitions."""
    from rootless.paths import ensure_private_dir

    ensure_private_dir(Path(paths.runroot))
    directory = Path(paths.usernet_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / "holder.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        info = current(paths)
        if info is None:
            info = _start(paths, fd)
        request(paths, "sync")
        return info
    finally:
        os.close(fd)


def request(paths, op: str) -> dict:
    """Send `op` (sync, stop) to the holder and return its reply (NetworkSetupError on failure)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(REQUEST_TIMEOUT)
            s.connect(str(control_socket(paths)))
            s.sendall(json.dumps({"op": op}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        raise NetworkSetupError(f"the user network holder does not answer: {e}") from None
    reply = json.loads(data or b"{}") if data.strip() else {"error": "no reply"}
    if reply.get("error"):
        raise NetworkSetupError(f"user network setup failed: {reply['error']}")
    return reply


def sync(paths) -> None:
    """Tell a running holder that the definitions changed (nothing when none runs)."""
    if current(paths) is not None:
        try:
            request(paths, "sync")
        except NetworkSetupError:
            pass


def stop(paths, timeout: float = 5.0) -> None:
    """End the holder and everything it runs (nothing when none runs)."""
    info = current(paths)
    if info is None:
        return
    try:
        os.kill(info["pid"], signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and current(paths) is not None:
        time.sleep(0.02)
    if current(paths) is not None:
        os.kill(info["pid"], signal.SIGKILL)


# --- starting --------------------------------------------------------------------------------------

def _start(paths, lock_fd: int) -> dict:
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the daemon never returns
        code = 1
        try:
            os.close(r)
            os.close(lock_fd)
            os.setsid()
            if os.fork() == 0:
                _daemon(paths, w)
                code = 0
            else:
                code = 0
        finally:
            os._exit(code)
    os.close(w)
    os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    if not data.startswith(b"ok"):
        raise NetworkSetupError(f"cannot start the user network holder: "
                                f"{data.decode(errors='replace') or 'it died'}")
    return json.loads(data[2:])


def _daemon(paths, ready_w: int) -> None:
    """In the double-forked, setsid child: become the holder; report "ok<info>" or the error."""
    log = os.open(Path(paths.usernet_dir) / "holder.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null if fd == 0 else log, fd)
    os.closerange(3, ready_w)
    os.closerange(ready_w + 1, 1 << 16)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    os.chdir("/")  # hold no directory of the caller's (a test's tmp dir, a mount point)
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN if sig in (signal.SIGHUP, signal.SIGPIPE) else signal.SIG_DFL)
    try:
        holder = Holder(paths)
        info = holder.begin()
    except BaseException as e:  # noqa: BLE001 - reported to the starter
        os.write(ready_w, f"error {getattr(e, 'message', None) or e}".encode(errors="replace"))
        os.close(ready_w)
        return
    os.write(ready_w, b"ok" + json.dumps(info).encode())
    os.close(ready_w)
    holder.serve()


def _spawn_ns_child() -> tuple[int, dict | None]:
    """The process whose user and network namespaces the networks live in; (pid, mapping)."""
    from rootless.runtime import idmap, syscalls, userns

    mapping = idmap.choose()
    pid, release = userns.spawn_in_userns(mapping, syscalls.CLONE_NEWNET)
    if pid == 0:  # pragma: no cover - the child sleeps until the holder dies
        try:
            syscalls.set_pdeathsig(signal.SIGKILL)
            syscalls.prctl(4, 1)  # PR_SET_DUMPABLE: /proc/PID/ns stays open to the user
            for fd in range(3, 1 << 10):
                try:
                    os.close(fd)
                except OSError:
                    pass
            while True:
                signal.pause()
        finally:
            os._exit(0)
    release()
    return pid, (None if mapping.mode == "root" else mapping.to_oci())


class _Stop(Exception):
    """SIGTERM: leave the loop at once (stop())."""


class Holder:
    """The holder's state and loop (runs in the daemon process only)."""

    def __init__(self, paths) -> None:
        self.paths = paths
        self.ns_pid = 0
        self.userns = False
        self.nets: dict[str, dict] = {}
        self.pending: dict[int, tuple] = {}   # upstream socket fd -> (sock, dns sock, client, deadline)
        self.clients: list[socket.socket] = []
        self.listener: socket.socket | None = None  # the control socket (begin())
        self.stopping = False
        self.upstreams = _upstreams()

    def begin(self) -> dict:
        from rootless.engine.net import bridge
        from rootless.runtime.state import pid_start_time

        signal.signal(signal.SIGTERM, self._on_term)
        self.ns_pid, mapping = _spawn_ns_child()
        self.userns = mapping is not None
        bridge.ip_batch(self.user_pid, self.ns_pid, ["link set lo up"])
        path = control_socket(self.paths)
        path.unlink(missing_ok=True)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(16)
        info = {"pid": os.getpid(), "start": pid_start_time(os.getpid()), "ns_pid": self.ns_pid,
                "ns_start": pid_start_time(self.ns_pid), "userns": self.userns, "mapping": mapping}
        tmp = info_file(self.paths).with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, info_file(self.paths))
        return info

    @property
    def user_pid(self) -> int | None:
        return self.ns_pid if self.userns else None

    def _on_term(self, *_args) -> None:
        self.stopping = True
        raise _Stop()

    # --- the loop ---------------------------------------------------------------------------------
    def serve(self) -> None:
        try:
            while not self.stopping:
                self._tick()
                self._heal()
                if not Path(self.paths.networks).is_dir() or os.waitpid(self.ns_pid, os.WNOHANG)[0]:
                    break  # the store is gone (system reset) or the namespaces are
        except (ChildProcessError, _Stop):
            pass
        except BaseException as e:  # noqa: BLE001 - logged, then everything is torn down
            print(f"holder: {e!r}", file=sys.stderr, flush=True)
        finally:
            self.shutdown()

    def _tick(self) -> None:
        socks = {self.listener.fileno(): ("ctl", self.listener)}
        for nid, net in self.nets.items():
            socks[net["dns"].fileno()] = ("dns", nid)
        for fd, entry in self.pending.items():
            socks[fd] = ("up", entry)
        try:
            ready, _, _ = select.select(list(socks), [], [], POLL)
        except InterruptedError:
            return
        for fd in ready:
            kind, what = socks[fd]
            if kind == "ctl":
                self._control()
            elif kind == "dns":
                self._query(what)
            else:
                self._upstream_reply(fd, what)
        now = time.monotonic()
        for fd, (sock, *_rest, deadline) in list(self.pending.items()):
            if deadline < now:
                sock.close()
                del self.pending[fd]

    def _control(self) -> None:
        conn, _ = self.listener.accept()
        op = None
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while not data.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                op = json.loads(data or b"{}").get("op")
                if op == "sync":
                    self.sync()
                    reply = {"ok": True, "networks": sorted(self.nets)}
                elif op == "stop":
                    self.stopping = True
                    reply = {"ok": True}
                else:
                    reply = {"error": f"unknown request {op!r}"}
            except Exception as e:  # noqa: BLE001 - the requester reports it
                reply = {"error": getattr(e, "message", None) or str(e)}
            try:
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                pass
        if not self.nets and not self.stopping and op == "sync":
            self.stopping = True  # nothing left to hold

    # --- networks -----------------------------------------------------------------------------------
    def sync(self) -> None:
        from rootless.engine.net import usernet

        wanted = {n["Id"]: n for n in usernet.all_networks(self.paths)}
        for nid in [n for n in self.nets if n not in wanted]:
            self._teardown(nid)
        for nid, network in wanted.items():
            net = self.nets.get(nid)
            if net is None:
                self._setup(network)
            elif net["slirp"] is not None and net["slirp"].process.poll() is not None:
                self._restart_slirp(net)  # it died: the bridge and its containers' veths stay

    def _heal(self) -> None:
        """A network whose slirp4netns died gets a new one (logged when that fails)."""
        for net in self.nets.values():
            if net["slirp"] is not None and net["slirp"].process.poll() is not None:
                try:
                    self._restart_slirp(net)
                except Exception as e:  # noqa: BLE001 - tried again at the next tick
                    print(f"holder: restarting slirp4netns: {e}", file=sys.stderr, flush=True)

    def _restart_slirp(self, net: dict) -> None:
        from rootless.engine.net import bridge

        net["slirp"].stop(0.1)
        net["slirp"] = _start_slirp(self.ns_pid, net["network"])
        bridge.ip_batch(self.user_pid, self.ns_pid, bridge.tap_lines(net["network"]))

    def _setup(self, network: dict) -> None:
        from rootless.engine.net import bridge, usernet

        nid = network["Id"]
        bridge.ip_batch(self.user_pid, self.ns_pid, [f"link del {bridge.bridge_name(nid)}"], check=False)
        bridge.ip_batch(self.user_pid, self.ns_pid, bridge.bridge_lines(network, usernet.MTU))
        net = {"network": network, "slirp": None, "dns": None}
        self.nets[nid] = net
        try:
            if not network.get("Internal"):
                net["slirp"] = _start_slirp(self.ns_pid, network)
                bridge.ip_batch(self.user_pid, self.ns_pid, bridge.tap_lines(network))
            net["dns"] = bridge.udp_socket_in(self.user_pid, self.ns_pid, network["Gateway"], 53)
            net["dns"].setblocking(False)
        except BaseException:
            self._teardown(nid)
            raise

    def _teardown(self, nid: str) -> None:
        from rootless.engine.net import bridge

        net = self.nets.pop(nid)
        if net["slirp"] is not None:
            net["slirp"].stop(1.0)
        if net["dns"] is not None:
            net["dns"].close()
        bridge.ip_batch(self.user_pid, self.ns_pid, [f"link del {bridge.bridge_name(nid)}"], check=False)

    # --- DNS ------------------------------------------------------------------------------------------
    def _query(self, nid: str) -> None:
        from rootless.engine.net import dns, usernet

        net = self.nets[nid]
        try:
            data, client = net["dns"].recvfrom(4096)
        except (BlockingIOError, InterruptedError):
            return
        query = dns.parse_query(data)
        if query is None:
            answer = dns.error_reply(data)
        else:
            found = usernet.lookup(self.paths, nid, query.name) if query.name else []
            if found:
                answer = dns.reply(query, found)
            elif not net["network"].get("Internal") and self.upstreams and "." in query.name:
                self._forward(data, net["dns"], client)
                return
            else:
                answer = dns.reply(query, rcode=dns.NXDOMAIN)
        if answer:
            try:
                net["dns"].sendto(answer, client)
            except OSError:
                pass

    def _forward(self, data: bytes, dns_sock: socket.socket, client) -> None:
        server, port = self.upstreams[0]
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        up = socket.socket(family, socket.SOCK_DGRAM)
        up.setblocking(False)
        try:
            up.sendto(data, (server, port))
        except OSError:
            up.close()
            return
        self.pending[up.fileno()] = (up, dns_sock, client, time.monotonic() + UPSTREAM_TIMEOUT)

    def _upstream_reply(self, fd: int, entry: tuple) -> None:
        up, dns_sock, client, _deadline = entry
        try:
            data = up.recv(65536)
            dns_sock.sendto(data, client)
        except OSError:
            pass
        up.close()
        del self.pending[fd]

    def shutdown(self) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for nid in list(self.nets):
            try:
                self._teardown(nid)
            except Exception:  # noqa: BLE001 - going anyway
                pass
        if self.ns_pid:
            try:
                os.kill(self.ns_pid, signal.SIGKILL)
                os.waitpid(self.ns_pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for path in (control_socket(self.paths), info_file(self.paths)):
            try:
                path.unlink()
            except OSError:
                pass


def _upstreams(path: str = "/etc/resolv.conf") -> list[tuple[str, int]]:
    """The host's name servers, (address, 53) (the holder runs in the host's network namespace:
    loopback ones work)."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver":
                    out.append((words[1].split("%")[0], 53))
    except OSError:
        pass
    return out


def _start_slirp(ns_pid: int, network: dict):
    """slirp4netns for the holder's namespace, its tap named for the network, no address of its own
    there (the tap joins the bridge): it answers as the network's 2nd address and NATs the rest."""
    from rootless.engine.net import bridge, slirp, usernet

    binary = slirp.find()
    if binary is None:
        raise NetworkSetupError("slirp4netns is not installed; a user network needs it to reach "
                                "the outside", "install it (apt install slirp4netns), or create the "
                                "network with --internal")
    return slirp.launch(lambda ready_w, exit_r: [
        binary, f"--mtu={usernet.MTU}", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp",
        f"--cidr={network['Subnet']}", f"--ready-fd={ready_w}", f"--exit-fd={exit_r}",
        str(ns_pid), bridge.tap_name(network["Id"])], new_session=False)
