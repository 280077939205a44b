"""`create`: make the container from a bundle and leave its process waiting for `start`.

The caller posix_spawns rootless/_rl_boot (native/rl_boot.c) with the container's plan (boot.py):
it clones the container's first process with the new namespaces of linux.namespaces and
CLONE_PARENT (so the caller is its parent, and it is pid 1 of a new pid namespace), tells its pid
and exits. The caller writes the uid/gid maps (idmap.apply: directly for a single id,
newuidmap/newgidmap for ranges), releases it over a pipe and reads back "ready" or the setup
error. The container process then blocks on `<state_dir>/<id>/exec.fifo` until `start` opens it,
as runc's does. The caller stays the container's parent: it (or the engine's monitor) reaps it."""

from __future__ import annotations

import os
import time

from rootless.errors import Conflict, ContainerSetupError, RlError
from rootless.runtime import bundle as bundle_mod
from rootless.runtime.children import read_all, read_line, reap, spawn
from rootless.runtime import state as state_mod
from rootless.runtime import syscalls as sc

SIGPIPE, SIGXFSZ = 13, 25   # ignored by CPython; reset for _rl_boot (`signal` imports enum)


def _namespaces(config: dict) -> tuple[int, list]:
    """(clone flags of the namespaces to create, [(flag, fd)] of those to join by path)."""
    flags, joins = 0, []
    for ns in bundle_mod.namespaces(config):
        kind = ns.get("type")
        flag = sc.NAMESPACE_FLAGS.get(kind)
        if flag is None:
            raise RlError(f"unknown namespace type {kind!r} in config.json")
        if ns.get("path"):
            try:
                joins.append((flag, os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)))
            except OSError as e:
                raise RlError(f"cannot open the {kind} namespace {ns['path']}: {e.strerror}") from None
        else:
            flags |= flag
    if not flags & sc.CLONE_NEWNS:
        raise RlError("the container needs a mount namespace (add {\"type\": \"mount\"} to linux.namespaces)")
    return flags, joins


def id_mapping(config: dict):
    """The IdMapping that linux.uidMappings/gidMappings describe, with the way to write it:
    "root" (we are real root: direct write), "single" (our own ids only: direct write after
    setgroups deny) or "subuid" (ranges: newuidmap/newgidmap)."""
    from rootless.runtime.idmap import IdMap, IdMapping

    linux = config.get("linux") or {}
    uids = tuple(IdMap(m["containerID"], m["hostID"], m["size"]) for m in linux.get("uidMappings") or ())
    gids = tuple(IdMap(m["containerID"], m["hostID"], m["size"]) for m in linux.get("gidMappings") or ())
    if not uids or not gids:
        raise RlError("a user namespace needs linux.uidMappings and linux.gidMappings in config.json")
    if os.geteuid() == 0:
        mode = "root"
    elif (len(uids) == 1 and uids[0].size == 1 and uids[0].host_id == os.geteuid()
          and len(gids) == 1 and gids[0].size == 1 and gids[0].host_id == os.getegid()):
        mode = "single"
    else:
        mode = "subuid"
    return IdMapping(mode, uids, gids)


def _prepare_dir(state_dir, container_id: str) -> str:
    directory = state_mod.container_dir(state_dir, container_id)
    os.makedirs(os.fspath(state_dir), mode=0o700, exist_ok=True)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        raise Conflict(f"container {container_id} already exists in {state_dir}") from None
    os.mkfifo(os.path.join(directory, state_mod.EXEC_FIFO), 0o600)
    os.mkfifo(os.path.join(directory, state_mod.EXEC_STATUS), 0o600)
    return directory


def create(bundle, state_dir, container_id: str, *, stdio=None, pty: bool = False,
           console_socket: str | None = None, die_with_parent: bool = False,
           early=None) -> state_mod.State:
    """Create the container `container_id` from `bundle`; its state lives in
    `<state_dir>/<container_id>/`. stdio: (stdin, stdout, stderr) fds for the process (None:
    ours). With a terminal (pty=True or process.terminal) the returned State carries the pty
    master in .pty_master, or it is sent to `console_socket`. Raises ContainerSetupError (and
    leaves nothing behind) when the container cannot be made.

    Until it is ready the container process dies with the calling thread (PR_SET_PDEATHSIG);
    with die_with_parent (foreground runs) it always does, as `bwrap --die-with-parent`.

    `early` (runtime/early.py): a process started before the bundle existed, used when it fits
    this config (and discarded when not)."""
    bundle = os.path.abspath(os.fspath(bundle))
    config = bundle_mod.load(bundle)
    terminal = bool(pty or (config.get("process") or {}).get("terminal"))
    flags, joins = _namespaces(config)
    mapping = id_mapping(config) if flags & sc.CLONE_NEWUSER else None
    user_join = next((fd for flag, fd in joins if flag == sc.CLONE_NEWUSER), None)
    if early is not None and not _fits(early, config, flags, joins, mapping, stdio, terminal):
        early.discard()
        early = None
    directory = _prepare_dir(state_dir, container_id)
    st = state_mod.State(id=container_id, status="creating", pid=0, bundle=bundle,
                         annotations=dict(config.get("annotations") or {}),
                         created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         userns=mapping is not None or user_join is not None)
    try:
        st.pid, st.rootfs_driver, st.pty_master = _spawn(config, bundle, st, directory, flags, joins,
                                                         mapping, stdio, terminal, die_with_parent, early)
    except BaseException:
        if early is not None:
            early.discard()  # (nothing when _spawn took it)
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        for _, fd in joins:
            os.close(fd)
    st.status = "created"
    state_mod.write(directory, st)
    if console_socket and st.pty_master is not None:
        from rootless.runtime import pty as pty_mod

        pty_mod.send_to_console_socket(console_socket, st.pty_master)
        os.close(st.pty_master)
        st.pty_master = None
    return st


def _fits(early, config: dict, flags: int, joins: list, mapping, stdio, terminal: bool) -> bool:
    """Whether the early process has what this config asks of the clone: the same new namespaces,
    the same user namespace joined by path and nothing else joined, no maps to write."""
    user_path = next((ns.get("path") for ns in bundle_mod.namespaces(config)
                      if ns.get("type") == "user" and ns.get("path")), None)
    if mapping is not None or any(flag != sc.CLONE_NEWUSER for flag, _ in joins):
        return False
    return early.matches(flags, user_path, stdio, terminal)


def _spawn(config, bundle, st, directory, flags, joins, mapping, stdio, terminal, die_with_parent,
           early=None):
    """Start the container process and bring it to "ready"; returns (pid, driver, pty master).
    The "creating" state (with the pid) is on disk from the clone on, so that a caller killed
    meanwhile leaves a container that delete(force=True) finds and kills."""
    from rootless.runtime import boot

    user_join = next((fd for flag, fd in joins if flag == sc.CLONE_NEWUSER), None)
    b = boot.Boot(config, bundle_mod.rootfs(bundle, config), directory, flags,
                  [(flag, fd) for flag, fd in joins if flag != sc.CLONE_NEWUSER], stdio, terminal)
    b.in_userns = bool(flags & sc.CLONE_NEWUSER) or user_join is not None
    b.die_with_parent = die_with_parent
    b.user_join = -1 if user_join is None else user_join
    late, late_w = b"", -1
    if early is not None:
        late = _encode(b, early_keys=True)  # before "G": a bad plan fails with nothing started
        helper, pid, sync_w, ready_r, late_w, parent_sock = early.take()
    else:
        helper, pid, sync_w, ready_r, parent_sock = _start_boot(b)
    try:
        st.pid, st.pid_start = pid, state_mod.pid_start_time(pid)
        state_mod.write(directory, st)
        if mapping is not None:
            from rootless.runtime import idmap

            idmap.apply(pid, mapping)
        os.write(sync_w, b"G")
        os.close(sync_w)
        sync_w = -1
        if late_w >= 0:  # the rest of an early process's plan; it reads it after "G"
            from rootless.runtime.children import write_all

            write_all(late_w, late)
            os.close(late_w)
            late_w = -1
        reply = read_all(ready_r)
        if not reply.startswith(b"OK "):
            _raise_setup_error(reply)
        master = _receive_master(parent_sock) if terminal else None
        return pid, reply[3:].decode(), master
    except BaseException:
        for fd in (sync_w, late_w):
            if fd >= 0:
                os.close(fd)
        reap(pid)
        raise
    finally:
        _reap_helper(helper)
        os.close(ready_r)
        if parent_sock is not None:
            parent_sock.close()


def boot_binary() -> str:
    """native/rl_boot.c's executable, beside the package's modules (also in the frozen rl's tree)."""
    from rootless.runtime.boot import BINARY

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), BINARY)


def _start_boot(b):
    """posix_spawn _rl_boot with its plan, the pipes (and the pty's socket) and the stdio; it
    clones the container process as our child and tells its pid. Returns (helper pid, container
    pid, sync_w, ready_r, parent_sock)."""
    sync_r, sync_w = os.pipe()
    ready_r, ready_w = os.pipe()
    b.sync_r, b.ready_w = sync_r, ready_w
    parent_sock = child_sock = None
    if b.terminal:
        import socket

        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        b.sock = child_sock.fileno()
    helper = -1
    try:
        helper = _spawn_boot(b)
        os.close(sync_r)
        os.close(ready_w)
        sync_r = ready_w = -1
        pid = _read_pid(ready_r)
    except BaseException:
        for fd in (sync_r, sync_w, ready_r, ready_w):
            if fd >= 0:
                os.close(fd)
        if parent_sock is not None:
            parent_sock.close()
        _reap_helper(helper)
        raise
    finally:
        if child_sock is not None:
            child_sock.close()
    return helper, pid, sync_w, ready_r, parent_sock


def _spawn_boot(b) -> int:
    """posix_spawn (vfork: no copy of the interpreter) _rl_boot; the fds of the plan are kept
    open in it (children.spawn), the signals Python ignores are reset."""
    from rootless.runtime import plan as plan_mod

    plan_fd = plan_mod.memfd(_encode(b))
    try:
        exe = boot_binary()
        return spawn(exe, [exe, str(plan_fd)], (plan_fd, *b.fds()), setsigdef=(SIGPIPE, SIGXFSZ))
    except OSError as e:
        raise ContainerSetupError(f"cannot run rl's container helper {exe}: {e.strerror}",
                                  "rebuild it: make native (or reinstall rl)") from None
    finally:
        os.close(plan_fd)


def _encode(b, early_keys: bool = False) -> bytes:
    """The plan of `b` (only the keys an early process has not got: `early_keys`); the errors the
    child used to find are raised as ContainerSetupError, as before."""
    from rootless.errors import StorageError
    from rootless.runtime import boot
    from rootless.runtime import plan as plan_mod

    try:
        pairs = boot.pairs(b)
    except (StorageError, ValueError) as e:
        raise ContainerSetupError(f"container setup failed: {getattr(e, 'message', None) or e}",
                                  getattr(e, "hint", None)) from None
    if early_keys:
        from rootless.runtime.early import EARLY_KEYS

        pairs = [(key, value) for key, value in pairs if key not in EARLY_KEYS]
    return plan_mod.encode(pairs)


def _read_pid(ready_r: int) -> int:
    """The container's pid from _rl_boot ("P<pid>" and a newline), or its error before the clone
    ("F <message>", NUL, "<hint>": raised as it is)."""
    reply = read_line(ready_r)
    if reply.startswith(b"P") and reply[1:-1].isdigit():
        return int(reply[1:-1])
    if reply.startswith(b"F "):
        message, _, hint = reply[2:].decode(errors="replace").partition("\0")
        raise ContainerSetupError(message, hint or None)
    raise ContainerSetupError("rl's container helper _rl_boot failed before the container was created")


def _reap_helper(helper: int) -> None:
    if helper > 0:
        try:
            os.waitpid(helper, 0)
        except ChildProcessError:   # reaped by someone else's wait(): fine
            pass


def _receive_master(sock) -> int:
    from rootless.runtime import pty as pty_mod

    return pty_mod.recv_fd(sock)


def _raise_setup_error(reply: bytes) -> None:
    if not reply.startswith(b"E "):
        raise ContainerSetupError("the container process died while it was being set up")
    kind, _, rest = reply[2:].decode(errors="replace").partition("\0")
    message, _, hint = rest.partition("\0")
    raise ContainerSetupError(f"container setup failed: {message}", hint or None)
