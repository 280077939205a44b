"""Running code in a new user namespace with an id mapping applied (runtime.idmap chooses it).

  spawn_in_userns(mapping, flags) -> (pid, release)
      the building block, fork-like: clone_fork(CLONE_NEWUSER | flags); the child blocks on a pipe
      while the parent writes its uid/gid maps; then the parent gets (pid, release) and the child,
      once released, becomes uid/gid 0 inside and gets (0, None). The container init starts the
      same way (the runtime clones with all its namespaces, prepares, then releases).
  run_in_userns(mapping, fn, *, flags=CLONE_NEWNS) -> fn()
      runs fn in such a child and hands back its pickled result, or re-raises its exception.
  userns_works() -> (bool, reason)
      the probe behind `rl info`: tries a user namespace with a mount in it, and on failure reads
      the sysctls that explain why.

As real root with mode "root" no user namespace is created (the child is root already).
Namespaces are entered only in the freshly cloned child, never in the caller (STYLE.md 3).
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from collections.abc import Callable
from typing import TypeVar

from rootless.errors import KernelError, RlError, UserNamespaceUnavailable
from rootless.runtime import idmap, syscalls
from rootless.runtime.children import read_all, write_all
from rootless.runtime.syscalls import CLONE_NEWNS, CLONE_NEWUSER

T = TypeVar("T")
_GO = b"g"
#: exit status of a child whose parent could not map it (or died before releasing it)
EXIT_NOT_RELEASED = 125


def spawn_in_userns(mapping: idmap.IdMapping, flags: int = 0, *,
                    new_userns: bool | None = None) -> tuple[int, Callable[[], None] | None]:
    """Clone a child into a new user namespace (plus `flags`) and map it. Fork-like: returns
    (pid, release) in the parent once the maps are written, (0, None) in the child once the parent
    has called release(); the child is then uid 0 / gid 0 inside and must end with os._exit().

    new_userns defaults to "not mode root"; with mode "root" and new_userns=True the identity map
    is written. If the mapping cannot be applied, the child exits EXIT_NOT_RELEASED, is reaped and
    the IdMappingError is raised in the parent. A new mount namespace keeps the propagation it
    was copied with (slave when the user namespace is new): the caller decides about "/".
    """
    if new_userns is None:
        new_userns = mapping.mode != "root"
    if new_userns:
        flags |= CLONE_NEWUSER
    if not flags & CLONE_NEWUSER:
        try:
            pid = syscalls.clone_fork(flags)
        except OSError as exc:
            raise KernelError("clone", exc.errno) from None
        return (pid, None) if pid == 0 else (pid, _noop)
    rfd, wfd = os.pipe()
    try:
        pid = syscalls.clone_fork(flags)
    except OSError as exc:
        os.close(rfd)
        os.close(wfd)
        raise UserNamespaceUnavailable(f"cannot create a user namespace (clone: {exc.strerror})",
                                       _sysctl_hint()) from None
    if pid == 0:
        os.close(wfd)
        _child_wait(rfd, mapping)
        return 0, None
    os.close(rfd)
    try:
        idmap.apply(pid, mapping)
    except BaseException:
        os.close(wfd)  # EOF: the child exits without running anything
        os.waitpid(pid, 0)
        raise
    return pid, _releaser(wfd)


def _noop() -> None:
    pass


def _releaser(wfd: int) -> Callable[[], None]:
    """release(): let the child run (once; later calls do nothing)."""
    pending = [wfd]

    def release() -> None:
        if not pending:
            return
        fd = pending.pop()
        try:
            os.write(fd, _GO)
        except BrokenPipeError:
            pass  # the child is gone already: its exit status tells the caller
        finally:
            os.close(fd)
    return release


def _child_wait(rfd: int, mapping: idmap.IdMapping) -> None:
    """In the child: wait for the go byte, then become root inside (setgroups([]) where allowed)."""
    try:
        go = os.read(rfd, 1)
        os.close(rfd)
        if go != _GO:
            os._exit(EXIT_NOT_RELEASED)
        syscalls.setresgid(0, 0, 0)
        syscalls.setresuid(0, 0, 0)
        if mapping.mode != "single":  # setgroups is "deny" in a single map
            os.setgroups([])
    except BaseException:
        os._exit(EXIT_NOT_RELEASED)


def run_in_userns(mapping: idmap.IdMapping, fn: Callable[[], T], *, flags: int = CLONE_NEWNS) -> T:
    """fn() run as uid 0 in a new user namespace (and the namespaces in `flags`) with `mapping`.

    The result and any exception travel back pickled. RlError subclasses are re-raised as they
    are; any other exception becomes an RlError with the original text, chained to the original
    (__cause__) when it unpickles. With CLONE_NEWNS, "/" is made rslave in the child first so
    nothing fn mounts propagates to the host (matters as real root, where "/" may be rshared).
    """
    return _run(mapping, fn, flags, new_userns=None)


def _run(mapping: idmap.IdMapping, fn: Callable[[], T], flags: int, new_userns: bool | None) -> T:
    _flush_stdio()  # else the child's copy of unflushed output is lost, or written twice
    rfd, wfd = os.pipe()
    try:
        pid, release = spawn_in_userns(mapping, flags, new_userns=new_userns)
    except BaseException:
        os.close(rfd)
        os.close(wfd)
        raise
    if pid == 0:
        os.close(rfd)
        _child_run(wfd, fn, flags)
    os.close(wfd)
    try:
        release()
        data = read_all(rfd)
    finally:
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
    return _decode(data, status)


def _child_run(wfd: int, fn: Callable[[], object], flags: int) -> None:
    """In the child: run fn, send (ok, value) back, never return."""
    code = 0
    try:
        try:
            if flags & CLONE_NEWNS:
                syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_SLAVE)
            payload = pickle.dumps((True, fn()), pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            payload = _encode_exc(exc)
        write_all(wfd, payload)
        _flush_stdio()
    except BaseException:
        code = EXIT_NOT_RELEASED
    finally:
        os._exit(code)


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def _encode_exc(exc: BaseException) -> bytes:
    tb = "".join(traceback.format_exception(exc))
    try:
        if isinstance(exc, RlError):
            # RlError subclasses may take other __init__ arguments than args (KernelError...):
            # send class, args and __dict__, rebuilt with __new__ in the parent
            body = ("rl", type(exc), exc.args, exc.__dict__)
        else:
            body = ("exc", exc)
        data = pickle.dumps((False, body, tb), pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
        return data
    except Exception:  # noqa: BLE001 - unpicklable: send its text
        text = f"{type(exc).__name__}: {exc}"
        return pickle.dumps((False, ("text", text, getattr(exc, "hint", None)), tb))


def _decode(data: bytes, status: int) -> object:
    if not data:
        raise RlError(f"the child in the user namespace ended without a result "
                      f"({_describe(status)})")
    try:
        message = pickle.loads(data)
    except Exception as exc:  # noqa: BLE001
        raise RlError(f"cannot read the result of the child in the user namespace: {exc}") from None
    if message[0]:
        return message[1]
    _, body, tb = message
    raise _rebuild(body, tb)


def _rebuild(body: tuple, tb: str) -> BaseException:
    kind = body[0]
    if kind == "rl":
        _, cls, args, state = body
        err = cls.__new__(cls)
        BaseException.__init__(err, *args)
        err.__dict__.update(state)
    elif kind == "exc":
        original = body[1]
        err = RlError(f"{type(original).__name__}: {original}")
        err.__cause__ = original
    else:
        err = RlError(body[1], body[2])
    err.add_note(f"raised in a user-namespace child:\n{tb}")
    return err


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


# --- the probe for `rl info` ------------------------------------------------------------------

_SYSCTLS = (
    ("/proc/sys/kernel/unprivileged_userns_clone", "0",
     "kernel.unprivileged_userns_clone=0 forbids them; "
     "fix: sysctl -w kernel.unprivileged_userns_clone=1"),
    ("/proc/sys/user/max_user_namespaces", "0",
     "user.max_user_namespaces=0 forbids them; fix: sysctl -w user.max_user_namespaces=15000"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "AppArmor restricts unprivileged user namespaces (Ubuntu >= 23.10); fix: "
     "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for rl "
     "with the 'userns,' rule"),
)


def _sysctl_hint() -> str | None:
    """What the host's sysctls say about unprivileged user namespaces, when they forbid them."""
    found = []
    for path, bad, text in _SYSCTLS:
        try:
            with open(path) as f:
                if f.read().strip() == bad:
                    found.append(text)
        except OSError:
            continue
    return "; ".join(found) or None


def _probe() -> bool:
    # something that needs capabilities inside, so an AppArmor-restricted namespace fails too
    syscalls.mount("tmpfs", "/tmp" if os.path.isdir("/tmp") else "/", "tmpfs", 0, "size=4k")
    return os.geteuid() == 0


def userns_works(mapping: idmap.IdMapping | None = None) -> tuple[bool, str]:
    """Whether a user namespace with `mapping` (default: idmap.choose()) can be created and used:
    clones one, applies the map, mounts a tmpfs inside. As real root it tries the identity map."""
    try:
        mapping = mapping or idmap.choose()
        _run(mapping, _probe, CLONE_NEWNS, new_userns=True)
    except (RlError, OSError) as exc:
        reason = _sysctl_hint() or getattr(exc, "hint", None)
        text = f"user namespaces do not work: {exc}"
        return False, f"{text} ({reason})" if reason else text
    return True, f"user namespace with a {mapping.mode} id map and a mount inside works"
