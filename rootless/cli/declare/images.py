"""Declarations: images and registries.

`rl pull|push|images|rmi|tag|history|save|load|import|search|login|logout` and the `rl image`
group (ls, inspect, history, rm, prune, tag, save, load, import, push, pull), docker's flags.
"""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from rootless.cli.binding import implemented_by

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Suppress verbose output")]
Platform = Annotated[Optional[str], typer.Option("--platform", help="Platform os/arch[/variant] (default: this host's)")]
AllTags = Annotated[bool, typer.Option("--all-tags", "-a", help="Not supported: pull one tag at a time")]
Format = Annotated[Optional[str], typer.Option("--format", help="Format output using a Go-style template ({{.Field}})")]
ImageArg = Annotated[str, typer.Argument(help="NAME[:TAG|@DIGEST]", metavar="IMAGE")]
Images = Annotated[List[str], typer.Argument(help="Images (names, ids or id prefixes)", metavar="IMAGE...")]


def register(app: typer.Typer) -> None:
    image = typer.Typer(help="Manage images", no_args_is_help=True)

    for target in (app, image):
        @target.command("pull")
        @implemented_by("registry:pull")
        def pull(name: ImageArg, quiet: Quiet = False, platform: Platform = None, all_tags: AllTags = False) -> None:
            """Download an image from a registry."""

        @target.command("push")
        @implemented_by("registry:push")
        def push(name: ImageArg, quiet: Quiet = False,
                 chunk_size: Annotated[Optional[int], typer.Option("--chunk-size", hidden=True)] = None) -> None:
            """Upload an image to a registry."""

    def ls(all: Annotated[bool, typer.Option("--all", "-a", help="Show all images (default hides intermediate images)")] = False,
           quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only show image IDs")] = False,
           digests: Annotated[bool, typer.Option("--digests", help="Show digests")] = False,
           no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output")] = False,
           format: Format = None,
           filter: Annotated[List[str], typer.Option("--filter", "-f", help="Filter output (dangling=true|false, reference=PATTERN)")] = [],
           repository: Annotated[Optional[str], typer.Argument(help="[REPOSITORY[:TAG]]")] = None) -> None:
        """List images."""

    app.command("images")(implemented_by("images:ls")(ls))
    image.command("ls")(implemented_by("images:ls")(ls))
    image.command("list", hidden=True)(implemented_by("images:ls")(ls))

    def rm(images: Images, force: Annotated[bool, typer.Option("--force", "-f", help="Force removal of the image")] = False,
           no_prune: Annotated[bool, typer.Option("--no-prune", help="Do not delete untagged parents")] = False) -> None:
        """Remove one or more images."""

    app.command("rmi")(implemented_by("images:rm")(rm))
    image.command("rm")(implemented_by("images:rm")(rm))

    def tag(source: Annotated[str, typer.Argument(metavar="SOURCE_IMAGE[:TAG]")],
            target: Annotated[str, typer.Argument(metavar="TARGET_IMAGE[:TAG]")]) -> None:
        """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""

    app.command("tag")(implemented_by("images:tag")(tag))
    image.command("tag")(implemented_by("images:tag")(tag))

    def history(name: ImageArg,
                human: Annotated[bool, typer.Option("--human/--no-human", "-H", help="Print sizes and dates in human readable format")] = True,
                no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output")] = False,
                quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only show image IDs")] = False,
                format: Format = None) -> None:
        """Show the history of an image."""

    app.command("history")(implemented_by("images:history")(history))
    image.command("history")(implemented_by("images:history")(history))

    @image.command("inspect")
    @implemented_by("images:inspect")
    def inspect(images: Images, format: Annotated[Optional[str], typer.Option("--format", "-f", help="Format output using a Go-style template")] = None) -> None:
        """Display detailed information on one or more images."""

    def save(images: Images, output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write to a file, instead of STDOUT")] = None) -> None:
        """Save one or more images to a tar archive (docker-archive format; streamed to STDOUT by default)."""

    app.command("save")(implemented_by("images:save")(save))
    image.command("save")(implemented_by("images:save")(save))

    def load(input: Annotated[Optional[str], typer.Option("--input", "-i", help="Read from tar archive file, instead of STDIN")] = None,
             quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Suppress the load output")] = False) -> None:
        """Load an image from a tar archive or STDIN (docker-archive or oci-archive, gzip or not)."""

    app.command("load")(implemented_by("images:load")(load))
    image.command("load")(implemented_by("images:load")(load))

    def import_(file: Annotated[str, typer.Argument(metavar="file|URL|-")],
                repository: Annotated[Optional[str], typer.Argument(metavar="[REPOSITORY[:TAG]]")] = None,
                change: Annotated[List[str], typer.Option("--change", "-c", help="Apply Dockerfile instruction to the created image")] = [],
                message: Annotated[Optional[str], typer.Option("--message", "-m", help="Set commit message for imported image")] = None,
                platform: Platform = None) -> None:
        """Import the contents from a tarball to create a filesystem image."""

    app.command("import")(implemented_by("images:import_")(import_))
    image.command("import")(implemented_by("images:import_")(import_))

    @image.command("prune")
    @implemented_by("images:prune")
    def prune(all: Annotated[bool, typer.Option("--all", "-a", help="Remove all unused images, not just dangling ones")] = False,
              force: Annotated[bool, typer.Option("--force", "-f", help="Do not prompt for confirmation")] = False,
              filter: Annotated[List[str], typer.Option("--filter", help="Provide filter values")] = []) -> None:
        """Remove unused images."""

    @app.command("search")
    @implemented_by("registry:search")
    def search(term: Annotated[str, typer.Argument(help="[REGISTRY/]TERM")],
               limit: Annotated[int, typer.Option("--limit", help="Max number of search results")] = 25,
               no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output")] = False,
               format: Format = None) -> None:
        """Search a registry for images (a private registry's catalog, or Docker Hub)."""

    @app.command("login")
    @implemented_by("registry:login")
    def login(server: Annotated[Optional[str], typer.Argument(metavar="[SERVER]")] = None,
              username: Annotated[Optional[str], typer.Option("--username", "-u", help="Username")] = None,
              password: Annotated[Optional[str], typer.Option("--password", "-p", help="Password")] = None,
              password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Take the password from stdin")] = False) -> None:
        """Log in to a registry (credentials kept in ~/.docker/config.json)."""

    @app.command("logout")
    @implemented_by("registry:logout")
    def logout(server: Annotated[Optional[str], typer.Argument(metavar="[SERVER]")] = None) -> None:
        """Log out from a registry."""

    app.add_typer(image, name="image")
