"""rootless.codebundle: modules served from the one-file bundle only while their sources are
unchanged, never for a copy of the package, and never from a damaged or foreign bundle. Each case
runs in a fresh interpreter (the finder goes on sys.meta_path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rootless import codebundle

REPO = Path(__file__).resolve().parents[1]


def _package(root: Path) -> Path:
    pkg = root / "pkgx"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "alpha.py").write_text("from __future__ import annotations\nVALUE = 'alpha'\n"
                                  "def where() -> str:\n    return __file__\n")
    (pkg / "sub" / "__init__.py").write_text("PKG = True\n")
    (pkg / "sub" / "beta.py").write_text("from pkgx.alpha import VALUE\nBETA = VALUE + '-beta'\n")
    (pkg / "broken.py").write_text("raise RuntimeError('boom in broken')\n")
    return pkg


def _probe(pkg: Path, body: str) -> str:
    """Run `body` after installing the bundle finder of `pkg`; returns stdout."""
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(pkg.parent)!r}, {str(REPO)!r}]
        from rootless import codebundle
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, codebundle.BundleFinder)]
        codebundle.install({str(pkg)!r})
    """) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _loader_names(pkg: Path, modules: str) -> str:
    return _probe(pkg, f"""
        import importlib
        for name in {modules.split()!r}:
            m = importlib.import_module(name)
            print(name, type(m.__spec__.loader).__name__)
    """)


def test_unchanged_modules_come_from_the_bundle_with_their_usual_attributes(tmp_path):
    pkg = _package(tmp_path)
    target = codebundle.build(str(pkg))
    assert target == codebundle.bundle_path(str(pkg)) and os.path.exists(target)
    out = _probe(pkg, """
        import pkgx.sub.beta as beta, pkgx.alpha as alpha, pkgx.sub as sub
        print(beta.BETA, sub.PKG, alpha.where() == alpha.__file__, alpha.__file__.endswith('pkgx/alpha.py'))
        print(type(alpha.__spec__.loader).__name__, sub.__path__ == [sub.__file__.rsplit('/', 1)[0]])
        print(alpha.where.__annotations__)
    """)
    assert out.splitlines() == ["alpha-beta True True True", "BundleFinder True", "{'return': 'str'}"]


def test_an_edited_module_is_imported_the_usual_way(tmp_path):
    pkg = _package(tmp_path)
    codebundle.build(str(pkg))
    (pkg / "alpha.py").write_text("VALUE = 'edited, longer than before'\n")
    out = _loader_names(pkg, "pkgx.alpha pkgx.sub.beta")
    assert "pkgx.alpha SourceFileLoader" in out and "pkgx.sub.beta BundleFinder" in out
    assert "edited, longer" in _probe(pkg, "import pkgx.sub.beta as b; print(b.BETA)")


def test_a_copy_of_the_package_never_uses_the_originals_code(tmp_path):
    pkg = _package(tmp_path / "a")
    codebundle.build(str(pkg))
    copy = tmp_path / "b" / "pkgx"
    shutil.copytree(pkg, copy)  # the bundle comes along, naming the original's paths
    (copy / "alpha.py").write_text("VALUE = 'the copy'\n")
    assert _probe(copy, "import pkgx.alpha as a; print(a.VALUE, type(a.__spec__.loader).__name__)") \
        == "the copy SourceFileLoader\n"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other-python"])
def test_a_damaged_or_foreign_bundle_is_ignored(tmp_path, damage):
    pkg = _package(tmp_path)
    target = Path(codebundle.build(str(pkg)))
    raw = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(raw[:len(codebundle.MAGIC) + 20])
    elif damage == "garbage":
        target.write_bytes(codebundle.MAGIC + os.urandom(4000))
    else:  # the index says another bytecode version
        import marshal

        start = len(codebundle.MAGIC) + 8
        size = int.from_bytes(raw[len(codebundle.MAGIC):start], "little")
        _, made_in, index = marshal.loads(raw[start:start + size])
        header = marshal.dumps((b"\x00\x00\r\n", made_in, index))
        target.write_bytes(codebundle.MAGIC + len(header).to_bytes(8, "little") + header + raw[start + size:])
    assert _loader_names(pkg, "pkgx.alpha") == "pkgx.alpha SourceFileLoader\n"


def test_a_closed_or_reused_descriptor_is_opened_again(tmp_path):
    """A forked child may close every descriptor (closerange) and open others before importing."""
    pkg = _package(tmp_path)
    codebundle.build(str(pkg))
    out = _probe(pkg, """
        import os, sys
        from rootless import codebundle
        finder = next(f for f in sys.meta_path if isinstance(f, codebundle.BundleFinder))
        os.close(finder.fd)
        other = os.open(os.devnull, os.O_RDONLY)   # likely the same number, another file
        import pkgx.alpha as a
        print(a.VALUE, type(a.__spec__.loader).__name__, finder.fd != other or 'reopened')
    """)
    assert out.startswith("alpha BundleFinder ")


def test_errors_and_tracebacks_name_the_source(tmp_path):
    pkg = _package(tmp_path)
    codebundle.build(str(pkg))
    out = _probe(pkg, """
        import traceback
        try:
            import pkgx.broken
        except RuntimeError:
            text = traceback.format_exc()
        print('broken.py' in text, "raise RuntimeError('boom in broken')" in text)
    """)
    assert out == "True True\n"


def test_python_dash_m_runs_a_bundled_module(tmp_path):
    pkg = _package(tmp_path)
    (pkg / "tool.py").write_text("import sys\nif __name__ == '__main__':\n    print('ran', __spec__.loader.__class__.__name__)\n")
    codebundle.build(str(pkg))
    code = (f"import sys, runpy; sys.path[:0] = [{str(tmp_path)!r}, {str(REPO)!r}]\n"
            f"from rootless import codebundle; codebundle.install({str(pkg)!r})\n"
            "runpy.run_module('pkgx.tool', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "ran BundleFinder\n", done.stderr
