"""The detached deletion of a removed container's files (`rl run --rm` in the foreground): the
caller renames the container's directory into Paths.tmp and spawns this, so that it waits
neither for the file system nor for a user namespace (docs/performance.md).

`spawn` starts `/bin/sh -c 'rm -rf STATE; rm -rf DIR || <this module> DIR USERNS'` (STATE: the
runtime's state of the reaped container) in its own session with stdio on /dev/null: posix_spawn (a vfork, no copy of the interpreter: the caller is about to exit) and
plain `rm -rf` for the usual tree, whose files are all the user's. Only when rm fails (files of
subordinate ids, a non-empty directory overlay left without permissions) does this module run, in
a fresh interpreter: storage.rootfs.remove_tree, which enters the user namespace. What a killed
deleter leaves, `rl system prune` removes (system_reset._remove_stale_deletions).
"""

from __future__ import annotations

import os
import sys

#: $0: the renamed container directory; $1: a directory of the user's own files (the runtime's
#: state, or ""); then the fallback's argv
SCRIPT = 'rm -rf -- "$1"; shift; rm -rf -- "$0" 2>/dev/null || exec "$@"'


def command(doomed: str, userns: str) -> list[str]:
    """argv of this module's main (the interpreter's flags included, as monitor_pump.command;
    with `site`: entering the user namespace needs cffi from site-packages)."""
    if getattr(sys, "frozen", False):  # dist/rl runs modules with -m (rootless.frozen)
        return [sys.executable, "-m", "rootless.engine.lifecycle.deleter", doomed, userns]
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    code = (f"import sys;sys.path.insert(0,{package_parent!r});"
            "import rootless.engine.lifecycle.deleter as m;m.main(sys.argv[1:])")
    return [sys.executable, "-I", "-B", "-c", code, doomed, userns]


def spawn(doomed: str, userns: str, inherit=(), also: str = "") -> bool:
    """Start the deletion of `doomed` and return at once (True), or False if nothing could be
    started (the caller deletes it itself). The child is not waited for: the caller exits next,
    and init (or the subreaper) reaps it. It inherits the descriptors `inherit` (a container's
    mount namespace: see attach.run_attached) and holds them until it ends. `also`: another
    directory to delete first, holding only the user's own files (the runtime's state)."""
    from rootless.runtime.children import spawn

    null = os.devnull
    try:
        spawn("/bin/sh", ["sh", "-c", SCRIPT, doomed, also, *command(doomed, userns)], inherit,
              file_actions=[(os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
                            (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
                            (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0)],
              setsid=True)
    except OSError:
        return False
    return True


def main(argv: list[str]) -> int:
    """`<module> DIR USERNS`: remove DIR with the mapping of the --userns mode USERNS."""
    from rootless.engine.lifecycle.remove import mapping_for
    from rootless.engine.storage.rootfs import remove_tree

    doomed, userns = argv[0], argv[1] if len(argv) > 1 else ""
    remove_tree(doomed, mapping_for(userns))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
