"""The monitor of a detached container (`rl run -d`, `rl start`): podman's conmon, in Python.

Started as its own small interpreter (`python -m rootless.engine.monitor ROOT RUNROOT ID FD`) in
a new session by `start.py`, it forks once more (so it is no session leader and can never get a
controlling terminal) and becomes the parent of the container's first process via the runtime.
It then:
- copies the container's stdout/stderr (or its pty) into ctr.log in docker's json-file format;
- reports on FD "OK" once the command has exec'd, or "E <code> <message>" (126/127/125);
- waits for the process (a pidfd), records ExitCode and FinishedAt, drops the runtime state;
- applies --restart (no | on-failure[:N] | always | unless-stopped) with docker's back-off (100 ms
  doubling, reset after 10 s of running), not after `rl stop`/`rl kill` (State.ManuallyStopped);
  nothing restarts containers after a reboot or once this process is gone;
- removes the container when it was run with --rm.
It imports only the standard library, the store, the log writer and the runtime, to stay small.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

from rootless.engine.container_store import ContainerStore
from rootless.engine.lifecycle import launch
from rootless.engine.logs import LogWriter
from rootless.errors import RlError
from rootless.paths import Paths

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
RESET_AFTER = 10.0


class Monitor:
    def __init__(self, paths: Paths, cid: str, ready_fd: int) -> None:
        self.paths = paths
        self.store = ContainerStore(paths)
        self.cid = cid
        self.ready_fd = ready_fd
        self.pid = 0

    def report(self, text: str) -> None:
        if self.ready_fd >= 0:
            try:
                os.write(self.ready_fd, text.encode() + b"\n")
            except OSError:
                pass  # the CLI is gone: nobody to tell
            os.close(self.ready_fd)
            self.ready_fd = -1

    def run(self) -> None:
        backoff = BACKOFF_START
        while True:
            record = self.store.load(self.cid)
            started = time.monotonic()
            try:
                code = self.run_once(record)
            except RlError as e:
                code = e.exit_code if e.exit_code in (126, 127) else 125
                self.report(f"E {code} {e.message}")
                if record["HostConfig"]["RestartPolicy"]["Name"] == "no":
                    break
            if time.monotonic() - started > RESET_AFTER:
                backoff = BACKOFF_START
            if not self.wait_restart(code, backoff):
                break
            backoff = min(backoff * 2, BACKOFF_MAX)
        self.report("E 125 the container did not start")
        self.finish()

    def run_once(self, record: dict) -> int:
        tty = bool(record["Config"].get("Tty"))
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        stdin_r, self.stdin_w = os.pipe() if record["Config"].get("OpenStdin") else (devnull, -1)
        out_r, out_w = os.pipe() if not tty else (-1, devnull)
        err_r, err_w = os.pipe() if not tty else (-1, devnull)
        try:
            st = launch.launch(self.paths, self.store, record, stdio=(stdin_r, out_w, err_w), tty=tty)
        except BaseException:
            for fd in {out_r, err_r, self.stdin_w} - {-1}:
                os.close(fd)
            raise
        finally:
            for fd in {devnull, out_w, err_w, stdin_r} - {-1}:
                os.close(fd)
        self.pid = st.pid
        self.report("OK")
        sources = {st.pty_master: "stdout"} if tty else {out_r: "stdout", err_r: "stderr"}
        status = self.pump(st.pid, sources, LogWriter(record["LogPath"]))
        launch.stop_network(st)  # slirp4netns/pasta and the port forwarder (owner: network engineer)
        if self.stdin_w >= 0:
            os.close(self.stdin_w)
        code = launch.exit_code(status)
        self.pid = 0
        launch.record_exit(self.paths, self.store, self.cid, code)
        return code

    def pump(self, pid: int, sources: dict[int, str], log: LogWriter) -> int:
        """Copy the container's output into the log until its process exits; its wait status."""
        pidfd = os.pidfd_open(pid)
        status = None
        try:
            while status is None:
                try:
                    ready, _, _ = select.select(list(sources) + [pidfd], [], [])
                except InterruptedError:
                    continue
                for fd in ready:
                    if fd == pidfd:
                        status = os.waitpid(pid, 0)[1]
                    elif not self.copy(fd, sources, log):
                        os.close(fd)
                        del sources[fd]
            self.drain(sources, log)
        finally:
            os.close(pidfd)
            log.close()
        return status

    @staticmethod
    def copy(fd: int, sources: dict[int, str], log: LogWriter) -> bool:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO from a pty master once the slave side is gone
            return False
        if data:
            log.write(sources[fd], data)
        return bool(data)

    def drain(self, sources: dict[int, str], log: LogWriter) -> None:
        """What is left in the pipes once the process is gone (its pid namespace died with it)."""
        deadline = time.monotonic() + 1.0
        while sources and time.monotonic() < deadline:
            ready, _, _ = select.select(list(sources), [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            for fd in ready:
                if not self.copy(fd, sources, log):
                    os.close(fd)
                    del sources[fd]
        for fd in sources:
            os.close(fd)

    def wait_restart(self, code: int, delay: float) -> bool:
        """Whether the restart policy restarts the container now (after the back-off)."""
        try:
            record = self.store.load(self.cid)
        except RlError:
            return False
        policy = record["HostConfig"]["RestartPolicy"]
        state = record["State"]
        if state.get("ManuallyStopped") or policy["Name"] == "no":
            return False
        if policy["Name"] == "on-failure":
            if code == 0 or (policy.get("MaximumRetryCount") and record.get("RestartCount", 0) >= policy["MaximumRetryCount"]):
                return False

        def restarting(rec: dict) -> None:
            rec["State"].update(Status="restarting", Restarting=True)
            rec["RestartCount"] = rec.get("RestartCount", 0) + 1
        self.store.update(self.cid, restarting)
        end = time.monotonic() + delay
        while time.monotonic() < end:
            time.sleep(min(0.05, end - time.monotonic()))
            try:
                if self.store.load(self.cid)["State"].get("ManuallyStopped"):
                    self.store.set_state(self.cid, Status="exited", Restarting=False)
                    return False
            except RlError:
                return False
        return True

    def finish(self) -> None:
        try:
            record = self.store.load(self.cid)
        except RlError:
            return
        if record["HostConfig"].get("AutoRemove"):
            from rootless.engine.lifecycle.remove import remove_files

            remove_files(self.paths, record)

    def forward(self, sig: int, _frame) -> None:
        if self.pid:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass


def main(argv: list[str]) -> None:
    root, runroot, cid, fd = argv
    ready_fd = int(fd)
    os.set_inheritable(ready_fd, False)  # the container must not hold the CLI's pipe open
    if os.fork():
        os._exit(0)  # the second fork: the monitor is no session leader
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    os.close(null)
    os.chdir("/")
    monitor = Monitor(Paths.from_env(dict(os.environ), root, runroot), cid, ready_fd)
    signal.signal(signal.SIGTERM, monitor.forward)
    signal.signal(signal.SIGINT, monitor.forward)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        monitor.run()
    except BaseException as e:  # noqa: BLE001 - nobody to show it to but the CLI and the record
        monitor.report(f"E 125 monitor failed: {e}")
        try:
            monitor.store.set_state(cid, Error=f"monitor failed: {e}")
        except Exception:  # noqa: BLE001
            pass
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
