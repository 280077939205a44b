"""The container's terminal, the caller's side: the container process (native/rl_boot.c, or
rl_exec.c for an exec) allocates a pty inside the container's own devpts instance (so `tty` prints
/dev/pts/0 there) and makes it its controlling terminal (setsid + TIOCSCTTY); its master comes back
over a unix socket (SCM_RIGHTS, as OCI's consoleSocket does) and a foreground caller relays it:
raw mode, window size changes forwarded.
"""

from __future__ import annotations

import os

from rootless.runtime.children import write_all


def send_fd(sock, fd: int) -> None:
    import socket

    socket.send_fds(sock, [b"pty"], [fd])


def recv_fd(sock) -> int:
    import socket

    _, fds, _, _ = socket.recv_fds(sock, 16, 1)
    if not fds:
        raise OSError(5, "the container sent no terminal")
    return fds[0]


def send_to_console_socket(path: str, fd: int) -> None:
    """Hand the master to whoever listens on `path` (OCI `--console-socket`)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        send_fd(s, fd)


def copy_winsize(src: int, dst: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
    except OSError:
        pass


class RawMode:
    """Context manager: put a terminal in raw mode and restore it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved = None

    def __enter__(self):
        import termios
        import tty

        if os.isatty(self.fd):
            self.saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


def relay(master: int, pid: int, *, stdin: int | None = 0, stdout: int = 1) -> int:
    """Copy stdin -> master and master -> stdout until the container process `pid` exits (our
    child); returns its wait status. SIGWINCH copies the window size to the container's pty."""
    import select
    import signal

    if stdin is not None and os.isatty(stdin):
        copy_winsize(stdin, master)
        old = signal.signal(signal.SIGWINCH, lambda *_: copy_winsize(stdin, master))
    else:
        old = None
    readers = [master] + ([stdin] if stdin is not None else [])
    status = None
    try:
        with RawMode(stdin if stdin is not None else -1):
            while status is None:
                try:
                    ready, _, _ = select.select(readers, [], [], 0.2)
                except InterruptedError:
                    continue
                if master in ready and not _pump(master, stdout):
                    readers = []     # the slave side is closed everywhere: the process is gone
                if stdin is not None and stdin in ready:
                    data = os.read(stdin, 65536)
                    if data:
                        write_all(master, data)
                    else:            # EOF on our stdin: what ^D does at a terminal
                        write_all(master, b"\x04")
                        readers.remove(stdin)
                wpid, wstatus = os.waitpid(pid, 0 if not readers else os.WNOHANG)
                if wpid:
                    status = wstatus
            for _ in range(256):   # what is left in the pty; bounded: an orphan may keep writing
                if not _pump(master, stdout, block=False):
                    break
    finally:
        if old is not None:
            signal.signal(signal.SIGWINCH, old)
    return status


def _pump(master: int, out: int, block: bool = True) -> bool:
    if not block:
        import select

        if not select.select([master], [], [], 0)[0]:
            return False
    try:
        data = os.read(master, 65536)
    except OSError:  # EIO: no slave left open
        return False
    if not data:
        return False
    write_all(out, data)
    return True
