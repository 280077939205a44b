"""Entry point of `rl`: dispatch, and the one place errors become exit codes.

Start-up is a feature (STYLE.md 6, docs/cli.md): this module imports only the standard library
and the fast path at import time. `rl --version` answers before anything else is read. A command
line the fast path can parse from the generated table (`rootless.cli.fastpath`) goes straight to its
implementation through `binding.call`; anything else (help, errors, commands the table marks slow)
goes through the typer app, with global options found after the command moved to the front.

Exit codes follow docker: 125 for a usage error or a failure of rl itself in run/create/exec/start,
1 for other rl errors, the container command's 126/127, 130 on Ctrl-C, 0 for `--help`.
"""

from __future__ import annotations

import os
import sys

#: commands whose engine failures exit 125, as `docker run`/`docker create` do; elsewhere (exec,
#: start, rm...) docker exits 1 for an error the daemon reports
RUN_LIKE = frozenset({"run", "create"})
#: docker's status for a bad flag or a failure of the engine itself
USAGE_EXIT = 125


def report(err: BaseException, command: str | None, debug: bool) -> int:
    """Print an error the docker way (`Error: ...` and a hint) and return the exit status."""
    from rootless.errors import ContainerCommandError, RlError

    if debug:
        import traceback

        traceback.print_exception(err, file=sys.stderr)
    if isinstance(err, RlError):
        print(f"Error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"Hint: {err.hint}", file=sys.stderr)
        if isinstance(err, ContainerCommandError):
            return err.exit_code
        return USAGE_EXIT if command in RUN_LIKE else err.exit_code
    print(f"Error: {err}", file=sys.stderr)
    if not debug:
        print("Hint: run again with --log-level debug for the details", file=sys.stderr)
    return USAGE_EXIT


def _print_version() -> int:
    from rootless import __version__

    print(f"rl version {__version__}")
    return 0


def run_fast(target: str, params: dict[str, object], settings: dict[str, object]) -> int:
    """Run a command the fast path parsed: the same Context and end point as the typer path."""
    if settings.get("version"):
        return _print_version()
    from rootless.cli import binding
    from rootless.context import Context

    ctx = Context.create(settings.get("root"), settings.get("runroot"), settings["log_level"])
    return binding.call(target, ctx, params)


def run_typer(analysis: object) -> int:
    """Parse and run with typer (help, usage errors, commands the table leaves to typer).

    Global options after the command are moved to the front first (`analysis.argv`); without a
    usable committed table (stale during development), from a light table of the live tree, which
    also names the command for the exit status."""
    from typer import Abort, Exit
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    from rootless.cli.app import build_app

    command = build_app()
    if not analysis.tabled:
        from rootless.cli import cmdtable

        live = _analyse(analysis.argv, lambda: cmdtable.walk(command, light=True))
        analysis.path, analysis.globals, analysis.argv = live.path, live.globals, live.argv
    try:
        status = command.main(args=analysis.argv, prog_name="rl", standalone_mode=False)
    except Exit as e:
        return e.exit_code
    except Abort:
        return 130
    except NoArgsIsHelpError as e:  # `rl`, `rl system`: help, as docker prints it
        print(e.format_message())
        return 0
    except UsageError as e:
        _docker_wording(e)
        e.show()
        return USAGE_EXIT
    except ClickException as e:
        e.show()
        return USAGE_EXIT
    return status if isinstance(status, int) else 0


def _docker_wording(e: object) -> None:
    """click's "No such command 'x'." reads as docker's "unknown command: rl x"."""
    prefix = "No such command '"
    end = e.message.rfind("'.")
    if not e.message.startswith(prefix) or end < len(prefix) or e.ctx is None:
        return
    name, rest = e.message[len(prefix):end], e.message[end + 2:]
    e.message = f"unknown command: {e.ctx.command_path} {name}" + (f".{rest}" if rest else "")


def _analyse(args: list[str], table: object = None) -> object:
    """fastpath.analyse, with the committed table or `table()`; never raises."""
    from rootless.cli import fastpath

    try:
        return fastpath.analyse(args, table() if table else None)
    except Exception:  # a bug in the fast path must never cost the command: typer decides
        return fastpath.Analysis((), {}, None, list(args), tabled=False)


def _debug(settings: dict[str, object]) -> bool:
    return settings.get("log_level") == "debug" or os.environ.get("RL_LOG_LEVEL") == "debug"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-v"]):
        return _print_version()
    analysis = _analyse(args)
    if analysis.call is None and not analysis.path and analysis.globals.get("version"):
        return _print_version()  # `rl --root X --version`: global options only
    if "_RL_COMPLETE" in os.environ:  # shell completion asks typer, whatever argv says
        analysis.call = None
    try:
        if analysis.call is not None:
            return run_fast(*analysis.call, analysis.globals)
        return run_typer(analysis)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # the one catch site (STYLE.md 2)
        return report(e, analysis.path[-1] if analysis.path else None, _debug(analysis.globals))
