"""docker's `--format` for list commands (ps, images, volume ls, network ls): the `table`
directive, `json`, and plain templates, as docker/cli's formatter.Context.Write does it.

    text = table.render_rows("table {{.ID}}\\t{{.Image}}", rows, {"ID": "CONTAINER ID", "Image": "IMAGE"},
                             type_name="*formatter.ContainerContext")

- `table ...`: the template runs once per row and once on the header map (docker's
  HeaderFunctions: json/upper/... leave a title as it is; `.Label "a.b.c"` gives "c"); columns
  separated by tabs are aligned like docker's tabwriter (min width 10, padding 3, wide characters
  count 2). A template error in the header is ignored, as docker ignores it.
- `json`: `{{json .}}` per row.
- anything else: the template per row, each followed by a newline.
The literal two-character sequences `\\t` and `\\n` in a format become a tab and a newline, and
spaces around the format are dropped, as docker does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MIN_WIDTH, TAB_WIDTH, PADDING = 10, 1, 3


def final_format(fmt: str) -> tuple[str, bool]:
    """docker's preFormat: (template text, is_table)."""
    is_table = fmt.startswith("table")
    text = "{{json .}}" if fmt == "json" else fmt[len("table"):] if is_table else fmt
    text = text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return text, is_table


def header_context(headers: Mapping[str, str]) -> dict:
    """The data a table header is rendered from: the titles, and docker's `Label` method."""
    ctx: dict = dict(headers)
    if "Label" not in ctx:
        ctx["Label"] = lambda name: str(name).split(".")[-1].replace("-", " ").replace("_", " ")
    return ctx


def render_rows(fmt: str, rows: Iterable[object], headers: Mapping[str, str] | None = None, *,
                type_name: str | None = None) -> str:
    """The whole output of a list command for `--format fmt` (ends with a newline per line)."""
    from rootless.cli.format import gotemplate

    text, is_table = final_format(fmt)
    try:
        tmpl = gotemplate.compile(text, type_name)
    except gotemplate.TemplateSyntaxError as e:
        e.exit_code = 1  # docker's list commands exit 1 for it (inspect exits 64)
        raise
    body = "".join(tmpl.execute(row) + "\n" for row in rows)
    if not is_table:
        return body
    return tabwrite(render_header(tmpl, headers or {}) + "\n" + body)


def render_header(tmpl, headers: Mapping[str, str]) -> str:
    """The header line: the template on the titles with docker's HeaderFunctions."""
    from rootless.cli.format.gotemplate.funcs import HEADER_FUNCS

    return tmpl.execute(header_context(headers), funcs=HEADER_FUNCS, partial=True, as_map=True)


def _width(cell: str) -> int:
    """go-runewidth's StringWidth, near enough: East Asian wide and full-width characters count 2,
    combining marks 0."""
    if cell.isascii():
        return len(cell)
    import unicodedata

    w = 0
    for c in cell:
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
            continue
        w += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return w


def tabwrite(text: str, minwidth: int = MIN_WIDTH, padding: int = PADDING) -> str:
    """Go's text/tabwriter (padchar ' ', no flags): tab-terminated cells of consecutive lines form a
    column padded to its widest cell + padding (at least minwidth); the last cell of a line is not
    part of a column."""
    lines = [line.split("\t") for line in text.split("\n")]
    widths: list[int] = []
    out: list[str] = []
    _format(lines, 0, len(lines), widths, minwidth, padding, out)
    return "\n".join(out)


def _format(lines: list[list[str]], line0: int, line1: int, widths: list[int], minwidth: int,
            padding: int, out: list[str]) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(lines[this]) - 1:
            this += 1
            continue
        _write_lines(lines, line0, this, widths, out)
        line0 = this
        width = minwidth
        while this < line1 and column < len(lines[this]) - 1:
            width = max(width, _width(lines[this][column]) + padding)
            this += 1
        widths.append(width)
        _format(lines, line0, this, widths, minwidth, padding, out)
        widths.pop()
        line0 = this
    _write_lines(lines, line0, line1, widths, out)


def _write_lines(lines: list[list[str]], line0: int, line1: int, widths: list[int], out: list[str]) -> None:
    for cells in lines[line0:line1]:
        parts = []
        for j, cell in enumerate(cells):
            parts.append(cell)
            if j < len(widths):
                parts.append(" " * (widths[j] - _width(cell)))
        out.append("".join(parts))
