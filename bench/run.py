"""`make bench`: rl side by side with podman, skopeo, crun, runc and bwrap, in one run.

    .venv/bin/python bench/run.py [--runs N] [--out FILE] [--only pull|run|exec|first 200|network]...  (RL_BENCH_FROZEN=path: another frozen rl than dist/rl)

As root it installs the Debian packages it compares if missing (podman crun bubblewrap skopeo wrk
hyperfine runc, and debootstrap), builds the pull figure's image once (bench/nginx_full.py: Debian
minbase + nginx, ~60 MB compressed, cached in /var/tmp/rl-bench-cache), then runs itself as the
unprivileged user `rltest` (runuser) and writes the table to bench/results/<date>.md; as anyone
else it runs as that user. It starts a local registry
(tests/fixtures/registry.py) holding the fixture images (tests/fixtures/images.py) and measures,
each with the command shown: pull, disk, `run --rm true`, `exec`, `run -d -p` to first HTTP 200,
throughput and requests/s through `-p`, helper memory (bench/sections.py). The table and its
ratios: bench/report.py. Every path it writes (stores, sites, registry) is under one temp dir in
/var/tmp, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tests"), str(REPO / "tests" / "engine" / "net")]

import nginx_full  # noqa: E402
import report  # noqa: E402
import sections as S  # noqa: E402
from fixtures import images  # noqa: E402
from fixtures.registry import start_registry  # noqa: E402
from fixtures.rl import cleanup_rl_env, make_rl_env  # noqa: E402

PACKAGES = {"podman": "podman", "crun": "crun", "bubblewrap": "bwrap", "skopeo": "skopeo",
            "wrk": "wrk", "hyperfine": "hyperfine", "runc": "runc", "debootstrap": "debootstrap"}
USER = "rltest"
# podman's ways to run a container here, tried in order (crun refuses hybrid cgroups: HOST-NOTES)
PODMAN_MODES = [
    ("crun (default)", []),
    ("runc, cgroupfs", ["--runtime", "runc", "--cgroup-manager", "cgroupfs"]),
    ("runc, cgroupfs, --cgroups=disabled", ["--runtime", "runc", "--cgroup-manager", "cgroupfs"]),
    ("crun, cgroupfs, --cgroups=disabled", ["--cgroup-manager", "cgroupfs"]),
]


def install_missing() -> list[str]:
    """apt-get install the compared tools that are missing (root only); notes for the report."""
    missing = [pkg for pkg, exe in PACKAGES.items() if not shutil.which(exe)
               and not Path("/usr/sbin", exe).exists()]
    if not missing:
        return []
    p = subprocess.run(["apt-get", "install", "-y", "-q", *missing], capture_output=True, text=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    state = "installed" if p.returncode == 0 else f"apt-get failed ({p.stderr.strip()[-200:]})"
    return [f"{state}: {' '.join(missing)}"]


def as_user(args: argparse.Namespace) -> int:
    """Root: run the benchmark as USER, then copy its table into bench/results/ (or --out)."""
    notes = install_missing()
    try:  # the pull figure's image (bench/nginx_full.py): built once as root, cached
        nginx_full.ensure_built(log=lambda text: print(text, file=sys.stderr))
    except (OSError, subprocess.CalledProcessError) as e:
        notes.append(f"nginx-full not built ({e}): the pull figure uses the small nginx fixture")
    out = Path(tempfile.mkdtemp(prefix="rl-bench-out-")) / "results.md"
    out.parent.chmod(0o777)
    argv = ["runuser", "-u", USER, "--", sys.executable, str(Path(__file__).resolve()),
            "--runs", str(args.runs), "--out", str(out), *(f"--note={n}" for n in notes),
            *(f"--only={n}" for n in args.only)]
    rc = subprocess.run(argv, cwd="/tmp").returncode
    if out.exists() and args.out:
        Path(args.out).write_text(out.read_text())
    elif out.exists():
        publish(out.read_text())
    shutil.rmtree(out.parent, ignore_errors=True)
    return rc


def publish(text: str) -> None:
    target = REPO / "bench" / "results" / f"{time.strftime('%Y-%m-%d')}.md"
    print(text)
    try:
        target.parent.mkdir(exist_ok=True)
        target.write_text(text)
    except OSError as e:  # e.g. an unprivileged user and a read-only checkout
        target = Path(tempfile.gettempdir()) / f"rl-bench-{time.strftime('%Y-%m-%d')}.md"
        target.write_text(text)
        print(f"cannot write into the repo ({e.strerror})", file=sys.stderr)
    print(f"written to {target}")


def probe_podman(b: S.Bench, notes: list[str]) -> None:
    """Choose the first podman mode that runs `true` in busybox; record why the others fail."""
    if not shutil.which("podman"):
        b.podman_reason = "podman not installed"
        return
    pm_dir = b.work / "podman"
    b.podman_pull = ["podman", "--events-backend", "file"]
    base = [*b.podman_pull, "--root", str(pm_dir / "storage"), "--runroot", str(pm_dir / "run"),
            "--storage-driver", "overlay"]
    try:
        S.run([*base, "pull", "-q", "--tls-verify=false", b.refs["busybox"], b.refs["nginx"]], b.env)
    except S.Failed:
        try:
            for ref in (b.refs["busybox"], b.refs["nginx"]):
                S.run([*base, "pull", "-q", "--tls-verify=false", ref], b.env)
        except S.Failed as e:
            b.podman_reason = f"pull failed: {e}"
            return
    failures = []
    for label, options in PODMAN_MODES:
        prefix = [*base, *options]
        run_opts = ["--cgroups=disabled"] if "disabled" in label else []
        try:
            S.run([*prefix, "run", "--rm", *run_opts, "--network=none", b.refs["busybox"], "true"], b.env, 60)
        except S.Failed as e:
            failures.append(f"{label}: {e}")
            continue
        if run_opts:  # podman has no global --cgroups: wrap run as a containers.conf setting
            conf = pm_dir / "containers.conf"
            conf.write_text('[containers]\ncgroups = "disabled"\n')
            b.env["CONTAINERS_CONF"] = str(conf)
        b.podman = prefix
        notes.append(f"`podman` in the commands stands for `{shlex.join(prefix)}`".replace(str(b.work), "$W"))
        notes.append(f"podman runs containers here with: {label}"
                     + (f" (failed first: {'; '.join(failures)})" if failures else ""))
        return
    b.podman_reason = "; ".join(failures)
    notes.append(f"podman cannot run containers here: {b.podman_reason}")


def stop_podman_pause(env: dict[str, str]) -> None:
    """End the pause process podman started for this run's XDG_RUNTIME_DIR (it would outlive us)."""
    try:
        pid = int((Path(env["XDG_RUNTIME_DIR"]) / "libpod" / "tmp" / "pause.pid").read_text())
        if Path(f"/proc/{pid}/comm").read_text().strip() == "catatonit":
            os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        pass


def versions() -> str:
    out = []
    for argv in (["podman", "--version"], ["crun", "--version"], ["runc", "--version"], ["bwrap", "--version"],
                 ["skopeo", "--version"], ["slirp4netns", "--version"], [str(REPO / ".venv/bin/rl"), "--version"]):
        try:
            line = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
            out.append(line.strip())
        except (OSError, IndexError, subprocess.TimeoutExpired):
            out.append(f"{argv[0]}: n/a")
    return "; ".join(out)


def measure(args: argparse.Namespace) -> str:
    """The whole run, as the current (unprivileged) user: the markdown document."""
    started = time.time()
    path = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(path + [d for d in ("/usr/sbin", "/sbin") if d not in path])
    work = Path(tempfile.mkdtemp(prefix="rl-bench-", dir="/var/tmp"))
    work.chmod(0o755)
    notes: list[str] = list(args.note)
    missing = [exe for exe in PACKAGES.values() if not shutil.which(exe)]
    if missing:
        notes.append(f"not installed (run as root to apt-get install them): {' '.join(missing)}")
    registry = start_registry(work / "registry")
    env = make_rl_env(work / "rl")
    figures: list[report.Figure] = []
    b = None
    try:
        layout = images.fixture_layout()
        refs = {name: images.push_fixture(layout, name, registry) for name in ("busybox", "nginx")}
        pull_image, pull_label = "nginx", "the test fixture, ~5 MB"
        if (full := nginx_full.cached_layout()) is not None:
            pull_image, pull_label = nginx_full.TAG, nginx_full.label(full)
            refs[pull_image] = nginx_full.push(full, registry)
        else:
            notes.append("nginx-full is not built (run `make bench` as root once): pull uses the small fixture")
        frozen = Path(os.environ.get("RL_BENCH_FROZEN") or REPO / "dist" / "rl")  # another build to compare
        rl = [str(Path(sys.executable).with_name("rl"))]
        b = S.Bench(work=work, refs=refs, env=env, rl=rl, rl_frozen=[str(frozen)] if frozen.exists() else None,
                    podman=None, podman_pull=None, runs=args.runs, pull_image=pull_image, pull_label=pull_label)
        for ref in (refs["busybox"], refs["nginx"]):
            S.run([*rl, "pull", "-q", ref], env)
        probe_podman(b, notes)
        for name, section in (("pull", S.pull_and_disk), ("run", S.run_latency), ("exec", S.exec_latency),
                              ("first 200", S.first_200), ("network", S.network)):
            if args.only and name not in args.only:
                continue
            t0 = time.time()
            try:
                got = section(b)
                figures.extend(got if isinstance(got, list) else [got])
            except Exception as e:  # noqa: BLE001 - one broken section must not lose the others
                notes.append(f"section {name} failed: {type(e).__name__}: {e}")
            print(f"bench: {name} done in {time.time() - t0:.0f} s", file=sys.stderr)
    finally:
        registry.stop()
        if b is not None:
            S.remove_tree(b, work)
        stop_podman_pause(env)
        cleanup_rl_env(env)
        shutil.rmtree(work, ignore_errors=True)
    return document(figures, notes, args, time.time() - started)


def document(figures: list[report.Figure], notes: list[str], args, elapsed: float) -> str:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    head = [f"# rl benchmark, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}", "",
            f"Host: {platform.node()}, Linux {platform.release()}, {os.cpu_count()} CPUs, load {load}; "
            f"user {pwd.getpwuid(os.getuid()).pw_name} (uid {os.getuid()}); runs per latency figure "
            f"{args.runs * 2} after 2 warm-ups (pull: 5, first 200: 3; curl 3; wrk 2); whole run {elapsed:.0f} s.",
            f"Versions: {versions()}.", "",
            "`$W` is the run's temp dir, `$REG` the local registry (127.0.0.1), `$PORT` a free port. rl and "
            "podman keep every path under `$W` (HOME, XDG dirs, --root/RL_ROOT, runroot). Ratios compare "
            "minima for latency, memory and disk, medians for throughput; the ceiling is nginx on the "
            "host with no forwarding.", ""]
    tail = ["", "Notes:", ""] + [f"- {n}" for n in notes] if notes else []
    return "\n".join(head) + report.render(figures) + "\n".join(tail) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="latency runs = 2×N (default 5)")
    parser.add_argument("--out", help="write the table here instead of bench/results/<date>.md")
    parser.add_argument("--note", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--only", action="append", default=[], help="run only this section (repeatable)")
    args = parser.parse_args()
    if os.getuid() == 0:  # always measured as the unprivileged user
        return as_user(args)
    text = measure(args)
    if args.out:
        Path(args.out).write_text(text)
    else:
        publish(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
