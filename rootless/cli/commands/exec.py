"""`rl exec` and `rl inspect` / `rl container inspect`: parse, call the engine, print.

inspect prints docker's JSON array (4-space indent), or with -f each object through the Go
template (missing keys are errors, as `docker inspect -f`), one line each. Names not found are
reported after the output ("Error: No such object: x", exit 1), as docker does.
"""

from __future__ import annotations

import sys

from rootless.context import Context

KINDS = ("container", "image")


def exec_(ctx: Context, container: str, command: list[str], detach: bool = False,
          interactive: bool = False, tty: bool = False, env: list[str] | None = None,
          user: str | None = None, workdir: str | None = None, privileged: bool = False) -> int:
    """The start-up path of `rl exec` (docs/performance.md, "exec"): nothing but the engine's
    exec module (no container store, json or pathlib) unless an option needs more."""
    from rootless.engine.lifecycle import exec as exec_mod

    if env:
        env = exec_mod.exec_env(env, ctx.env)
    opts = exec_mod.ExecOptions(
        args=command or (), env=env or (), user=user,
        workdir=workdir, interactive=interactive, tty=tty, detach=detach, privileged=privileged)
    sys.stdout.flush()
    status = exec_mod.exec_in(ctx.paths, container, opts, replace=_replaceable(ctx))
    from rootless.cli.quick_exit import leave

    return leave(status)


def _replaceable(ctx: Context) -> bool:
    """This process may become the exec helper (execve): it is rl itself (quick_exit.leave's
    rule: the console script, `python -m rootless`, the frozen rl), no thread runs, and no debug
    log wants a traceback. In-process callers (tests, embedding) keep the helper a child."""
    if ctx.log_level == "debug" or "threading" in sys.modules and sys.modules["threading"].active_count() > 1:
        return False
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return bool(getattr(sys, "frozen", False) or (spec is not None and spec.name == "rootless.__main__")
                or (getattr(main, "__file__", None) or "").rpartition("/")[2] == "rl")


def _find(ctx: Context, name: str, kinds: tuple[str, ...], size: bool) -> dict | None:
    from rootless.errors import ContainerNotFound, ImageNotFound, InvalidReference

    for kind in kinds:
        try:
            if kind == "container":
                from rootless.engine.container_store import ContainerStore
                from rootless.engine.inspect import inspect_container

                return inspect_container(ctx.paths, ContainerStore(ctx.paths), name, size=size)
            from rootless.engine.image import views
            from rootless.engine.image.store import ImageStore

            store = ImageStore(ctx.paths)
            return views.inspect(store, store.resolve(name))
        except (ContainerNotFound, ImageNotFound, InvalidReference):
            continue
    return None


def print_objects(objects: list[dict], format: str | None) -> None:
    """docker's inspect output: the JSON array, or each object through the template."""
    if format is None or format == "":
        import json

        print(json.dumps(objects, indent=4))
        return
    from rootless.cli.format import gotemplate

    if format == "json":
        format = "{{json .}}"
    tmpl = gotemplate.compile(format.replace("\\t", "\t").replace("\\n", "\n"), missingkey="error")
    out = [tmpl.execute(obj) for obj in objects]
    sys.stdout.write("".join(line + "\n" for line in out))


def _inspect(ctx: Context, names: list[str], format: str | None, size: bool, kinds: tuple[str, ...]) -> int:
    found, missing = [], []
    for name in names:
        obj = _find(ctx, name, kinds, size)
        if obj is None:
            missing.append(name)
        else:
            found.append(obj)
    print_objects(found, format)  # every object is rendered before anything is printed
    what = "object" if len(kinds) > 1 else kinds[0]
    for name in missing:
        print(f"Error: No such {what}: {name}", file=sys.stderr)
    return 1 if missing else 0


def inspect(ctx: Context, names: list[str], format: str | None = None, size: bool = False,
            type: str | None = None) -> int:
    from rootless.errors import UsageError

    if type and type not in KINDS:
        raise UsageError(f'"{type}" is not a valid value for --type')
    return _inspect(ctx, names, format, size, (type,) if type else KINDS)


def container_inspect(ctx: Context, names: list[str], format: str | None = None, size: bool = False) -> int:
    return _inspect(ctx, names, format, size, ("container",))
