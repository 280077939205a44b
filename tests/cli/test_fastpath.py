"""The fast path (rootless/cli/fastpath.py) against typer, on the same declaration.

Every case is parsed twice: by `fastpath.analyse` from the table, and by typer (the click command
`build_app()` returns, run with `standalone_mode=False`) on the command line main.py would give it,
with `rootless.cli.binding.call` (the one end point both paths share) recording the binding target
and parameters instead of running the command. Wherever the fast path answers, it must answer
exactly what typer passes; where the case is plain (a fast command, valid flags), it must answer.

Cases are generated from the tables themselves: rl's committed table (whatever commands exist) and a
table built here from a small run/exec/ps-like declaration, so docker's harder rules (`-itd`,
`-p8080:80`, repeated options, options ending at the image) are covered whatever rl declares today.
"""

from __future__ import annotations

import io
import itertools
from contextlib import redirect_stderr, redirect_stdout
from typing import Annotated, Literal, Optional

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rootless.cli import binding, cmdtable, fastpath
from rootless.cli.app import _global_options, build_app
from rootless.context import Context

# -- a run/exec/ps-like declaration (the shapes docker's CLI has) --------------------------------


def _sample_app() -> typer.Typer:
    app = typer.Typer(context_settings={"help_option_names": ["-h", "--help"]})
    app.callback()(_global_options)
    container = typer.Typer()
    no_intersperse = {"allow_interspersed_args": False}

    @app.command("run", context_settings=no_intersperse)
    @binding.implemented_by("containers:run")
    def run(image: Annotated[str, typer.Argument()],
            command: Annotated[Optional[list[str]], typer.Argument()] = None,
            interactive: Annotated[bool, typer.Option("-i", "--interactive")] = False,
            tty: Annotated[bool, typer.Option("-t", "--tty")] = False,
            detach: Annotated[bool, typer.Option("-d", "--detach")] = False,
            rm: Annotated[bool, typer.Option("--rm/--no-rm")] = False,
            env: Annotated[Optional[list[str]], typer.Option("-e", "--env")] = None,
            publish: Annotated[list[str], typer.Option("-p", "--publish")] = [],
            volume: Annotated[Optional[list[str]], typer.Option("-v", "--volume")] = None,
            hostname: Annotated[Optional[str], typer.Option("-h", "--hostname")] = None,
            cpus: Annotated[Optional[float], typer.Option("--cpus")] = None,
            restart: Annotated[Literal["no", "always"], typer.Option("--restart")] = "no",
            stop_timeout: Annotated[int, typer.Option("--stop-timeout")] = 10,
            name: Optional[str] = None) -> None:
        """run-like"""

    @app.command("exec", context_settings=no_intersperse)
    @binding.implemented_by("containers:exec_")
    def exec_(container: Annotated[str, typer.Argument()],
              command: Annotated[list[str], typer.Argument()],
              interactive: Annotated[bool, typer.Option("-i", "--interactive")] = False,
              tty: Annotated[bool, typer.Option("-t", "--tty")] = False,
              workdir: Annotated[Optional[str], typer.Option("-w", "--workdir")] = None) -> None:
        """exec-like"""

    def ps(all: Annotated[bool, typer.Option("-a", "--all")] = False,
           latest: Annotated[bool, typer.Option("-l", "--latest")] = False,
           last: Annotated[int, typer.Option("-n", "--last")] = -1,
           filter: Annotated[list[str], typer.Option("-f", "--filter")] = [],
           quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False) -> None:
        """ps-like"""

    app.command("ps")(binding.implemented_by("containers:ps")(ps))
    container.command("ls")(binding.implemented_by("containers:ps")(ps))

    @container.command("rm")
    @binding.implemented_by("containers:rm")
    def rm_(containers: Annotated[list[str], typer.Argument()],
            force: Annotated[bool, typer.Option("-f", "--force")] = False) -> None:
        """rm-like (interspersed: `rm a -f b`)"""

    @app.command("cp")
    @binding.implemented_by("containers:cp")
    def cp(src: Annotated[str, typer.Argument()], dst: Annotated[str, typer.Argument()]) -> None:
        """two positionals"""

    @app.command("slow")
    @binding.implemented_by("containers:slow")
    def slow(level: Annotated[int, typer.Option("--level", min=0, max=3)] = 0) -> None:
        """a ranged int: left to typer"""

    @app.command("ctx")
    @binding.implemented_by("containers:ctx")
    def ctx_(ctx: typer.Context, all: Annotated[bool, typer.Option("-a")] = False) -> None:
        """asks typer for its context: left to typer"""

    app.add_typer(container, name="container")
    return app


SAMPLE_COMMAND = typer.main.get_command(_sample_app())
SAMPLE = cmdtable.walk(SAMPLE_COMMAND)
RL_COMMAND = build_app()
RL = cmdtable.walk(RL_COMMAND)  # today's declaration; whether it is committed is tested below

# -- running both parsers ------------------------------------------------------------------------


def typer_outcome(command, argv: list[str], monkeypatch) -> tuple:
    """What typer does with argv: ("call", target, params, ctx) / ("version",) / ("error", name)."""
    calls = []
    monkeypatch.setattr(binding, "call", lambda target, ctx, params: calls.append((target, params, ctx)) or 0)
    monkeypatch.setattr(Context, "create", classmethod(
        lambda cls, root=None, runroot=None, log_level="warn", env=None: ("ctx", root, runroot, log_level)))
    out = io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(io.StringIO()):
            command.main(args=list(argv), prog_name="rl", standalone_mode=False)
    except (typer.Exit, SystemExit) as e:
        if "rl version" in out.getvalue():
            return ("version",)
        return ("error", type(e).__name__)
    except Exception as e:  # usage errors, bad parameters: exactly what the fast path leaves alone
        return ("error", type(e).__name__)
    if "rl version" in out.getvalue():
        return ("version",)
    if not calls:
        return ("exit", "help or another eager option")
    assert len(calls) == 1, calls
    target, params, ctx = calls[0]
    return ("call", target, params, ctx)


def fast_outcome(argv: list[str], table) -> tuple | None:
    analysis = fastpath.analyse(argv, table)
    if analysis.call is None:
        return None
    g = analysis.globals
    if g["version"]:
        return ("version",)
    target, params = analysis.call
    return ("call", target, params, ("ctx", g["root"], g["runroot"], g["log_level"]))


def check(argv: list[str], table, command, monkeypatch, must_be_fast: bool) -> None:
    hoisted = fastpath.analyse(argv, table).argv
    assert sorted(hoisted) == sorted(argv)
    expected = typer_outcome(command, hoisted, monkeypatch)
    got = fast_outcome(argv, table)
    if got is not None:
        assert got == expected, argv
    elif must_be_fast:
        pytest.fail(f"fast path declined {argv}; typer gave {expected}")


# -- cases generated from a table ----------------------------------------------------------------

SAMPLE_VALUES = {"str": ["v1", "a=b", "-x", ""], "int": ["3", "0", "-2", "x1", "07"],
                 "float": ["1.5", "2", "1e3"], "bool": []}


def _values(param) -> list[str]:
    return param.get("choices", []) + ["bogus"] if param["type"] == "choice" else SAMPLE_VALUES[param["type"]]


def _valid(param, value: str) -> bool:
    if param["type"] == "choice":
        return value in param["choices"]
    return value in {"str": SAMPLE_VALUES["str"], "int": ["3", "0", "-2"], "float": ["1.5", "2"]}[param["type"]]


def _positionals(cmd) -> list[str]:
    return [("1" if p["type"] in ("int", "float") else f"pos{i}")
            for i, p in enumerate(cmd["params"]) if p["kind"] == "argument" and p["required"]]


def generate_cases(table) -> list[tuple[list[str], bool]]:
    """(argv, must_be_fast) for every command of the table (once per declaration: aliases such as
    `ps`/`container ls` share theirs; the table equality test covers their paths)."""
    cases, seen = [], []
    for key, cmd in sorted(table["commands"].items()):
        path = key.split()
        if cmd in seen:
            cases.append((path + (_positionals(cmd) if "slow" not in cmd else []), "slow" not in cmd))
            continue
        seen.append(cmd)
        fast = "slow" not in cmd
        pos = _positionals(cmd) if fast else []
        cases += [(path + pos, fast), (["--root", "/r", *path, *pos], fast),
                  ([*path, "--log-level=debug", "--runroot", "/rr", *pos], fast),
                  ([*path, *pos, "-l", "info"], fast and cmd["interspersed"] and "-l" not in cmd["options"]),
                  ([*path, "--version"], False), ([*path, "--help"], False), ([*path, "-h"], False),
                  ([*path, "--no-such-option"], False), ([*path, *pos, "extra", "args"], False),
                  ([*path, "--", *pos], fast), (["--log-level", "loud", *path, *pos], False)]
        for param in cmd.get("params", []):
            if param["kind"] != "option":
                continue
            cases += [(path + c + pos, fast and ok) for c, ok in _option_forms(param, cmd)]
        shorts = [o for o in cmd["options"] if len(o) == 2 and not cmd["options"][o]]
        valued = [o for o in cmd["options"] if len(o) == 2 and cmd["options"][o]]
        if len(shorts) > 1:
            cluster = "-" + "".join(o[1] for o in shorts)
            cases.append(([*path, cluster, *pos], fast))
            cases.append(([*path, *(f"-{o[1]}" for o in shorts), *pos], fast))
            for v in valued:
                cases.append(([*path, cluster + v[1], "x", *pos], False))
                cases.append(([*path, cluster + v[1] + "x", *pos], False))
        if not cmd["interspersed"] and fast:
            flags = [o for o in cmd["options"] if not cmd["options"][o]]
            cases.append(([*path, *pos, *flags, "-c", "ls -l", "--", "x"], fast))
            cases.append(([*path, *flags[:1], *pos, "sh", "--help"], fast))
    return cases


def _option_forms(param, cmd) -> list[tuple[list[str], bool]]:
    longs = [o for o in param["opts"] if o.startswith("--")]
    shorts = [o for o in param["opts"] if len(o) == 2 and o[1] != "-"]
    if param["action"] == "flag":
        forms = [([o], True) for o in param["opts"] + param["secondary"]]
        forms += [([f"{o}=1"], False) for o in longs]
        return forms + [(param["opts"] + param["secondary"], True)]
    forms = []
    for value in _values(param):
        ok = _valid(param, value)
        forms += [([o, value], ok) for o in longs + shorts]
        forms += [([f"{o}={value}"], ok) for o in longs]
        forms += [([f"{o}{value}"], ok and value != "") for o in shorts]
        forms += [([f"{o}={value}"], False) for o in shorts]
    forms += [([o], False) for o in longs + shorts]  # missing value
    first = _values(param)[0]
    forms.append(([param["opts"][0], first, param["opts"][-1], first], _valid(param, first)))
    return forms


SAMPLE_CASES = generate_cases(SAMPLE)
RL_CASES = generate_cases(RL)


@pytest.mark.parametrize("argv,must_be_fast", SAMPLE_CASES, ids=[" ".join(c[0]) for c in SAMPLE_CASES])
def test_fast_path_agrees_with_typer_on_sample_declaration(argv, must_be_fast, monkeypatch):
    check(argv, SAMPLE, SAMPLE_COMMAND, monkeypatch, must_be_fast)


@pytest.mark.parametrize("argv,must_be_fast", RL_CASES, ids=[" ".join(c[0]) for c in RL_CASES])
def test_fast_path_agrees_with_typer_on_rl(argv, must_be_fast, monkeypatch):
    check(argv, RL, RL_COMMAND, monkeypatch, must_be_fast)


@pytest.mark.parametrize("argv,target,params", [
    (["run", "-itd", "--rm", "-p8080:80", "-e", "A=1", "--env=B=2", "busybox", "sh", "-c", "ls -l"],
     "containers:run", {"interactive": True, "tty": True, "detach": True, "rm": True,
                        "publish": ["8080:80"], "env": ["A=1", "B=2"], "image": "busybox",
                        "command": ["sh", "-c", "ls -l"]}),
    (["run", "-it", "--rm", "img"], "containers:run", {"interactive": True, "tty": True, "command": None}),
    (["run", "-v", "/a:/b", "-h", "host", "img", "--rm"], "containers:run",
     {"volume": ["/a:/b"], "hostname": "host", "rm": False, "command": ["--rm"]}),
    (["exec", "-it", "c1", "sh", "-c", "echo -e"], "containers:exec_",
     {"container": "c1", "command": ["sh", "-c", "echo -e"], "interactive": True, "tty": True}),
    (["container", "rm", "a", "-f", "b"], "containers:rm", {"containers": ["a", "b"], "force": True}),
    (["ps", "-l", "-n3", "-f", "x", "--filter=y"], "containers:ps",
     {"latest": True, "last": 3, "filter": ["x", "y"]}),
    (["cp", "--", "-a", "-b"], "containers:cp", {"src": "-a", "dst": "-b"}),
])
def test_docker_rules(argv, target, params, monkeypatch):
    got = fastpath.parse(argv, SAMPLE)
    assert got is not None and got[0] == target
    assert {k: got[1][k] for k in params} == params
    check(argv, SAMPLE, SAMPLE_COMMAND, monkeypatch, True)


def test_global_options_anywhere_before_the_stop_point(monkeypatch):
    a = fastpath.analyse(["ps", "-a", "--root", "/r", "--log-level=debug", "-q"], SAMPLE)
    assert a.argv == ["--root", "/r", "--log-level=debug", "ps", "-a", "-q"]
    assert a.globals["root"] == "/r" and a.globals["log_level"] == "debug"
    # after the image they are the container's
    a = fastpath.analyse(["run", "img", "--root", "/r"], SAMPLE)
    assert a.argv == ["run", "img", "--root", "/r"] and a.call[1]["command"] == ["--root", "/r"]
    # a command's own option wins: `ps -l` is --latest, `run -v` a volume
    assert fastpath.analyse(["ps", "-l"], SAMPLE).call[1]["latest"] is True
    assert fastpath.analyse(["run", "-v", "x", "img"], SAMPLE).globals["version"] is False
    for argv in (["ps", "--root", "/r"], ["container", "--runroot", "/x", "ls"], ["run", "-l", "debug", "i"]):
        check(argv, SAMPLE, SAMPLE_COMMAND, monkeypatch, True)


def test_slow_commands_and_unknown_commands_go_to_typer():
    assert fastpath.parse(["slow", "--level", "1"], SAMPLE) is None
    assert "slow" in SAMPLE["commands"]["slow"]
    assert fastpath.parse(["ctx", "-a"], SAMPLE) is None and "ctx" in SAMPLE["commands"]["ctx"]["slow"]
    assert fastpath.parse(["bogus", "-a"], SAMPLE) is None
    assert fastpath.parse(["container"], SAMPLE) is None
    assert fastpath.parse([], SAMPLE) is None
    assert fastpath.parse(["ps", "--install-completion"], SAMPLE) is None
    assert fastpath.parse(["ps", "-n", "9" * 5000], SAMPLE) is None  # typer's to refuse or take


# -- properties ----------------------------------------------------------------------------------

def _tokens(table) -> list[str]:
    words = {"--", "-", "--help", "-h", "=", "--root", "--log-level", "-l", "debug", "-v", "--version",
             "img", "x", "-itd", "-p8080:80", "-e=A", "3", "-1", "1.5", "always"}
    for key, cmd in table["commands"].items():
        words.update(key.split())
        words.update(cmd["options"])
        words.update(f"{o}=v" for o in cmd["options"])
    return sorted(words)


ARGV = st.lists(st.one_of(st.sampled_from(_tokens(SAMPLE)), st.text(max_size=6)), max_size=10)


@settings(max_examples=400, deadline=None, database=None)
@given(ARGV)
def test_analyse_never_raises(argv):
    for table in (SAMPLE, RL):
        a = fastpath.analyse(argv, table)
        assert sorted(a.argv) == sorted(argv)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_tokens(SAMPLE)), max_size=8))
def test_fast_path_agrees_with_typer_on_random_argv(monkeypatch, argv):
    check(argv, SAMPLE, SAMPLE_COMMAND, monkeypatch, False)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_tokens(RL)), max_size=8))
def test_fast_path_agrees_with_typer_on_random_rl_argv(monkeypatch, argv):
    check(argv, RL, RL_COMMAND, monkeypatch, False)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=8), st.sampled_from(["--name", "-e", "--cpus", "--stop-timeout", "--restart", "-p", "-n"]))
def test_any_value_text_agrees(monkeypatch, value, opt):
    """Values typer would coerce, reject or pass through (surrogates from non-UTF-8 argv too)."""
    check(["run", opt, value, "img", value], SAMPLE, SAMPLE_COMMAND, monkeypatch, False)
    check(["run", f"{opt}={value}", "img"], SAMPLE, SAMPLE_COMMAND, monkeypatch, False)
    check(["ps", opt + value], SAMPLE, SAMPLE_COMMAND, monkeypatch, False)


def test_commands_with_a_container_command_line_stop_at_the_image():
    """`rl run -it img sh -c x`: docker leaves `-c` to the container; so must the declaration."""
    for key, cmd in RL["commands"].items():
        if key.removeprefix("container ") in ("run", "create", "exec"):  # not `volume create`
            assert cmd["interspersed"] is False, f"{key}: declare it with allow_interspersed_args=False"


# -- the committed table -------------------------------------------------------------------------

def test_committed_table_matches_the_declaration():
    fresh = cmdtable.render(cmdtable.generate())
    committed = cmdtable.TABLE_FILE.read_text()
    assert committed == fresh, "rootless/cli/_cmdtable.py is stale: run `make table` and commit it"


def test_a_stale_table_is_not_used():
    from rootless.cli._cmdtable import TABLE

    assert fastpath._fresh({**TABLE, "digest": cmdtable.sources_digest(TABLE["sources"])})
    assert not fastpath._fresh({**TABLE, "digest": "00000000"})


def test_binding_target_is_found_through_typer_wrappers():
    for key, cmd in RL["commands"].items():
        assert cmd["target"] and ":" in cmd["target"], key
    targets = {k: c["target"] for k, c in SAMPLE["commands"].items()}
    assert targets["container ls"] == targets["ps"] == "containers:ps"


@pytest.mark.parametrize("flags", list(itertools.permutations(["-i", "-t", "-d"])))
def test_cluster_order_does_not_matter(flags):
    one = fastpath.parse(["run", "-" + "".join(f[1] for f in flags), "img"], SAMPLE)
    assert one == fastpath.parse(["run", *flags, "img"], SAMPLE) == fastpath.parse(["run", "-itd", "img"], SAMPLE)
