"""packaging/glibc_floor.py's `--max` check and packaging/glibc_compat.h, the header that keeps the
portable build's floor at glibc 2.28: pure parts table-driven; the header and the check against
real programs compiled here with gcc and read with objdump."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPAT = REPO / "packaging" / "glibc_compat.h"
MATH = """#include <math.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    double x = atof(argv[argc - 1]);
    return (int)(pow(x, argc) + exp(x) + exp2(x) + log(x + 2) + log2(x + 2)) & 1;
}
"""


def _floor():
    spec = importlib.util.spec_from_file_location("rl_glibc_floor_max", REPO / "packaging" / "glibc_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


floor = _floor()

OBJDUMP = """
0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.2.5) free
0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.29) pow
0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.30) sem_clockwait
0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.28) fcntl64
0000000000004010 g    DF .text	0000000000000010  GLIBC_2.99  exported_not_needed
"""


@pytest.mark.parametrize("limit, expected", [
    ("2.28", ["pow@GLIBC_2.29", "sem_clockwait@GLIBC_2.30"]),
    ("2.29", ["sem_clockwait@GLIBC_2.30"]),
    ("2.30", []),
    ("2.3", ["fcntl64@GLIBC_2.28", "pow@GLIBC_2.29", "sem_clockwait@GLIBC_2.30"]),  # 2.28 > 2.3
])
def test_symbols_above(limit, expected):
    assert floor.symbols_above(OBJDUMP, limit) == expected


@pytest.mark.parametrize("argv, expected", [
    (["t"], ("t", False, None)),
    (["t", "--all"], ("t", True, None)),
    (["--max", "2.28", "t"], ("t", False, "2.28")),
    (["t", "--all", "--max", "2.2.5"], ("t", True, "2.2.5")),
])
def test_parse_args(argv, expected):
    assert floor.parse_args(argv) == expected


@pytest.mark.parametrize("argv", [[], ["--all"], ["t", "--max"], ["t", "--max", "new"], ["t", "u"], ["t", "-x"]])
def test_parse_args_refuses(argv):
    with pytest.raises(ValueError):
        floor.parse_args(argv)


def _compile(tmp_path: Path, *flags: str) -> Path:
    cc = shutil.which("gcc")
    assert cc, "gcc is needed (Debian: apt-get install gcc)"
    src = tmp_path / "m.c"
    src.write_text(MATH)
    out = tmp_path / ("with-compat" if flags else "plain")
    subprocess.run([cc, "-O2", *flags, "-o", str(out), str(src), "-lm"], check=True)
    return out


def _math_versions(exe: Path) -> dict[str, str]:
    text = subprocess.run(["objdump", "-T", str(exe)], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in text.splitlines():
        fields = line.split()
        if "*UND*" in line and fields[-1] in {"pow", "exp", "exp2", "log", "log2"}:
            found[fields[-1]] = line.split("(GLIBC_")[1].split(")")[0]
    return found


@pytest.mark.skipif(sys.platform != "linux" or not Path("/lib/x86_64-linux-gnu").is_dir(),
                    reason="glibc_compat.h is for x86_64 glibc")
def test_compat_header_binds_math_to_old_versions(tmp_path):
    plain = _math_versions(_compile(tmp_path))
    assert set(plain) == {"pow", "exp", "exp2", "log", "log2"}
    # this host's glibc (>= 2.29) gives them the 2.29 versions without the header...
    assert set(plain.values()) == {"2.29"}
    exe = _compile(tmp_path, "-include", str(COMPAT))
    # ...and the header binds every one to the version x86_64 glibc started with
    assert _math_versions(exe) == dict.fromkeys(plain, "2.2.5")
    assert subprocess.run([str(exe), "1.5"]).returncode in (0, 1)  # it loads and runs


def test_max_fails_above_and_passes_at_the_floor(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    _compile(tree)  # needs GLIBC_2.29 at least (pow and friends)
    script = [sys.executable, str(REPO / "packaging" / "glibc_floor.py"), str(tree)]
    above = subprocess.run([*script, "--max", "2.28"], capture_output=True, text=True)
    assert above.returncode == 1
    assert "pow@GLIBC_2.29" in above.stderr and "above the allowed GLIBC_2.28" in above.stderr
    top = above.stdout.split("GLIBC_")[1].split()[0]
    assert subprocess.run([*script, "--max", top], capture_output=True).returncode == 0
