"""Lexer of Go's text/template (text/template/parse/lex.go): text, `{{ }}` actions with the
`{{- ` / ` -}}` trim markers, comments, and the tokens inside an action.

A lexing error becomes an ERROR token; the parser reports it when it reaches it, as Go does. One
deliberate choice: like Go before 1.22, a `}` right after a field ends it, so `{{.Name}` reads as
docker users know it: `unexpected "}" in operand`.
"""

from __future__ import annotations

LEFT, RIGHT, LCOMMENT, RCOMMENT = "{{", "}}", "/*", "*/"
SPACES = " \t\r\n"

# token types
ERROR, BOOL, CHAR, CHARCONST, COMPLEX, ASSIGN, DECLARE, EOF = "error", "bool", "char", "charconst", "complex", "=", ":=", "EOF"
FIELD, IDENT, LDELIM, LPAREN, NUMBER, PIPE, RAWSTRING = "field", "identifier", "{{", "(", "number", "|", "rawstring"
RDELIM, RPAREN, SPACE, STRING, TEXT, VARIABLE = "}}", ")", "space", "string", "text", "variable"
# keywords (Go: itemType > itemKeyword)
DOT, BLOCK, BREAK, CONTINUE, DEFINE, ELSE, END, IF, NIL, RANGE, TEMPLATE, WITH = (
    ".", "block", "break", "continue", "define", "else", "end", "if", "nil", "range", "template", "with")
KEYWORDS = frozenset({DOT, BLOCK, BREAK, CONTINUE, DEFINE, ELSE, END, IF, NIL, RANGE, TEMPLATE, WITH})


class Token:
    """One lexed item: its type, character offset, text and line."""

    __slots__ = ("typ", "pos", "val", "line")

    def __init__(self, typ: str, pos: int, val: str, line: int) -> None:
        self.typ, self.pos, self.val, self.line = typ, pos, val, line

    def __str__(self) -> str:
        """Go's item.String(), used in "unexpected X in Y" messages."""
        from rootless.cli.format.gotemplate.gofmt import go_quote

        if self.typ == EOF:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ in KEYWORDS and self.val in KEYWORDS:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.tokens: list[Token] = []
        self.paren = 0

    def line_at(self, pos: int) -> int:
        return 1 + self.text.count("\n", 0, pos)

    def emit(self, typ: str) -> None:
        self.tokens.append(Token(typ, self.start, self.text[self.start:self.pos], self.line_at(self.start)))
        self.start = self.pos

    def error(self, message: str) -> None:
        self.tokens.append(Token(ERROR, self.start, message, self.line_at(self.start)))

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_right(self) -> tuple[bool, bool]:
        t, p = self.text, self.pos
        if len(t) - p >= 2 and t[p] in SPACES and t[p + 1] == "-" and t.startswith(RIGHT, p + 2):
            return True, True
        return t.startswith(RIGHT, p), False

    def at_terminator(self) -> bool:
        c = self.peek()
        return c == "" or c in SPACES or c in ".,|:)(" or c == RIGHT[0]

    def run(self) -> list[Token]:
        state = self.lex_text
        while state is not None:
            state = state()
        return self.tokens

    def lex_text(self):
        t = self.text
        x = t.find(LEFT, self.pos)
        if x < 0:
            self.pos = len(t)
            if self.pos > self.start:
                self.emit(TEXT)
            self.emit(EOF)
            return None
        end = x
        if _left_trim(t, x + len(LEFT)):
            end = len(t[self.start:x].rstrip(SPACES)) + self.start
        if end > self.start:
            self.pos = end
            self.emit(TEXT)
        self.pos = self.start = x
        return self.lex_left

    def lex_left(self):
        self.pos += len(LEFT)
        trim = _left_trim(self.text, self.pos)
        after = 2 if trim else 0
        if self.text.startswith(LCOMMENT, self.pos + after):
            self.pos += after
            self.start = self.pos
            return self.lex_comment
        self.emit(LDELIM)
        self.pos += after
        self.start = self.pos
        self.paren = 0
        return self.lex_inside

    def lex_comment(self):
        x = self.text.find(RCOMMENT, self.pos + len(LCOMMENT))
        if x < 0:
            return self.error("unclosed comment")
        self.pos = x + len(RCOMMENT)
        delim, trim = self.at_right()
        if not delim:
            return self.error("comment ends before closing delimiter")
        self.pos += (2 if trim else 0) + len(RIGHT)
        if trim:
            self.pos = len(self.text) - len(self.text[self.pos:].lstrip(SPACES))
        self.start = self.pos
        return self.lex_text

    def lex_right(self):
        _, trim = self.at_right()
        if trim:
            self.pos += 2
            self.start = self.pos
        self.pos += len(RIGHT)
        self.emit(RDELIM)
        if trim:
            self.pos = len(self.text) - len(self.text[self.pos:].lstrip(SPACES))
            self.start = self.pos
        return self.lex_text

    def lex_inside(self):  # noqa: C901 - one branch per character class, as Go's lexInsideAction
        delim, _ = self.at_right()
        if delim:
            return self.lex_right if self.paren == 0 else self.error("unclosed left paren")
        c = self.peek()
        if c == "":
            return self.error("unclosed action")
        self.pos += 1
        if c in SPACES:
            self.pos -= 1
            return self.lex_space
        simple = {"=": ASSIGN, "|": PIPE}
        if c in simple:
            self.emit(simple[c])
        elif c == ":":
            if self.peek() != "=":
                return self.error("expected :=")
            self.pos += 1
            self.emit(DECLARE)
        elif c == '"':
            return self.lex_quote
        elif c == "`":
            return self.lex_raw
        elif c == "$":
            return self.lex_variable
        elif c == "'":
            return self.lex_char
        elif c == "." and self.peek() != "" and not "0" <= self.peek() <= "9":
            return self.lex_field
        elif c in "+-." or "0" <= c <= "9":
            self.pos -= 1
            return self.lex_number
        elif _alnum(c):
            self.pos -= 1
            return self.lex_identifier
        elif c == "(":
            self.paren += 1
            self.emit(LPAREN)
        elif c == ")":
            self.paren -= 1
            if self.paren < 0:
                return self.error("unexpected right paren")
            self.emit(RPAREN)
        elif c.isascii() and c.isprintable():
            self.emit(CHAR)
        else:
            return self.error(f"unrecognized character in action: {_rune(c)}")
        return self.lex_inside

    def lex_space(self):
        n = 0
        while self.peek() != "" and self.peek() in SPACES:
            self.pos += 1
            n += 1
        t, p = self.text, self.pos - 1
        if t[p + 1:p + 2] == "-" and t.startswith(RIGHT, p + 2):
            self.pos -= 1
            if n == 1:
                return self.lex_right
        self.emit(SPACE)
        return self.lex_inside

    def scan_alnum(self) -> None:
        while self.peek() != "" and _alnum(self.peek()):
            self.pos += 1

    def lex_identifier(self):
        self.scan_alnum()
        if not self.at_terminator():
            return self.error(f"bad character {_rune(self.peek())}")
        word = self.text[self.start:self.pos]
        if word in KEYWORDS:
            self.emit(word)
        elif word in ("true", "false"):
            self.emit(BOOL)
        else:
            self.emit(IDENT)
        return self.lex_inside

    def lex_field(self):
        return self._field_or_variable(FIELD)

    def lex_variable(self):
        if self.at_terminator():
            self.emit(VARIABLE)
            return self.lex_inside
        return self._field_or_variable(VARIABLE)

    def _field_or_variable(self, typ: str):
        if self.at_terminator():
            self.emit(VARIABLE if typ == VARIABLE else DOT)
            return self.lex_inside
        self.scan_alnum()
        if not self.at_terminator():
            return self.error(f"bad character {_rune(self.peek())}")
        self.emit(typ)
        return self.lex_inside

    def lex_quote(self):
        return self._lex_escaped('"', "quoted string", STRING)

    def lex_raw(self):
        x = self.text.find("`", self.pos)
        if x < 0:
            return self.error("unterminated raw quoted string")
        self.pos = x + 1
        self.emit(RAWSTRING)
        return self.lex_inside

    def lex_char(self):
        return self._lex_escaped("'", "character constant", CHARCONST)

    def _lex_escaped(self, close: str, what: str, typ: str):
        while True:
            c = self.peek()
            self.pos += 1
            if c == "\\":
                if self.peek() not in ("", "\n"):
                    self.pos += 1
                    continue
                return self.error(f"unterminated {what}")
            if c in ("", "\n"):
                return self.error(f"unterminated {what}")
            if c == close:
                self.emit(typ)
                return self.lex_inside

    def lex_number(self):
        if not self.scan_number():
            return self.error(f"bad number syntax: {_q(self.text[self.start:self.pos])}")
        if self.peek() in ("+", "-") and self.peek() != "":
            if not self.scan_number() or self.text[self.pos - 1] != "i":
                return self.error(f"bad number syntax: {_q(self.text[self.start:self.pos])}")
            self.emit(COMPLEX)
        else:
            self.emit(NUMBER)
        return self.lex_inside

    def accept(self, valid: str) -> bool:
        c = self.peek()
        if c != "" and c in valid:
            self.pos += 1
            return True
        return False

    def accept_run(self, valid: str) -> None:
        while self.accept(valid):
            pass

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if self.peek() != "" and _alnum(self.peek()):
            self.pos += 1
            return False
        return True


def _left_trim(text: str, pos: int) -> bool:
    return len(text) - pos >= 2 and text[pos] == "-" and text[pos + 1] in SPACES


def _rune(c: str) -> str:
    """Go's %#U: U+007D '}'."""
    if c == "":
        return "U+FFFFFFFFFFFFFFFF"  # Go prints eof (-1) this way; never reached in practice
    code = f"U+{ord(c):04X}"
    return f"{code} '{c}'" if c.isprintable() else code


def _q(s: str) -> str:
    from rootless.cli.format.gotemplate.gofmt import go_quote

    return go_quote(s)


def lex(text: str) -> list[Token]:
    """Every token of `text`, ending with EOF or an ERROR token."""
    return _Lexer(text).run()
