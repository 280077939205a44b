"""`rl info` / `rl system info` and `rl system check`: probe the host (engine.host), print."""

from __future__ import annotations

from rootless.context import Context


def _report(ctx: Context) -> dict:
    from rootless.engine import host

    return host.collect(ctx.paths, ctx.env)


def info(ctx: Context, format: str | None = None) -> int:
    """The host report: docker-info-like text, JSON with --format json, or a Go template over
    the JSON's fields (`--format '{{.ServerVersion}}'`, as docker info)."""
    tmpl = None
    if format and format != "json":
        from rootless.cli.format import gotemplate

        tmpl = gotemplate.compile(format.replace("\\t", "\t").replace("\\n", "\n"), missingkey="error")
    report = _report(ctx)
    if format == "json":
        import json

        print(json.dumps(report, indent=2))
    elif tmpl is not None:
        print(tmpl.execute(report))
    else:
        from rootless.engine.host.render import render_info

        print(render_info(report), end="")
    return 0


def check(ctx: Context) -> int:
    """What `rl run` needs and this host lacks; 1 when something blocking is missing."""
    from rootless.engine.host.render import render_check

    report = _report(ctx)
    print(render_check(report), end="")
    return 1 if any(p["Blocking"] for p in report["Problems"]) else 0
