"""Declarations: `rl export` and `rl commit` (also under `rl container`): a container's filesystem."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.cli.binding import implemented_by


@implemented_by("container_fs:export")
def export(container: Annotated[str, typer.Argument(metavar="CONTAINER", help="The container")],
           output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write to a file, instead of STDOUT")] = None) -> None:
    """Export a container's filesystem as a tar archive."""


@implemented_by("container_fs:commit")
def commit(container: Annotated[str, typer.Argument(metavar="CONTAINER", help="The container")],
           repository: Annotated[Optional[str], typer.Argument(metavar="[REPOSITORY[:TAG]]", help="Name of the new image")] = None,
           message: Annotated[Optional[str], typer.Option("--message", "-m", help="Commit message")] = None,
           author: Annotated[Optional[str], typer.Option("--author", "-a", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')] = None,
           change: Annotated[Optional[list[str]], typer.Option("--change", "-c", help="Apply Dockerfile instruction to the created image")] = None,
           pause: Annotated[bool, typer.Option("--pause/--no-pause", "-p", help="Pause container during commit (default true)")] = True) -> None:
    """Create a new image from a container's changes."""


def register(app: typer.Typer) -> None:
    container = next(g.typer_instance for g in app.registered_groups if g.name == "container")
    for group in (app, container):
        group.command("export")(export)
        group.command("commit")(commit)
