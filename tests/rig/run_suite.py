#!/usr/bin/env python3
"""Run the test suite as every user rl must work for; `make test` calls this.

As root: prepares the host (tests/rig/setup_host.sh: users rltest with a subuid range and rltest1
without, /dev/net/tun and /dev/fuse 0666, / rshared, /dev/shm a tmpfs), then runs pytest as root,
as rltest and as rltest1 (runuser), each with its own temp HOME, RL_ROOT and pytest --basetemp,
removed afterwards. If the test users cannot read this tree or run its venv (a clone under /root,
a venv made from root's own interpreter), the tree is copied to /var/tmp/rl-suite-src with a venv
of its own (`make dev` there, from /usr/bin/python3) and all three runs happen there (root's tests
also drop privileges and run the tree as other uids). As anyone else: runs pytest once as that user.

Each run's soft RLIMIT_AS is lowered (6 GiB by default, RL_TEST_MEMORY_LIMIT_GB to change, 0 for
none) so that a runaway test fails alone instead of calling the OOM killer onto a shared machine.

Extra arguments go to pytest. Exit status: the first failing run's pytest status; pytest's 5 (no
tests collected) counts as success for one run as long as another run collected tests, and is
returned when none did. A summary line per run is printed last, prefixed "rl-suite:".
"""

from __future__ import annotations

import os
import pwd
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_SRC = Path("/var/tmp/rl-suite-src")
TEST_USERS = (("rltest", "subuid range"), ("rltest1", "no subuid range"))
COPY_IGNORE = (".venv", "build", "dist", ".git", "__pycache__", "*.egg-info", "_native*.so", ".native-built",
               ".pytest_cache", ".fixtures", ".hypothesis")
PASSED_ENV = ("CI", "TERM", "COLUMNS", "PYTEST_ADDOPTS", "LANG", "PYTHONDONTWRITEBYTECODE")
STATUS = {0: "PASS", 1: "FAIL (tests failed)", 2: "FAIL (interrupted)", 3: "FAIL (internal error)",
          4: "FAIL (usage error)", 5: "NO TESTS"}
SUMMARY_RE = re.compile(r"\b(passed|failed|errors?|skipped|deselected|no tests ran|xfailed|xpassed)\b.* in [\d.]+s")
GIB = 1 << 30


def memory_limit(env: dict[str, str], total_ram: int) -> int:
    """RLIMIT_AS for each pytest run (inherited by everything it starts), so a runaway test dies
    with MemoryError instead of waking the OOM killer on a shared machine: $RL_TEST_MEMORY_LIMIT_GB
    GiB (0: none), else half the RAM but at most 6 GiB (Go tools reserve ~1.2 GiB of address space)."""
    if "RL_TEST_MEMORY_LIMIT_GB" in env:
        gib = float(env["RL_TEST_MEMORY_LIMIT_GB"])
        return int(gib * GIB) if gib > 0 else resource.RLIM_INFINITY
    return max(2 * GIB, min(6 * GIB, total_ram // 2))


def limit_prefix() -> list[str]:
    """`prlimit` lowering the soft RLIMIT_AS to memory_limit() (after runuser: its PAM session
    resets limits), or nothing without a limit."""
    limit = memory_limit(dict(os.environ), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return [] if limit == resource.RLIM_INFINITY else ["prlimit", f"--as={limit}:"]


@dataclass
class Run:
    user: str
    uid: int
    note: str
    code: int = -1
    summary: str = ""


def summary_of(lines: list[str]) -> str:
    """pytest's final "N passed, M failed in Xs" line, without its "=" padding."""
    for line in reversed(lines):
        if SUMMARY_RE.search(line):
            return line.strip().strip("=").strip()
    return ""


def overall(codes: list[int]) -> int:
    """The suite's exit status from the runs' pytest statuses (see the module docstring)."""
    failed = [c for c in codes if c not in (0, 5)]
    if failed:
        return failed[0] if failed[0] > 0 else 128 - failed[0]  # killed by a signal: as the shell says
    if codes and all(c == 5 for c in codes):
        return 5
    return 0


def report_line(run: Run) -> str:
    status = f"FAIL (killed by signal {-run.code})" if run.code < 0 else STATUS.get(run.code, f"FAIL (exit {run.code})")
    return f"rl-suite: {run.user:<8} uid {run.uid:<5} {run.note:<16} {status:<22} {run.summary}"


def run_env(home: Path, python: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("RL_TEST_")})
    env.setdefault("LANG", "C.UTF-8")
    env.update(HOME=str(home), RL_ROOT=str(home / "rl-root"),
               PATH=f"{python.parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def run_pytest(run: Run, src: Path, pytest_args: list[str]) -> None:
    """Run pytest in `src` as `run.user` (via runuser unless it is us), streaming its output."""
    python = src / ".venv" / "bin" / "python"
    entry = pwd.getpwnam(run.user)
    home = Path(tempfile.mkdtemp(prefix=f"rl-suite-{run.user}-"))
    try:
        if entry.pw_uid != os.getuid():
            os.chown(home, entry.pw_uid, entry.pw_gid)
        env = run_env(home, python)
        argv = [*limit_prefix(), str(python), "-m", "pytest", *(["--color=yes"] if sys.stdout.isatty() else [])]
        if not any(a.startswith("--basetemp") for a in pytest_args):
            argv.append(f"--basetemp={home / 'pytest'}")  # removed with HOME, subuid-owned files too
        argv += pytest_args
        if entry.pw_uid != os.getuid():
            argv = ["runuser", "-u", run.user, "--", "/usr/bin/env", "-i",
                    *(f"{k}={v}" for k, v in env.items()), *argv]  # prlimit runs after runuser
        print(f"\n===== rl suite as {run.user} (uid {entry.pw_uid}, {run.note}) in {src} =====", flush=True)
        lines: list[str] = []
        with subprocess.Popen(argv, cwd=src, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace") as proc:
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                lines.append(line)
        run.code, run.summary = proc.returncode, summary_of(lines)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if home.exists():
            print(f"rl-suite: could not remove {home} (files owned by subordinate ids?)", flush=True)


def users_can_use(src: Path, user: str) -> bool:
    """Can `user` run src's venv python and read the tree?"""
    check = 'test -x "$1" && test -r "$2" && test -r "$3" && test -x "$4"'
    argv = ["runuser", "-u", user, "--", "sh", "-c", check, "sh", str(src / ".venv/bin/python"),
            str(src / "pyproject.toml"), str(src / "tests/conftest.py"), str(src / "tests")]
    return subprocess.run(argv, stdin=subprocess.DEVNULL).returncode == 0


def prepare_shared_copy() -> Path:
    """Copy the tree to SHARED_SRC (root-owned, world-readable) with its own venv; return it."""
    dst = SHARED_SRC
    if dst.is_symlink() or (dst.exists() and dst.lstat().st_uid != 0):
        raise SystemExit(f"rl-suite: {dst} exists and is not a root-owned directory; remove it")
    dst.mkdir(mode=0o755, exist_ok=True)
    for entry in dst.iterdir():  # keep the venv: `make dev` updates it only when pyproject changes
        if entry.name != ".venv":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    shutil.copytree(REPO, dst, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    print(f"rl-suite: test users cannot use {REPO}; running their suites from a copy in {dst}", flush=True)
    subprocess.run(["make", "-C", str(dst), "dev", "PYTHON=/usr/bin/python3"], check=True, stdin=subprocess.DEVNULL)
    subprocess.run([str(dst / ".venv/bin/python"), "-m", "compileall", "-q", str(dst / "rootless"),
                    str(dst / "tests")], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    subprocess.run(["chmod", "-R", "a+rX", str(dst)], check=True)
    return dst


def main(pytest_args: list[str]) -> int:
    me = pwd.getpwuid(os.getuid()).pw_name
    runs: list[tuple[Run, Path]] = []
    if os.getuid() != 0:
        runs.append((Run(me, os.getuid(), "this user"), REPO))
    else:
        subprocess.run(["sh", str(REPO / "tests/rig/setup_host.sh")], check=True, stdin=subprocess.DEVNULL)
        src = REPO
        if not all(users_can_use(REPO, user) for user, _ in TEST_USERS):
            src = prepare_shared_copy()  # root's run too: its tests also drop to other uids
        runs.append((Run("root", 0, "real root"), src))
        runs += [(Run(user, pwd.getpwnam(user).pw_uid, note), src) for user, note in TEST_USERS]
    for run, src in runs:
        run_pytest(run, src, pytest_args)
    code = overall([run.code for run, _ in runs])
    print()
    for run, _ in runs:
        print(report_line(run))
    verdict = {0: "PASS", 5: "FAIL: no run collected any test"}.get(code, f"FAIL (exit {code})")
    print(f"rl-suite: overall {verdict}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
