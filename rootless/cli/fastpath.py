"""The start-up fast path: parse a command line from the generated table, without typer.

`rl` is declared once, with typer; importing typer costs more than the whole start-up budget (see
docs/cli.md). `analyse(argv)` reads the table that `rootless.cli.cmdtable` derived from that
declaration (`rootless/cli/_cmdtable.py`) and applies click's own parsing rules, which are docker's
for what rl uses: combined short flags (`-itd`), an attached short value (`-p8080:80`),
`--opt=value` and `--opt value`, repeated options collected in a list, `--` ending the options, and
options ending at the first positional for commands that do not allow interspersed arguments
(`run`, `exec`: `rl run -it img sh -c 'ls -l'` leaves `-c` to the container).

Global options (`--root`, `--runroot`, `--log-level`/`-l`, `--version`) are accepted anywhere
before a command's options end, as podman does, unless the command declares the same option string
(`rl run -v` is a volume). `Analysis.argv` is the command line with them moved to the front, which
is what the typer path parses.

Whenever the fast path is not sure to produce exactly what typer would pass (help, an unknown or
malformed option, a value typer would have to coerce or reject, a stale table), `Analysis.call` is
None and `rl` falls back to typer, which prints help and errors. Standard library only.
"""

from __future__ import annotations

TABLE_VERSION = 2


class Analysis:
    """What `analyse` found. (No typing.NamedTuple, no re: each costs milliseconds to import.)"""

    __slots__ = ("path", "globals", "call", "argv", "tabled")

    def __init__(self, path: tuple[str, ...], globals: dict[str, object],
                 call: tuple[str, dict[str, object]] | None, argv: list[str], tabled: bool = True) -> None:
        self.path = path          # the command path as far as it was recognised
        self.globals = globals    # global options (root, runroot, log_level, version), defaults filled
        self.call = call          # (binding target, params), or None: typer decides
        self.argv = argv          # argv with global options moved in front, for typer
        self.tabled = tabled      # False: no usable table, nothing above was worked out

    def __repr__(self) -> str:
        return f"Analysis({self.path!r}, {self.globals!r}, {self.call!r}, {self.argv!r})"


class _Fallback(Exception):
    """Leave this command line to typer."""


def load_table() -> dict[str, object] | None:
    """The committed table, or None if it is missing, of another schema, or stale."""
    try:
        from rootless.cli._cmdtable import TABLE
    except ImportError:
        return None
    if TABLE.get("version") != TABLE_VERSION:
        return None
    return {**TABLE, "commands": _Commands(TABLE["commands"])} if _fresh(TABLE) else None


class _Commands(dict):
    """The table's commands, each kept as its JSON text until it is looked up (cmdtable.render)."""

    def __getitem__(self, key: str):
        value = dict.__getitem__(self, key)
        if isinstance(value, str):
            from rootless.fastjson import loads

            value = loads(value)
            dict.__setitem__(self, key, value)
        return value


def _fresh(table: dict[str, object]) -> bool:
    """True unless the declaration sources are present and differ from those the table came from.

    A frozen build ships no sources; its table was checked when it was built."""
    import os
    import zlib

    base = os.path.dirname(os.path.abspath(__file__))
    crc = 0
    for rel in table.get("sources", ()):
        try:
            with open(os.path.join(base, rel), "rb") as f:
                crc = zlib.crc32(f.read(), crc)
        except OSError:
            return True
    return f"{crc:08x}" == table.get("digest")


def analyse(argv: list[str], table: dict[str, object] | None = None) -> Analysis:
    """Split argv into command path, global options and (if it can) the command's parameters."""
    if table is None:
        table = load_table()
    if table is None:
        return Analysis((), {}, None, list(argv), tabled=False)
    scan = _Scan(table, list(argv))
    try:
        call = scan.run()
    except _Fallback:
        call = None
    settings = {g["name"]: g.get("absent", False) for g in table["globals"]}
    settings.update(scan.globals)
    return Analysis(tuple(scan.path), settings, call, scan.front + scan.rest)


def parse(argv: list[str], table: dict[str, object] | None = None) -> tuple[str, dict[str, object]] | None:
    """(binding target, params) exactly as typer would pass them, or None."""
    return analyse(argv, table).call


class _Scan:
    """One left-to-right pass over argv; `run()` raises _Fallback when typer must decide."""

    def __init__(self, table: dict[str, object], tokens: list[str]) -> None:
        self.table = table
        self.tokens = tokens
        self.pos = 0
        self.path: list[str] = []
        self.globals: dict[str, object] = {}
        self.front: list[str] = []     # global options, moved in front
        self.rest: list[str] = []      # everything else, in order
        self.fallback = False
        self.seen: set[str] = set()    # global option strings given
        self.global_opts = {o: g for g in table["globals"] for o in g["opts"]}

    # -- tokens -----------------------------------------------------------------------------------
    def _take_rest(self) -> None:
        self.rest += self.tokens[self.pos:]
        self.pos = len(self.tokens)

    def _fail(self) -> None:
        """Stop moving options: what follows is typer's to read."""
        self._take_rest()
        raise _Fallback

    def run(self) -> tuple[str, dict[str, object]]:
        cmd = self._walk_groups()
        events, positionals = self._command_options(cmd)
        if self.fallback or "slow" in cmd or not all(self.global_opts[o]["fast"] for o in self.seen):
            raise _Fallback
        if self.globals.get("log_level") is not None:
            from rootless.context import LOG_LEVELS

            if self.globals["log_level"] not in LOG_LEVELS:
                raise _Fallback
        params = _options(cmd["params"], events)
        params.update(_arguments(cmd["params"], positionals))
        return cmd["target"], params

    # -- groups: `rl [globals] system [globals] check` ----------------------------------------------
    def _walk_groups(self) -> dict[str, object]:
        group = self.table["groups"][""]
        while True:
            if self.pos >= len(self.tokens):
                self._fail()  # a group alone: typer prints its help
            tok = self.tokens[self.pos]
            if tok[:1] == "-" and len(tok) > 1:
                if tok == "--" or not self._global_token(set()):
                    self._fail()
                continue
            if tok not in group["commands"]:
                self._fail()  # typer says "unknown command"
            self.path.append(tok)
            self.rest.append(tok)
            self.pos += 1
            key = " ".join(self.path)
            if key in self.table["commands"]:
                return self.table["commands"][key]
            group = self.table["groups"][key]
            if group["params"]:
                self.fallback = True  # a sub-group with options of its own: not in the table

    def _global_token(self, shadowed: set[str] | dict[str, bool]) -> bool:
        """Consume a whole-token global option (`--root X`, `--root=X`, `-lX`) if that is one."""
        tok = self.tokens[self.pos]
        name, eq, value = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        spec = self.global_opts.get(name)
        if spec is None and not tok.startswith("--") and len(tok) > 2:
            name, value, eq = tok[:2], tok[2:], "attached"
            spec = self.global_opts.get(name)
            if spec is not None and spec["action"] == "flag":
                spec = None  # `-vx`: a cluster, not one global option
        if spec is None or name in shadowed:
            return False
        used = 1
        if spec["action"] == "flag":
            if eq:
                return False
            value = True
        elif not eq:
            if self.pos + 1 >= len(self.tokens):
                return False
            value, used = self.tokens[self.pos + 1], 2
        self.globals[spec["name"]] = value
        self.seen.add(name)
        self.front += self.tokens[self.pos:self.pos + used]
        self.pos += used
        return True

    # -- the command's own options, click's rules -------------------------------------------------
    def _command_options(self, cmd: dict[str, object]) -> tuple[list[tuple[str, object]], list[str]]:
        if cmd.get("no_args_is_help") and self.pos >= len(self.tokens):
            self._fail()
        options: dict[str, bool] = cmd["options"]
        help_names = set(cmd.get("help", self.table["help"])) - set(options)
        events: list[tuple[str, object]] = []
        positionals: list[str] = []
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            if tok == "--":
                positionals += self.tokens[self.pos + 1:]
                self._take_rest()
                break
            if tok[:1] == "-" and len(tok) > 1:
                if tok.partition("=")[0] in help_names or (tok in help_names):
                    self._fail()
                if self._global_token(options):
                    continue
                start = self.pos
                try:
                    events += self._option(tok, options)
                except _Fallback:
                    self.pos = start  # typer reads this option and everything after it
                    self._fail()
                self.rest += self.tokens[start:self.pos]
            elif cmd["interspersed"]:
                positionals.append(tok)
                self.rest.append(tok)
                self.pos += 1
            else:
                positionals += self.tokens[self.pos:]
                self._take_rest()
        return events, positionals

    def _option(self, tok: str, options: dict[str, bool]) -> list[tuple[str, object]]:
        """One option token (and its value token) as click's parser reads it."""
        long_opt, eq, explicit = tok.partition("=")
        if long_opt in options and not _is_short(long_opt):
            self.pos += 1
            if not options[long_opt]:
                if eq:
                    raise _Fallback  # a flag given a value: typer's error
                return [(long_opt, None)]
            return [(long_opt, explicit if eq else self._next_value())]
        if tok[:2] == "--":
            raise _Fallback  # unknown long option (or a global shadowed as a cluster)
        return self._short_cluster(tok, options)

    def _short_cluster(self, tok: str, options: dict[str, bool]) -> list[tuple[str, object]]:
        self.pos += 1
        out = []
        for i, ch in enumerate(tok[1:], start=2):
            opt = "-" + ch
            if opt not in options or not _is_short(opt):
                raise _Fallback  # unknown here; global short flags inside a cluster included
            if not options[opt]:
                out.append((opt, None))
                continue
            out.append((opt, tok[i:] if i < len(tok) else self._next_value()))
            break
        return out

    def _next_value(self) -> str:
        if self.pos >= len(self.tokens):
            raise _Fallback  # "requires an argument"
        value = self.tokens[self.pos]
        self.pos += 1
        return value


def _is_short(opt: str) -> bool:
    return len(opt) == 2 and opt[0] == "-" and opt[1] != "-"


def _convert(param: dict[str, object], raw: str) -> object:
    kind = param["type"]
    if kind == "str":
        return raw
    if kind == "int" and _is_decimal(raw) and len(raw) < 19:  # int() refuses > 4300 digits
        return int(raw)
    whole, dot, fraction = raw.partition(".")
    if kind == "float" and _is_decimal(whole) and (
            not dot or (fraction.isascii() and fraction.isdigit())):
        return float(raw)
    if kind == "choice" and raw in param["choices"]:
        return raw
    raise _Fallback  # typer coerces or rejects it


def _options(params: list[dict[str, object]], events: list[tuple[str, object]]) -> dict[str, object]:
    by_opt = {o: p for p in params if p["kind"] == "option" for o in (*p["opts"], *p["secondary"])}
    given: dict[str, object] = {}
    for opt, raw in events:
        param = by_opt[opt]
        if param["action"] == "flag":
            given[param["name"]] = opt in param["opts"]
        elif param["action"] == "append":
            given.setdefault(param["name"], []).append(_convert(param, raw))
        else:
            given[param["name"]] = _convert(param, raw)
    out = {}
    for param in params:
        if param["kind"] != "option":
            continue
        if param["name"] in given:
            out[param["name"]] = given[param["name"]]
        elif param["required"]:
            raise _Fallback  # typer: "Missing option"
        else:
            out[param["name"]] = _copy(param["absent"])
    return out


def _arguments(params: list[dict[str, object]], positionals: list[str]) -> dict[str, object]:
    """Click's `_unpack_args` for nargs 1 and -1 (at most one variadic argument)."""
    args = [p for p in params if p["kind"] == "argument"]
    star = next((i for i, p in enumerate(args) if p["nargs"] == -1), None)
    after = len(args) - star - 1 if star is not None else 0
    head = positionals[:star if star is not None else len(args)]
    if star is None:
        if len(positionals) > len(args):
            raise _Fallback  # "Got unexpected extra argument(s)"
        values: list[object] = head + [None] * (len(args) - len(head))
    else:
        if len(positionals) < len(args) - 1:
            raise _Fallback  # missing positionals around a variadic one: let typer say which
        tail = positionals[len(positionals) - after:] if after else []
        middle = positionals[star:len(positionals) - after]
        values = head + [middle or None] + tail
    out = {}
    for param, value in zip(args, values):
        if value is None:
            if param["required"]:
                raise _Fallback  # typer: "Missing argument"
            out[param["name"]] = _copy(param["absent"])
        elif isinstance(value, list):
            out[param["name"]] = [_convert(param, v) for v in value]
        else:
            out[param["name"]] = _convert(param, value)
    return out


def _is_decimal(raw: str) -> bool:
    """`-?(0|[1-9][0-9]*)`: what both int() and typer's coercion read the same way."""
    digits = raw[1:] if raw[:1] == "-" else raw
    return digits.isascii() and digits.isdigit() and (digits == "0" or digits[0] != "0")


def _copy(value: object) -> object:
    return list(value) if isinstance(value, list) else value
