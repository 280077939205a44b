"""The entry point: exit codes, error reports, help, unknown commands, global options anywhere.

End to end through the real `rl` executable on real commands where one shows the behaviour; the
catch site's mapping is also unit-tested with the error classes themselves, and the one seam mocked
is `rootless.cli.binding.call` (the end point of both parsers) to raise what a command would.
"""

from __future__ import annotations

import json

import pytest

from rootless.cli import binding, main
from rootless.errors import ContainerCommandError, ImageNotFound, RlError, UsageError


@pytest.mark.parametrize("args", [["--help"], ["-h"], [], ["system"], ["system", "--help"], ["info", "--help"]])
def test_help_exits_0(run_rl, args):
    r = run_rl(*args)
    assert r.returncode == 0, r.stderr
    assert "Usage: rl" in r.stdout


@pytest.mark.parametrize("args,wording", [
    (["bogus"], "unknown command: rl bogus"),
    (["system", "bogus"], "unknown command: rl system bogus"),
])
def test_unknown_command_is_125_with_docker_wording_and_usage(run_rl, args, wording):
    r = run_rl(*args)
    assert r.returncode == 125
    assert wording in r.stderr
    assert "Usage: rl" in r.stderr and "-h' for help" in r.stderr


@pytest.mark.parametrize("args", [["system", "check", "--bogus"], ["info", "--format"],
                                  ["--log-level", "loud", "info"], ["info", "extra"]])
def test_usage_errors_exit_125(run_rl, args):
    r = run_rl(*args)
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert "Error:" in r.stderr


def _failing_call(err):
    def call(target, ctx, params):
        raise err
    return call


def test_command_error_is_reported_with_hint_and_exit_1(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(binding, "call", _failing_call(RlError("it broke", "do this")))
    assert main.main(["info", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == "Error: it broke\nHint: do this\n"


@pytest.mark.parametrize("args", [["--log-level", "debug", "info"], ["info", "-l", "debug"],
                                  ["info", "--log-level=debug"], ["system", "-ldebug", "check"]])
def test_debug_log_level_shows_the_traceback_in_either_position(monkeypatch, tmp_path, capsys, args):
    monkeypatch.setattr(binding, "call", _failing_call(RlError("it broke")))
    assert main.main([*args, "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("Error: it broke\n")


@pytest.mark.parametrize("args", [["--version"], ["-v"], ["info", "--version"], ["--root", "/x", "system", "check", "-v"]])
def test_version_anywhere(run_rl, args):
    r = run_rl(*args)
    assert r.returncode == 0 and r.stdout.startswith("rl version ")


def test_global_options_before_and_after_the_command(run_rl, tmp_path):
    """`--root` before the command (docker) and after it (podman) reach the command alike; also on the
    typer path (`--help` makes the fast path step aside, so use a group: `system info`)."""
    for args in (["--root", tmp_path / "a", "info", "--format", "json"],
                 ["info", "--format", "json", "--root", tmp_path / "a"],
                 ["info", "--root=" + str(tmp_path / "a"), "--format=json", "--log-level", "error"],
                 ["system", "--root", tmp_path / "a", "info", "--format", "json"]):
        r = run_rl(*args)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["DockerRootDir"] == str(tmp_path / "a")


@pytest.mark.parametrize("table", ["committed", "stale"])
def test_typer_path_also_accepts_globals_after_the_command(monkeypatch, tmp_path, table):
    """Typer parses what the fast path declines; with the table stale (a declaration changed
    without `make table`) every command goes through typer, globals moved by the live tree."""
    from rootless.cli import fastpath

    seen = []
    monkeypatch.setattr(binding, "call", lambda target, ctx, params: seen.append((target, ctx, params)) or 0)
    monkeypatch.setattr(fastpath, "analyse", _no_fast_call(fastpath.analyse))
    if table == "stale":
        monkeypatch.setattr(fastpath, "load_table", lambda: None)
    assert main.main(["info", "--root", str(tmp_path), "-f", "json", "-l", "info"]) == 0
    target, ctx, params = seen[0]
    assert target == "system:info" and params == {"format": "json"}
    assert str(ctx.paths.root) == str(tmp_path) and ctx.log_level == "info"


def _no_fast_call(analyse):
    def wrapper(argv, table=None):
        a = analyse(argv, table)
        a.call = None
        return a
    return wrapper


def test_stale_table_still_names_the_command_and_sees_debug(monkeypatch, tmp_path, capsys):
    from rootless.cli import fastpath

    seen = []
    monkeypatch.setattr(fastpath, "load_table", lambda: None)
    monkeypatch.setattr(binding, "call", _failing_call(RlError("x")))
    monkeypatch.setattr(main, "report", lambda err, command, debug: seen.append((command, debug)) or 9)
    assert main.main(["--root", str(tmp_path), "system", "check", "-l", "debug"]) == 9
    assert seen == [("check", True)]


@pytest.mark.parametrize("err,command,code", [
    (RlError("boom", "do this"), "ps", 1),
    (ImageNotFound("no such image"), "images", 1),
    (RlError("boom"), "run", 125),
    (ImageNotFound("no such image"), "create", 125),
    (RlError("boom"), "exec", 1),
    (RlError("boom"), "start", 1),
    (UsageError("bad flag"), "ps", 125),
    (ContainerCommandError("exec: nope: not found", 127), "run", 127),
    (ContainerCommandError("exec: /etc: permission denied", 126), "exec", 126),
    (ValueError("unexpected"), "ps", 125),
])
def test_report_maps_errors_to_docker_exit_codes(err, command, code, capsys):
    assert main.report(err, command, debug=False) == code
    stderr = capsys.readouterr().err
    assert stderr.startswith(f"Error: {err}")
    if getattr(err, "hint", None):
        assert f"Hint: {err.hint}" in stderr
    if not isinstance(err, RlError):
        assert "--log-level debug" in stderr  # how to see more


@pytest.mark.parametrize("raised,code", [(KeyboardInterrupt(), 130), (RlError("x"), 1),
                                         (ContainerCommandError("x", 126), 126), (SystemExit(3), 3)])
def test_catch_site_on_the_fast_path(monkeypatch, tmp_path, raised, code, capsys):
    def fail(target, ctx, params):
        raise raised

    monkeypatch.setattr(binding, "call", fail)
    assert main.main(["--root", str(tmp_path), "system", "check"]) == code


def test_the_command_named_in_exit_codes_is_found_past_global_options(monkeypatch, tmp_path):
    """RUN_LIKE is decided on the command, not on the first word that is not an option."""
    seen = []

    def fail(target, ctx, params):
        raise RlError("x")

    monkeypatch.setattr(binding, "call", fail)
    monkeypatch.setattr(main, "report", lambda err, command, debug: seen.append((command, debug)) or 9)
    assert main.main(["--root", str(tmp_path), "system", "check", "--log-level=debug"]) == 9
    assert seen == [("check", True)]


def test_shell_completion_goes_to_typer_even_for_a_fast_command(run_rl, rl_env):
    env = dict(rl_env, _RL_COMPLETE="complete_bash", COMP_WORDS="rl system ch", COMP_CWORD="2")
    r = run_rl("system", "check", env=env)
    assert r.returncode == 0 and r.stdout.split() == ["check"]
