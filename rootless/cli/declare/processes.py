"""Declarations: `rl top`, `rl pause`, `rl unpause` (also under `rl container`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.cli.binding import implemented_by

TOP_SETTINGS = {"allow_interspersed_args": False, "ignore_unknown_options": True}


@implemented_by("processes:top")
def top(container: Annotated[str, typer.Argument(metavar="CONTAINER", help="The running container")],
        ps_options: Annotated[Optional[list[str]], typer.Argument(metavar="[ps OPTIONS]", help="Options for ps (default -ef)")] = None) -> None:
    """Display the running processes of a container."""


@implemented_by("processes:pause")
def pause(containers: Annotated[list[str], typer.Argument(metavar="CONTAINER...", help="Containers")]) -> None:
    """Pause all processes within one or more containers."""


@implemented_by("processes:unpause")
def unpause(containers: Annotated[list[str], typer.Argument(metavar="CONTAINER...", help="Containers")]) -> None:
    """Unpause all processes within one or more containers."""


def register(app: typer.Typer) -> None:
    container = next(g.typer_instance for g in app.registered_groups if g.name == "container")
    for group in (app, container):
        group.command("top", context_settings=TOP_SETTINGS)(top)
        group.command("pause")(pause)
        group.command("unpause")(unpause)
