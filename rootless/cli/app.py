"""The command tree, declared once with typer.

Each noun's declarations live in `rootless.cli.declare.<noun>` and register themselves here. The
global options (`--root`, `--runroot`, `--log-level`, `--version`) build the `Context` every command
receives.

The start-up fast path parses from a table generated from this tree (`rootless/cli/cmdtable.py`,
docs/cli.md): after adding or changing a declaration, run `make table` and commit
`rootless/cli/_cmdtable.py`.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rootless.context import LOG_LEVELS, Context

#: the declaration modules, in the order their commands appear in `rl --help`
DECLARATIONS = (
    "system",
    "images",
    "containers",
    "network",
    "networks",
    "exec",
    "volume",
    "stats",
    "container_fs",
    "processes",
)


def _version(value: bool) -> None:
    if value:
        from rootless import __version__

        print(f"rl version {__version__}")
        raise typer.Exit(0)


def _global_options(
    ctx: typer.Context,
    root: Annotated[Optional[str], typer.Option("--root", help="Store root (default $RL_ROOT or ~/.local/share/rl)")] = None,
    runroot: Annotated[Optional[str], typer.Option("--runroot", help="Runtime state dir (default $XDG_RUNTIME_DIR/rl or /tmp/rl-UID)")] = None,
    log_level: Annotated[str, typer.Option("--log-level", "-l", help=f"One of {', '.join(LOG_LEVELS)}")] = "warn",
    version: Annotated[bool, typer.Option("--version", "-v", callback=_version, is_eager=True, help="Print the version and exit")] = False,
) -> None:
    """rl: a rootless, daemonless container engine."""
    if log_level not in LOG_LEVELS:
        raise typer.BadParameter(f"must be one of {', '.join(LOG_LEVELS)}", param_hint="--log-level")
    ctx.obj = Context.create(root, runroot, log_level)


def build_app() -> "typer.main.click.Command":
    """The click command for the whole tree (typer's app, converted once)."""
    import importlib

    app = typer.Typer(add_completion=True, no_args_is_help=True, rich_markup_mode=None,
                      context_settings={"help_option_names": ["-h", "--help"]})
    app.callback()(_global_options)
    for name in DECLARATIONS:
        importlib.import_module(f"rootless.cli.declare.{name}").register(app)
    return typer.main.get_command(app)
