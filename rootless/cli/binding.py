"""How a command declaration names the function that does its work.

A typer declaration in `rootless.cli.declare.<noun>` carries only the signature (flags, types, help);
it is decorated with `@implemented_by("<module>:<function>")`, a function in
`rootless.cli.commands.<module>` that takes the `Context` and the parsed parameters as keyword
arguments and returns an exit status (or None for 0). The typer path and the start-up fast path both
end in `call()`, so they cannot disagree on what a command does. Standard library only: the fast path
imports this module (no `typing` either: annotations stay strings).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Callable

COMMANDS_PACKAGE = "rootless.cli.commands"


def call(target: str, ctx: object, params: dict[str, object]) -> int:
    module, _, func = target.partition(":")
    impl = getattr(__import__(f"{COMMANDS_PACKAGE}.{module}", fromlist=(func,)), func)  # no importlib: start-up
    status = impl(ctx, **params)
    return 0 if status is None else int(status)


def implemented_by(target: str) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Decorate a typer declaration so that invoking it runs `target` with the rl Context.

    The target is kept as `rl_target` on the wrapper (and, through functools.wraps, on typer's own
    wrapper): rootless.cli.cmdtable reads it to build the fast path's table."""
    import functools

    def decorate(declaration: Callable[..., object]) -> Callable[..., object]:
        @functools.wraps(declaration)
        def invoke(**params: object) -> int:
            from typer.main import get_current_context  # only reached on the typer path

            ctx = get_current_context().find_root().obj
            status = call(target, ctx, params)
            if status:
                raise SystemExit(status)
            return 0

        invoke.rl_target = target  # type: ignore[attr-defined]
        return invoke

    return decorate
