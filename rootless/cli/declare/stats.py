"""Declarations: `rl stats` (also `rl container stats`), docker's flags."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.cli.binding import implemented_by


@implemented_by("stats:stats")
def stats(containers: Annotated[Optional[list[str]], typer.Argument(metavar="CONTAINER", help="Containers (default: every running one)")] = None,
          all: Annotated[bool, typer.Option("--all", "-a", help="Show all containers (default shows just running)")] = False,
          format: Annotated[Optional[str], typer.Option("--format", help="Go template, 'table TEMPLATE' or 'json'")] = None,
          no_stream: Annotated[bool, typer.Option("--no-stream", help="Print one result and exit")] = False,
          no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Do not truncate output")] = False) -> None:
    """Display a live stream of container(s) resource usage statistics."""


def register(app: typer.Typer) -> None:
    container = next(g.typer_instance for g in app.registered_groups if g.name == "container")
    for group in (app, container):
        group.command("stats")(stats)
