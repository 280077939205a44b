"""gotemplate: Go's text/template as docker uses it, checked against docker's documented examples
(docs "Format command and log output", `docker inspect` reference) and Go's own semantics, with
Go's error texts; plus a hypothesis property: any text either renders or raises TemplateError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from rootless.cli.format import gotemplate as g

CONTAINER = {
    "Id": "3b1f2c9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c",
    "Name": "/web",
    "Path": "nginx",
    "Args": ["-g", "daemon off;"],
    "Image": "sha256:a8758716bb6aa4d90071160d27028fe4eaee7ce8166221a97d30440c8eac2be6",
    "State": {"Status": "running", "Running": True, "Paused": False, "Pid": 4242, "ExitCode": 0,
              "StartedAt": "2026-11-27T19:00:00.123456789Z"},
    "Config": {"Env": ["PATH=/usr/bin", "NGINX_VERSION=1.25"], "Cmd": ["nginx", "-g", "daemon off;"],
               "Labels": {"com.example": "vendor", "version": "1.0"}, "WorkingDir": "",
               "ExposedPorts": {"80/tcp": {}}},
    "HostConfig": {"NetworkMode": "bridge", "Binds": None},
    "Mounts": [{"Type": "volume", "Name": "data", "Destination": "/data"},
               {"Type": "bind", "Source": "/srv", "Destination": "/srv"}],
    "NetworkSettings": {
        "Networks": {"bridge": {"IPAddress": "10.88.0.2", "MacAddress": "02:42:0a:58:00:02"},
                     "backend": {"IPAddress": "10.89.0.5", "MacAddress": "02:42:0a:59:00:05"}},
        "Ports": {"443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8443"}],
                  "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
    },
}

# (template, expected) on CONTAINER: docker's documented inspect/format examples
DOCKER_DOCS = [
    ("{{.State.Pid}}", "4242"),
    ("{{ .State.Pid }}", "4242"),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "10.89.0.510.88.0.2"),
    ("{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}", "10.89.0.5\n10.88.0.2\n"),
    ("{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}",
     " 443/tcp -> 8443  80/tcp -> 8080 "),
    ("{{json .Config.Labels}}", '{"com.example":"vendor","version":"1.0"}'),
    ("{{json .Mounts}}", '[{"Destination":"/data","Name":"data","Type":"volume"},'
                         '{"Destination":"/srv","Source":"/srv","Type":"bind"}]'),
    ('{{index .Config.Labels "com.example"}}', "vendor"),
    ("{{.Name}} {{if .State.Running}}up{{else}}down{{end}}", "/web up"),
    ("{{len .Mounts}}", "2"),
    ('{{printf "%-20s" .Name}}|', "/web                |"),
    ('{{join .Args " , "}}', "-g , daemon off;"),
    ('{{split .Image ":"}}', "[sha256 a8758716bb6aa4d90071160d27028fe4eaee7ce8166221a97d30440c8eac2be6]"),
    ("{{lower .State.Status}} {{upper .Name}} {{title .Name}}", "running /WEB /Web"),
    ("{{pad .Path 5 10}}|", "     nginx          |"),
    ("{{truncate .Id 12}}", "3b1f2c9e8d7a"),
    ("{{.Config.Env}}", "[PATH=/usr/bin NGINX_VERSION=1.25]"),
    ("{{range $i, $m := .Mounts}}{{$i}}:{{$m.Destination}} {{end}}", "0:/data 1:/srv "),
    ('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', "com.example=vendor;version=1.0;"),
    ('{{ if eq 0 .State.ExitCode }}{{.Name}} exited {{.State.ExitCode}}{{end}}', "/web exited 0"),
    ("{{.HostConfig.NetworkMode}}", "bridge"),
    ("{{.NetworkSettings.Networks.backend.IPAddress}}", "10.89.0.5"),
    ("{{.Config.WorkingDir}}|{{.HostConfig.Binds}}|{{.Nope}}", "|<no value>|<no value>"),
    ('{{index .Config.Labels "missing"}}|', "|"),
    ("{{json .State.Running}} {{json .Name}} {{json .HostConfig.Binds}}", 'true "/web" null'),
    ("{{with .Config}}{{.Cmd}}{{end}}", "[nginx -g daemon off;]"),
]


@pytest.mark.parametrize(("text", "expected"), DOCKER_DOCS)
def test_docker_documented(text: str, expected: str) -> None:
    assert g.render(text, CONTAINER) == expected


def test_compile_once_execute_many() -> None:
    tmpl = g.compile("{{.ID}}:{{.Names}}")
    rows = [{"ID": "a", "Names": "x"}, {"ID": "b", "Names": "y"}]
    assert [tmpl.execute(r) for r in rows] == ["a:x", "b:y"]


# (template, data, expected): Go's text/template semantics
D = {"s": "str", "e": "", "z": 0, "i": 7, "f": 1.5, "t": True, "n": None, "l": [1, "a", None], "m": {"b": 2, "a": 1},
     "em": {}, "el": [], "big": 1000000.0, "neg": -2.5, "tiny": 0.00001, "html": "<a href='x'>&</a>", "u": "héllo"}
SEMANTICS = [
    # text, trims, comments
    ("plain text", D, "plain text"),
    ("a  {{- .s -}}  b", D, "astrb"),
    ("a {{- .s}} b", D, "astr b"),
    ("a\n\t{{- /* comment */ -}}\n b", D, "ab"),
    ("x{{/* c */}}y", D, "xy"),
    ("{{-3}}", D, "-3"),
    # printing values like fmt's %v
    ("{{.s}} {{.i}} {{.f}} {{.t}} {{.l}} {{.m}} {{.n}} {{.big}} {{.neg}} {{.tiny}}", D,
     "str 7 1.5 true [1 a <nil>] map[a:1 b:2] <no value> 1e+06 -2.5 1e-05"),
    ("{{.}}", [1, [2, 3]], "[1 [2 3]]"),
    ("{{.}}", None, "<no value>"),
    ("{{.x}}", None, "<no value>"),
    ('{{"quoted\\tstring"}} {{`raw\\t`}} {{1.0}} {{0x1F}} {{1e3}} {{\'a\'}} {{true}}', D,
     "quoted\tstring raw\\t 1 31 1000 97 true"),
    ("{{print 1 2 \"a\" \"b\" 3}}", D, "1 2ab3"),
    ("{{println .s .i}}", D, "str 7\n"),
    ("{{print nil}}", D, "<nil>"),
    # truthiness
    ("{{if .e}}T{{else}}F{{end}}{{if .z}}T{{else}}F{{end}}{{if .el}}T{{else}}F{{end}}"
     "{{if .em}}T{{else}}F{{end}}{{if .n}}T{{else}}F{{end}}{{if .x}}T{{else}}F{{end}}", D, "FFFFFF"),
    ("{{if .s}}T{{end}}{{if .i}}T{{end}}{{if .f}}T{{end}}{{if .l}}T{{end}}{{if .m}}T{{end}}{{if .t}}T{{end}}", D, "TTTTTT"),
    ("{{if .e}}1{{else if .z}}2{{else if .s}}3{{else}}4{{end}}", D, "3"),
    ("{{with .e}}x{{else}}empty{{end}} {{with .s}}{{.}}{{end}}", D, "empty str"),
    ("{{with $x := .m}}{{$x.a}}{{end}}", D, "1"),
    # and/or return an operand; not; comparisons
    ('{{and 1 "" 3}}|{{and 1 2}}|{{or 0 "" "x"}}|{{or 0 ""}}|{{not .e}}|{{not 1}}', D, "|2|x||true|false"),
    ("{{and .n .undefined.deeper}}", D, "<no value>"),
    ("{{eq 1 2 3 1}} {{eq .s \"str\"}} {{ne .i 7}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}", D,
     "true true false true true true false"),
    ("{{eq .x \"a\"}}", D, "false"),
    # len, index, slice
    ("{{len .s}} {{len .u}} {{len .l}} {{len .m}} {{len .el}}", D, "3 6 3 2 0"),
    ("{{index .l 1}} {{index .m \"b\"}} {{index . \"m\" \"a\"}} {{index .s 0}}", D, "a 2 1 115"),
    ("{{slice .l 1}} {{slice .l 0 1}} {{slice .s 1 2}} {{slice .s}}", D, "[a <nil>] [1] t str"),
    # variables and scope
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", D, "2"),
    ("{{$x := .s}}{{range .l}}{{$x}}{{end}}", D, "strstrstr"),
    ("{{range .l}}{{$.s}}{{end}}", D, "strstrstr"),
    ("{{$m := .m}}{{$m.b}}", D, "2"),
    # range: lists, maps in key order, else, break, continue, ints
    ("{{range .l}}[{{.}}]{{end}}", D, "[1][a][<no value>]"),
    ("{{range $k, $v := .m}}{{$k}}{{$v}}{{end}}", D, "a1b2"),
    ("{{range $v := .m}}{{$v}}{{end}}", D, "12"),
    ("{{range .el}}x{{else}}none{{end}} {{range .n}}x{{else}}nil{{end}}", D, "none nil"),
    ('{{range split "x,a,y" ","}}{{if eq . "a"}}{{break}}{{end}}{{.}}{{end}}', D, "x"),
    ("{{range $i, $e := .l}}{{if eq $i 1}}{{continue}}{{end}}{{$i}}{{end}}", D, "02"),
    ("{{range 3}}{{.}}{{end}}", D, "012"),
    # pipelines and parentheses
    ('{{.s | printf "%s!"}}', D, "str!"),
    ('{{.s | upper | printf "%q"}}', D, '"STR"'),
    ('{{printf "%d-%s" (len .l) (index .l 1)}}', D, "3-a"),
    ("{{(index .m \"a\")}}", D, "1"),
    # define / template / block
    ('{{define "T"}}<{{.}}>{{end}}{{template "T" .s}}{{template "T" .i}}', D, "<str><7>"),
    ('{{block "B" .s}}[{{.}}]{{end}}', D, "[str]"),
    ('{{define "E"}}e{{end}}{{template "E"}}', D, "e"),
    # functions
    ("{{html .html}}", D, "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"),
    ("{{js .html}}", D, "\\u003Ca href\\u003D\\'x\\'\\u003E\\u0026\\u003C/a\\u003E"),
    ('{{urlquery "a b&c/d"}}', D, "a+b%26c%2Fd"),
    ("{{json .}}", {"a": "<b>&", "n": [1.5, 1e21, 0.0000001, 100, None], "u": "é\u2028"},
     '{"a":"<b>&","n":[1.5,1e+21,1e-7,100,null],"u":"é\\u2028"}'),
    ("{{json .x}}", D, "null"),
    ('{{split "a,b,,c" ","}} {{len (split "" ",")}}', D, "[a b  c] 1"),
    ('{{join (split "text:with:colon" ":") "/"}}', D, "text/with/colon"),
    ('{{title "hello wide-world_x"}}', D, "Hello Wide-World_x"),
    ("{{truncate .s 2}} {{truncate .s 30}} {{pad .e 3 3}}|", D, "st str |"),
]


@pytest.mark.parametrize(("text", "data", "expected"), SEMANTICS)
def test_go_semantics(text: str, data: object, expected: str) -> None:
    assert g.render(text, data) == expected


# Cases from Go's text/template exec_test.go whose data carry over to JSON-like values (None = an error)
GO_T = {"I": 17, "U": {"V": "v"}, "SI": [3, 4, 5], "SIEmpty": [], "MSI": {"one": 1, "two": 2, "three": 3}, "MSIone": {"one": 1},
        "MSIEmpty": {}, "SB": [True, False], "PSI": [21, 22, 23], "X": "x", "FloatZero": 0.0, "U16": 16,
        "Method0": lambda: "M0", "Method1": lambda a: a, "Method2": lambda a, b: f"Method2: {a} {b}",
        "Method3": lambda v: "Method3: " + ("<nil>" if v is None else str(v))}
GO_EXEC_TESTS = [
    ("-{{.Method0 | .Method2 .U16}}-", "-Method2: 16 M0-"),
    ("-{{.Method3 nil}}-", "-Method3: <nil>-"),
    ("{{($).X}}", "x"), ("{{if true}}TRUE{{end}}", "TRUE"), ("{{if false}}TRUE{{else}}FALSE{{end}}", "FALSE"),
    ("{{if nil}}TRUE{{end}}", None), ("{{if 1}}NON-ZERO{{else}}ZERO{{end}}", "NON-ZERO"),
    ("{{if 0}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"), ("{{if 1.5}}NON-ZERO{{else}}ZERO{{end}}", "NON-ZERO"),
    ("{{if .FloatZero}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"), ("{{if ``}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
    ("{{if .SIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"), ("{{if .MSI}}NON-EMPTY{{else}}EMPTY{{end}}", "NON-EMPTY"),
    ("{{if .MXI.none}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"),
    ("{{if $x := true}}{{with $y := .I}}{{$x}},{{$y}}{{end}}{{end}}", "true,17"),
    ("{{if $x := true}}{{with $x := .I}}{{$x}},{{end}}{{$x}}{{end}}", "17,true"),
    ("{{if eq 1 3}}1{{else if eq 2 3}}2{{else if eq 3 3}}3{{end}}", "3"),
    ('{{print "hello, print"}}', "hello, print"), ("{{print 1 2 3}}", "1 2 3"), ("{{print nil}}", "<nil>"),
    ("{{println 1 2 3}}", "1 2 3\n"), ('{{printf "%04x" 127}}', "007f"), ('{{printf "%g" 3.5}}', "3.5"),
    ('{{printf "%s" .U.V}}', "v"), ('{{with .I}}{{printf "%d" .}}{{end}}', "17"),
    ('{{html "<script>alert(\\"XSS\\");</script>"}}', "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;"),
    ('{{printf "<script>alert(\\"XSS\\");</script>" | html}}', "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;"),
    ('{{js "It\'d be nice."}}', "It\\'d be nice."),
    ('{{"http://www.example.org/"|urlquery}}', "http%3A%2F%2Fwww.example.org%2F"),
    ("{{not true}} {{not false}}", "false true"), ("{{and false 0}} {{and 1 0}} {{and 0 true}} {{and 1 1}}", "false 0 0 1"),
    ("{{or 0 0}} {{or 1 0}} {{or 0 true}} {{or 1 1}}", "0 1 true 1"),
    ("{{if and true 1 `hi`}}TRUE{{else}}FALSE{{end}}", "TRUE"), ("{{if and true 1 `hi` | not}}TRUE{{else}}FALSE{{end}}", "FALSE"),
    ("{{index .SI 0}}", "3"), ("{{index .SI 10}}", None), ("{{index .SI `hello`}}", None), ("{{index .SI nil}}", None),
    ("{{index .MSI `two`}}", "2"), ("{{index .MSI nil}}", None), ("{{index .MSI 10}}", None), ("{{index nil 1}}", None),
    ("{{len .SI}}", "3"), ("{{len .MSI }}", "3"), ("{{len 3}}", None),
    ("{{with true}}{{.}}{{end}}", "true"), ("{{with 0}}{{.}}{{else}}ZERO{{end}}", "ZERO"), ("{{with 1.5}}{{.}}{{end}}", "1.5"),
    ("{{with .SI}}{{.}}{{else}}EMPTY{{end}}", "[3 4 5]"), ("{{with .MSIone}}{{.}}{{else}}EMPTY{{end}}", "map[one:1]"),
    ("{{with $x := .I}}{{$x}}{{end}}", "17"), ("{{with $x := $}}{{$x.U.V}}{{end}}", "v"),
    ("{{with $x := $}}{{$y := $.U.V}}{{$y}}{{end}}", "v"),
    ("{{range .SI}}-{{.}}-{{end}}", "-3--4--5-"), ("{{range .SIEmpty}}-{{.}}-{{else}}EMPTY{{end}}", "EMPTY"),
    ("{{range .SB}}-{{.}}-{{end}}", "-true--false-"), ("{{range .MSI}}-{{.}}-{{end}}", "-1--3--2-"),
    ("{{range $x, $y := .SI}}<{{$x}}={{$y}}>{{end}}", "<0=3><1=4><2=5>"),
    ("{{range $x, $y := .MSIone}}<{{$x}}={{$y}}>{{end}}", "<one=1>"),
    ("{{range $x := .PSI}}<{{$foo:=$x}}{{$x}}>{{end}}", "<21><22><23>"),
    ('{{or .SI "slice is empty"}}', "[3 4 5]"), ('{{or .SIEmpty "slice is empty"}}', "slice is empty"),
    ("{{range .MSIone}}{{if $.Method1 .}}X{{end}}{{end}}", "X"),
    ("{{3 2}}", None), ("{{$x := 1}}{{$x 2}}", None), ("{{$x := 1}}{{3 | $x}}", None),
    ("{{printf `%T` 0xef}}", "int"), ("{{print (.U).V}}", "v"), ("{{(nil).True}}", None), ("{{$x := nil}}{{$x.anything}}", None),
    ('{{$x := (1.0)}}{{$y := ("hello")}}{{$x.anything}}{{$y.true}}', None),
    ("{{true|printf}}", None), ("{{1|printf}}", None), ("{{'x'|printf}}", None), ('{{"aaa"|printf }}', "aaa"),
]


@pytest.mark.parametrize(("text", "expected"), GO_EXEC_TESTS)
def test_go_exec_table(text: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(g.TemplateError):
            g.render(text, GO_T)
    else:
        assert g.render(text, GO_T) == expected


PRINTF = [
    ("%s", ["x"], "x"), ("%5s|", ["ab"], "   ab|"), ("%-10s|", ["ab"], "ab        |"), ("%.2s", ["abc"], "ab"),
    ("%d", [42], "42"), ("%5d|", [42], "   42|"), ("%-5d|", [42], "42   |"), ("%05d", [-42], "-0042"),
    ("%+d", [5], "+5"), ("%x %X %#x %o %b", [255, 255, 255, 8, 5], "ff FF 0xff 10 101"),
    ("%v", [1.5], "1.5"), ("%v", [1e6], "1e+06"), ("%v", [123456.0], "123456"), ("%.2f", [3.14159], "3.14"),
    ("%8.3f|", [3.14159], "   3.142|"), ("%e", [1234.5678], "1.234568e+03"), ("%g", [0.0001], "0.0001"),
    ("%q", ['a"b\n'], '"a\\"b\\n"'), ("%q", [65], "'A'"), ("%t", [True], "true"), ("%v", [None], "<nil>"),
    ("%v %v", [[1, "a"], {"k": "v"}], "[1 a] map[k:v]"), ("%d", [[1, 2]], "[1 2]"), ("%T", ["x"], "string"),
    ("%x", ["hi"], "6869"), ("%c", [0x263A], "☺"), ("%U", [0x263A], "U+263A"), ("%%", [], "%"),
    ("%d", ["x"], "%!d(string=x)"), ("%s", [1], "%!s(int=1)"), ("%d %d", [1], "1 %!d(MISSING)"),
    ("%d", [1, 2], "1%!(EXTRA int=2)"), ("%[2]d %[1]d", [1, 2], "2 1"), ("%*d|", [4, 7], "   7|"), ("%", [], "%!(NOVERB)"),
]


@pytest.mark.parametrize(("fmt", "args", "expected"), PRINTF)
def test_printf(fmt: str, args: list, expected: str) -> None:
    from rootless.cli.format.gotemplate.printf import sprintf

    assert sprintf(fmt, args) == expected
    if all(isinstance(a, (str, int)) and not isinstance(a, bool) for a in args):
        call = "{{printf " + g.gofmt.go_quote(fmt) + "".join(f" (index .a {i})" for i in range(len(args))) + "}}"
        assert g.render(call, {"a": args}) == expected


# (template, Go's error text after "template parsing error: ")
PARSE_ERRORS = [
    ("{{.Name", "template: :1: unclosed action"),
    ("{{.Name}", 'template: :1: unexpected "}" in operand'),
    ("{{ . }", 'template: :1: unexpected "}" in operand'),
    ("{{foo .Name}}", 'template: :1: function "foo" not defined'),
    ("{{if .A}}x", "template: :1: unexpected EOF"),
    ("{{range .A}}", "template: :1: unexpected EOF"),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{else}}", "template: :1: unexpected {{else}}"),
    ("{{if .A}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}"),
    ("{{}}", "template: :1: missing value for command"),
    ("{{if}}{{end}}", "template: :1: missing value for if"),
    ("{{.A | 3}}", "template: :1: non executable command in pipeline stage 2"),
    ('{{"abc}}', "template: :1: unterminated quoted string"),
    ("{{`abc}}", "template: :1: unterminated raw quoted string"),
    ('{{"\\q"}}', "template: :1: invalid syntax"),
    ("{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{range $i, $e, $f := .}}{{end}}", "template: :1: too many declarations in range"),
    ("{{break}}", "template: :1: {{break}} outside {{range}}"),
    ("{{(.A}}", "template: :1: unclosed left paren"),
    ("{{.A)}}", "template: :1: unexpected right paren"),
    ("{{/* x }}", "template: :1: unclosed comment"),
    ("{{/* x */ }}", "template: :1: comment ends before closing delimiter"),
    ("{{3x}}", 'template: :1: bad number syntax: "3x"'),
    ("{{.A#}}", "template: :1: bad character U+0023 '#'"),
    ('{{"a".B}}', 'template: :1: unexpected . after term "\\"a\\""'),
    ("a\nb\n{{.A", "template: :3: unclosed action"),
    ("{{.", 'template: :1: illegal number syntax: "."'),
    ("{{- -}}", 'template: :1: illegal number syntax: "-"'),
    ("{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}", 'template: :1: template: multiple definition of template "a"'),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(g.TemplateSyntaxError) as info:
        g.compile(text)
    assert info.value.go_error == message
    assert info.value.message == "template parsing error: " + message
    assert info.value.exit_code == 64


# Go's own parse error table (text/template/parse/parse_test.go errorTests): the error contains the text
GO_ERROR_TESTS = [
    ("line1\n{{", ":2: unclosed action"),
    ("line1\n{{define `x`}}line2\n{{", ":3: unclosed action"),
    ('line1\n{{"x"\n"y"\n', ":4: unclosed action started at :2"),
    ("{{\n\n\n\n\n", ":6: unclosed action started at :1"),
    ("line1\n{{\nx\n}}", ':3: function "x" not defined'),
    ("{{/*}}", ":1: unclosed comment"),
    ("{{/*\nhello\n}}", ":1: unclosed comment"),
    ("{{.X (1 2 3}}", "unclosed left paren"),
    ("{{.X 1 2 3 ) }}", "unexpected right paren"),
    ("{{(.X 1 2 3", "unclosed action"),
    ("{{`x`3}}", "in operand"),
    ("{{a#}}", "'#'"),
    ("{{'a}}", "unterminated character constant"),
    ("{{0xi}}", "number syntax"),
    ("{{define `a`}}a{{end}}{{define `a`}}b{{end}}", "multiple definition of template"),
    ("{{range .X}}", "unexpected EOF"),
    ("{{$x := 23}}{{with $x.y := 3}}{{$x 23}}{{end}}", 'unexpected ":="'),
    ("{{$a,$b,$c := 23}}", "too many declarations"),
    ("{{true.any}}", "unexpected . after term"),
    ("{{12|false}}", "non executable command in pipeline"),
    ("{{ ( ) }}", "missing value for parenthesized pipeline"),
    ("{{ $v := `\n` }} {{", ":2: unclosed action"),
    ("{{range $k}}{{end}}", "undefined variable"),
    ("{{range $k,}}{{end}}", "missing value for range"),
    ("{{range $k, $v := }}{{end}}", "missing value for range"),
    ("{{range $k, .}}{{end}}", "range can only initialize variables"),
    ("{{range $k, 123 := .}}{{end}}", "range can only initialize variables"),
]


@pytest.mark.parametrize(("text", "fragment"), GO_ERROR_TESTS)
def test_go_parse_error_table(text: str, fragment: str) -> None:
    with pytest.raises(g.TemplateSyntaxError) as info:
        g.compile(text)
    assert fragment in info.value.go_error


# (template, data, options, Go's error text)
EXEC_ERRORS = [
    ("{{.Foo}}", {}, {"type_name": "*types.ContainerJSON"},
     'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *types.ContainerJSON'),
    ("{{.Foo}}", {}, {"missingkey": "error"}, 'template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"'),
    ("x {{.State.Nope}}", CONTAINER, {"missingkey": "error"},
     'template: :1:10: executing "" at <.State.Nope>: map has no entry for key "Nope"'),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", {}, {"missingkey": "error"},
     'template: :1:24: executing "" at <.NetworkSettings.Net...>: map has no entry for key "NetworkSettings"'),
    ("{{.Name.Foo}}", CONTAINER, {}, 'template: :1:7: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type interface {}'),
    ("{{.Foo}}", "text", {}, 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type string'),
    ("{{with .Name}}{{.Foo}}{{end}}", CONTAINER, {},
     'template: :1:16: executing "" at <.Foo>: can\'t evaluate field Foo in type string'),
    ("{{range .Args}}{{.Foo}}{{end}}", CONTAINER, {},
     'template: :1:17: executing "" at <.Foo>: can\'t evaluate field Foo in type interface {}'),
    ("{{$x := .Path}}{{$x.Foo}}", CONTAINER, {},
     'template: :1:19: executing "" at <$x.Foo>: can\'t evaluate field Foo in type string'),
    ("{{.HostConfig.Binds.X}}", CONTAINER, {},
     'template: :1:13: executing "" at <.HostConfig.Binds.X>: nil pointer evaluating interface {}.X'),
    ("{{join .Name \",\"}}", CONTAINER, {},
     'template: :1:7: executing "" at <.Name>: wrong type for value; expected []string; got string'),
    ("{{upper 1}}", {}, {}, 'template: :1:8: executing "" at <1>: expected string; found 1'),
    ("{{truncate .Name 1.5}}", CONTAINER, {}, 'template: :1:17: executing "" at <1.5>: expected integer; found 1.5'),
    ("{{len 3}}", {}, {}, 'template: :1:2: executing "" at <len 3>: error calling len: len of type int'),
    ("{{index .Mounts 5}}", CONTAINER, {}, 'template: :1:2: executing "" at <index .Mounts 5>: error calling index: index out of range: 5'),
    ("{{eq .State.ExitCode 0.0}}", CONTAINER, {},
     'template: :1:2: executing "" at <eq .State.ExitCode 0...>: error calling eq: incompatible types for comparison'),
    ("{{lt .Mounts 1}}", CONTAINER, {}, 'template: :1:2: executing "" at <lt .Mounts 1>: error calling lt: invalid type for comparison'),
    ("{{upper}}", {}, {}, 'template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 0'),
    ("{{nil}}", {}, {}, 'template: :1:2: executing "" at <nil>: nil is not a command'),
    ("{{.Name 1}}", CONTAINER, {}, 'template: :1:2: executing "" at <.Name>: Name is not a method but has arguments'),
    ("{{range .Name}}{{end}}", CONTAINER, {}, 'template: :1:8: executing "" at <.Name>: range can\'t iterate over /web'),
    ('{{template "nope"}}', {}, {}, 'template: :1:11: executing "" at <{{template "nope"}}>: template "nope" not defined'),
    ('{{define "T"}}{{.X.Y}}{{end}}{{template "T" 1}}', {}, {},
     'template: :1:18: executing "T" at <.X.Y>: can\'t evaluate field X in type int'),
    ('{{define "R"}}{{template "R" .}}{{end}}{{template "R" .}}', {}, {},
     'template: :1:25: executing "R" at <{{template "R" .}}>: exceeded maximum template depth (100)'),
    ("{{call .Name}}", CONTAINER, {}, 'template: :1:2: executing "" at <call .Name>: error calling call: non-function .Name of type string'),
    ("{{call .F}}", {"F": g.Func(lambda: 1 / 0)}, {}, 'template: :1:2: executing "" at <call .F>: error calling call: division by zero'),
    ("{{.F}}", {"F": g.Func(len)}, {}, 'template: :1:2: executing "" at <{{.F}}>: can\'t print {{.F}} of type func()'),
    ("{{pad .Name -1 0}}", CONTAINER, {}, 'template: :1:2: executing "" at <pad .Name -1 0>: error calling pad: strings: negative Repeat count'),
]


@pytest.mark.parametrize(("text", "data", "options", "message"), EXEC_ERRORS)
def test_exec_errors(text: str, data: object, options: dict, message: str) -> None:
    tmpl = g.compile(text, **options)
    with pytest.raises(g.TemplateExecError) as info:
        tmpl.execute(data)
    assert info.value.go_error == message
    assert info.value.exit_code == 1


def test_methods_and_funcs() -> None:
    row = {"Names": "web", "Label": lambda name: {"com.example": "v"}.get(name, "")}
    assert g.render('{{.Names}} {{.Label "com.example"}}|{{.Label "x"}}|', row) == "web v||"
    assert g.render("{{call .Add 1 2}}", {"Add": g.Func(lambda a, b: a + b)}) == "3"
    assert g.render("{{json .}}", row) == '{"Names":"web"}'  # methods are not data


def test_errors_are_rl_errors() -> None:
    from rootless.errors import RlError

    assert issubclass(g.TemplateError, RlError)
    assert issubclass(g.TemplateSyntaxError, g.TemplateError) and issubclass(g.TemplateExecError, g.TemplateError)


# --- properties ------------------------------------------------------------------------------
SAMPLE = {"Name": "/web", "State": {"Pid": 12, "Running": True}, "L": [1, "a", None, 2.5], "M": {"b": 1, "a": {"x": "y"}},
          "N": None, "F": 1.5, "E": "", "Meth": lambda *a: len(a), "Fn": g.Func(lambda *a: a)}
PIECES = st.sampled_from([
    "{{", "}}", "{{- ", " -}}", "{{/*", "*/}}", " ", "|", '"', "'", "`", "(", ")", ".", "$", "$x", ":=", "=", ",", "\\",
    ".Name", ".State.Pid", ".L", ".M", ".M.a.x", ".N", ".N.X", ".F", ".E", ".Meth", ".Fn", ".Nope", "range", "if",
    "else", "end", "with", "define", "template", "block", "break", "continue", "len", "index", "printf", "json",
    "eq", "lt", "and", "or", "not", "slice", "call", "print", "println", "html", "js", "urlquery", "split", "join",
    "title", "upper", "pad", "truncate", "0", "1", "-1", "1.5", "0x1F", "1e3", "'a'", '"%d"', '"%s %v %x %q"', "nil",
    "true", "\n", "é", "\t", "%", "x"])
CMD = st.one_of(PIECES, st.tuples(PIECES, PIECES, PIECES).map(" ".join))
TEMPLATES = st.one_of(
    st.text(),
    st.lists(PIECES, max_size=30).map("".join),
    st.lists(st.one_of(CMD.map(lambda c: "{{" + c + "}}"), st.text(max_size=3),
                       st.tuples(st.sampled_from(["if", "with", "range", "range $i, $e :="]), CMD)
                       .map(lambda t: "{{" + t[0] + " " + t[1] + "}}{{.}}{{end}}")), max_size=6).map("".join),
)


@settings(database=None, derandomize=True, max_examples=2000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(TEMPLATES)
def test_property_only_template_errors(text: str) -> None:
    for options in ({}, {"missingkey": "error"}, {"type_name": "*formatter.ContainerContext"}):
        try:
            out = g.compile(text, **options).execute(SAMPLE)
        except g.TemplateError as e:
            assert e.message.startswith("template parsing error: template: ")
        else:
            assert isinstance(out, str)


@settings(database=None, derandomize=True, max_examples=1000, deadline=None)
@given(st.text().filter(lambda s: "{{" not in s))
def test_property_plain_text_unchanged(text: str) -> None:
    assert g.render(text, SAMPLE) == text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["A", "B", "Name", "x", ""]), inner, max_size=4),
    max_leaves=12)
ON_ANY_DATA = [
    "{{.}}", "{{json .}}", "{{.A}}{{.A.B}}{{.Name.x}}", "{{range .}}{{.}}{{end}}", "{{range $k, $v := .A}}{{$k}}{{$v}}{{end}}",
    "{{len .}}", "{{index . 0}}", '{{index . "A"}}', "{{slice . 1}}", '{{printf "%d %s %v %x %q %5.2f %t" . .A . . . . .}}',
    "{{eq . .A}}", "{{lt . 1}}", "{{and . .A}}{{or .A .}}{{not .}}", '{{join . ","}}', '{{split . ","}}', "{{upper .Name}}",
    "{{with .A}}{{.B}}{{else}}none{{end}}", "{{if .}}{{html .}}{{js .}}{{urlquery .}}{{end}}", "{{call .A}}", "{{print . nil .A}}",
]


@settings(database=None, derandomize=True, max_examples=200, deadline=None)
@given(JSON)
def test_property_any_data(data: object) -> None:
    for text in ON_ANY_DATA:
        try:
            assert isinstance(g.render(text, data), str)
        except g.TemplateError:
            pass
