"""What differs when rl runs frozen (the one-file `dist/rl`, see docs/packaging.md): the
environment it hands on, how it runs itself again, and where its helper tools are.

dist/rl is a static launcher that unpacks a PyInstaller onedir tree once into a cache and execs
`<tree>/rl` with RL_LAUNCHER set to its own path. PyInstaller's bootloader then sets
LD_LIBRARY_PATH to the tree's `_internal/` (keeping the caller's value in LD_LIBRARY_PATH_ORIG)
and a few `_PYI_*` variables. Host tools (slirp4netns, fuse-overlayfs, newuidmap) must not see
those: `restore_environ()` is called once by the frozen entry (packaging/entry.py) before any rl
code runs, so every child inherits the environment the user gave. The running process is not
affected: the dynamic loader read LD_LIBRARY_PATH at start-up.

Helpers re-run rl as `[sys.executable, "-m", "<module>", ...]`; the frozen entry understands
`-m <module>` as well, so `self_command(module)` is the same list from source and frozen.

Bundled tools: `<tree>/libexec/rl/<name>` (a wrapper that points the tool at its own shared
libraries); `find_tool(name)` prefers the host's copy.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: variables PyInstaller's bootloader adds for its own use (PyInstaller 6)
_PYI_PREFIXES = ("_PYI_", "_MEIPASS")
#: where host tools live beyond PATH (helpers are often in sbin, PATH of a user may lack it)
EXTRA_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"


def is_frozen() -> bool:
    """True in the PyInstaller build (dist/rl), False from source."""
    return bool(getattr(sys, "frozen", False))


def host_environ(env: Mapping[str, str] | None = None, frozen: bool | None = None) -> dict[str, str]:
    """The environment as the user gave it: without the bootloader's LD_LIBRARY_PATH and `_PYI_*`
    variables (frozen), unchanged from source. Pure given its arguments."""
    env = dict(os.environ if env is None else env)
    if not (is_frozen() if frozen is None else frozen):
        return env
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        env["LD_LIBRARY_PATH"] = original
    else:
        env.pop("LD_LIBRARY_PATH", None)
    for key in [k for k in env if k.startswith(_PYI_PREFIXES)]:
        del env[key]
    return env


def restore_environ() -> None:
    """Make os.environ the user's environment again (frozen only; children inherit it)."""
    if not is_frozen():
        return
    clean = host_environ(frozen=True)
    for key in [k for k in os.environ if k not in clean]:
        del os.environ[key]
    os.environ.update(clean)


def launcher() -> str | None:
    """Path of the one-file dist/rl that started this process, if any."""
    path = os.environ.get("RL_LAUNCHER")
    return path if path and is_frozen() else None


def self_command(module: str) -> list[str]:
    """argv that runs `python -m module` with this rl: the interpreter from source, the frozen
    tree's own executable (which accepts `-m`) when frozen. The tree's executable, not the
    launcher: it is what is running, and it skips the launcher's hop."""
    return [sys.executable, "-m", module]


def bundle_dir() -> str | None:
    """`<tree>/libexec/rl` of the frozen build, None from source."""
    if not is_frozen():
        return None
    return os.path.join(os.path.dirname(os.path.realpath(sys.executable)), "libexec", "rl")


def find_tool_with_source(name: str, path: str | None = None) -> tuple[str | None, str]:
    """(path, "host" | "bundled" | "missing"): the host's copy first (PATH, then the usual
    directories), the frozen build's bundled copy when the host has none."""
    search = f"{os.environ.get('PATH', '') if path is None else path}:{EXTRA_PATH}"
    import shutil  # here: the frozen entry imports this module at every start

    found = shutil.which(name, path=search)
    if found:
        return found, "host"
    bundled = bundle_dir()
    if bundled:
        candidate = os.path.join(bundled, name)
        if os.access(candidate, os.X_OK):
            return candidate, "bundled"
    return None, "missing"


def source_of(path: str | None) -> str:
    """"bundled" for a tool in this frozen build's libexec, "host" for any other path, else
    "missing" (what `rl info` shows beside a tool)."""
    if not path:
        return "missing"
    bundled = bundle_dir()
    return "bundled" if bundled and os.path.dirname(path) == bundled else "host"


def find_tool(name: str) -> str | None:
    """Path of a helper tool (slirp4netns, fuse-overlayfs): the host's, else the bundled one."""
    return find_tool_with_source(name)[0]


def describe() -> dict:
    """What `python -m rootless.frozen` (or `dist/rl -m rootless.frozen`) prints: a diagnostic."""
    tools = {name: dict(zip(("Path", "Source"), find_tool_with_source(name)))
             for name in ("slirp4netns", "fuse-overlayfs")}
    env = {k: v for k, v in os.environ.items() if k.startswith(("LD_", "_PYI", "PYINSTALLER", "RL_"))}
    return {"Frozen": is_frozen(), "Executable": sys.executable, "Launcher": launcher(),
            "BundleDir": bundle_dir(), "Tools": tools, "Environment": env}


if __name__ == "__main__":
    import json

    print(json.dumps(describe(), indent=1, sort_keys=True))
