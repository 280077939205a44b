"""The monitor of a detached container (`rl run -d`, `rl start`): podman's conmon, in Python.

Started as its own interpreter (`python -m rootless.engine.monitor ROOT RUNROOT ID FD`) in a new
session by `start.py`, it forks once more (so it is no session leader and can never get a
controlling terminal) and becomes the parent of the container's first process via the runtime.
It then:
- reports on FD "OK" once the command has exec'd, or "E <code> <message>" (126/127/125);
- hands over to the slim pump (monitor_pump.py): execve of `python -I -S` in this very process,
  which copies the container's stdout/stderr (or its pty) into ctr.log in docker's json-file
  format and waits for the process, with ~8.6 MiB RSS instead of the ~15 MiB the launch needs;
- is exec'd again by the pump once the process has ended (`... -1 --after STATUS STARTED
  BACKOFF`): records ExitCode and FinishedAt, drops the runtime state;
- applies --restart (no | on-failure[:N] | always | unless-stopped) with docker's back-off (100 ms
  doubling, reset after 10 s of running), not after `rl stop`/`rl kill` (State.ManuallyStopped);
  nothing restarts containers after a reboot or once this process is gone;
- removes the container when it was run with --rm.
If the exec of the pump fails, it pumps the log itself (monitor_pump.pump) as before.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from rootless.engine import monitor_pump
from rootless.engine.container_store import ContainerStore
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
        self.stdin_w = -1

    def report(self, text: str) -> None:
        if self.ready_fd >= 0:
            try:
                os.write(self.ready_fd, text.encode() + b"\n")
            except OSError:
                pass  # the CLI is gone: nobody to tell
            os.close(self.ready_fd)
            self.ready_fd = -1

    def run(self, after: tuple[int, float, float] | None = None) -> None:
        """The container's runs until the restart policy says stop. `after`: (wait status,
        start time, back-off) of the run the slim pump (monitor_pump) just saw end."""
        backoff = BACKOFF_START
        while True:
            if after is not None:
                status, started, backoff = after
                after = None
                code = self.ended(status)
            else:
                record = self.store.load(self.cid)
                started = time.monotonic()
                try:
                    code = self.run_once(record, started, backoff)
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

    def run_once(self, record: dict, started: float, backoff: float) -> int:
        """Launch the container, then hand over to the slim pump (this process becomes it: the
        call does not return), or pump here if that exec failed; the exit code."""
        from rootless.engine.lifecycle import launch
        from rootless.engine.logs import LogWriter

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
        self.hand_over(st, sources, record["LogPath"], started, backoff)
        status = monitor_pump.pump(st.pid, sources, LogWriter(record["LogPath"]))
        launch.stop_network(st)  # slirp4netns/pasta and the port forwarder (owner: network engineer)
        return self.ended(status)

    def hand_over(self, st, sources: dict[int, str], log_path: str, started: float, backoff: float) -> None:
        """Exec the slim pump in this process (monitor_pump's docstring); returns if that failed or
        the network holds something the pump cannot end itself (then we pump here)."""
        helpers = pump_helpers(getattr(st, "network", None))
        if helpers is None:
            return
        socket = next((str(h.api_socket) for h in (st.network.stack,) if getattr(h, "api_socket", None)), "")
        close = [self.stdin_w] if self.stdin_w >= 0 else []
        resume = [sys.executable, "-m", "rootless.engine.monitor", str(self.paths.root), str(self.paths.runroot),
                  self.cid, "-1", "--after", repr(started), repr(backoff)]
        argv = monitor_pump.command(st.pid, log_path, sources, close, helpers, socket, resume)
        monitor_pump.hand_over(argv, [*sources, *close, *(fd for _, fd in helpers if fd >= 0)])

    def ended(self, status: int) -> int:
        """Record the end of the container's process (its wait status); the exit code."""
        from rootless.engine.lifecycle import launch

        if self.stdin_w >= 0:
            os.close(self.stdin_w)
            self.stdin_w = -1
        code = launch.exit_code(status)
        self.pid = 0
        launch.record_exit(self.paths, self.store, self.cid, code)
        return code

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


#: what net.stack.Running may hold for the pump to end it as Running.stop() does (owner of those
#: classes: the network engineers); anything else (e.g. endpoints on a user-defined network) keeps
#: the pumping in this full monitor, which calls Running.stop() itself
PUMP_HELPERS = {"Slirp": True, "Pasta": False, "ForwarderProcess": False}  # class -> ends on its exit fd


def pump_helpers(network) -> list[tuple[int, int]] | None:
    """(pid, exit fd or -1) of each network helper for the pump to stop, or None when the
    network has more to it than helper processes the pump knows."""
    if network is None:
        return []
    if getattr(network, "attached", None) or not set(vars(network)) <= {"plan", "pid", "stack", "forwarder",
                                                                        "bound", "attached"}:
        return None
    out = []
    for helper in (network.stack, network.forwarder):
        if helper is None:
            continue
        kind = type(helper).__name__
        if kind not in PUMP_HELPERS:
            return None
        out.append((helper.pid, helper.exit_w if PUMP_HELPERS[kind] else -1))
    return out


def main(argv: list[str]) -> None:
    root, runroot, cid, fd, *rest = argv
    ready_fd = int(fd)
    after = None
    if rest[:1] == ["--after"]:  # exec'd again by the pump: the container's process has ended
        started, backoff, status = rest[1:4]
        after = (int(status), float(started), float(backoff))
    else:
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
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})  # the pump blocks them across exec
    try:
        monitor.run(after)
    except BaseException as e:  # noqa: BLE001 - nobody to show it to but the CLI and the record
        monitor.report(f"E 125 monitor failed: {e}")
        try:
            monitor.store.set_state(cid, Error=f"monitor failed: {e}")
        except Exception:  # noqa: BLE001
            pass
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
