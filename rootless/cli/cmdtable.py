"""Derive the fast path's command table from the typer declaration (build time only).

The command tree is declared once, with typer (`rootless.cli.app`). `rl`'s hot commands must not
pay typer's import (see docs/cli.md), so `rootless.cli.fastpath` parses them from a table of plain
literals that this module generates by walking the click command typer builds: for every command
path, its binding target (`@implemented_by`) and, for every parameter, its option strings, parser
action, type, and the value typer passes when the parameter is absent. Anything the fast path does
not reproduce exactly (prompts, callbacks, env vars, enums, paths, ranges...) marks the command
`slow`: the fast path leaves it to typer.

`make table` (or `python -m rootless.cli.cmdtable`) rewrites `rootless/cli/_cmdtable.py`;
tests/cli/test_fastpath.py fails when the committed table differs from a fresh generation.
"""

from __future__ import annotations

import pprint
import sys
import zlib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

PACKAGE_DIR = Path(__file__).resolve().parent
TABLE_FILE = PACKAGE_DIR / "_cmdtable.py"
#: schema of the table; the fast path ignores a table of another version. 2: each command's entry
#: is written as a JSON text, decoded when that command is run (fastpath.load_table): loading the
#: whole table as Python literals cost ~3 M instructions of every command (docs/performance.md)
TABLE_VERSION = 2

_SCALARS = {str: "str", int: "int", float: "float", bool: "bool"}


def declaration_sources(declarations: tuple[str, ...]) -> list[str]:
    """The files the table is derived from, relative to rootless/cli (the fast path checks them)."""
    return ["app.py", *(f"declare/{name}.py" for name in declarations)]


def sources_digest(sources: list[str], base: Path = PACKAGE_DIR) -> str:
    """crc32 of the declaration sources, in order; the fast path refuses a table that is stale."""
    crc = 0
    for rel in sources:
        crc = zlib.crc32((base / rel).read_bytes(), crc)
    return f"{crc:08x}"


class Unsupported(Exception):
    """A parameter feature the fast path does not reproduce; the command stays with typer."""


def _value_type(param: Any) -> tuple[str, list[Any] | None]:
    """("str"|"int"|"float"|"bool"|"choice", choices) for the parameter's (element) annotation."""
    desc = param.type_descriptor
    if desc.is_file or desc.is_path or desc.is_datetime or desc.is_tuple or desc.is_ranged:
        raise Unsupported(f"{param.name}: file/path/datetime/tuple/ranged type")
    annotation = desc.annotation
    if desc.is_list:
        (annotation,) = get_args(annotation)
    if get_origin(annotation) is Literal:
        choices = list(get_args(annotation))
        if not desc.case_sensitive or not all(isinstance(c, str) for c in choices):
            raise Unsupported(f"{param.name}: case-insensitive or non-string choice")
        return "choice", choices
    if annotation not in _SCALARS:
        raise Unsupported(f"{param.name}: type {annotation!r}")
    return _SCALARS[annotation], None


def _absent_value(param: Any, ctx: Any) -> tuple[bool, Any]:
    """(required, value typer passes to the callback when the parameter is not given)."""
    from typer._click.exceptions import MissingParameter
    from typer.main import _normalize_collection_value

    try:
        value = _normalize_collection_value(param, param.process_value(ctx, param.get_default(ctx)))
    except MissingParameter:
        return True, None
    if not _is_literal(value):
        raise Unsupported(f"{param.name}: default {value!r} is not a plain literal")
    return False, value


def _is_literal(value: Any) -> bool:
    if isinstance(value, list):
        return all(_is_literal(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def describe_param(param: Any, ctx: Any) -> dict[str, Any]:
    """One parameter as plain literals (see fastpath.py for how each key is used)."""
    is_option = param.param_type_name == "option"
    if param.callback is not None or param.is_eager or param.envvar or not param.expose_value:
        raise Unsupported(f"{param.name}: callback, eager, envvar or hidden value")
    if is_option and (param.prompt is not None or param.count or param.nargs != 1):
        raise Unsupported(f"{param.name}: prompt, count or nargs")
    if is_option and param.is_flag and not (param.is_bool_flag and not param.multiple):
        raise Unsupported(f"{param.name}: non-boolean flag")
    if not is_option and param.nargs not in (1, -1):
        raise Unsupported(f"{param.name}: argument nargs {param.nargs}")
    kind, choices = _value_type(param)
    required, absent = _absent_value(param, ctx)
    entry: dict[str, Any] = {"name": param.name, "kind": param.param_type_name, "type": kind}
    if is_option:
        action = "flag" if param.is_flag else ("append" if param.multiple else "store")
        entry.update(opts=list(param.opts), secondary=list(param.secondary_opts), action=action)
    else:
        entry["nargs"] = param.nargs
    if choices is not None:
        entry["choices"] = choices
    entry.update(required=required, absent=absent)
    return entry


def describe_command(cmd: Any, ctx: Any, target: str | None, light: bool = False) -> dict[str, Any]:
    settings = cmd.context_settings
    entry: dict[str, Any] = {
        "target": target,
        "interspersed": settings.get("allow_interspersed_args", cmd.allow_interspersed_args),
        "no_args_is_help": bool(getattr(cmd, "no_args_is_help", False)),
        "help": sorted(ctx.help_option_names),  # inherited from rl, or the command's own
        # every option string -> whether it takes a value (also for slow commands: main.py uses
        # it to find where a command's options end when moving global options to the front)
        "options": {o: not (p.is_flag or p.count) for p in cmd.params
                    if p.param_type_name == "option" for o in (*p.opts, *p.secondary_opts)},
    }
    try:
        if light:
            raise Unsupported("light table: options only")
        if target is None:
            raise Unsupported("no @implemented_by target")
        if settings.get("allow_extra_args", cmd.allow_extra_args) or \
                settings.get("ignore_unknown_options", cmd.ignore_unknown_options):
            raise Unsupported("extra args or unknown options allowed")
        if settings.get("token_normalize_func"):
            raise Unsupported("token normalisation")
        if cmd.deprecated:
            raise Unsupported("deprecated command prints a warning")
        if _unparsed_parameters(cmd):
            raise Unsupported(f"parameters typer fills itself: {_unparsed_parameters(cmd)}")
        entry["params"] = [describe_param(p, ctx) for p in cmd.params]
    except Unsupported as e:
        entry["slow"] = str(e)
    return entry


def _unparsed_parameters(cmd: Any) -> list[str]:
    """Declaration parameters with no click parameter (a `typer.Context`...): typer fills them."""
    import inspect

    declared = inspect.signature(cmd.callback).parameters if cmd.callback else {}
    return sorted(set(declared) - {p.name for p in cmd.params})


def binding_target(callback: Any) -> str | None:
    """The `@implemented_by` target, through typer's and functools' wrappers (`__wrapped__`)."""
    seen = 0
    while callback is not None and seen < 10:
        target = getattr(callback, "rl_target", None)
        if target:
            return target
        callback, seen = getattr(callback, "__wrapped__", None), seen + 1
    return None


def walk(group: Any, light: bool = False) -> dict[str, Any]:
    """The table for a click group built by typer: globals, groups and commands by path.

    `light`: option strings only, every command `slow` (no parameter coercion, so no pydantic):
    what main.py needs to move global options to the front when the committed table is stale."""
    root_ctx = group.context_class(group, info_name="rl", **group.context_settings)
    table: dict[str, Any] = {
        "version": TABLE_VERSION,
        "help": sorted(root_ctx.help_option_names),
        "globals": _describe_globals(group, root_ctx),
        "groups": {},
        "commands": {},
    }
    _walk(group, (), root_ctx, table, light)
    return table


#: the root options the fast path acts on itself (main.run_fast); others (typer's completion
#: options) are moved to the front like these but leave the command line to typer
FAST_GLOBALS = ("root", "runroot", "log_level", "version")


def _describe_globals(group: Any, ctx: Any) -> list[dict[str, Any]]:
    """The root group's options; `--version` (eager, with a callback) is kept as a flag."""
    out = []
    for param in group.params:
        entry = {"name": param.name, "opts": list(param.opts), "fast": param.name in FAST_GLOBALS,
                 "action": "flag" if param.is_flag else "store"}
        if not param.is_flag:
            entry["absent"] = param.get_default(ctx)
        out.append(entry)
    return out


def _walk(group: Any, path: tuple[str, ...], ctx: Any, table: dict[str, Any], light: bool) -> None:
    names = sorted(group.commands)
    own = [p.name for p in group.params] if path else []
    table["groups"][" ".join(path)] = {"commands": names, "params": own}
    for name in names:
        cmd = group.commands[name]
        sub_ctx = cmd.context_class(cmd, info_name=name, parent=ctx, **cmd.context_settings)
        if hasattr(cmd, "commands"):
            _walk(cmd, (*path, name), sub_ctx, table, light)
        else:
            table["commands"][" ".join((*path, name))] = describe_command(
                cmd, sub_ctx, binding_target(cmd.callback), light)


def generate() -> dict[str, Any]:
    """The table for rl's own declaration (imports typer and every declaration module)."""
    from rootless.cli.app import DECLARATIONS, build_app

    table = walk(build_app())
    table["sources"] = declaration_sources(DECLARATIONS)
    table["digest"] = sources_digest(table["sources"])
    return table


def render(table: dict[str, Any]) -> str:
    import json

    encoded = {**table, "commands": {key: json.dumps(cmd, sort_keys=True, separators=(",", ":"))
                                     for key, cmd in table["commands"].items()}}
    body = pprint.pformat(encoded, indent=1, width=100, sort_dicts=True)
    return (
        '"""GENERATED by rootless/cli/cmdtable.py (`make table`): do not edit.\n\n'
        "The fast path's view of the typer declaration; see cmdtable.py and fastpath.py.\n"
        '"""\n\n'
        f"TABLE = {body}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """`--check`: exit 1 if the committed table is stale; otherwise rewrite it."""
    args = sys.argv[1:] if argv is None else argv
    text = render(generate())
    if "--check" in args:
        current = TABLE_FILE.read_text() if TABLE_FILE.exists() else ""
        if current != text:
            print(f"{TABLE_FILE} is stale: run `make table`", file=sys.stderr)
            return 1
        return 0
    TABLE_FILE.write_text(text)
    print(f"wrote {TABLE_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
