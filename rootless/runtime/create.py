"""`create`: make the container from a bundle and leave its process waiting for `start`.

The caller's process clones the container's first process with the new namespaces of
linux.namespaces (it becomes pid 1 of a new pid namespace), writes its uid/gid maps
(idmap.apply: directly for a single id, newuidmap/newgidmap for ranges), releases it over a pipe
and reads back "ready" or the setup error. The container process then blocks on
`<state_dir>/<id>/exec.fifo` until `start` opens it, as runc's does. The caller stays the
container's parent: it (or the engine's monitor) reaps it.
"""

from __future__ import annotations

import os
import time

from rootless.errors import Conflict, ContainerSetupError, RlError
from rootless.runtime import bundle as bundle_mod
from rootless.runtime.children import read_all, reap
from rootless.runtime import state as state_mod
from rootless.runtime import syscalls as sc


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
           console_socket: str | None = None, die_with_parent: bool = False) -> state_mod.State:
    """Create the container `container_id` from `bundle`; its state lives in
    `<state_dir>/<container_id>/`. stdio: (stdin, stdout, stderr) fds for the process (None:
    ours). With a terminal (pty=True or process.terminal) the returned State carries the pty
    master in .pty_master, or it is sent to `console_socket`. Raises ContainerSetupError (and
    leaves nothing behind) when the container cannot be made.

    Until it is ready the container process dies with the calling thread (PR_SET_PDEATHSIG);
    with die_with_parent (foreground runs) it always does, as `bwrap --die-with-parent`."""
    bundle = os.path.abspath(os.fspath(bundle))
    config = bundle_mod.load(bundle)
    terminal = bool(pty or (config.get("process") or {}).get("terminal"))
    flags, joins = _namespaces(config)
    mapping = id_mapping(config) if flags & sc.CLONE_NEWUSER else None
    user_join = next((fd for flag, fd in joins if flag == sc.CLONE_NEWUSER), None)
    directory = _prepare_dir(state_dir, container_id)
    st = state_mod.State(id=container_id, status="creating", pid=0, bundle=bundle,
                         annotations=dict(config.get("annotations") or {}),
                         created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         userns=mapping is not None or user_join is not None)
    try:
        st.pid, st.rootfs_driver, st.pty_master = _spawn(config, bundle, st, directory, flags, joins,
                                                         mapping, stdio, terminal, die_with_parent)
    except BaseException:
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


def _spawn(config, bundle, st, directory, flags, joins, mapping, stdio, terminal, die_with_parent):
    """Clone the container process and bring it to "ready"; returns (pid, driver, pty master).
    The "creating" state (with the pid) is on disk from the clone on, so that a caller killed
    meanwhile leaves a container that delete(force=True) finds and kills."""
    from rootless.runtime import boot

    user_join = next((fd for flag, fd in joins if flag == sc.CLONE_NEWUSER), None)
    b = boot.Boot(config, bundle_mod.rootfs(bundle, config), directory, flags,
                  [(flag, fd) for flag, fd in joins if flag != sc.CLONE_NEWUSER], stdio, terminal)
    b.in_userns = bool(flags & sc.CLONE_NEWUSER) or user_join is not None
    b.die_with_parent = die_with_parent
    pid, sync_w, ready_r, parent_sock = _clone(b, flags, user_join)
    try:
        st.pid, st.pid_start = pid, state_mod.pid_start_time(pid)
        state_mod.write(directory, st)
        if mapping is not None:
            from rootless.runtime import idmap

            idmap.apply(pid, mapping)
        os.write(sync_w, b"G")
        os.close(sync_w)
        sync_w = -1
        reply = read_all(ready_r)
        if not reply.startswith(b"OK "):
            _raise_setup_error(reply)
        master = _receive_master(parent_sock) if terminal else None
        return pid, reply[3:].decode(), master
    except BaseException:
        if sync_w >= 0:
            os.close(sync_w)
        reap(pid)
        raise
    finally:
        os.close(ready_r)
        if parent_sock is not None:
            parent_sock.close()


def _clone(b, flags: int, user_join: int | None):
    """Make the pipes (and the pty socketpair), clone; the child runs boot.main and never comes
    back. Returns (pid, sync_w, ready_r, parent_sock) in the parent."""
    from rootless.runtime import boot

    sync_r, sync_w = os.pipe()
    ready_r, ready_w = os.pipe()
    parent_sock = None
    if b.terminal:
        import socket

        parent_sock, b.sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    b.sync_r, b.ready_w = sync_r, ready_w
    try:
        pid = sc.clone_fork(flags) if user_join is None else _clone_in_userns(user_join, flags)
    except BaseException as e:
        for fd in (sync_r, sync_w, ready_r, ready_w):
            os.close(fd)
        if parent_sock is not None:
            parent_sock.close()
            b.sock.close()
        if isinstance(e, OSError):
            raise ContainerSetupError(f"cannot create the container's namespaces: {e.strerror}",
                                      "check user.max_user_namespaces and kernel.unprivileged_userns_clone "
                                      "(rl info shows what this host allows)") from None
        raise
    if pid == 0:
        try:     # whatever happens, the child never returns into the caller's code
            os.close(sync_w)
            os.close(ready_r)
            if parent_sock is not None:
                parent_sock.close()
            boot.main(b)
        finally:
            os._exit(125)
    os.close(sync_r)
    os.close(ready_w)
    if b.sock is not None:
        b.sock.close()
    return pid, sync_w, ready_r, parent_sock


def _clone_in_userns(user_fd: int, flags: int) -> int:
    """clone_fork(flags) from inside the user namespace `user_fd`: a helper child enters it and
    clones the container process with CLONE_PARENT (so it is our child, and pid 1 of its new pid
    namespace), tells us its pid and exits. Returns 0 in the container process."""
    pid_r, pid_w = os.pipe()
    helper = sc.clone_fork(0)
    if helper == 0:
        os.close(pid_r)
        try:
            sc.setns(user_fd, sc.CLONE_NEWUSER)
            pid = sc.clone_fork(flags | sc.CLONE_PARENT)
            if pid == 0:
                os.close(pid_w)
                return 0
            os.write(pid_w, b"%d" % pid)
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            os.write(pid_w, f"E{e}".encode(errors="replace"))
        os._exit(0)
    os.close(pid_w)
    reply = read_all(pid_r)
    os.close(pid_r)
    os.waitpid(helper, 0)
    if not reply.isdigit():
        raise ContainerSetupError(f"cannot join the user namespace: {reply[1:].decode(errors='replace')}")
    return int(reply)


def _receive_master(sock) -> int:
    from rootless.runtime import pty as pty_mod

    return pty_mod.recv_fd(sock)


def _raise_setup_error(reply: bytes) -> None:
    if not reply.startswith(b"E "):
        raise ContainerSetupError("the container process died while it was being set up")
    kind, _, rest = reply[2:].decode(errors="replace").partition("\0")
    message, _, hint = rest.partition("\0")
    raise ContainerSetupError(f"container setup failed: {message}", hint or None)
