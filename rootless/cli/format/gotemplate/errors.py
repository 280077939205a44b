"""The errors of the template engine: one type, `TemplateError`, with docker's wording.

docker wraps Go's error text as `template parsing error: template: :1: ...` for a template that
does not parse and for one that fails while executing (cli/command/formatter/formatter.go and
cli/command/inspect/inspector.go). `go_error` keeps Go's own text.
"""

from __future__ import annotations

from rootless.errors import RlError


class TemplateError(RlError):
    """A template that does not parse or fails to execute (docker exits 1 for it)."""

    exit_code = 1

    def __init__(self, go_error: str, hint: str | None = None) -> None:
        super().__init__(f"template parsing error: {go_error}", hint)
        self.go_error = go_error


class TemplateSyntaxError(TemplateError):
    """The text does not parse; `docker inspect` exits 64 for it (its ls commands exit 1)."""

    exit_code = 64


class TemplateExecError(TemplateError):
    """The template parsed but failed on the data (missing field, bad function argument...)."""


class ExecFailure(Exception):
    """Internal: raised by functions with Go's bare error text; the executor adds the location."""
