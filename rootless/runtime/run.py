"""`run` = create + start + wait, in the foreground: the caller's process is the container's
parent, forwards the signals it gets to it, relays the pty when there is one, and returns the
container process's exit status (128+N when a signal N killed it). The state is deleted after."""

from __future__ import annotations

import os
import _signal as signal  # the C module: `signal` loads enum (start-up, docs/performance.md)

from rootless.runtime import state as state_mod
from rootless.runtime.children import reap, wait_status
from rootless.runtime.create import create
from rootless.runtime.delete import delete
from rootless.runtime.start import start_created

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2)


def run(bundle, state_dir, container_id: str, *, tty: bool = False, stdin: bool = True,
        stdio=None, keep_state: bool = False) -> int:
    """Run the bundle's process to its end and return its exit code. stdio: (in, out, err) fds
    (None: ours); stdin=False gives the process /dev/null. Raises ContainerCommandError (126/127)
    when the command cannot be run, ContainerSetupError when the container cannot be made."""
    devnull = None
    if not stdin:
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        stdio = (devnull,) + tuple(stdio[1:] if stdio else (1, 2))
    try:
        st = create(bundle, state_dir, container_id, stdio=stdio, pty=tty, die_with_parent=True)
    finally:
        if devnull is not None:
            os.close(devnull)
    try:
        with _Forwarder(st.pid):
            start_created(st, state_mod.container_dir(state_dir, container_id))
            if st.pty_master is not None:
                from rootless.runtime import pty

                out = stdio[1] if stdio else 1
                inp = (stdio[0] if stdio else 0) if stdin else None
                status = pty.relay(st.pty_master, st.pid, stdin=inp, stdout=out)
            else:
                status = wait_status(st.pid)
        code = os.waitstatus_to_exitcode(status)
        return 128 - code if code < 0 else code
    except BaseException:
        reap(st.pid, kill=False)
        raise
    finally:
        if st.pty_master is not None:
            os.close(st.pty_master)
        if not keep_state:
            delete(state_dir, container_id, force=True)


class _Forwarder:
    """While the container runs, the signals we get are its (docker's --sig-proxy)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.saved = {}

    def _forward(self, sig, _frame) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self):
        try:
            for sig in FORWARDED:
                self.saved[sig] = signal.signal(sig, self._forward)
        except ValueError:   # not the main thread: no forwarding
            pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
