"""pasta (passt): the other user-mode network stack (`--network pasta`), when installed.

`start(pid)` runs
  pasta --config-net --foreground --quiet --mtu 65520 -a 10.0.2.100 -n 24 -g 10.0.2.2
        --dns-forward 10.0.2.3 --no-map-gw -I tap0 -t none -u none -T none -U none PID
so the container sees the same layout as with slirp4netns (resolv.conf and hosts stay the same);
ports are published by rl's own forwarder, not by pasta. Debian 12's pasta does not exit when the
container's namespace goes, so `Pasta.stop()` kills it (and it gets PR_SET_PDEATHSIG: it dies with
the monitor). Ready: pasta in the foreground has configured the namespace once tap0 carries the
address; `start` polls for that (it has no ready fd).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from rootless.plainclass import dataclass

from rootless.engine.net import slirp
from rootless.engine.net.slirp import ADDRESS, DNS, GATEWAY, MTU
from rootless.errors import NetworkSetupError

READY_TIMEOUT = 10.0


def find() -> str | None:
    return shutil.which("pasta")


def command(binary: str, pid: int, netns_fd: int | None = None) -> list[str]:
    """The pasta command line (pure). `netns_fd`: the container has no user namespace of its own
    (real root): pasta joins the network namespace only, through an inherited fd and stays root
    (as root it drops to "nobody" before it joins, which it then may not)."""
    if netns_fd is None:
        target = [str(pid)]
    else:
        target = ["--runas", "0:0", "--netns", f"/proc/self/fd/{netns_fd}", "--netns-only"]
    return [binary, "--config-net", "--foreground", "--quiet", "--mtu", str(MTU), "-a", ADDRESS,
            "-n", "24", "-g", GATEWAY, "--dns-forward", DNS, "--no-map-gw", "-I", "tap0",
            "-t", "none", "-u", "none", "-T", "none", "-U", "none", *target]


@dataclass
class Pasta:
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 2.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _configured(pid: int) -> bool:
    """Whether tap0 in the namespace of `pid` has its address (read from the host side)."""
    try:
        with open(f"/proc/{pid}/net/fib_trie") as f:
            return ADDRESS in f.read()
    except OSError:
        return False


def start(pid: int, *, binary: str | None = None) -> Pasta:
    binary = binary or find()
    if binary is None:
        raise NetworkSetupError("pasta is not installed", "install passt, or use --network slirp4netns")
    errlog = tempfile.TemporaryFile()
    netns_fd = None
    try:
        same = os.stat("/proc/self/ns/user").st_ino == os.stat(f"/proc/{pid}/ns/user").st_ino
        netns_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY) if same else None
        proc = subprocess.Popen(command(binary, pid, netns_fd), pass_fds=(netns_fd,) if same else (),
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=errlog, preexec_fn=slirp.helper_preexec,
                                close_fds=True, start_new_session=True)
    except OSError as exc:
        errlog.close()
        raise NetworkSetupError(f"cannot run pasta: {exc.strerror}") from None
    finally:
        if netns_fd is not None:
            os.close(netns_fd)
    handle = Pasta(proc)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not _configured(pid):
            if proc.poll() is not None or time.monotonic() > deadline:
                handle.stop(0.5)
                errlog.seek(0)
                text = errlog.read().decode(errors="replace").strip().splitlines()
                raise NetworkSetupError("pasta failed: " + (text[-1] if text else
                                        f"exit status {proc.returncode}"))
            time.sleep(0.005)
    finally:
        errlog.close()
    return handle
