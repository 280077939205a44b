"""`rl info` / `rl system info` and `rl system check`: probe the host (engine.host), print."""

from __future__ import annotations

from rootless.context import Context


def _report(ctx: Context) -> dict:
    from rootless.engine import host

    return host.collect(ctx.paths, ctx.env)


def info(ctx: Context, format: str | None = None) -> int:
    """The host report: docker-info-like text, or JSON with --format json."""
    if format and format != "json":
        from rootless.errors import RlError

        raise RlError("Go templates for info are not supported yet", "use --format json")
    report = _report(ctx)
    if format == "json":
        import json

        print(json.dumps(report, indent=2))
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
