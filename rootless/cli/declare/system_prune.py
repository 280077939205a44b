"""Declarations: `rl system prune` and `rl system reset` (registered on `rl system` by system.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from rootless.cli.binding import implemented_by


def register_system_prune(system: typer.Typer) -> None:
    @system.command("prune")
    @implemented_by("system_prune:prune")
    def prune(all: Annotated[bool, typer.Option("--all", "-a", help="Remove every unused image, not only dangling ones")] = False,
              force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask")] = False,
              volumes: Annotated[bool, typer.Option("--volumes", help="Prune volumes too (none yet)")] = False) -> None:
        """Remove stopped containers, dangling images and orphan layers."""

    @system.command("reset")
    @implemented_by("system_prune:reset")
    def reset(force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask")] = False) -> None:
        """Delete every container, image, layer and volume: the store returns to its initial state."""
