"""Declarations: `rl export`, `rl commit`, `rl diff`, `rl rename`, `rl cp` (also under `rl container`)."""

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


@implemented_by("container_fs:diff")
def diff(container: Annotated[str, typer.Argument(metavar="CONTAINER", help="The container")]) -> None:
    """Inspect changes to files or directories on a container's filesystem."""


@implemented_by("container_fs:rename")
def rename(container: Annotated[str, typer.Argument(metavar="CONTAINER", help="The container")],
           new_name: Annotated[str, typer.Argument(metavar="NEW_NAME", help="Its new name")]) -> None:
    """Rename a container."""


def register(app: typer.Typer) -> None:
    container = next(g.typer_instance for g in app.registered_groups if g.name == "container")
    for group in (app, container):
        group.command("export")(export)
        group.command("commit")(commit)
        group.command("diff")(diff)
        group.command("rename")(rename)
        group.command("cp")(cp)


@implemented_by("container_fs:cp")
def cp(src: Annotated[str, typer.Argument(metavar="SRC", help="CONTAINER:SRC_PATH, a host path, or - (a tar from stdin)")],
       dest: Annotated[str, typer.Argument(metavar="DEST", help="CONTAINER:DEST_PATH, a host path, or - (a tar to stdout)")]) -> None:
    """Copy files/folders between a container and the local filesystem."""

