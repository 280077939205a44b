"""Declarations: `rl run|create|start|stop|restart|kill|rm|ps|wait|logs` and `rl container ...`.

`run` and `create` stop parsing options at the image name (everything after it is the command),
and, as docker, take `-h` for --hostname (help is `--help` there).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.cli.binding import implemented_by

RUN_SETTINGS = {"allow_interspersed_args": False, "help_option_names": ["--help"]}
Many = Optional[list[str]]


def _run_signature(run_or_create: str):
    """The shared signature of run and create (create ignores -d and --rm's foreground parts)."""

    @implemented_by(f"run:{run_or_create}")
    def command(
        image: Annotated[str, typer.Argument(metavar="IMAGE", help="The image to run")],
        command: Annotated[Many, typer.Argument(metavar="[COMMAND] [ARG...]", help="Command and arguments")] = None,
        detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background and print the container id")] = False,
        interactive: Annotated[bool, typer.Option("--interactive", "-i", help="Keep stdin open and attached")] = False,
        tty: Annotated[bool, typer.Option("--tty", "-t", help="Allocate a pseudo-terminal")] = False,
        rm: Annotated[bool, typer.Option("--rm", help="Remove the container when it exits")] = False,
        name: Annotated[Optional[str], typer.Option("--name", help="Name of the container")] = None,
        env: Annotated[Many, typer.Option("--env", "-e", help="Set an environment variable (NAME=VALUE, or NAME to pass rl's)")] = None,
        env_file: Annotated[Many, typer.Option("--env-file", help="Read environment variables from a file")] = None,
        workdir: Annotated[Optional[str], typer.Option("--workdir", "-w", help="Working directory inside the container")] = None,
        user: Annotated[Optional[str], typer.Option("--user", "-u", help="user[:group], names or ids")] = None,
        entrypoint: Annotated[Optional[str], typer.Option("--entrypoint", help="Override the image's ENTRYPOINT")] = None,
        hostname: Annotated[Optional[str], typer.Option("--hostname", "-h", help="Container host name")] = None,
        init: Annotated[bool, typer.Option("--init", help="Run a tiny init as pid 1 that forwards signals and reaps zombies")] = False,
        read_only: Annotated[bool, typer.Option("--read-only", help="Mount the root filesystem read-only")] = False,
        tmpfs: Annotated[Many, typer.Option("--tmpfs", help="Mount a tmpfs: /path[:options]")] = None,
        pull: Annotated[str, typer.Option("--pull", help="Pull the image: always, missing or never")] = "missing",
        network: Annotated[str, typer.Option("--network", "--net", help="bridge (slirp4netns), pasta, host, none, container:NAME or a user network")] = "bridge",
        network_alias: Annotated[Many, typer.Option("--network-alias", help="Network-scoped alias (user networks)")] = None,
        cap_add: Annotated[Many, typer.Option("--cap-add", help="Add a capability (or ALL)")] = None,
        cap_drop: Annotated[Many, typer.Option("--cap-drop", help="Drop a capability (or ALL)")] = None,
        privileged: Annotated[bool, typer.Option("--privileged", help="Every capability the user namespace grants, no masked paths")] = False,
        ulimit: Annotated[Many, typer.Option("--ulimit", help="name=soft[:hard], e.g. nofile=1024:2048")] = None,
        stop_signal: Annotated[Optional[str], typer.Option("--stop-signal", help="Signal that stops the container")] = None,
        stop_timeout: Annotated[Optional[int], typer.Option("--stop-timeout", help="Seconds to wait after the stop signal")] = None,
        label: Annotated[Many, typer.Option("--label", "-l", help="Set metadata: key=value")] = None,
        restart: Annotated[str, typer.Option("--restart", help="no, on-failure[:N], always, unless-stopped")] = "no",
        device: Annotated[Many, typer.Option("--device", help="Add a host device: /dev/x[:/dev/y[:rwm]]")] = None,
        userns: Annotated[str, typer.Option("--userns", help="keep-id, host or auto")] = "",
        publish: Annotated[Many, typer.Option("--publish", "-p", help="Publish a container's port to the host: [ip:][hostPort:]containerPort[/proto]")] = None,
        publish_all: Annotated[bool, typer.Option("--publish-all", "-P", help="Publish every exposed port to a random host port")] = False,
        volume: Annotated[Many, typer.Option("--volume", "-v", help="Bind mount or volume: /host/path:/ctr/path[:ro] or name:/ctr/path")] = None,
        volumes_from: Annotated[Many, typer.Option("--volumes-from", help="Mount the volumes of a container: NAME[:ro|rw]")] = None,
        mount: Annotated[Many, typer.Option("--mount", help="type=bind|volume|tmpfs,source=...,target=...[,readonly][,...] (docker's CSV)")] = None,
    ) -> None:
        """Create and run a new container from an image."""

    if run_or_create == "create":
        command.__doc__ = "Create a new container (without starting it)."
    return command


def _lifecycle(app: typer.Typer) -> None:
    @app.command("start")
    @implemented_by("containers:start")
    def start(containers: Annotated[list[str], typer.Argument(metavar="CONTAINER...")],
              attach: Annotated[bool, typer.Option("--attach", "-a", help="Attach stdout/stderr and wait")] = False,
              interactive: Annotated[bool, typer.Option("--interactive", "-i", help="Attach stdin")] = False) -> None:
        """Start one or more stopped containers."""

    @app.command("stop")
    @implemented_by("containers:stop")
    def stop(containers: Annotated[list[str], typer.Argument(metavar="CONTAINER...")],
             time: Annotated[Optional[int], typer.Option("--time", "-t", help="Seconds to wait before killing")] = None) -> None:
        """Stop one or more running containers (stop signal, then SIGKILL)."""

    @app.command("restart")
    @implemented_by("containers:restart")
    def restart(containers: Annotated[list[str], typer.Argument(metavar="CONTAINER...")],
                time: Annotated[Optional[int], typer.Option("--time", "-t", help="Seconds to wait before killing")] = None) -> None:
        """Restart one or more containers."""

    @app.command("kill")
    @implemented_by("containers:kill")
    def kill(containers: Annotated[list[str], typer.Argument(metavar="CONTAINER...")],
             signal: Annotated[str, typer.Option("--signal", "-s", help="Signal to send")] = "KILL") -> None:
        """Kill one or more running containers."""

    @app.command("rm")
    @implemented_by("containers:rm")
    def rm(containers: Annotated[list[str], typer.Argument(metavar="CONTAINER...")],
           force: Annotated[bool, typer.Option("--force", "-f", help="Kill and remove a running container")] = False,
           volumes: Annotated[bool, typer.Option("--volumes", "-v", help="Remove anonymous volumes too")] = False) -> None:
        """Remove one or more containers."""

    @app.command("wait")
    @implemented_by("containers:wait")
    def wait(containers: Annotated[list[str], typer.Argument(metavar="CONTAINER...")]) -> None:
        """Block until containers stop, then print their exit codes."""

    @app.command("logs")
    @implemented_by("containers:logs")
    def logs(container: Annotated[str, typer.Argument(metavar="CONTAINER")],
             follow: Annotated[bool, typer.Option("--follow", "-f", help="Follow the log output")] = False,
             tail: Annotated[str, typer.Option("--tail", "-n", help="Lines from the end ('all')")] = "all",
             timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Show timestamps")] = False,
             since: Annotated[Optional[str], typer.Option("--since", help="Since a time, a Unix timestamp or a duration (10m)")] = None) -> None:
        """Fetch the logs of a container."""


def _ps(app: typer.Typer, name: str) -> None:
    @app.command(name)
    @implemented_by("containers:ps")
    def ps(all: Annotated[bool, typer.Option("--all", "-a", help="Show all containers (default: running)")] = False,
           quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only ids")] = False,
           latest: Annotated[bool, typer.Option("--latest", "-l", help="Only the latest created")] = False,
           last: Annotated[Optional[int], typer.Option("--last", "-n", help="The last N created")] = None,
           no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Do not truncate")] = False,
           size: Annotated[bool, typer.Option("--size", "-s", help="Show disk usage")] = False,
           filter: Annotated[Many, typer.Option("--filter", "-f", help="status=, name=, label=, ancestor=, exited=, id=")] = None,
           format: Annotated[Optional[str], typer.Option("--format", help="table, json, or a Go template")] = None) -> None:
        """List containers."""


def register(app: typer.Typer) -> None:
    container = typer.Typer(help="Manage containers", no_args_is_help=True)
    for target in (app, container):
        target.command("run", context_settings=RUN_SETTINGS)(_run_signature("run"))
        target.command("create", context_settings=RUN_SETTINGS)(_run_signature("create"))
        _lifecycle(target)
    _ps(app, "ps")
    _ps(container, "ls")
    _ps(container, "ps")

    @container.command("prune")
    @implemented_by("containers:prune")
    def prune(force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask")] = False,
              filter: Annotated[Many, typer.Option("--filter", help="label=key[=value]")] = None) -> None:
        """Remove all stopped containers."""

    app.add_typer(container, name="container")
