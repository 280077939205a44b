"""What the container's first process does between clone and execve (the child side of `create`).

Already in its new namespaces (clone_fork), it waits for the parent to write its id maps, joins
the namespaces given by path, sets the hostname, brings up lo in a new network namespace, mounts
the rootfs (rootfs.py) and the mount tree (mounts.py), pivots, opens the pty, reports "ready" (or
the error) to the parent over a pipe, and blocks on exec.fifo until `start`. Then it applies the
process settings and execs (process.py), through the tiny init when asked (init.py). Everything
it needs after pivot_root is imported before it: the host's files are gone by then.
"""

from __future__ import annotations

import os

from rootless.runtime import init as init_mod
from rootless.runtime import mounts, process, rootfs
from rootless.runtime import syscalls as sc

SIOCSIFFLAGS = 0x8914
IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x1, 0x8, 0x40


class Boot:
    """Everything the child needs, prepared by the parent before the clone."""

    def __init__(self, config: dict, root: str, directory: str, new_flags: int, joins: list,
                 stdio, terminal: bool) -> None:
        self.config = config
        self.root = root
        self.directory = directory
        self.new_flags = new_flags
        self.joins = joins              # [(flag, fd)] of namespaces to setns into
        self.stdio = stdio              # (in, out, err) fds or None: inherit
        self.terminal = terminal
        self.sync_r = self.ready_w = -1
        self.sock = None                # our end of the socketpair the pty master goes through
        self.in_userns = bool(new_flags & sc.CLONE_NEWUSER)   # new, or joined by path
        self.die_with_parent = False    # keep PR_SET_PDEATHSIG after "ready" (foreground runs)


def main(b: Boot) -> None:
    """The child's whole life; never returns."""
    try:
        sc.set_pdeathsig(9)   # a parent that dies before "ready" takes us along
        _default_signals()
        _stdio(b.stdio)
        if os.read(b.sync_r, 1) != b"G":      # the parent failed to map us: it reports why
            os._exit(125)
        os.close(b.sync_r)
        if b.terminal:
            from rootless.runtime import pty  # before pivot_root: the host's files go then
        driver = setup(b)
        dirfd = os.open(b.directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        status_fd = os.open("exec.status", os.O_RDWR | os.O_CLOEXEC, dir_fd=dirfd)
        pivot_and_finish(b)
        if b.terminal:
            master, slave = pty.open_in_container()
            pty.send_fd(b.sock, master)
            os.close(master)
            b.sock.close()
            pty.become_controlled(slave)
        if not b.die_with_parent:
            sc.set_pdeathsig(0)
        os.write(b.ready_w, b"OK " + driver.encode())
        os.close(b.ready_w)
    except BaseException as e:  # noqa: BLE001 - the parent raises it as ContainerSetupError
        _report_error(b.ready_w, e)
        os._exit(125)
    _wait_start(dirfd)
    os.close(dirfd)
    proc = b.config.get("process") or {}
    if init_mod.wanted(b.config.get("annotations") or {}):
        init_mod.run(lambda: process.exec_process(proc, status_fd), (status_fd,))
    process.exec_process(proc, status_fd, 9 if b.die_with_parent else 0)


def setup(b: Boot) -> str:
    """Namespaces, hostname, network, rootfs and mounts up to pivot_root; returns the rootfs driver."""
    if (b.config.get("process") or {}).get("rlimits"):
        import resource  # noqa: F401 - process.set_rlimits runs after pivot_root
    for flag, fd in b.joins:
        sc.setns(fd, flag)
        os.close(fd)
    if b.new_flags & sc.CLONE_NEWUTS and b.config.get("hostname"):
        sc.sethostname(b.config["hostname"])
    if b.new_flags & sc.CLONE_NEWUTS and b.config.get("domainname"):
        sc.setdomainname(b.config["domainname"])
    if b.new_flags & sc.CLONE_NEWNET:
        loopback_up()
    mounts.make_private(b.config)
    # a vfs rootfs is made a mount point by mounts.build (bound onto itself)
    driver = rootfs.mount(b.root, b.config.get("annotations") or {}, b.in_userns)
    mounts.build(b.root, b.config)
    return driver


def pivot_and_finish(b: Boot) -> None:
    mounts.pivot(b.root)
    mounts.finish(b.config)
    for key, value in ((b.config.get("linux") or {}).get("sysctl") or {}).items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(str(value))


def loopback_up() -> None:
    """ip link set lo up, with the ioctl: a new network namespace has lo down."""
    import _socket
    import fcntl

    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, b"lo".ljust(16, b"\0") + flags.to_bytes(2, "little") + bytes(22))
    finally:
        s.close()


def _default_signals() -> None:
    """CPython's SIGINT handler would raise KeyboardInterrupt in us; as the init of a pid
    namespace with default dispositions, the signals a user sends before start are ignored (only
    SIGKILL gets through), as with any container init."""
    import _signal as signal  # the C module: `signal` loads enum (start-up)

    try:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
    except ValueError:  # forked from a thread other than the main one: nothing was installed
        pass


def _stdio(stdio) -> None:
    if stdio is None:
        return
    for target, fd in enumerate(stdio):
        if fd is not None and fd != target:
            os.dup2(fd, target)


def _wait_start(dirfd: int) -> None:
    """Block until `start` opens exec.fifo for reading, tell it we are going, then go."""
    try:
        fd = os.open("exec.fifo", os.O_WRONLY | os.O_CLOEXEC, dir_fd=dirfd)
        os.write(fd, b"0")
        os.close(fd)
    except OSError:
        os._exit(125)


def _report_error(fd: int, err: BaseException) -> None:
    """'E <class>\\0<message>\\0<hint>' to the parent."""
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    hint = getattr(err, "hint", None) or ""
    try:
        os.write(fd, f"E {type(err).__name__}\0{message}\0{hint}".encode(errors="replace"))
    except OSError:
        pass
