"""The functions a docker template can call: Go's builtins (text/template/funcs.go) and docker's
own (docker/cli templates/templates.go: json split join title lower upper pad truncate), plus the
header variants docker's `table` uses so column titles stay intact.

Each entry is `(function, params, variadic)`; a parameter kind is one of
  "v" any value, even a missing one (Go's reflect.Value)   "a" any value (interface {})
  "s" string   "i" int   "S" []string
A function fails by raising `ExecFailure` with Go's error text.
"""

from __future__ import annotations

from rootless.cli.format.gotemplate.errors import ExecFailure
from rootless.cli.format.gotemplate.gofmt import MISSING, Unsupported, go_json, go_type, sprint, sprint_value, sprintln

GO_KIND = {"v": "reflect.Value", "a": "interface {}", "s": "string", "i": "int", "S": "[]string"}


def is_true(v: object) -> tuple[bool, bool]:
    """Go's isTrue: (truth, ok); empty strings, lists and maps, zero and nil are false."""
    if v is None or v is MISSING:
        return False, True
    if isinstance(v, (bool, int, float)):
        return v != 0, True
    if isinstance(v, (str, list, tuple, dict)):
        return len(v) > 0, True
    return True, True


def _kind(v: object) -> str:
    if v is None or v is MISSING:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def eq(a: object, *others: object) -> bool:
    if not others:
        raise ExecFailure("missing argument for comparison")
    k1 = _kind(a)
    for b in others:
        k2 = _kind(b)
        if k1 != k2:
            if k1 != "invalid" and k2 != "invalid":
                raise ExecFailure("incompatible types for comparison")
            continue
        if k1 == "other":
            raise ExecFailure(f"non-comparable type {sprint_value(b)}: {go_type(b)}")
        if k1 == "invalid" or a == b:
            return True
    return False


def ne(a: object, b: object) -> bool:
    return not eq(a, b)


def lt(a: object, b: object) -> bool:
    k1, k2 = _kind(a), _kind(b)
    for k in (k1, k2):
        if k in ("invalid", "other"):
            raise ExecFailure("invalid type for comparison")
    if k1 != k2:
        raise ExecFailure("incompatible types for comparison")
    if k1 == "bool":
        raise ExecFailure("invalid type for comparison")
    return a < b  # type: ignore[operator]


def le(a: object, b: object) -> bool:
    return lt(a, b) or eq(a, b)


def gt(a: object, b: object) -> bool:
    return not le(a, b)


def ge(a: object, b: object) -> bool:
    return not lt(a, b)


def not_(v: object) -> bool:
    return not is_true(v)[0]


def length(v: object) -> int:
    if v is None:
        raise ExecFailure("len of nil pointer")
    if v is MISSING:
        raise ExecFailure("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(v, str):
        return len(v.encode("utf-8", "surrogatepass"))
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise ExecFailure(f"len of type {go_type(v)}")


def _index_arg(x: object, cap: int) -> int:
    if x is None or x is MISSING:
        raise ExecFailure("cannot index slice/array with nil")
    if isinstance(x, bool) or not isinstance(x, int):
        raise ExecFailure(f"cannot index slice/array with type {go_type(x)}")
    if x < 0 or x > cap:
        raise ExecFailure(f"index out of range: {x}")
    return x


def index(item: object, *indexes: object) -> object:
    if item is None or item is MISSING:
        raise ExecFailure("index of untyped nil")
    for x in indexes:
        if item is None:
            raise ExecFailure("index of nil pointer")
        if isinstance(item, (list, tuple, str)):
            data = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else item
            i = _index_arg(x, len(data))
            if i == len(data):
                raise ExecFailure(f"reflect: {'string' if isinstance(item, str) else 'slice'} index out of range")
            item = data[i]
        elif isinstance(item, dict):
            if x is None or x is MISSING:
                raise ExecFailure("value is nil; should be of type string")
            if not isinstance(x, str):
                raise ExecFailure(f"value has type {go_type(x)}; should be string")
            # a missing key gives the zero value: "" for a map of strings (docker's labels), else nil
            item = item[x] if x in item else ("" if all(isinstance(v, str) for v in item.values()) else None)
        else:
            raise ExecFailure(f"can't index item of type {go_type(item)}")
    return item


def slice_(item: object, *indexes: object) -> object:
    if item is None or item is MISSING:
        raise ExecFailure("slice of untyped nil")
    if len(indexes) > 3:
        raise ExecFailure(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise ExecFailure("cannot 3-index slice a string")
        data: object = item.encode("utf-8", "surrogatepass")
    elif isinstance(item, (list, tuple)):
        data = list(item)
    else:
        raise ExecFailure(f"can't slice item of type {go_type(item)}")
    idx = [0, len(data), len(data)]  # type: ignore[arg-type]
    for i, x in enumerate(indexes):
        idx[i] = _index_arg(x, len(data))  # type: ignore[arg-type]
    if idx[0] > idx[1]:
        raise ExecFailure(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise ExecFailure(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = data[idx[0]:idx[1]]  # type: ignore[index]
    return out.decode("utf-8", "replace") if isinstance(out, bytes) else out


def _eval_args(args: tuple) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(["<no value>" if a is None else a for a in args])


def html(*args: object) -> str:
    s = _eval_args(args)
    table = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in s)


def js(*args: object) -> str:
    out = []
    for c in _eval_args(args):
        if c in "\\'\"":
            out.append("\\" + c)
        elif c in "<>&=":
            out.append(f"\\u{ord(c):04X}")
        elif ord(c) < 0x20 or not c.isprintable():
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def urlquery(*args: object) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_eval_args(args), safe="-_.~", errors="surrogatepass")


def printf(fmt: str, *args: object) -> str:
    from rootless.cli.format.gotemplate.printf import sprintf

    return sprintf(fmt, list(args))


def json_(v: object) -> str:
    try:
        return go_json(v)
    except Unsupported:
        return ""  # docker ignores the encoder's error: nothing is printed


def split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)


def title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    out, prev_sep = [], True
    for c in s:
        out.append(c.upper() if prev_sep and len(c.upper()) == 1 else c)
        prev_sep = not (c == "_" or c.isalnum()) if c.isascii() else (not c.isalnum() and c.isspace())
    return "".join(out)


def _case(s: str, upper: bool) -> str:
    return "".join((c.upper() if upper else c.lower()) if len(c.upper() if upper else c.lower()) == 1 else c for c in s)


def pad(s: str, prefix: int, suffix: int) -> str:
    if s == "":
        return s
    if prefix < 0 or suffix < 0:
        raise ExecFailure("strings: negative Repeat count")
    return " " * prefix + s + " " * suffix


def truncate(s: str, n: int) -> str:
    if n < 0:
        raise ExecFailure(f"runtime error: slice bounds out of range [:{n}]")
    return s if len(s) < n else s[:n]


def call(name: str, fn: object, *args: object) -> object:
    """`call`: the executor passes the callee's text first, as Go does, for the error message."""
    if fn is None or fn is MISSING:
        raise ExecFailure("call of nil")
    if not callable(fn):
        raise ExecFailure(f"non-function {name} of type {go_type(fn)}")
    try:
        return fn(*args)
    except ExecFailure:
        raise
    except Exception as e:  # the callee's own failure, reported as Go reports a func's error
        raise ExecFailure(str(e) or type(e).__name__) from e


def _and_or(*args: object) -> object:  # evaluated lazily by the executor
    raise AssertionError("and/or are special forms")


BUILTINS: dict[str, tuple] = {
    "and": (_and_or, ("v",), "v"), "or": (_and_or, ("v",), "v"), "not": (not_, ("v",), None),
    "call": (call, ("v",), "v"), "len": (length, ("v",), None), "index": (index, ("v",), "v"),
    "slice": (slice_, ("v",), "v"), "print": (lambda *a: sprint(list(a)), (), "a"),
    "println": (lambda *a: sprintln(list(a)), (), "a"), "printf": (printf, ("s",), "a"),
    "html": (html, (), "a"), "js": (js, (), "a"), "urlquery": (urlquery, (), "a"),
    "eq": (eq, ("v",), "v"), "ne": (ne, ("v", "v"), None), "lt": (lt, ("v", "v"), None),
    "le": (le, ("v", "v"), None), "gt": (gt, ("v", "v"), None), "ge": (ge, ("v", "v"), None),
    # docker/cli templates.basicFunctions
    "json": (json_, ("a",), None), "split": (split, ("s", "s"), None), "join": (lambda e, s: s.join(e), ("S", "s"), None),
    "title": (title, ("s",), None), "lower": (lambda s: _case(s, False), ("s",), None),
    "upper": (lambda s: _case(s, True), ("s",), None), "pad": (pad, ("s", "i", "i"), None),
    "truncate": (truncate, ("s", "i"), None),
}

#: docker's HeaderFunctions: the table header keeps the column names as they are
HEADER_FUNCS: dict[str, tuple] = dict(BUILTINS, **{
    "json": (lambda v: v, ("s",), None), "split": (lambda v, _: v, ("s", "s"), None),
    "join": (lambda v, _: v, ("s", "s"), None), "title": (lambda v: v, ("s",), None),
    "lower": (lambda v: v, ("s",), None), "upper": (lambda v: v, ("s",), None),
    "truncate": (lambda v, _: v, ("s", "i"), None),
})
