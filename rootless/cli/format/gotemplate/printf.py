"""Go's fmt.Sprintf for the `printf` template function: flags `+-# 0`, width and precision (also
`*`), explicit argument indexes `%[n]v`, the verbs v s q d x X o O b c U t e E f F g G T and %%,
and Go's error strings (`%!d(string=x)`, `%!v(MISSING)`, `%!(EXTRA int=1)`).
"""

from __future__ import annotations

import math

from rootless.cli.format.gotemplate.gofmt import (
    MISSING, format_float_v, go_quote, go_type, sorted_keys, sprint_value)


class _Spec:
    __slots__ = ("minus", "plus", "sharp", "zero", "space", "width", "prec", "verb")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.zero = self.space = False
        self.width: int | None = None
        self.prec: int | None = None
        self.verb = ""


def _pad(s: str, spec: _Spec, zero_ok: bool = False) -> str:
    if spec.width is None or len(s) >= spec.width:
        return s
    fill = spec.width - len(s)
    if spec.minus:
        return s + " " * fill
    if spec.zero and zero_ok:
        sign = s[0] if s[:1] in ("+", "-", " ") else ""
        body = s[len(sign):]
        prefix = ""
        for p in ("0x", "0X", "0b", "0o"):
            if body.startswith(p):
                prefix, body = p, body[2:]
        return sign + prefix + "0" * fill + body
    return " " * fill + s


def _bad(spec: _Spec, v: object) -> str:
    if v is None or v is MISSING:
        return f"%!{spec.verb}(<nil>)"
    return f"%!{spec.verb}({go_type(v)}={sprint_value(v)})"


def _sign(neg: bool, spec: _Spec) -> str:
    return "-" if neg else "+" if spec.plus else " " if spec.space else ""


def _fmt_int(n: int, spec: _Spec) -> str:
    v = spec.verb
    if v == "c":
        return _pad(chr(n) if 0 <= n <= 0x10FFFF else "\ufffd", spec)
    if v == "q":
        return _pad(go_quote(chr(n) if 0 <= n <= 0x10FFFF else "\ufffd", quote="'"), spec)
    if v == "U":
        s = f"U+{n:04X}"
        return _pad(s + (f" '{chr(n)}'" if spec.sharp and chr(n).isprintable() else ""), spec)
    base = {"d": 10, "v": 10, "x": 16, "X": 16, "o": 8, "O": 8, "b": 2}[v]
    digits = {10: "{:d}", 16: "{:x}", 8: "{:o}", 2: "{:b}"}[base].format(abs(n))
    if v == "X":
        digits = digits.upper()
    if spec.prec is not None:
        digits = "" if spec.prec == 0 and n == 0 else digits.rjust(spec.prec, "0")
    prefix = ""
    if v == "O" or (spec.sharp and v == "o" and not digits.startswith("0")):
        prefix = "0o" if v == "O" else "0"
    elif spec.sharp and base in (16, 2):
        prefix = {"x": "0x", "X": "0X", "b": "0b"}[v]
    return _pad(_sign(n < 0, spec) + prefix + digits, spec, zero_ok=spec.prec is None)


def _fmt_float(f: float, spec: _Spec) -> str:
    v = spec.verb
    if math.isnan(f) or math.isinf(f):
        s = "NaN" if math.isnan(f) else ("-Inf" if f < 0 else "+Inf")
        if s == "+Inf" and not spec.plus:
            s = " Inf" if spec.space else "+Inf"
        return _pad(s, spec)
    neg = math.copysign(1.0, f) < 0
    a = abs(f)
    if v in ("v", "g", "G") and spec.prec is None:
        body = format_float_v(a, upper=v == "G")
    elif v in ("g", "G"):
        body = f"{a:.{spec.prec}{v}}"
    else:
        conv = "f" if v in ("f", "F") else v
        body = f"{a:.{6 if spec.prec is None else spec.prec}{conv}}"
    if spec.sharp and "." not in body and "e" not in body.lower():
        body += "."
    return _pad(_sign(neg, spec) + body, spec, zero_ok=True)


def _fmt_str(s: str, spec: _Spec) -> str:
    v = spec.verb
    if spec.prec is not None:
        s = s[:spec.prec]
    if v in ("s", "v"):
        return _pad(s, spec)
    if v == "q":
        if spec.sharp and "`" not in s and all(c.isprintable() or c == "\t" for c in s):
            return _pad("`" + s + "`", spec)
        return _pad(go_quote(s, ascii_only=spec.plus), spec)
    if v in ("x", "X"):
        h = s.encode("utf-8", "surrogatepass").hex()
        h = h.upper() if v == "X" else h
        if spec.space:
            pre = ("0X" if v == "X" else "0x") if spec.sharp else ""
            h = " ".join(pre + h[i:i + 2] for i in range(0, len(h), 2))
        elif spec.sharp and h:
            h = ("0X" if v == "X" else "0x") + h
        return _pad(h, spec)
    return _bad(spec, s)


def _go_syntax(v: object) -> str:
    """%#v for JSON-like data."""
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, (list, tuple)):
        return "[]interface {}{" + ", ".join(_go_syntax(x) for x in v) + "}"
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(
            f"{_go_syntax(k)}:{_go_syntax(v[k])}" for k in sorted_keys(v)) + "}"
    return sprint_value(v)


def format_one(v: object, spec: _Spec) -> str:
    """One operand under one verb."""
    verb = spec.verb
    if verb == "T":
        return _pad(go_type(v) if v is not None else "<nil>", spec)
    if verb == "v" and spec.sharp:
        return _pad(_go_syntax(v), spec)
    if v is None or v is MISSING:
        return _pad("<nil>", spec) if verb == "v" else _bad(spec, v)
    if isinstance(v, bool):
        return _pad("true" if v else "false", spec) if verb in ("t", "v") else _bad(spec, v)
    if isinstance(v, int):
        return _fmt_int(v, spec) if verb in "dvxXoObcqU" else _bad(spec, v)
    if isinstance(v, float):
        return _fmt_float(v, spec) if verb in "veEfFgG" else _bad(spec, v)
    if isinstance(v, str):
        return _fmt_str(v, spec)
    if isinstance(v, (list, tuple)):
        inner = _Spec()
        for name in _Spec.__slots__:
            setattr(inner, name, getattr(spec, name))
        return "[" + " ".join(format_one(x, inner) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{format_one(k, spec)}:{format_one(v[k], spec)}" for k in sorted_keys(v)) + "]"
    return _pad(sprint_value(v), spec) if verb == "v" else _bad(spec, v)


def _number(fmt: str, i: int) -> tuple[int | None, int]:
    j = i
    while j < len(fmt) and fmt[j].isdigit() and fmt[j].isascii():
        j += 1
    return (int(fmt[i:j]), j) if j > i else (None, i)


class _Args:
    def __init__(self, args: list) -> None:
        self.args = args
        self.next = 0
        self.reordered = False
        self.good_index = True

    def take(self) -> tuple[bool, object]:
        if self.next < len(self.args):
            self.next += 1
            return True, self.args[self.next - 1]
        return False, None

    def index(self, fmt: str, i: int) -> int:
        """Parse `[n]` at fmt[i]; returns the new position."""
        if i >= len(fmt) or fmt[i] != "[":
            return i
        self.reordered = True
        close = fmt.find("]", i)
        n, j = _number(fmt, i + 1)
        if close < 0 or j != close or n is None or not 1 <= n <= len(self.args):
            self.good_index = False
            return close + 1 if close >= 0 else len(fmt)
        self.next = n - 1
        return close + 1

    def star(self) -> int | None:
        ok, v = self.take()
        if not ok or isinstance(v, bool) or not isinstance(v, int) or abs(v) > 1_000_000:
            return None
        return v


def _parse_spec(fmt: str, i: int, a: _Args, out: list[str]) -> tuple[_Spec, int]:
    """Flags, argument index, width and precision after a '%'; returns the spec and the position
    of the verb."""
    n = len(fmt)
    spec = _Spec()
    while i < n and fmt[i] in "+-# 0":
        c = fmt[i]
        spec.plus |= c == "+"
        spec.minus |= c == "-"
        spec.sharp |= c == "#"
        spec.zero |= c == "0" and not spec.minus
        spec.space |= c == " "
        i += 1
    a.good_index = True
    i = a.index(fmt, i)
    if i < n and fmt[i] == "*":
        i += 1
        w = a.star()
        if w is None:
            out.append("%!(BADWIDTH)")
        else:
            spec.width = abs(w)
            spec.minus |= w < 0
    else:
        spec.width, i = _number(fmt, i)
    if i < n and fmt[i] == ".":
        i = a.index(fmt, i + 1)
        if i < n and fmt[i] == "*":
            i += 1
            p = a.star()
            if p is None or p < 0:
                out.append("%!(BADPREC)")
                p = None
            spec.prec = p
        else:
            p, i = _number(fmt, i)
            spec.prec = p if p is not None else 0
    return spec, a.index(fmt, i)


def sprintf(fmt: str, args: list) -> str:
    """Go's fmt.Sprintf for JSON-like operands."""
    out: list[str] = []
    a = _Args(args)
    i, n = 0, len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        spec, i = _parse_spec(fmt, j + 1, a, out)
        if i >= n:
            out.append("%!(NOVERB)")
            break
        spec.verb = fmt[i]
        i += 1
        if spec.verb == "%":
            out.append("%")
        elif not a.good_index:
            out.append(f"%!{spec.verb}(BADINDEX)")
        else:
            ok, v = a.take()
            out.append(format_one(v, spec) if ok else f"%!{spec.verb}(MISSING)")
    if not a.reordered and a.next < len(args):
        extra = ", ".join("<nil>" if x is None else f"{go_type(x)}={sprint_value(x)}" for x in args[a.next:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
