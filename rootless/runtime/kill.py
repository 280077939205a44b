"""`kill`: send a signal to a created or running container's process (OCI "kill")."""

from __future__ import annotations

import os
import signal as signal_mod

from rootless.errors import InvalidState, UsageError
from rootless.runtime import state as state_mod


def parse_signal(sig) -> int:
    """15, "15", "TERM", "SIGTERM", "sigterm" -> 15; UsageError otherwise."""
    if isinstance(sig, int):
        return sig
    text = str(sig).strip().upper()
    if text.isdigit():
        return int(text)
    name = text if text.startswith("SIG") else "SIG" + text
    value = getattr(signal_mod, name, None)
    if not isinstance(value, signal_mod.Signals):
        raise UsageError(f"invalid signal: {sig}")
    return int(value)


def kill(state_dir, container_id: str, sig=signal_mod.SIGTERM) -> None:
    st = state_mod.read(state_dir, container_id)
    if st.status not in ("created", "running"):
        raise InvalidState(f"container {container_id} is not running (state {st.status!r})")
    try:
        os.kill(st.pid, parse_signal(sig))
    except ProcessLookupError:
        raise InvalidState(f"container {container_id} is not running") from None
