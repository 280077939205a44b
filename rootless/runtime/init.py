"""The container's tiny init (`rl run --init`, annotation "rl.init": "true"): no host package, no
file in the image. The runtime's own first process, already pid 1 of the container and past
pivot_root, forks the real process and stays behind as a reaper: it forwards the signals a user
sends (a pid 1 ignores signals it has no handler for, so a shell or a server would not get them),
reaps every orphan that the kernel reparents to it, and exits with the main process's status
(128+N when a signal N killed it), as tini and docker-init do.
"""

from __future__ import annotations

import os
import _signal as signal  # the C module: signal.py imports enum, ~5 ms of rl exec (docs/performance.md)

ANNOTATION = "rl.init"
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT, signal.SIGALRM)


def wanted(annotations: dict) -> bool:
    return str(annotations.get(ANNOTATION, "")).lower() in ("true", "1", "yes")


def exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def reap(child: int) -> int:
    """Forward signals to `child` and reap until it exits; returns its exit code."""
    def forward(sig, _frame):
        try:
            os.kill(child, sig)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 0
        if pid == child:
            return exit_code(status)


def run(exec_main, close_fds=()) -> None:
    """Fork; the child calls exec_main() (which never returns), this process reaps. Never returns."""
    child = os.fork()
    if child == 0:
        _own_process_group()
        exec_main()
        os._exit(125)
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    os._exit(reap(child))


def _own_process_group() -> None:
    """The main process gets its own process group, the terminal's foreground one when there is
    a terminal (as tini does): ^C at the terminal reaches it once, not through the init too."""
    try:
        os.setpgid(0, 0)
        if os.isatty(0):
            old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            try:
                os.tcsetpgrp(0, os.getpgrp())
            finally:
                signal.signal(signal.SIGTTOU, old)
    except OSError:
        pass
