"""The container's tiny init (`rl run --init`, annotation "rl.init": "true"): no host package, no
file in the image. It is C (native/rl_process.c: rl_process_init), run by the container's first
process (native/rl_boot.c) after pivot_root: it forks the real process and stays behind as pid 1,
forwarding the signals a user sends (a pid 1 ignores signals it has no handler for, so a shell or
a server would not get them), reaping every orphan the kernel reparents to it, and exiting with
the main process's status (128+N when a signal N killed it), as tini and docker-init do. This
module only says whether a config asks for it.
"""

from __future__ import annotations

ANNOTATION = "rl.init"


def wanted(annotations: dict) -> bool:
    return str(annotations.get(ANNOTATION, "")).lower() in ("true", "1", "yes")
