"""Declarations: `rl exec` and `rl inspect` (also as `rl container exec|inspect`).

`exec` stops parsing options at the container (everything after it is the command), as `run` does
at the image; `inspect` tries containers first, then images, as docker's generic inspect does.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.cli.binding import implemented_by

EXEC_SETTINGS = {"allow_interspersed_args": False}
Many = Optional[list[str]]


@implemented_by("exec:exec_")
def exec_(container: Annotated[str, typer.Argument(metavar="CONTAINER", help="The running container")],
          command: Annotated[list[str], typer.Argument(metavar="COMMAND [ARG...]", help="Command and arguments")],
          detach: Annotated[bool, typer.Option("--detach", "-d", help="Run the command in the background")] = False,
          interactive: Annotated[bool, typer.Option("--interactive", "-i", help="Keep stdin open and attached")] = False,
          tty: Annotated[bool, typer.Option("--tty", "-t", help="Allocate a pseudo-terminal")] = False,
          env: Annotated[Many, typer.Option("--env", "-e", help="Set an environment variable (NAME=VALUE, or NAME to pass rl's)")] = None,
          user: Annotated[Optional[str], typer.Option("--user", "-u", help="user[:group], names or ids")] = None,
          workdir: Annotated[Optional[str], typer.Option("--workdir", "-w", help="Working directory inside the container")] = None,
          privileged: Annotated[bool, typer.Option("--privileged", help="Every capability the user namespace grants")] = False) -> None:
    """Execute a command in a running container."""


@implemented_by("exec:inspect")
def inspect(names: Annotated[list[str], typer.Argument(metavar="NAME|ID...", help="Containers or images")],
            format: Annotated[Optional[str], typer.Option("--format", "-f", help="Go template (or json) for each object")] = None,
            size: Annotated[bool, typer.Option("--size", "-s", help="Show sizes (containers)")] = False,
            type: Annotated[Optional[str], typer.Option("--type", help="container or image")] = None) -> None:
    """Return low-level information on containers or images (JSON)."""


@implemented_by("exec:container_inspect")
def container_inspect(names: Annotated[list[str], typer.Argument(metavar="CONTAINER...", help="Containers")],
                      format: Annotated[Optional[str], typer.Option("--format", "-f", help="Go template (or json) for each container")] = None,
                      size: Annotated[bool, typer.Option("--size", "-s", help="Show sizes")] = False) -> None:
    """Display detailed information on one or more containers."""


def register(app: typer.Typer) -> None:
    app.command("exec", context_settings=EXEC_SETTINGS)(exec_)
    app.command("inspect")(inspect)
    container = next(g.typer_instance for g in app.registered_groups if g.name == "container")
    container.command("exec", context_settings=EXEC_SETTINGS)(exec_)
    container.command("inspect")(container_inspect)
