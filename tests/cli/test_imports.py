"""Import discipline of the start-up path (not timed: docs/cli.md has the figures).

`rl --version` and every command the fast path parses must not pay for typer, click, rich,
http.client, PyYAML, pydantic or the engine packages; each is tens of milliseconds here. Checked in a fresh
interpreter through `sys.modules`.
"""

from __future__ import annotations

import subprocess
import sys

from pathlib import Path

import pytest

import rootless

HEAVY = ("typer", "click", "rich", "http.client", "yaml", "pydantic", "rootless.engine", "rootless.runtime",
         "rootless.compose", "rootless.build")


REPO = str(Path(rootless.__file__).resolve().parent.parent)


def loaded_after(code: str, *, no_site: bool = False) -> list[str]:
    """sys.modules of a fresh interpreter after `code`; `no_site`: without site's own imports."""
    prelude = f"import sys\nsys.path.insert(0, {REPO!r})\n" if no_site else ""
    out = subprocess.run([sys.executable, *(["-S"] if no_site else []), "-c",
                          f"{prelude}{code}\nimport sys\nprint('MODULES', *sorted(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.rsplit("MODULES ", 1)[1].split()


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_entry_and_the_fast_path_imports_nothing_heavy():
    modules = loaded_after("import rootless.cli.main, rootless.cli.fastpath, rootless.cli.binding")
    assert heavy(modules) == []
    # nor typing or re, which cost milliseconds each (site's own imports left out to see it)
    modules = loaded_after("import rootless.cli.main, rootless.cli.fastpath, rootless.cli.binding\n"
                           "rootless.cli.fastpath.analyse(['run', '-it', 'img'])", no_site=True)
    assert "typing" not in modules and "re" not in modules


@pytest.mark.parametrize("argv", [
    ["ps"], ["ps", "-a"], ["run", "-it", "--rm", "busybox", "sh", "-c", "ls -l"], ["exec", "c", "true"],
    ["info", "--format", "json", "--root", "/tmp/x"], ["system", "check"], ["--version"],
])
def test_parsing_a_command_line_imports_nothing_heavy(argv):
    modules = loaded_after(f"from rootless.cli import fastpath\nfastpath.analyse({argv!r})")
    assert heavy(modules) == []


def test_the_committed_table_is_used(tmp_path):
    """`rl info` is in the table; the fast path must take it (no typer) all the way to the command."""
    from rootless.cli import fastpath

    assert fastpath.load_table() is not None, "table missing or stale: run `make table`"
    code = ("from rootless.cli import main, binding\n"
            "seen = []\n"
            "binding.call = lambda target, ctx, params: seen.append(target) or 0\n"
            f"assert main.main(['info', '--root', {str(tmp_path)!r}]) == 0 and seen == ['system:info']")
    assert heavy(loaded_after(code)) == []


def test_version_imports_only_the_package():
    """(rootless.codebundle is the package's import accelerator, loaded by rootless/__init__.py.)"""
    modules = loaded_after("from rootless.cli.main import main\nmain(['--version'])", no_site=True)
    assert [m for m in modules if m.startswith("rootless")] == [
        "rootless", "rootless.cli", "rootless.cli.main", "rootless.codebundle"]
