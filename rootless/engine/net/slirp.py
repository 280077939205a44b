"""slirp4netns: the default user-mode network stack of a rootless container (podman's layout).

`start(pid, api_socket=...)` runs
  slirp4netns --configure --mtu=65520 --disable-host-loopback --enable-sandbox --enable-seccomp
              --api-socket SOCK --ready-fd R --exit-fd E PID tap0
for the network namespace of the container's first process: tap0 gets 10.0.2.100/24 (slirp4netns
1.2 configures the 100th address of --cidr), the gateway is 10.0.2.2 (the host; with
--disable-host-loopback it does not reach the host's 127.0.0.1), DNS is 10.0.2.3. MTU 65520 is what
makes it fast. It returns once slirp4netns wrote to its ready fd. slirp4netns exits when the read
end of its exit fd sees EOF: we hold the only write end, so it goes when `Slirp.stop()` closes it
or when we die (it also gets PR_SET_PDEATHSIG). `resolv_conf()` and `hosts()` are the matching
/etc/resolv.conf and /etc/hosts text.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import tempfile
import time
from rootless.plainclass import dataclass
from pathlib import Path

from rootless.errors import NetworkSetupError

CIDR = "10.0.2.0/24"
ADDRESS = "10.0.2.100"
GATEWAY = "10.0.2.2"
DNS = "10.0.2.3"
MTU = 65520
READY_TIMEOUT = 10.0


def find() -> str | None:
    from rootless.frozen import find_tool  # the host's, else the copy bundled in dist/rl

    return find_tool("slirp4netns")


def command(binary: str, pid: int, ready_fd: int, exit_fd: int, api_socket: Path | None) -> list[str]:
    """The slirp4netns command line (pure)."""
    argv = [binary, "--configure", f"--mtu={MTU}", "--disable-host-loopback", "--enable-sandbox",
            "--enable-seccomp", f"--cidr={CIDR}"]
    if api_socket is not None:
        argv.append(f"--api-socket={api_socket}")
    return argv + [f"--ready-fd={ready_fd}", f"--exit-fd={exit_fd}", str(pid), "tap0"]


@dataclass
class Slirp:
    """A running slirp4netns (a child of the caller)."""

    process: subprocess.Popen
    exit_w: int
    api_socket: Path | None

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 2.0) -> None:
        """Close the exit fd (slirp4netns exits), SIGKILL if it lingers; reap it."""
        if self.exit_w >= 0:
            os.close(self.exit_w)
            self.exit_w = -1
        try:
            # performance: block on a pidfd; Popen.wait(timeout) alone polls with sleeps (~15 ms lost)
            self.process.wait(0.05 if await_exit(self.process.pid, timeout) else timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.api_socket is not None:
            try:
                self.api_socket.unlink()
            except OSError:
                pass


def await_exit(pid: int, timeout: float) -> bool:
    """Block until child `pid` has exited (not reaped) or `timeout` passed, on a pidfd (no polling).
    False when no pidfd could be had (reaped already, or an old kernel): the caller waits its way."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    return True


def helper_preexec() -> None:
    """Run in a user-mode network helper (slirp4netns, pasta) before exec: die with the caller, and
    as real root, sandbox in a private mount namespace."""
    from rootless.runtime import syscalls

    syscalls.set_pdeathsig(signal.SIGKILL)
    if os.geteuid() == 0:
        # --enable-sandbox unmounts /dev/pts, /dev/shm... in what it takes for its own mount
        # namespace; as real root on a host whose "/" is shared (systemd's default) those unmounts
        # propagate and take the host's /dev/pts away (seen here). Give it a private namespace first.
        syscalls.unshare(syscalls.CLONE_NEWNS)
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)


def start(pid: int, *, api_socket: Path | None = None, binary: str | None = None) -> Slirp:
    """Start slirp4netns for the network namespace of `pid`; NetworkSetupError when it fails."""
    binary = binary or find()
    if binary is None:
        raise NetworkSetupError("slirp4netns is not installed",
                                "install it (Debian/Ubuntu: apt install slirp4netns), or use "
                                "--network pasta / host / none")
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        raise NetworkSetupError("/dev/net/tun cannot be opened by this user, slirp4netns needs it",
                                "as root: chmod 666 /dev/net/tun (the usual distribution default)")
    if api_socket is not None:
        api_socket.unlink(missing_ok=True)
    return launch(lambda ready_w, exit_r: command(binary, pid, ready_w, exit_r, api_socket),
                  api_socket=api_socket)


def launch(make_argv, *, api_socket: Path | None = None, new_session: bool = True) -> Slirp:
    """Run the slirp4netns command line `make_argv(ready_fd, exit_fd)` gives (the fds it is to
    pass as --ready-fd and --exit-fd) and wait until it is ready; NetworkSetupError with its own
    message when it fails. It dies with us (PR_SET_PDEATHSIG) and when Slirp.stop closes exit_fd."""
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    os.set_inheritable(exit_w, False)
    errlog = tempfile.TemporaryFile()  # slirp4netns' messages, read when it fails
    try:
        proc = subprocess.Popen(make_argv(ready_w, exit_r), pass_fds=(ready_w, exit_r), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=errlog, preexec_fn=helper_preexec,
                                close_fds=True, start_new_session=new_session)
    except OSError as exc:
        for fd in (ready_r, ready_w, exit_r, exit_w):
            os.close(fd)
        errlog.close()
        raise NetworkSetupError(f"cannot run slirp4netns: {exc.strerror}") from None
    os.close(ready_w)
    os.close(exit_r)
    slirp = Slirp(proc, exit_w, api_socket)
    try:
        _wait_ready(ready_r, proc, errlog)
    except BaseException:
        slirp.stop(0.5)
        raise
    finally:
        os.close(ready_r)
        errlog.close()
    return slirp


def _wait_ready(ready_r: int, proc: subprocess.Popen, errlog) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NetworkSetupError(f"slirp4netns did not get ready within {READY_TIMEOUT:.0f} s")
        ready, _, _ = select.select([ready_r], [], [], left)
        if ready:
            break
    if os.read(ready_r, 1) == b"1":
        return
    proc.wait(1)
    errlog.seek(0)
    text = errlog.read().decode(errors="replace").strip().splitlines()
    reason = text[-1] if text else f"exit status {proc.returncode}"
    raise NetworkSetupError(f"slirp4netns failed: {reason}")


def resolv_conf(host_resolv: str = "", search: list[str] | None = None) -> str:
    """/etc/resolv.conf for a slirp4netns container: the DNS forwarder at 10.0.2.3, plus the
    host's search domains and options (podman does the same)."""
    lines = [f"nameserver {DNS}"]
    domains = list(search or [])
    options: list[str] = []
    for line in host_resolv.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("search", "domain") and not search:
            domains += [w for w in words[1:] if w not in domains]
        elif len(words) >= 2 and words[0] == "options":
            options += words[1:]
    if domains:
        lines.insert(0, "search " + " ".join(domains))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def hosts(hostname: str, address: str = ADDRESS, extra: list[tuple[str, str]] | None = None) -> str:
    """/etc/hosts for a container: loopback names, its own name on its address, and the host as
    host.containers.internal / host.docker.internal at the gateway (podman's entries)."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{ip}\t{name}" for name, ip in (extra or [])]
    lines.append(f"{address}\t{hostname}")
    lines.append(f"{GATEWAY}\thost.containers.internal host.docker.internal")
    return "\n".join(lines) + "\n"
