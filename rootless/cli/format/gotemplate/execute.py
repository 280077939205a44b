"""The executor of Go's text/template (text/template/exec.go) over JSON-like data.

Dicts are Go maps (`.Key` looks a key up, a missing key prints "<no value>"), except the top-level
value when the caller names its type: then it stands for docker's Go struct and a missing field is
`can't evaluate field Foo in type *formatter.ContainerContext`. `missingkey="error"` gives
`map has no entry for key "Foo"`, what `docker inspect` prints. A callable dict value is a Go
method: `{{.Label "com.example"}}` calls it with its arguments.
"""

from __future__ import annotations

from rootless.cli.format.gotemplate import nodes as N
from rootless.cli.format.gotemplate.errors import ExecFailure, TemplateExecError
from rootless.cli.format.gotemplate.funcs import GO_KIND, is_true
from rootless.cli.format.gotemplate.gofmt import MISSING, Func, go_quote, go_type, sorted_keys, sprint_value

#: Go allows 100000 nested {{template}} calls; Python's stack allows far fewer
MAX_DEPTH = 100
_NOFINAL = object()  # Go's missingVal: no value piped into the command


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class Options:
    __slots__ = ("text", "trees", "funcs", "type_name", "missingkey")

    def __init__(self, text: str, trees: dict, funcs: dict, type_name: str | None, missingkey: str) -> None:
        self.text, self.trees, self.funcs = text, trees, funcs
        self.type_name, self.missingkey = type_name, missingkey


class State:
    def __init__(self, opts: Options, name: str, data: object, out: list[str], depth: int = 0) -> None:
        self.opts = opts
        self.name = name
        self.data = data
        self.out = out
        self.depth = depth
        self.vars: list[list] = [["$", data, True]]  # name, value, has a concrete Go type
        self.node: N.Node | None = None
        #: dot came through a pipeline (concrete Go type) rather than out of a map or a list
        #: (interface {}): Go names the type in "can't evaluate field X in type T"
        self.dot_typed = True

    # --- errors ----------------------------------------------------------------------------
    def at(self, node: N.Node) -> None:
        self.node = node

    def error(self, message: str) -> None:
        name = go_quote(self.name)
        if self.node is None:
            raise TemplateExecError(f"template: {self.name}: {message}")
        text = self.opts.text[:self.node.pos]
        nl = text.rfind("\n")
        col = len(text[nl + 1:].encode("utf-8", "surrogatepass"))
        context = str(self.node)
        if len(context.encode("utf-8", "surrogatepass")) > 20:
            context = context[:20] + "..."
        raise TemplateExecError(f"template: :{1 + text.count(chr(10))}:{col}: executing {name} at <{context}>: {message}")

    # --- walking ---------------------------------------------------------------------------
    def walk(self, dot: object, node: N.Node) -> None:
        if isinstance(node, N.TextNode):
            self.out.append(node.text)
        elif isinstance(node, N.ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, N.ActionNode):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, value)
        elif isinstance(node, N.BranchNode):
            if node.keyword == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
        elif isinstance(node, N.TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, N.BreakNode):
            raise _Break
        elif isinstance(node, N.ContinueNode):
            raise _Continue
        else:
            self.at(node)
            self.error(f"unknown node: {node}")

    def print_value(self, node: N.Node, value: object) -> None:
        self.at(node)
        if value is None or value is MISSING:
            self.out.append("<no value>")
        elif callable(value):
            self.error(f"can't print {node} of type {go_type(value)}")
        else:
            self.out.append(sprint_value(value))

    def walk_if_or_with(self, dot: object, node: N.BranchNode) -> None:
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            truth, ok = is_true(value)
            if not ok:
                self.error(f"if/with can't use {sprint_value(value)}")
            if truth and node.keyword == "with":
                saved, self.dot_typed = self.dot_typed, True
                try:
                    self.walk(value, node.list)
                finally:
                    self.dot_typed = saved
            elif truth:
                self.walk(dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: object, node: N.BranchNode) -> None:
        self.at(node)
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if self._range_items(node, value):
                return
            if node.else_list is not None:
                self.walk(dot, node.else_list)
        except _Break:
            return
        finally:
            del self.vars[mark:]

    def _range_items(self, node: N.BranchNode, value: object) -> bool:
        """Run the body for each element; False when there was nothing to iterate."""
        if isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, dict):
            items = [(k, value[k]) for k in sorted_keys(value)]
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(node.pipe.decl) > 1:
                self.error(f"can't use {value} to iterate over more than one variable")
            items = [(i, i) for i in range(value)]
        elif value is None or value is MISSING:
            return False
        else:
            self.error(f"range can't iterate over {sprint_value(value)}")
            raise AssertionError
        if not items:
            return False
        mark = len(self.vars)
        saved, self.dot_typed = self.dot_typed, False
        try:
            for key, elem in items:
                self._range_vars(node.pipe, key, elem)
                try:
                    self.walk(elem, node.list)
                except _Continue:
                    pass
                finally:
                    del self.vars[mark:]
        finally:
            self.dot_typed = saved
        return True

    def _range_vars(self, pipe: N.PipeNode, key: object, elem: object) -> None:
        decl = pipe.decl
        if decl:
            if pipe.is_assign:
                self.set_var(decl[0].ident[0], key if len(decl) > 1 else elem, False)
            else:
                self.vars[-1][1:] = [elem, False]
        if len(decl) > 1:
            if pipe.is_assign:
                self.set_var(decl[1].ident[0], elem, False)
            else:
                self.vars[-2][1:] = [key, True]

    def walk_template(self, dot: object, node: N.TemplateNode) -> None:
        self.at(node)
        tree = self.opts.trees.get(node.name)
        if tree is None:
            self.error(f"template {go_quote(node.name)} not defined")
        if self.depth >= MAX_DEPTH:
            self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        value = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else MISSING
        State(self.opts, node.name, value, self.out, self.depth + 1).walk(value, tree)

    # --- variables -------------------------------------------------------------------------
    def set_var(self, name: str, value: object, typed: bool = True) -> None:
        self.var_entry(name)[1:] = [value, typed]

    def var_entry(self, name: str) -> list:
        for var in reversed(self.vars):
            if var[0] == name:
                return var
        self.error(f"undefined variable: {name}")
        raise AssertionError

    # --- evaluation ------------------------------------------------------------------------
    def eval_pipeline(self, dot: object, pipe: N.PipeNode | None) -> object:
        if pipe is None:
            return MISSING
        self.at(pipe)
        value: object = _NOFINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:  # Go unwraps an interface{}: a nil one becomes the invalid value
                value = MISSING
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append([var.ident[0], value, True])
        return value

    def not_a_function(self, args: list[N.Node], final: object) -> None:
        if len(args) > 1 or final is not _NOFINAL:
            self.error(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: object, cmd: N.CommandNode, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, N.FieldNode):
            self.at(first)
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final, self.dot_typed)
        if isinstance(first, N.ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, N.IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, N.PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, N.VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, N.BoolNode):
            return first.value
        if isinstance(first, N.DotNode):
            return dot
        if isinstance(first, N.NilNode):
            self.error("nil is not a command")
        if isinstance(first, N.NumberNode):
            return first.value
        if isinstance(first, N.StringNode):
            return first.text
        self.error(f"can't evaluate command {go_quote(str(first))}")
        raise AssertionError

    def eval_variable(self, dot: object, var: N.VariableNode, args: list | None, final: object) -> object:
        self.at(var)
        _, value, typed = self.var_entry(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args or [var], final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final, typed)

    def eval_chain(self, dot: object, chain: N.ChainNode, args: list | None, final: object) -> object:
        self.at(chain)
        if isinstance(chain.node, N.NilNode):
            self.error(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, "a", chain.node, keep_missing=True)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final, True)

    def eval_field_chain(self, dot: object, receiver: object, node: N.Node, idents: list[str],
                         args: list | None, final: object, typed: bool) -> object:
        for name in idents[:-1]:
            receiver = self.eval_field(dot, name, node, None, _NOFINAL, receiver, typed)
            typed = False
        return self.eval_field(dot, idents[-1], node, args, final, receiver, typed)

    def _type_name(self, receiver: object, typed: bool) -> str:
        if not typed:
            return "interface {}"
        if receiver is self.data and self.depth == 0 and self.opts.type_name:
            return self.opts.type_name
        return go_type(receiver)

    def eval_field(self, dot: object, name: str, node: N.Node, args: list | None, final: object,
                   receiver: object, typed: bool) -> object:
        if receiver is MISSING:
            if self.opts.missingkey == "error":
                self.error(f"nil data; no entry for key {go_quote(name)}")
            return MISSING
        if receiver is None:
            self.error(f"nil pointer evaluating {self._type_name(receiver, typed)}.{name}")
        has_args = bool(args and len(args) > 1) or final is not _NOFINAL
        if isinstance(receiver, dict):
            if name in receiver:
                value = receiver[name]
                if callable(value) and not isinstance(value, Func):
                    return self.eval_call(dot, value, None, node, name, args, final)
                if has_args:
                    self.error(f"{name} is not a method but has arguments")
                return value
            if not (self.opts.type_name and receiver is self.data and self.depth == 0):
                if has_args:
                    self.error(f"{name} is not a method but has arguments")
                if self.opts.missingkey == "error":
                    self.error(f"map has no entry for key {go_quote(name)}")
                return MISSING
        self.error(f"can't evaluate field {name} in type {self._type_name(receiver, typed)}")
        raise AssertionError

    def eval_function(self, dot: object, ident: N.IdentifierNode, cmd: N.Node, args: list | None,
                      final: object) -> object:
        self.at(ident)
        spec = self.opts.funcs.get(ident.ident)
        if spec is None:
            self.error(f"{go_quote(ident.ident)} is not a defined function")
        return self.eval_call(dot, spec[0], spec, cmd, ident.ident, args, final)

    def eval_call(self, dot: object, fn, spec: tuple | None, node: N.Node, name: str, args: list | None,
                  final: object) -> object:
        """Call a function (spec known) or a data method (spec None) as Go's evalCall does."""
        argn = list(args[1:]) if args else []
        if spec is None:
            argv = [self.eval_arg(dot, "a", a) for a in argn]
            if final is not _NOFINAL:
                argv.append(None if final is MISSING else final)
            return self._invoke(node, name, fn, argv)
        _, params, variadic = spec
        num_in = len(argn) + (final is not _NOFINAL)
        if variadic:
            if num_in < len(params):
                self.error(f"wrong number of args for {name}: want at least {len(params)} got {len(argn)}")
        elif num_in != len(params):
            self.error(f"wrong number of args for {name}: want {len(params)} got {num_in}")
        if name in ("and", "or") and spec[0].__name__ == "_and_or":
            return self._and_or(dot, name, argn, final)
        kinds = list(params) + [variadic] * (len(argn) + 1 - len(params))
        argv = [self.eval_arg(dot, kinds[i], a) for i, a in enumerate(argn)]
        if final is not _NOFINAL:
            argv.append(self.validate(final, kinds[len(argn)]))
        if name == "call" and spec is self.opts.funcs.get("call"):
            argv.insert(0, str(argn[0]) if argn else "")
        return self._invoke(node, name, fn, argv)

    def _invoke(self, node: N.Node, name: str, fn, argv: list) -> object:
        try:
            return fn(*argv)
        except ExecFailure as e:
            self.at(node)
            self.error(f"error calling {name}: {e}")
        except TemplateExecError:
            raise
        except Exception as e:  # a data method failed: Go's safeCall reports a panic the same way
            self.at(node)
            self.error(f"error calling {name}: {e or type(e).__name__}")
        raise AssertionError

    def _and_or(self, dot: object, name: str, argn: list, final: object) -> object:
        value: object = MISSING
        for a in argn:
            value = self.eval_arg(dot, "v", a)
            if is_true(value)[0] == (name == "or"):
                return value
        if final is not _NOFINAL:
            value = final
        return value

    def validate(self, value: object, kind: str) -> object:
        if value is MISSING:
            if kind == "v":
                return MISSING
            if kind == "a":
                return None
            self.error(f"invalid value; expected {GO_KIND[kind]}")
        if kind in ("v", "a"):
            return value
        if value is None:
            self.error(f"invalid value; expected {GO_KIND[kind]}")
        ok = {"s": isinstance(value, str), "i": isinstance(value, int) and not isinstance(value, bool),
              "S": isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value)}[kind]
        if not ok:
            self.error(f"wrong type for value; expected {GO_KIND[kind]}; got {go_type(value)}")
        return value

    def eval_arg(self, dot: object, kind: str, node: N.Node, keep_missing: bool = False) -> object:  # noqa: C901
        self.at(node)
        if isinstance(node, N.DotNode):
            value: object = dot
        elif isinstance(node, N.NilNode):
            if kind != "a":
                self.error(f"cannot assign nil to {GO_KIND[kind]}")
            return None
        elif isinstance(node, N.FieldNode):
            value = self.eval_field_chain(dot, dot, node, node.ident, [node], _NOFINAL, self.dot_typed)
        elif isinstance(node, N.VariableNode):
            value = self.eval_variable(dot, node, None, _NOFINAL)
        elif isinstance(node, N.PipeNode):
            value = self.eval_pipeline(dot, node)
        elif isinstance(node, N.IdentifierNode):
            value = self.eval_function(dot, node, node, None, _NOFINAL)
        elif isinstance(node, N.ChainNode):
            value = self.eval_chain(dot, node, None, _NOFINAL)
        else:
            return self._constant(kind, node)
        return value if keep_missing else self.validate(value, kind)

    def _constant(self, kind: str, node: N.Node) -> object:
        if kind in ("v", "a") and isinstance(node, (N.BoolNode, N.NumberNode, N.StringNode)):
            return node.text if isinstance(node, N.StringNode) else node.value
        if kind == "s":
            if isinstance(node, N.StringNode):
                return node.text
            self.error(f"expected string; found {node}")
        if kind == "i":
            if isinstance(node, N.NumberNode) and node.is_int:
                return node.int_value
            self.error(f"expected integer; found {node}")
        self.error(f"can't handle {node} for arg of type {GO_KIND[kind]}")
        raise AssertionError


def execute(opts: Options, data: object, partial: bool = False) -> str:
    """Run the main template ("") on `data`; with `partial`, an error ends the output instead."""
    out: list[str] = []
    if data is None:  # Go: Execute(w, nil) runs on an invalid value
        data = MISSING
    try:
        State(opts, "", data, out).walk(data, opts.trees[""])
    except TemplateExecError:
        if not partial:
            raise
    except (_Break, _Continue):  # unreachable: the parser keeps them inside {{range}}
        pass
    except RecursionError:
        if not partial:
            raise TemplateExecError("template: : exceeded maximum template depth") from None
    return "".join(out)
