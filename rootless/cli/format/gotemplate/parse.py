"""Parser of Go's text/template (text/template/parse/parse.go): pipelines, commands, operands,
control structures, `define`/`block`, variable scoping, and Go's parse-error wording
(`template: :1: unexpected "}" in operand`, `function "foo" not defined`, ...).
"""

from __future__ import annotations

from rootless.cli.format.gotemplate import lex as L
from rootless.cli.format.gotemplate import nodes as N
from rootless.cli.format.gotemplate.errors import TemplateSyntaxError

_UNQ = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unquote_escapes(body: str, quote: str) -> str:
    """The escapes of a Go interpreted string or rune literal (strconv.UnquoteChar); ValueError if bad."""
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == quote:
            raise ValueError("invalid syntax")
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1:i + 2]
        if e in _UNQ or e == quote:
            out.append(_UNQ.get(e, e))
            i += 2
            continue
        width = {"x": 2, "u": 4, "U": 8}.get(e)
        if width:
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("invalid syntax")
            code = int(digits, 16)
            if e != "x" and (code > 0x10FFFF or 0xD800 <= code <= 0xDFFF):
                raise ValueError("invalid syntax")
            out.append(chr(code))
            i += 2 + width
        elif e in "01234567" and e:
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


def go_unquote(text: str) -> str:
    """strconv.Unquote of a "..." or `...` literal as the lexer cut it."""
    if text.startswith("`"):
        return text[1:-1].replace("\r", "")
    return unquote_escapes(text[1:-1], '"')


def _parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64): 0x/0o/0b prefixes, a leading 0 means octal, underscores."""
    sign = -1 if text[:1] == "-" else 1
    t = text[1:] if text[:1] in ("+", "-") else text
    try:
        if len(t) > 1 and t[0] == "0" and t[1] not in "xXoObB":
            v = int(t.replace("_", ""), 8)
        else:
            v = int(t, 0)
    except ValueError:
        return None
    v *= sign
    return v if -(2 ** 63) <= v < 2 ** 63 else None


def _parse_float(text: str) -> float | None:
    t = text.replace("_", "")
    try:
        if t.lstrip("+-")[:2] in ("0x", "0X"):
            return float.fromhex(t)
        return float(t)
    except (ValueError, OverflowError):
        return None


def _is_hex_int(s: str) -> bool:
    return len(s) > 2 and s[0] == "0" and s[1] in "xX" and not any(c in s for c in "pP")


class Parser:
    """Parses one template text into its main tree and the trees it defines."""

    def __init__(self, text: str, funcs: frozenset[str]) -> None:
        self.text = text
        self.funcs = funcs
        self.tokens = L.lex(text)
        self.i = 0
        self.cur = self.tokens[0]
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.trees: dict[str, N.ListNode] = {}

    # --- tokens ----------------------------------------------------------------------------
    def next(self) -> L.Token:
        self.cur = self.tokens[min(self.i, len(self.tokens) - 1)]
        self.i += 1
        return self.cur

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> L.Token:
        self.cur = self.tokens[min(self.i, len(self.tokens) - 1)]
        return self.cur

    def next_non_space(self) -> L.Token:
        tok = self.next()
        while tok.typ == L.SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> L.Token:
        tok = self.next_non_space()
        self.backup()
        return tok

    # --- errors ----------------------------------------------------------------------------
    def error(self, message: str) -> None:
        raise TemplateSyntaxError(f"template: :{self.cur.line}: {message}")

    def unexpected(self, tok: L.Token, context: str) -> None:
        if tok.typ == L.ERROR:
            extra = ""
            if self.action_line and self.action_line != tok.line:
                extra = f" in action started at :{self.action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            self.error(f"{tok}{extra}")
        self.error(f"unexpected {tok} in {context}")

    def expect(self, typ: str, context: str) -> L.Token:
        tok = self.next_non_space()
        if tok.typ != typ:
            self.unexpected(tok, context)
        return tok

    # --- structure -------------------------------------------------------------------------
    def parse(self) -> tuple[N.ListNode, dict[str, N.ListNode]]:
        root = N.ListNode(self.peek().pos)
        while self.peek().typ != L.EOF:
            if self.peek().typ == L.LDELIM:
                self.next()
                if self.next_non_space().typ == L.DEFINE:
                    self.parse_definition()
                    continue
                self.backup(self.i - self._delim_index())
            n = self.text_or_action()
            if isinstance(n, (N.EndNode, N.ElseNode)):
                self.error(f"unexpected {n}")
            root.nodes.append(n)
        self.add_tree("", root)
        return root, self.trees

    def _delim_index(self) -> int:
        j = self.i - 1
        while self.tokens[j].typ != L.LDELIM:
            j -= 1
        return j

    def add_tree(self, name: str, body: N.ListNode) -> None:
        old = self.trees.get(name)
        if old is None or _empty(old):
            self.trees[name] = body
        elif not _empty(body):
            self.error(f"template: multiple definition of template {L.Token(L.STRING, 0, name, 0)}")

    def parse_definition(self) -> None:
        tok = self.next_non_space()
        if tok.typ not in (L.STRING, L.RAWSTRING):
            self.unexpected(tok, "define clause")
        name = self.unquote(tok)
        self.expect(L.RDELIM, "define clause")
        saved, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved
        if not isinstance(end, N.EndNode):
            self.error(f"unexpected {end} in define clause")
        self.add_tree(name, body)

    def item_list(self) -> tuple[N.ListNode, N.Node]:
        body = N.ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != L.EOF:
            n = self.text_or_action()
            if isinstance(n, (N.EndNode, N.ElseNode)):
                return body, n
            body.nodes.append(n)
        self.error("unexpected EOF")
        raise AssertionError  # not reached

    def text_or_action(self) -> N.Node:
        tok = self.next_non_space()
        if tok.typ == L.TEXT:
            return N.TextNode(tok.pos, tok.val)
        if tok.typ == L.LDELIM:
            saved, self.action_line = self.action_line, tok.line
            try:
                return self.action()
            finally:
                self.action_line = saved
        self.unexpected(tok, "input")
        raise AssertionError

    def action(self) -> N.Node:
        tok = self.next_non_space()
        handlers = {L.BLOCK: self.block_control, L.ELSE: self.else_control, L.END: self.end_control,
                    L.IF: lambda: self.branch("if"), L.RANGE: lambda: self.branch("range"),
                    L.WITH: lambda: self.branch("with"), L.TEMPLATE: self.template_control}
        if tok.typ in handlers:
            return handlers[tok.typ]()
        if tok.typ in (L.BREAK, L.CONTINUE):
            return self.loop_control(tok)
        self.backup()
        tok = self.peek()
        return N.ActionNode(tok.pos, tok.line, self.pipeline("command", L.RDELIM))

    def loop_control(self, tok: L.Token) -> N.Node:
        word = tok.typ
        if self.next_non_space().typ != L.RDELIM:
            self.unexpected(self.cur, "{{" + word + "}}")
        if self.range_depth == 0:
            self.error("{{" + word + "}} outside {{range}}")
        return N.BreakNode(tok.pos) if word == L.BREAK else N.ContinueNode(tok.pos)

    def branch(self, keyword: str) -> N.BranchNode:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(keyword, L.RDELIM)
            if keyword == "range":
                self.range_depth += 1
            body, nxt = self.item_list()
            if keyword == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, N.ElseNode):
                if keyword in ("if", "with") and self.peek().typ == keyword:
                    self.next()
                    else_list = N.ListNode(nxt.pos)
                    else_list.nodes.append(self.branch(keyword))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, N.EndNode):
                        self.error(f"expected end; found {nxt}")
            return N.BranchNode(keyword, pipe.pos, pipe, body, else_list)
        finally:
            del self.vars[mark:]

    def else_control(self) -> N.Node:
        tok = self.peek_non_space()
        if tok.typ in (L.IF, L.WITH):
            return N.ElseNode(tok.pos)
        return N.ElseNode(self.expect(L.RDELIM, "else").pos)

    def end_control(self) -> N.Node:
        return N.EndNode(self.expect(L.RDELIM, "end").pos)

    def template_name(self, tok: L.Token, context: str) -> str:
        if tok.typ not in (L.STRING, L.RAWSTRING):
            self.unexpected(tok, context)
        return self.unquote(tok)

    def template_control(self) -> N.Node:
        tok = self.next_non_space()
        name = self.template_name(tok, "template clause")
        pipe = None
        if self.next_non_space().typ != L.RDELIM:
            self.backup()
            pipe = self.pipeline("template clause", L.RDELIM)
        return N.TemplateNode(tok.pos, name, pipe)

    def block_control(self) -> N.Node:
        tok = self.next_non_space()
        name = self.template_name(tok, "block clause")
        pipe = self.pipeline("block clause", L.RDELIM)
        saved, self.vars, depth, self.range_depth = self.vars, ["$"], self.range_depth, 0
        body, end = self.item_list()
        self.vars, self.range_depth = saved, depth
        if not isinstance(end, N.EndNode):
            self.error(f"unexpected {end} in block clause")
        self.add_tree(name, body)
        return N.TemplateNode(tok.pos, name, pipe)

    # --- pipelines -------------------------------------------------------------------------
    def pipeline(self, context: str, end: str) -> N.PipeNode:
        tok = self.peek_non_space()
        pipe = N.PipeNode(tok.pos, tok.line)
        self.declarations(pipe, context)
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.typ in (L.BOOL, L.CHARCONST, L.COMPLEX, L.DOT, L.FIELD, L.IDENT, L.NUMBER, L.NIL,
                           L.RAWSTRING, L.STRING, L.VARIABLE, L.LPAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def declarations(self, pipe: N.PipeNode, context: str) -> None:
        while True:
            v = self.peek_non_space()
            if v.typ != L.VARIABLE:
                return
            at_variable = self.i
            self.next()
            nxt = self.next_non_space()
            if nxt.typ in (L.ASSIGN, L.DECLARE):
                pipe.is_assign = nxt.typ == L.ASSIGN
                pipe.decl.append(N.VariableNode(v.pos, v.val))
                self.vars.append(v.val)
                return
            if nxt.typ == L.CHAR and nxt.val == ",":
                pipe.decl.append(N.VariableNode(v.pos, v.val))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (L.VARIABLE, L.RDELIM, L.RPAREN):
                        continue
                    self.error("range can only initialize variables")
                self.error(f"too many declarations in {context}")
            self.i = at_variable  # an operand, not a declaration
            return

    def check_pipeline(self, pipe: N.PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.error(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (N.BoolNode, N.DotNode, N.NilNode, N.NumberNode, N.StringNode)):
                self.error(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> N.CommandNode:
        cmd = N.CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == L.SPACE:
                continue
            if tok.typ in (L.RDELIM, L.RPAREN):
                self.backup()
            elif tok.typ != L.PIPE:
                self.unexpected(tok, "operand")
            break
        if not cmd.args:
            self.error("empty command")
        return cmd

    def operand(self) -> N.Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == L.FIELD:
            chain = N.ChainNode(self.peek().pos, node)
            while self.peek().typ == L.FIELD:
                chain.fields.append(self.next().val[1:])
            if isinstance(node, N.FieldNode):
                return N.FieldNode(chain.pos, str(chain))
            if isinstance(node, N.VariableNode):
                return N.VariableNode(chain.pos, str(chain))
            if isinstance(node, (N.BoolNode, N.StringNode, N.NumberNode, N.NilNode, N.DotNode)):
                self.error(f"unexpected . after term {_goq(str(node))}")
            return chain
        return node

    def term(self) -> N.Node | None:  # noqa: C901 - one case per token type, as Go's term()
        tok = self.next_non_space()
        t = tok.typ
        if t == L.IDENT:
            if tok.val not in self.funcs:
                self.error(f"function {_goq(tok.val)} not defined")
            return N.IdentifierNode(tok.pos, tok.val)
        if t == L.DOT:
            return N.DotNode(tok.pos)
        if t == L.NIL:
            return N.NilNode(tok.pos)
        if t == L.VARIABLE:
            name = tok.val.split(".")[0]
            if name not in self.vars:
                self.error(f"undefined variable {_goq(name)}")
            return N.VariableNode(tok.pos, tok.val)
        if t == L.FIELD:
            return N.FieldNode(tok.pos, tok.val)
        if t == L.BOOL:
            return N.BoolNode(tok.pos, tok.val == "true")
        if t in (L.CHARCONST, L.COMPLEX, L.NUMBER):
            return self.number(tok)
        if t == L.LPAREN:
            return self.pipeline("parenthesized pipeline", L.RPAREN)
        if t in (L.STRING, L.RAWSTRING):
            return N.StringNode(tok.pos, tok.val, self.unquote(tok))
        self.backup()
        return None

    def unquote(self, tok: L.Token) -> str:
        try:
            return go_unquote(tok.val)
        except ValueError:
            self.error("invalid syntax")
            raise

    def number(self, tok: L.Token) -> N.NumberNode:
        text = tok.val
        if tok.typ == L.COMPLEX or (text.endswith("i") and _parse_float(text[:-1]) is not None):
            self.error(f"complex constants are not supported: {_goq(text)}")
        if tok.typ == L.CHARCONST:
            try:
                ch = unquote_escapes(text[1:-1], "'")
            except ValueError:
                self.error("invalid syntax")
            if len(ch) != 1:
                self.error(f"malformed character constant: {text}")
            return N.NumberNode(tok.pos, text, True, ord(ch), ord(ch))
        i = _parse_int(text)
        f = float(i) if i is not None else _parse_float(text)
        if f is None:
            self.error(f"illegal number syntax: {_goq(text)}")
        if i is None and not any(c in text for c in ".eEpP"):
            self.error(f"integer overflow: {_goq(text)}")
        if i is None and f == int(f) and abs(f) < 2 ** 63:
            i = int(f)
        floaty = any(c in text for c in ".eEpP") and not _is_hex_int(text)
        value = f if floaty or i is None else i
        return N.NumberNode(tok.pos, text, i is not None, i or 0, value)


def _goq(s: str) -> str:
    from rootless.cli.format.gotemplate.gofmt import go_quote

    return go_quote(s)


def _empty(body: N.ListNode) -> bool:
    """Go's IsEmptyTree: only whitespace text (and nothing else)."""
    return all(isinstance(n, N.TextNode) and not n.text.strip() for n in body.nodes)


def parse(text: str, funcs: frozenset[str]) -> tuple[N.ListNode, dict[str, N.ListNode]]:
    """The main tree of `text` and every tree it defines (the main one under "")."""
    return Parser(text, funcs).parse()
