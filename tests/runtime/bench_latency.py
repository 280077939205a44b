"""Latency of the runtime's bare path (not a test; run by hand, as root or a rootless user):

    .venv/bin/python tests/runtime/bench_latency.py [N]

Builds a busybox rootfs in a temp dir, then times, side by side: N runs of
rootless.runtime.run.run() of `true` in this process (fork, unshare six namespaces, id map,
overlay, /dev, /proc, /sys, pivot_root, exec, wait, state cleanup: everything but Python's own
start-up and imports), the same as a fresh process (`python driver.py`), `python -c pass` for the
interpreter alone, and bwrap --unshare-all on the same rootfs for reference.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]


def stats(times: list[float]) -> str:
    times = sorted(times)
    return f"min {times[0]:6.1f}  median {times[len(times) // 2]:6.1f}  p90 {times[int(len(times) * 0.9)]:6.1f} ms"


def timed(argv: list[str], n: int, env=None) -> tuple[list[float], float]:
    """Wall times (ms) of n runs, and the CPU (user+sys of the children, ms) per run."""
    out = []
    before = os.times()
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, check=True, env=env, stdin=subprocess.DEVNULL)
        out.append((time.perf_counter() - t) * 1000)
    after = os.times()
    return out, (after[2] + after[3] - before[2] - before[3]) * 1000 / n


def main() -> None:
    import ocispec
    from fixtures.rootfs import make_busybox_rootfs
    from rootless.runtime.run import run

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    tmp = Path(tempfile.mkdtemp(prefix="rl-bench-"))
    try:
        rootfs = make_busybox_rootfs(str(tmp))
        cfg = ocispec.config(["true"])
        ocispec.overlay(cfg, rootfs, tmp / "ov")
        bundle = ocispec.bundle(tmp / "bundle", cfg)
        state = tmp / "state"
        run(bundle, state, "warm")
        inproc = []
        cpu0 = os.times()
        for i in range(n):
            t = time.perf_counter()
            run(bundle, state, f"b{i}")
            inproc.append((time.perf_counter() - t) * 1000)
        cpu = (sum(os.times()[:4]) - sum(cpu0[:4])) * 1000 / n
        env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pyc")
        py = sys.executable
        proc, proc_cpu = timed([py, str(HERE / "driver.py"), str(bundle), str(state), "p"], n, env)
        bare, bare_cpu = timed([py, "-c", "pass"], n, env)
        print(f"as uid {os.getuid()}, load {os.getloadavg()[0]:.1f}, {n} runs of `true` (wall; CPU = user+sys)")
        print(f"  runtime.run() in-process  {stats(inproc)}  CPU {cpu:5.1f} ms/run")
        print(f"  python driver.py          {stats(proc)}  CPU {proc_cpu:5.1f} ms/run")
        print(f"  python -c pass            {stats(bare)}  CPU {bare_cpu:5.1f} ms/run")
        if shutil.which("bwrap"):
            bw, bw_cpu = timed(["bwrap", "--unshare-all", "--bind", str(rootfs), "/", "--proc", "/proc",
                                "--dev", "/dev", "true"], n)
            print(f"  bwrap --unshare-all       {stats(bw)}  CPU {bw_cpu:5.1f} ms/run")
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    main()
