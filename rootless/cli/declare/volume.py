"""Declarations: `rl volume create|ls|inspect|rm|prune`, docker's flags."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.cli.binding import implemented_by

Many = Optional[list[str]]


def register(app: typer.Typer) -> None:
    volume = typer.Typer(help="Manage volumes", no_args_is_help=True)

    @volume.command("create")
    @implemented_by("volume:create")
    def create(name: Annotated[Optional[str], typer.Argument(metavar="[VOLUME]", help="Name (random when not given)")] = None,
               label: Annotated[Many, typer.Option("--label", "-l", help="Set metadata: key=value")] = None,
               driver: Annotated[str, typer.Option("--driver", "-d", help="Only 'local'")] = "local") -> None:
        """Create a volume."""

    @volume.command("ls")
    @implemented_by("volume:ls")
    def ls(quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only names")] = False,
           format: Annotated[Optional[str], typer.Option("--format", help="table, json, or a Go template")] = None,
           filter: Annotated[Many, typer.Option("--filter", "-f", help="name=, label=, dangling=true|false")] = None) -> None:
        """List volumes."""

    @volume.command("inspect")
    @implemented_by("volume:inspect")
    def inspect(volumes: Annotated[list[str], typer.Argument(metavar="VOLUME...")],
                format: Annotated[Optional[str], typer.Option("--format", "-f", help="Go template for each volume")] = None) -> None:
        """Display detailed information on one or more volumes."""

    @volume.command("rm")
    @implemented_by("volume:rm")
    def rm(volumes: Annotated[list[str], typer.Argument(metavar="VOLUME...")],
           force: Annotated[bool, typer.Option("--force", "-f", help="No error for missing volumes")] = False) -> None:
        """Remove one or more volumes (not while a container uses them)."""

    @volume.command("prune")
    @implemented_by("volume:prune")
    def prune(force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask")] = False,
              all: Annotated[bool, typer.Option("--all", "-a", help="Named volumes too (rl prunes every unused volume)")] = False) -> None:
        """Remove all unused volumes."""

    app.add_typer(volume, name="volume")
