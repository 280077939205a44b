"""The container process: everything between "start" and execve, run in the container's first
process (or in an exec'd one) after pivot_root: rlimits, oom_score_adj, cwd, uid/gid and
supplementary groups, umask, capabilities, no_new_privs, signal dispositions, then the PATH search
and execve with the process's env.

A failure here is written to `status_fd` as "<exit code>\\n<message>" before the process exits with
that code, so the runtime's caller can raise ContainerCommandError: 127 when the command is not
found, 126 when it cannot be executed (docker's codes and messages), 125 for a setup failure.
"""

from __future__ import annotations

import os
import _signal as signal  # the C module: signal.py imports enum, ~5 ms of rl exec (docs/performance.md)

from rootless.runtime import caps as caps_mod
from rootless.runtime import syscalls as sc

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENOENT, EACCES, ENOEXEC, EISDIR, ENOTDIR, EPERM = 2, 13, 8, 21, 20, 1


class ExecFailure(Exception):
    """The command cannot be run: message and docker exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def env_dict(env) -> dict[str, str]:
    out = {}
    for item in env or ():
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def lookup(arg0: str, env: dict[str, str]) -> str:
    """The executable `arg0` names, as Go's exec.LookPath finds it (docker's messages)."""
    if not arg0:
        raise ExecFailure('exec: "": executable file not found in $PATH', 127)
    if "/" in arg0:
        try:
            st = os.stat(arg0)
        except OSError as e:
            raise ExecFailure(f'exec: "{arg0}": stat {arg0}: {e.strerror.lower()}', 127) from None
        if st.st_mode & 0o170000 == 0o040000:
            raise ExecFailure(f'exec: "{arg0}": is a directory', 126)
        return arg0
    for entry in (env.get("PATH") or DEFAULT_PATH).split(":"):
        candidate = os.path.join(entry or ".", arg0)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ExecFailure(f'exec: "{arg0}": executable file not found in $PATH', 127)


def execute(args: list[str], env: dict[str, str]) -> None:
    """execve the command or raise ExecFailure with docker's code."""
    path = lookup(args[0] if args else "", env)
    try:
        os.execve(path, args, env)
    except OSError as e:
        code = 127 if e.errno in (ENOENT, ENOTDIR) else 126
        reason = "exec format error" if e.errno == ENOEXEC else (e.strerror or str(e)).lower()
        raise ExecFailure(f'exec: "{args[0]}": {reason}', code) from None


def set_rlimits(rlimits) -> None:
    if not rlimits:
        return
    import resource

    for item in rlimits:
        name = item["type"]
        which = getattr(resource, name, None)
        if which is None:
            raise ValueError(f"unknown rlimit {name}")
        try:
            resource.setrlimit(which, (item["soft"], item["hard"]))
        except (ValueError, OSError) as e:
            raise OSError(EPERM, f"setrlimit {name} {item['soft']}:{item['hard']}: {e}") from None


def set_oom_score_adj(value) -> None:
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError:
        pass   # lowering it needs CAP_SYS_RESOURCE in the initial namespace: ignored, as podman does


def set_user(user: dict) -> None:
    """uid, gid and supplementary groups (OCI process.user), keeping the permitted capabilities
    for apply_sets()."""
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    extra = [int(g) for g in user.get("additionalGids") or ()]
    try:
        os.setgroups(extra)
    except OSError as e:
        # "single" mappings deny setgroups (user_namespaces(7)): only an empty wish is fine
        if e.errno != EPERM or extra:
            raise OSError(e.errno, f"setgroups {extra}: {e.strerror}") from None
    sc.set_keepcaps(True)
    sc.setresgid(gid, gid, gid)
    sc.setresuid(uid, uid, uid)
    sc.set_keepcaps(False)


def reset_signals() -> None:
    """Undo what CPython changed (SIGPIPE/SIGXFSZ ignored, SIGINT handled): ignored signals stay
    ignored across execve."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD, signal.SIGWINCH):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def prepare(process: dict, pdeathsig: int = 0) -> dict[str, str]:
    """Apply everything but the exec; returns the environment for it. A changed uid clears the
    parent-death signal (prctl(2)): `pdeathsig` is set again after it."""
    set_rlimits(process.get("rlimits"))
    set_oom_score_adj(process.get("oomScoreAdj"))
    cwd = process.get("cwd") or "/"
    os.makedirs(cwd, exist_ok=True)
    caps = process.get("capabilities")
    if caps is not None:
        caps_mod.drop_bounding(caps, caps_mod.last_cap())
    set_user(process.get("user") or {})
    if pdeathsig:
        sc.set_pdeathsig(pdeathsig)
    try:
        os.chdir(cwd)
    except OSError as e:
        raise OSError(e.errno, f"chdir {cwd}: {e.strerror}") from None
    if caps is not None:
        caps_mod.apply_sets(caps)
    umask = (process.get("user") or {}).get("umask")
    os.umask(0o022 if umask is None else int(umask))
    if process.get("noNewPrivileges"):
        sc.set_no_new_privs()
    reset_signals()
    env = env_dict(process.get("env"))
    env.setdefault("PATH", DEFAULT_PATH)  # docker adds a PATH when the image has none
    return env


def report(status_fd: int, code: int, message: str) -> None:
    try:
        os.write(status_fd, f"{code}\n{message}".encode())
    except OSError:
        pass


def exec_process(process: dict, status_fd: int, pdeathsig: int = 0) -> None:
    """Prepare and exec; on failure report on status_fd and exit with docker's code. Never returns."""
    try:
        env = prepare(process, pdeathsig)
        execute(list(process.get("args") or ()), env)
    except ExecFailure as e:
        report(status_fd, e.code, str(e))
        os._exit(e.code)
    except BaseException as e:  # noqa: BLE001 - whatever it is, the caller must hear it
        report(status_fd, 125, f"container process setup: {e}")
        os._exit(125)
    os._exit(125)
