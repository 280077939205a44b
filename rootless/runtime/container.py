"""The runtime's Python API, one module per lifecycle operation behind it:

  create(bundle, state_dir, container_id, *, stdio=None, pty=False, console_socket=None,
         early=None) -> State                     early: runtime/early.py's process, if it fits
      the container's process waits for start; State.pty_master holds the pty master with a
      terminal (the caller relays it or hands it to a monitor); the caller stays its parent and
      must reap it (os.waitpid(state.pid, ...)).
  start(state_dir, container_id) -> None          raises ContainerCommandError (126/127)
  run(bundle, state_dir, container_id, *, tty=False, stdin=True, stdio=None) -> int
      create + start + wait in the foreground (signals forwarded, pty relayed); exit code
  kill(state_dir, container_id, sig) -> None      sig: int or "TERM"/"SIGTERM"
  delete(state_dir, container_id, *, force=False) -> None
  state(state_dir, container_id) -> dict          OCI state: ociVersion, id, status, pid, bundle,
                                                  annotations (read_state() -> State with more)
  exec_process(state_dir, container_id, process, *, tty=False, detach=False, stdio=None) -> int

A container's state lives in `<state_dir>/<container_id>/` (state.json, exec.fifo, exec.status).
Errors: ContainerSetupError (125), ContainerCommandError (126/127), InvalidState,
ContainerNotFound, Conflict (id in use), all from rootless.errors.

Annotations the runtime reads from config.json: rl.rootfs.driver/lowerdir/upperdir/workdir
(rootfs.py), rl.init (init.py).
"""

from rootless.runtime.create import create
from rootless.runtime.delete import delete
from rootless.runtime.start import start
from rootless.runtime.state import State, read as read_state, state

#: imported on first use (PEP 562): `rl run` needs none of them (docs/performance.md)
_LAZY = {"exec_process": "rootless.runtime.exec", "kill": "rootless.runtime.kill",
         "parse_signal": "rootless.runtime.kill", "run": "rootless.runtime.run"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = ["create", "start", "run", "kill", "delete", "state", "exec_process", "State",
           "read_state", "parse_signal"]
