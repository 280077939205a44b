"""Declarations: `rl info`, `rl system info|check`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.cli.binding import implemented_by

FormatOption = Annotated[Optional[str], typer.Option("--format", "-f", help="'json' or a Go template")]


def register(app: typer.Typer) -> None:
    system = typer.Typer(help="Manage rl and inspect what this host supports", no_args_is_help=True)

    @app.command("info")
    @implemented_by("system:info")
    def info(format: FormatOption = None) -> None:
        """Display what this host supports and which fallbacks rl chose."""

    @system.command("info")
    @implemented_by("system:info")
    def system_info(format: FormatOption = None) -> None:
        """Display what this host supports and which fallbacks rl chose."""

    @system.command("check")
    @implemented_by("system:check")
    def system_check() -> None:
        """Exit non-zero, listing what `rl run` needs and this host lacks, with how to fix each."""

    from rootless.cli.declare.system_prune import register_system_prune  # owner: containers engineer
    register_system_prune(system)
    app.add_typer(system, name="system")
