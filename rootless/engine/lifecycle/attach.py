"""A container in the foreground (`rl run` without -d, `rl start -a`): this process is its parent.

Without -t the container shares our stdout/stderr (and stdin with -i; /dev/null without), and the
signals we get are forwarded to it (docker's --sig-proxy). With -t the runtime gives it a pty whose
master we relay: our terminal in raw mode (so Ctrl-C is the container's), window-size changes
forwarded, stdin's EOF sent as ^D. Returns the container's exit status; the record gets it too.
"""

from __future__ import annotations

import os
import _signal as signal  # the C module: `signal` loads enum (start-up, docs/performance.md)

from rootless.context import Context
from rootless.engine.container_store import ContainerStore
from rootless.engine.lifecycle import launch, truth
from rootless.errors import InvalidState
from rootless.runtime.children import wait_status

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


#: --network values whose namespaces are all new (user networks and container: join some by path)
_OWN_NETWORKS = ("none", "host", "bridge", "private", "slirp4netns", "pasta")


def start_early(ctx: Context, opts, mapping):
    """The container's process cloned before the engine's bookkeeping (runtime/early.py), when
    the options alone say what the clone needs: a network of its own (or the host's), and either
    no user namespace (real root) or the pause process's to join (`mapping`: the run's id
    mapping). None otherwise: `create` then starts it the usual way."""
    if opts.detach or opts.network not in _OWN_NETWORKS:
        return None
    from rootless.engine import pause, spec
    from rootless.runtime import early as early_mod
    from rootless.runtime import syscalls as sc

    path = None
    if mapping.mode != "root":
        kept = pause.current(ctx.paths, mapping)
        if kept is None:
            return None  # a new user namespace: its maps must be written before "G"
        path = pause.userns_path(kept[0])
    flags = 0
    for kind in spec.namespace_types(opts.network):
        flags |= sc.NAMESPACE_FLAGS[kind]
    devnull = -1 if opts.interactive else os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    early = early_mod.start(flags, path, (0 if opts.interactive else devnull, 1, 2), opts.tty)
    if early is None and devnull >= 0:
        os.close(devnull)
    return early


def discard_early(early) -> None:
    """An early process `run_attached` did not use (the run failed before): ended, its stdin closed."""
    if early is not None:
        early.discard()
        if early.stdio[0] > 2:
            os.close(early.stdio[0])
            early.stdio = (0, *early.stdio[1:])


def run_attached(ctx: Context, store: ContainerStore, record: dict, *, interactive: bool, tty: bool,
                 remove_after: bool = False, held: list | None = None, early=None) -> int:
    """`remove_after`: the caller deletes the container once this returns (`rl run --rm`,
    lifecycle.remove.remove_files, which drops the runtime state too), so its end is not written
    into the record first (one locked rewrite less on the start-up path).

    `held` gets a descriptor of the container's mount namespace, for the caller to hand to the
    detached deleter: while one is open the kernel does not tear the namespace down (unmount the
    rootfs and the mount tree, ~0.5-1 ms) when the container exits, so this process reaps it at
    once, and the deleter's exit pays for the teardown instead.

    `early`: from `start_early` (its stdio is the process's)."""
    from rootless.engine.containers import bundle_dir

    record = truth.current(store, record)
    if truth.is_running(record["State"]):
        raise InvalidState(f"container {record['Id'][:12]} is already running")
    bundle_dir(record, ctx)
    if record["State"].get("ManuallyStopped"):  # a fresh container has none: spare the rewrite
        store.set_state(record["Id"], ManuallyStopped=False)
    if early is not None:
        stdio = early.stdio
        devnull = stdio[0] if stdio[0] > 2 else -1
    else:
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        stdio = (0 if interactive else devnull, 1, 2)
    saved: dict = {}
    pid_box = [0]

    def forward(sig, _frame) -> None:
        if pid_box[0]:
            try:
                os.kill(pid_box[0], sig)
            except ProcessLookupError:
                pass
    for sig in FORWARDED:
        saved[sig] = signal.signal(sig, forward)
    try:
        try:
            st = launch.launch(ctx.paths, store, record, stdio=stdio, tty=tty, early=early)
        finally:
            if devnull >= 0:
                os.close(devnull)
            if early is not None:
                early.stdio = (0, *early.stdio[1:])  # closed above: discard_early leaves it
        pid_box[0] = st.pid
        if held is not None:
            try:
                held.append(os.open(f"/proc/{st.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                pass  # gone already: nothing to hold
        if st.pty_master is not None:
            from rootless.runtime import pty

            try:
                status = pty.relay(st.pty_master, st.pid, stdin=0 if interactive else None, stdout=1)
            finally:
                os.close(st.pty_master)
        else:
            status = wait_status(st.pid)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    launch.stop_network(st)  # slirp4netns/pasta and the port forwarder (owner: network engineer)
    code = launch.exit_code(status)
    if not remove_after:  # else the caller's remove_files drops the record and the runtime state
        launch.record_exit(ctx.paths, store, record["Id"], code)
    return code

