"""Go's value printing for templates: fmt's `%v` (Sprint/Sprintln), `printf` verbs, strconv.Quote,
float formatting, and encoding/json as docker's `json` function uses it (compact, sorted map keys,
no HTML escaping: docker calls SetEscapeHTML(false)).

Values are JSON-like Python data: None (Go nil), bool, int, float, str, list/tuple, dict, and
callables (Go methods/funcs).
"""

from __future__ import annotations

import math


class Missing:
    """Go's invalid reflect.Value: a missing map key; printed "<no value>"."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no value>"


MISSING = Missing()


class Func:
    """A Go func value in the data: not called when reached as a field (a plain callable in a dict
    is a method and is), but by the `call` function."""

    __slots__ = ("fn",)

    def __init__(self, fn) -> None:
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)


def go_type(v: object) -> str:
    """The Go type a JSON-decoded value has in an interface{}."""
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return "func()" if callable(v) else type(v).__name__


# --- strconv ---------------------------------------------------------------------------------
_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str, ascii_only: bool = False, quote: str = '"') -> str:
    """strconv.Quote: Go escapes, printable Unicode kept (unless ascii_only)."""
    out = [quote]
    for c in s:
        if c == quote or c == "\\":
            out.append("\\" + c)
        elif c in _ESC:
            out.append(_ESC[c])
        elif c.isprintable() and (not ascii_only or c.isascii()):
            out.append(c)
        elif ord(c) < 0x80:
            out.append(f"\\x{ord(c):02x}")
        elif 0xD800 <= ord(c) <= 0xDFFF:
            out.append("\\ufffd")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    out.append(quote)
    return "".join(out)


def _shortest(f: float) -> tuple[str, int]:
    """Shortest decimal digits d and point position p with abs(f) == 0.d * 10**p."""
    r = repr(abs(f))
    mant, _, exp = r.partition("e")
    intpart, _, frac = mant.partition(".")
    digits = intpart + frac
    stripped = len(digits) - len(digits.lstrip("0"))
    digits = digits.strip("0")
    if not digits:
        return "0", 1
    return digits, len(intpart) + (int(exp) if exp else 0) - stripped


def _exp_form(digits: str, dp: int, upper: bool = False) -> str:
    e = dp - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mant}{'E' if upper else 'e'}{'-' if e < 0 else '+'}{abs(e):02d}"


def _fixed_form(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def format_float_v(f: float, upper: bool = False) -> str:
    """fmt's %v (and %g without precision) for a float64: shortest digits, %e when exp < -4 or >= 6."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    if f == 0:
        return sign + "0"
    digits, dp = _shortest(f)
    exp = dp - 1
    if exp < -4 or exp >= 6:
        return sign + _exp_form(digits, dp, upper)
    return sign + _fixed_form(digits, dp)


def format_float_json(f: float) -> str:
    """encoding/json's float64: positional unless < 1e-6 or >= 1e21, exponent without padding."""
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    digits, dp = _shortest(f)
    sign = "-" if f < 0 else ""
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        e = dp - 1
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if e < 0 else '+'}{abs(e)}"
    return sign + _fixed_form(digits, dp)


# --- %v / Sprint -----------------------------------------------------------------------------
def sprint_value(v: object) -> str:
    """fmt's %v of one value."""
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float_v(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(sprint_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{sprint_value(k)}:{sprint_value(v[k])}" for k in sorted_keys(v)) + "]"
    if callable(v):
        return f"{id(v):#x}"
    return str(v)


def sorted_keys(d: dict) -> list:
    """Go's fmtsort order: keys of one kind sorted; mixed kinds by their text."""
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=lambda k: (go_type(k), sprint_value(k)))


def sprint(args: list) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = []
    for i, a in enumerate(args):
        if i > 0 and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint_value(a))
    return "".join(out)


def sprintln(args: list) -> str:
    return " ".join(sprint_value(a) for a in args) + "\n"


# --- encoding/json ---------------------------------------------------------------------------
class Unsupported(Exception):
    """A value encoding/json refuses (NaN, a function)."""


def _json_str(s: str) -> str:
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c in "\n\r\t\b\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}[c])
        elif o < 0x20 or o in (0x2028, 0x2029):
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def go_json(v: object) -> str:
    """encoding/json.Marshal without HTML escaping; raises Unsupported like Go's error."""
    if v is None or v is MISSING:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise Unsupported(f"json: unsupported value: {format_float_v(v)}")
        return format_float_json(v)
    if isinstance(v, str):
        return _json_str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(go_json(x) for x in v) + "]"
    if isinstance(v, dict):
        items = [(str(k), v[k]) for k in v if not callable(v[k])]  # methods are not data
        items.sort(key=lambda kv: kv[0])
        return "{" + ",".join(_json_str(k) + ":" + go_json(x) for k, x in items) + "}"
    raise Unsupported(f"json: unsupported type: {go_type(v)}")
