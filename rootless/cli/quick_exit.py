"""Ending a short command at once: the exit of `rl run` and `rl exec` without the interpreter's
teardown (~5 ms here: module and object finalisation that a process about to vanish does not
need). Only when the process is rl itself and has nothing left to do: no thread, no atexit work,
no temporary file (docs/performance.md).
"""

from __future__ import annotations

import sys


def leave(status: int) -> int:
    """End the process at once with `status` when it is rl itself (the `rl` console script,
    `python -m rootless`, the frozen rl): the interpreter's teardown costs ~5 ms here and the callers
    leave nothing to tear down (no thread, no atexit work, no temp file; the pty relay restored
    the terminal before returning). Called in-process (tests, embedding), it returns `status`."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if not (getattr(sys, "frozen", False) or (spec is not None and spec.name == "rootless.__main__")
            or (getattr(main, "__file__", None) or "").rpartition("/")[2] == "rl"):
        return status
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return status  # a thread still at work (a pull's, say): the normal exit waits for it
    import os

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: nothing more can be said
        pass
    os._exit(status & 0xFF)
