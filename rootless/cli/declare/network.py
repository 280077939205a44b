"""Declarations: `rl port` (published ports of a container, docker's output)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.cli.binding import implemented_by


def register(app: typer.Typer) -> None:
    @app.command("port")
    @implemented_by("network:port")
    def port(container: Annotated[str, typer.Argument(metavar="CONTAINER")],
             private_port: Annotated[Optional[str], typer.Argument(metavar="[PRIVATE_PORT[/PROTO]]")] = None) -> None:
        """List port mappings or a specific mapping for the container."""
