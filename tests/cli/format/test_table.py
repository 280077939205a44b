"""table: docker's `--format` for list commands: `table` headers from a per-command title map,
tabwriter alignment (min width 10, padding 3), `json`, plain templates, docker's header functions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from rootless.cli.format import gotemplate as g
from rootless.cli.format import table

PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "Names": "NAMES", "Status": "STATUS",
              "Ports": "PORTS"}
IMAGES_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Size": "SIZE"}
PS_ROWS = [
    {"ID": "3b1f2c9e8d7a", "Image": "nginx", "Command": '"nginx -g …"', "Names": "web", "Status": "Up 2 minutes",
     "Ports": "0.0.0.0:8080->80/tcp", "Label": lambda name: {"com.example.team": "blue"}.get(name, "")},
    {"ID": "0a1b2c3d4e5f", "Image": "busybox:latest", "Command": '"sh"', "Names": "a_long_container_name",
     "Status": "Exited (0) 5 seconds ago", "Ports": "", "Label": lambda name: ""},
]

CASES = [
    ("table {{.ID}}\t{{.Image}}\t{{.Names}}", PS_ROWS, PS_HEADERS,
     "CONTAINER ID   IMAGE            NAMES\n"
     "3b1f2c9e8d7a   nginx            web\n"
     "0a1b2c3d4e5f   busybox:latest   a_long_container_name\n"),
    # the two characters \t typed in a shell are a tab; short columns are 10 wide
    ("table {{.Names}}\\t{{.Ports}}\\t{{.Status}}", PS_ROWS, PS_HEADERS,
     "NAMES                   PORTS                  STATUS\n"
     "web                     0.0.0.0:8080->80/tcp   Up 2 minutes\n"
     "a_long_container_name                          Exited (0) 5 seconds ago\n"),
    ("table {{.ID}}\t{{.Tag}}", [{"ID": "a8758716bb6a", "Tag": "1"}], IMAGES_HEADERS,
     "IMAGE ID       TAG\n"
     "a8758716bb6a   1\n"),
    ("table {{.Tag}}\t{{.ID}}", [{"ID": "x", "Tag": "1"}], IMAGES_HEADERS,
     "TAG       IMAGE ID\n"
     "1         x\n"),
    # header functions keep the titles; .Label "a.b.c" titles the column "c"
    ('table {{upper .Image}}\t{{json .Names}}\t{{.Label "com.example.team"}}', PS_ROWS, PS_HEADERS,
     "IMAGE            NAMES                     team\n"
     "NGINX            \"web\"                     blue\n"
     "BUSYBOX:LATEST   \"a_long_container_name\"   \n"),
    # docker's ps reference: `table {{.ID}}\t{{(.Label "com.docker.swarm.node")}}`
    ('table {{.ID}}\\t{{(.Label "com.example.team")}}', PS_ROWS, PS_HEADERS,
     "CONTAINER ID   team\n"
     "3b1f2c9e8d7a   blue\n"
     "0a1b2c3d4e5f   \n"),
    ("table {{.ID}}", [], PS_HEADERS, "CONTAINER ID\n"),
    ("table {{.ID}}\t{{.Nope}}", [], PS_HEADERS, "CONTAINER ID   <no value>\n"),
    ("{{.ID}}: {{.Names}}", PS_ROWS, PS_HEADERS, "3b1f2c9e8d7a: web\n0a1b2c3d4e5f: a_long_container_name\n"),
    ("  {{.Names}}  ", PS_ROWS, PS_HEADERS, "web\na_long_container_name\n"),
    ("{{.Names}}\\n", PS_ROWS[:1], PS_HEADERS, "web\n\n"),
    ("json", [{"Name": "v<1>", "Driver": "local"}], {}, '{"Driver":"local","Name":"v<1>"}\n'),
]


@pytest.mark.parametrize(("fmt", "rows", "headers", "expected"), CASES)
def test_render_rows(fmt: str, rows: list, headers: dict, expected: str) -> None:
    assert table.render_rows(fmt, rows, headers, type_name="*formatter.ContainerContext") == expected


def test_row_error_is_dockers() -> None:
    with pytest.raises(g.TemplateExecError) as info:
        table.render_rows("table {{.ID}}\t{{.Foo}}", PS_ROWS, PS_HEADERS, type_name="*formatter.ContainerContext")
    assert info.value.message == ('template parsing error: template: :1:10: executing "" at <.Foo>: '
                                  "can't evaluate field Foo in type *formatter.ContainerContext")


def test_parse_error() -> None:
    with pytest.raises(g.TemplateSyntaxError) as info:
        table.render_rows("{{.Name}", [], {})
    assert info.value.message == 'template parsing error: template: :1: unexpected "}" in operand'
    assert info.value.exit_code == 1  # docker ps/images/... exit 1; inspect exits 64


def test_header_error_is_ignored_like_docker() -> None:
    # HeaderFunctions' json wants a string: docker ignores the header's failure and keeps what was written
    assert table.render_rows("table {{.ID}}\t{{json .Nope}}", [], PS_HEADERS) == "CONTAINER ID   \n"


TABWRITER = [
    # Go's text/tabwriter documentation example: b and c are distinct columns
    ("aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n", 0, 1, "aaaa bbb d\naa   b   dd\na    \naa   cccc eee\n"),
    ("a\tb\nccc\td\n", 10, 3, "a         b\nccc       d\n"),
    ("no tabs\n", 10, 3, "no tabs\n"),
    ("日本\tx\nab\ty\n", 0, 1, "日本 x\nab   y\n"),
    ("x\t\ty\n", 2, 1, "x   y\n"),
    ("", 10, 3, ""),
]


@pytest.mark.parametrize(("text", "minwidth", "padding", "expected"), TABWRITER)
def test_tabwrite(text: str, minwidth: int, padding: int, expected: str) -> None:
    assert table.tabwrite(text, minwidth, padding) == expected


@settings(database=None, derandomize=True, max_examples=500, deadline=None)
@given(st.integers(1, 4).flatmap(lambda n: st.lists(
    st.lists(st.text(alphabet="ab é\u65e5", max_size=6), min_size=n, max_size=n), min_size=1, max_size=6)))
def test_property_same_cells_align(rows: list[list[str]]) -> None:
    """Lines with the same number of cells form one block: every cell but the last is padded to
    its column's widest cell + 3, at least 10 wide."""
    widths = [max(10, max(table._width(r[j]) for r in rows) + 3) for j in range(len(rows[0]) - 1)]
    expected = "".join("".join(c + " " * (widths[j] - table._width(c)) for j, c in enumerate(r[:-1])) + r[-1] + "\n"
                       for r in rows)
    assert table.tabwrite("".join("\t".join(r) + "\n" for r in rows)) == expected
