"""Entry point of `rl`: global options, dispatch, and the one place errors become exit codes.

Start-up is a feature (STYLE.md 6): this module imports only the standard library at import time.
`--version` answers without importing anything else; other commands go through the typer app.
"""

from __future__ import annotations

import os
import sys

#: commands whose engine failures exit 125, as `docker run` does; elsewhere docker exits 1
RUN_LIKE = frozenset({"run", "create", "exec", "start"})


def _wants_debug(args: list[str]) -> bool:
    for i, arg in enumerate(args):
        if arg == "--log-level" and i + 1 < len(args):
            return args[i + 1] == "debug"
        if arg == "--log-level=debug":
            return True
    return os.environ.get("RL_LOG_LEVEL") == "debug"


def _command_name(args: list[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


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
        return 125 if command in RUN_LIKE else err.exit_code
    print(f"Error: {err}", file=sys.stderr)
    if not debug:
        print("Hint: run again with --log-level debug for the details", file=sys.stderr)
    return 125


def run_typer(args: list[str]) -> int:
    import typer

    from rootless.cli.app import build_app

    command = build_app()
    try:
        status = command.main(args=args, prog_name="rl", standalone_mode=False)
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return 130
    except typer.TyperException as e:  # click's usage errors: docker exits 125 for a bad flag
        e.show()
        return 125
    return status if isinstance(status, int) else 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-v"]):
        from rootless import __version__

        print(f"rl version {__version__}")
        return 0
    try:
        return run_typer(args)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # the one catch site (STYLE.md 2)
        return report(e, _command_name(args), _wants_debug(args))
