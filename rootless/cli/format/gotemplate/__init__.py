"""Go's text/template as docker uses it for `--format`: parse once, execute per item.

    tmpl = gotemplate.compile("{{.Name}} {{if .State.Running}}up{{else}}down{{end}}")
    tmpl.execute(container_dict)            # -> "/web up"
    gotemplate.render("{{json .Config}}", data)

Data is JSON-like (dicts keyed exactly as docker's JSON spells them). Options:
  type_name   the Go type the top-level dict stands for: a missing field then fails as docker's
              struct does (`can't evaluate field Foo in type *formatter.ContainerContext`)
  missingkey  "default" (a missing key prints "<no value>") or "error" (`map has no entry for key
              "Foo"`, what `docker inspect -f` reports for an unknown field)
Every failure is a `TemplateError` (parse: `TemplateSyntaxError`, execution: `TemplateExecError`)
whose message is docker's: `template parsing error: template: :1: ...`.
"""

from __future__ import annotations

from rootless.cli.format.gotemplate.errors import TemplateError, TemplateExecError, TemplateSyntaxError
from rootless.cli.format.gotemplate.gofmt import Func

__all__ = ["Func", "Template", "TemplateError", "TemplateExecError", "TemplateSyntaxError", "compile", "render"]


class Template:
    """A parsed template; `execute` may run many times (one row of `ps` each)."""

    def __init__(self, text: str, type_name: str | None = None, missingkey: str = "default") -> None:
        from rootless.cli.format.gotemplate.funcs import BUILTINS
        from rootless.cli.format.gotemplate.parse import parse

        if missingkey not in ("default", "error"):
            raise ValueError(f"missingkey={missingkey!r}")
        self.text = text
        self.type_name = type_name
        self.missingkey = missingkey
        try:
            _, self.trees = parse(text, frozenset(BUILTINS))
        except RecursionError:
            raise TemplateSyntaxError("template: :1: template nested too deeply") from None

    def execute(self, data: object, *, funcs: dict | None = None, partial: bool = False,
                as_map: bool = False) -> str:
        """The text for one value. For table headers: `funcs` replaces the function table,
        `partial` returns what was written before an error instead of raising it, `as_map` treats
        the data as a plain map whatever `type_name` says."""
        from rootless.cli.format.gotemplate.execute import Options, execute
        from rootless.cli.format.gotemplate.funcs import BUILTINS

        opts = Options(self.text, self.trees, funcs or BUILTINS, None if as_map else self.type_name,
                       self.missingkey)
        return execute(opts, data, partial)


def compile(text: str, type_name: str | None = None, missingkey: str = "default") -> Template:  # noqa: A001
    """Parse `text`; raises TemplateSyntaxError with Go's message."""
    return Template(text, type_name, missingkey)


def render(text: str, data: object, type_name: str | None = None, missingkey: str = "default") -> str:
    """compile + execute, for a single value."""
    return Template(text, type_name, missingkey).execute(data)
