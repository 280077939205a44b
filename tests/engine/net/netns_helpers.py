"""Helpers of the network tests (a module of its own: `conftest` names clash across test dirs):
a "container" network namespace made without the containers engine (runtime.userns.spawn_in_userns
with CLONE_NEWNET), running nsserver.py inside."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
SERVER = HERE / "nsserver.py"


class NetNamespace:
    """A process in new user (unless real root) + network + mount namespaces, lo up, running
    `argv` (default: nsserver.py on `port`)."""

    def __init__(self, port: int = 80, argv: list[str] | None = None) -> None:
        from rootless.runtime import idmap, userns
        from rootless.runtime.syscalls import CLONE_NEWNET, CLONE_NEWNS

        argv = argv or [sys.executable, str(SERVER), str(port)]
        self.port = port
        rfd, wfd = os.pipe()
        pid, release = userns.spawn_in_userns(idmap.choose(), CLONE_NEWNET | CLONE_NEWNS)
        if pid == 0:
            try:
                os.close(rfd)
                os.dup2(wfd, 1)
                subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        os.close(wfd)
        release()
        self.pid = pid
        self.out = os.fdopen(rfd, "r")
        if argv[1:2] == [str(SERVER)]:
            line = self.out.readline()
            if line != "ready\n":
                self.kill()
                raise RuntimeError(f"the namespace server did not start: {line!r}")

    def alive(self) -> bool:
        try:
            return os.waitpid(self.pid, os.WNOHANG)[0] == 0
        except ChildProcessError:
            return False

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self.out.close()

    def run(self, *cmd: str, timeout: float = 10) -> subprocess.CompletedProcess:
        """`cmd` inside the namespace, with nsenter (user namespace too unless it is ours)."""
        own = os.stat("/proc/self/ns/user").st_ino == os.stat(f"/proc/{self.pid}/ns/user").st_ino
        enter = ["nsenter", "-t", str(self.pid), "-n"] + ([] if own else ["-U", "--preserve-credentials"])
        return subprocess.run(enter + list(cmd), capture_output=True, text=True, timeout=timeout)



def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    """Whether process `pid` (not necessarily our child) is gone within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False
