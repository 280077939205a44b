"""`rl system prune` and `rl system reset`."""

from __future__ import annotations

import sys

from rootless.context import Context


def _confirm(text: str) -> bool:
    print(f"WARNING! {text}\nAre you sure you want to continue? [y/N] ", end="", flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def prune(ctx: Context, all: bool = False, force: bool = False, volumes: bool = False) -> int:
    from rootless.engine import system_reset

    what = "all images without at least one container associated to them" if all else "all dangling images"
    if not force and not _confirm(f"This will remove:\n  - all stopped containers\n  - {what}"):
        return 0
    containers, images, freed = system_reset.prune(ctx, all)
    if containers:
        print("Deleted Containers:")
        print("\n".join(containers) + "\n")
    if images:
        print("Deleted Images:")
        print("\n".join(f"{r.action}: {r.target}" for r in images) + "\n")
    from rootless.engine.units import human_size

    print(f"Total reclaimed space: {human_size(freed)}")
    return 0


def reset(ctx: Context, force: bool = False) -> int:
    from rootless.engine import system_reset

    if not force and not _confirm(f"This will delete every container, image and volume in {ctx.paths.root}"):
        return 0
    left = system_reset.reset(ctx)
    for line in left:
        print(f"Error: {line}", file=sys.stderr)
    return 1 if left else 0
