"""Declarations: `rl network ls|inspect|create|rm|prune|connect|disconnect` (the predefined networks
bridge, host, none and user-defined networks with name resolution)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.cli.binding import implemented_by

Many = Optional[list[str]]


def register(app: typer.Typer) -> None:
    network = typer.Typer(help="Manage networks", no_args_is_help=True)

    @network.command("ls")
    @implemented_by("networks:ls")
    def ls(quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only display network IDs")] = False,
           format: Annotated[Optional[str], typer.Option("--format", help="table, json, or a Go template")] = None,
           no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Do not truncate the output")] = False,
           filter: Annotated[Many, typer.Option("--filter", "-f",
                                                help="name=, id=, driver=, scope=, type=, label=")] = None) -> None:
        """List networks."""

    @network.command("inspect")
    @implemented_by("networks:inspect")
    def inspect(networks: Annotated[list[str], typer.Argument(metavar="NETWORK...")],
                format: Annotated[Optional[str], typer.Option("--format", "-f",
                                                              help="Go template for each network")] = None) -> None:
        """Display detailed information on one or more networks."""

    @network.command("create")
    @implemented_by("networks:create")
    def create(name: Annotated[str, typer.Argument(metavar="NETWORK")],
               driver: Annotated[str, typer.Option("--driver", "-d", help="Driver")] = "bridge",
               subnet: Annotated[Many, typer.Option("--subnet", help="Subnet in CIDR format")] = None,
               gateway: Annotated[Many, typer.Option("--gateway", help="Gateway for the subnet")] = None,
               internal: Annotated[bool, typer.Option("--internal", help="No external access")] = False,
               label: Annotated[Many, typer.Option("--label", help="Metadata")] = None) -> None:
        """Create a network."""

    @network.command("rm")
    @implemented_by("networks:rm")
    def rm(networks: Annotated[list[str], typer.Argument(metavar="NETWORK...")],
           force: Annotated[bool, typer.Option("--force", "-f", help="No error for missing networks")] = False) -> None:
        """Remove one or more networks."""

    @network.command("connect")
    @implemented_by("networks:connect")
    def connect(network_name: Annotated[str, typer.Argument(metavar="NETWORK")],
                container: Annotated[str, typer.Argument(metavar="CONTAINER")],
                alias: Annotated[Many, typer.Option("--alias", help="Network-scoped alias")] = None) -> None:
        """Connect a container to a network."""

    @network.command("disconnect")
    @implemented_by("networks:disconnect")
    def disconnect(network_name: Annotated[str, typer.Argument(metavar="NETWORK")],
                   container: Annotated[str, typer.Argument(metavar="CONTAINER")],
                   force: Annotated[bool, typer.Option("--force", "-f", help="Force")] = False) -> None:
        """Disconnect a container from a network."""

    @network.command("prune")
    @implemented_by("networks:prune")
    def prune(force: Annotated[bool, typer.Option("--force", "-f", help="Do not prompt for confirmation")] = False,
              filter: Annotated[Many, typer.Option("--filter", help="name=, id=, label=...")] = None) -> None:
        """Remove all unused networks."""

    app.add_typer(network, name="network")
