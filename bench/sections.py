"""The benchmark's sections: each measures one group of figures for every tool side by side and
returns `report.Figure`s. A tool that fails gets "n/a (reason)" in its cell; no section raises.

`Bench` holds what every section shares: the work dir, the registry refs, the environment (every
rl/podman path under the work dir), the rl and podman command prefixes. The nginx site, the wrk and
curl clients come from tests/engine/net/bench_forwarder.py; registries and images from
tests/fixtures.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import bench_forwarder as bf  # tests/engine/net: nginx config, wrk, curl
from fixtures.registry import free_port
from fixtures.rootfs import make_busybox_rootfs
from report import CEILING, PODMAN, Figure, Goal, Result


class Failed(Exception):
    """A comparator failed: the message is the reason shown in the table."""


@dataclass
class Bench:
    work: Path
    refs: dict[str, str]            # fixture name -> registry ref
    env: dict[str, str]
    rl: list[str]
    rl_frozen: list[str] | None     # None: dist/rl not built
    podman: list[str] | None        # None: podman cannot run containers (reason in podman_reason)
    podman_pull: list[str] | None   # podman prefix good enough for pull (no runtime needed)
    podman_reason: str = ""
    runs: int = 5
    notes: list[str] = field(default_factory=list)
    pull_image: str = "nginx"       # the refs key pulled in the pull figure (bench/nginx_full.py)
    pull_label: str = ""            # its compressed size, file and layer count

    def show(self, argv: list[str]) -> str:
        """The command as shown in the table: work dir as $W, registry as $REG, repo's rl as rl."""
        text = shlex.join(argv)
        if self.podman and text.startswith(shlex.join(self.podman) + " "):
            text = "podman" + text[len(shlex.join(self.podman)):]
        text = text.replace(str(self.work), "$W")
        host = next(iter(self.refs.values())).split("/")[0]
        return text.replace(host, "$REG").replace(str(Path(self.rl[0]).parent) + "/", ".venv/bin/")


def run(argv: list[str], env: dict | None = None, timeout: float = 120) -> str:
    """Run argv; its stdout; Failed with the last stderr line when it fails."""
    try:
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Failed(f"{Path(argv[0]).name}: {e}") from None
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.strip().splitlines() if "level=warning" not in ln] or [""]
        raise Failed(f"{Path(argv[0]).name} exit {p.returncode}: {lines[-1].strip()[:160]}")
    return p.stdout


def timed(argv: list[str], env: dict | None = None, timeout: float = 120) -> float:
    start = time.perf_counter()
    run(argv, env, timeout)
    return time.perf_counter() - start


def interleaved(b: Bench, figure: Figure, specs: dict[str, list[str] | str], runs: int, warmup: int,
                scale: float = 1000.0, after=None) -> Figure:
    """Time each tool's argv `warmup + runs` times, interleaved; a str spec is an n/a reason.
    `after(tool)` runs untimed after each run (cleanup)."""
    for tool, spec in specs.items():
        figure.add(tool, Result(reason=spec) if isinstance(spec, str) else Result(command=b.show(spec)))
    live = {t: s for t, s in specs.items() if not isinstance(s, str)}
    for i in range(warmup + runs):
        for tool, argv in list(live.items()):
            try:
                dt = timed(argv, b.env)
                if after:
                    after(tool)
            except Failed as e:
                figure.results[tool] = Result(reason=str(e), command=b.show(argv))
                del live[tool]
                continue
            if i >= warmup:
                figure.results[tool].samples.append(dt * scale)
    return figure


def podman_or(b: Bench, *args: str) -> list[str] | str:
    return [*b.podman, *args] if b.podman else f"podman cannot run containers here: {b.podman_reason}"


def frozen_or(b: Bench, *args: str) -> list[str] | str:
    return [*b.rl_frozen, *args] if b.rl_frozen else "not built (make binary)"


# ---- pull and disk -------------------------------------------------------------------------------
TAR_REF = "tar xzf of the layers (reference: no download, no checks)"


def pull_and_disk(b: Bench, runs: int = 5) -> list[Figure]:
    ref = b.refs[b.pull_image]
    what = f"{b.pull_image} ({b.pull_label})" if b.pull_label else b.pull_image
    pull = Figure(f"pull {what} into an empty store", "ms", goals=[Goal("rl", PODMAN, 0.3)])
    dirs: dict[str, Path] = {}

    def specs(i: int) -> dict:
        dirs.update(rl=b.work / f"pull/rl-{i}", podman=b.work / f"pull/podman-{i}",
                    skopeo=b.work / f"pull/skopeo-{i}")
        out = {"rl": [*b.rl, "--root", str(dirs["rl"]), "pull", "-q", ref]}
        out[PODMAN] = ([*b.podman_pull, "--root", str(dirs["podman"] / "storage"), "--runroot",
                        str(dirs["podman"] / "run"), "--storage-driver", "overlay", "pull", "-q", "--tls-verify=false", ref]
                       if b.podman_pull else "podman not installed")
        out["skopeo (to dir:, download only)"] = ["skopeo", "copy", "-q", "--src-tls-verify=false",
                                                   f"docker://{ref}", f"dir:{dirs['skopeo']}"]
        # reference, not a peer: GNU tar unpacking the layers (downloaded once before, untimed;
        # no network, no digest checks): what the machine's filesystem allows at the moment
        dirs["tar"] = b.work / f"pull/tar-{i}"
        out[TAR_REF] = (["sh", "-c", 'mkdir -p "$2" && for f in "$1"/*; do case "${f##*/}" in '
                         '????????????????????????????????????????????????????????????????) '
                         'tar -C "$2" -xzf "$f" 2>/dev/null;; esac; done; true', "sh", str(layers), str(dirs["tar"])]
                        if layers.is_dir() else "skopeo could not download the layers")
        return out

    layers = b.work / "pull/layers"
    layers.parent.mkdir(parents=True, exist_ok=True)
    try:
        run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"dir:{layers}"], b.env)
    except Failed:
        pass
    for i in range(runs):  # a fresh store each run: one timed run per spec per round
        # the order turns each round and the disk is synced between runs (another tool's
        # writeback must not land on the next one)
        order = specs(i)
        keys = list(order)
        order = {k: order[k] for k in keys[i % len(keys):] + keys[:i % len(keys)]}
        os.sync()
        round_fig = interleaved(b, Figure("", ""), order, 1, 0, after=lambda tool: os.sync())
        for tool, res in round_fig.results.items():
            have = pull.results.setdefault(tool, Result(command=res.command.replace(f"-{i}", "-$i")))
            if res.ok:
                have.samples += res.samples
            elif not have.reason:
                have.reason = res.reason
        # no `rm -rf` between rounds: on ext4 without a journal (this machine kind) the inode
        # allocator skips inodes deleted in the last 60-300 s (`recently_deleted`), so every tool
        # pulling after a mass delete pays a scan per created file (perf: ~40% of its time); the
        # work dir goes at the end of the bench
    disk = Figure(f"disk used by the {b.pull_image} image (du of the store)", "MiB")
    for tool, path in (("rl", dirs["rl"]), (PODMAN, dirs["podman"] / "storage"),
                       ("skopeo (to dir:, download only)", dirs["skopeo"])):
        argv = [*unshare_prefix(b), "du", "-sk", str(path)]
        try:
            if not path.exists():
                raise Failed("no store (pull failed)")
            kib = int(run(argv, b.env).split()[0])
            disk.add(tool, Result([kib / 1024], command=b.show(argv)))
        except (Failed, ValueError, IndexError) as e:
            disk.add(tool, Result(reason=str(e), command=b.show(argv)))
    return [pull, disk]


def unshare_prefix(b: Bench) -> list[str]:
    """`podman unshare` reads files owned by the user's subordinate ids; nothing when root/no podman."""
    return ["podman", "unshare"] if b.podman_pull and os.getuid() != 0 else []


def remove_tree(b: Bench, path: Path) -> None:
    if path.exists():
        subprocess.run([*unshare_prefix(b), "rm", "-rf", str(path)], env=b.env, capture_output=True)
        shutil.rmtree(path, ignore_errors=True)


# ---- run and exec latency ------------------------------------------------------------------------

def make_bundle(b: Bench, runtime: str, rootfs: Path) -> Path:
    """An OCI bundle for `runtime` (crun/runc) from its own `spec --rootless`, running /bin/true."""
    bundle = b.work / f"bundle-{runtime}"
    bundle.mkdir()
    subprocess.run([runtime, "spec", "--rootless"], cwd=bundle, check=True, capture_output=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"].update(args=["/bin/true"], terminal=False)
    spec["root"] = {"path": str(rootfs), "readonly": True}
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def run_latency(b: Bench) -> Figure:
    busybox = b.refs["busybox"]
    args = ["run", "--rm", "--network=none", busybox, "true"]
    fig = Figure("`run --rm --network=none busybox true` latency", "ms",
                 goals=[Goal("rl (source)", PODMAN, 0.15), Goal("rl (frozen)", PODMAN, 0.3)])
    specs: dict[str, list[str] | str] = {"rl (source)": [*b.rl, *args], "rl (frozen)": frozen_or(b, *args),
                                         PODMAN: podman_or(b, *args)}
    rootfs = make_busybox_rootfs(str(b.work))
    for runtime in ("crun", "runc"):
        if not shutil.which(runtime):
            specs[f"{runtime} (bundle)"] = f"{runtime} not installed"
            continue
        try:
            bundle = make_bundle(b, runtime, rootfs)
            specs[f"{runtime} (bundle)"] = [runtime, "--root", str(b.work / f"{runtime}-state"), "run",
                                             "--bundle", str(bundle), f"bench-{runtime}"]
        except (OSError, subprocess.CalledProcessError) as e:
            specs[f"{runtime} (bundle)"] = f"{runtime} spec failed: {e}"
    specs["bwrap (same rootfs)"] = (["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", str(rootfs), "/",
                                     "--proc", "/proc", "--dev", "/dev", "/bin/true"]
                                    if shutil.which("bwrap") else "bwrap not installed")
    return interleaved(b, fig, specs, b.runs * 2, 2)


def exec_latency(b: Bench) -> Figure:
    fig = Figure("`exec c true` latency (c: `run -d --network=none busybox sleep 600`)", "ms",
                 goals=[Goal("rl (source)", PODMAN, 0.15), Goal("rl (frozen)", PODMAN, 0.3)])
    start = ["run", "-d", "--network=none", "--name", "bench-exec", b.refs["busybox"], "sleep", "600"]
    specs: dict[str, list[str] | str] = {}
    for tool, prefix in (("rl (source)", b.rl), ("rl (frozen)", b.rl_frozen), (PODMAN, b.podman)):
        if prefix is None:
            specs[tool] = frozen_or(b) if tool == "rl (frozen)" else podman_or(b)
            continue
        if tool != "rl (frozen)":  # the frozen rl execs into the container the source rl started
            try:
                run([*prefix, *start], b.env)
            except Failed as e:
                specs[tool] = f"`run -d` failed: {e}"
                continue
        specs[tool] = [*prefix, "exec", "bench-exec", "true"]
    # the floor the source rl stands on: its interpreter starting and doing nothing
    specs["python -c pass (rl's interpreter)"] = [str(Path(b.rl[0]).with_name("python")), "-c", "pass"]
    try:
        return interleaved(b, fig, specs, b.runs * 2, 2)
    finally:
        for prefix in (b.rl, b.podman):
            if prefix:
                subprocess.run([*prefix, "rm", "-f", "bench-exec"], env=b.env, capture_output=True)


# ---- nginx through -p ----------------------------------------------------------------------------

def http_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return c.recv(100).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_http(port: int, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_ok(port):
            return time.perf_counter()
        time.sleep(0.002)
    raise Failed(f"no HTTP 200 on 127.0.0.1:{port} within {timeout:.0f} s")


def first_200(b: Bench, runs: int = 3) -> Figure:
    fig = Figure("`run -d -p` nginx to first HTTP 200", "ms")
    for tool, prefix in (("rl", b.rl), (PODMAN, b.podman)):
        if prefix is None:
            fig.add(tool, Result(reason=podman_or(b)))
            continue
        res = fig.add(tool, Result(command=b.show([*prefix, "run", "-d", "-p", "127.0.0.1:$PORT:80",
                                                   b.refs["nginx"]]) + " ; poll GET / every 2 ms"))
        for i in range(runs):
            port = free_port()
            argv = [*prefix, "run", "-d", "--name", f"bench-http-{i}", "-p", f"127.0.0.1:{port}:80", b.refs["nginx"]]
            try:
                start = time.perf_counter()
                run(argv, b.env)
                res.samples.append((wait_http(port) - start) * 1000)
            except Failed as e:
                res.reason, res.samples = str(e), []
                break
            finally:
                subprocess.run([*prefix, "rm", "-f", f"bench-http-{i}"], env=b.env, capture_output=True)
    return fig


def make_site(directory: Path, port: int, inside: bool) -> Path:
    """bench_forwarder's nginx site (600-byte page, 256 MiB /big) under `directory`; its conf."""
    directory.mkdir(parents=True)
    os.chmod(directory, 0o755)
    (directory / "www").mkdir()
    (directory / "www" / "index.html").write_text("x" * 600)
    with open(directory / "www" / "big", "wb") as f:
        f.truncate(256 << 20)
    return bf.nginx_conf(directory, port, inside)


PODMAN_SLIRP = "podman (slirp4netns port_handler)"


def start_servers(b: Bench) -> dict[str, tuple[int, str, str]]:
    """nginx published with -p by rl, podman (default: rootlessport) and podman with slirp4netns's
    port handler, and on the host (the ceiling): tool -> (port, tag, container id) or Failed text."""
    out: dict = {}
    variants = [("rl", b.rl, []), (PODMAN, b.podman, []),
                (PODMAN_SLIRP, b.podman, ["--network", "slirp4netns:port_handler=slirp4netns"])]
    for n, (tool, prefix, extra) in enumerate(variants):
        if prefix is None:
            out[tool] = podman_or(b)
            continue
        site = b.work / f"site-{n}"
        conf = make_site(site, 80, inside=True)
        port, tag = free_port(), f"bench-net-{n}-{os.getpid()}"
        argv = [*prefix, "run", "-d", "--name", f"bench-net-{n}", *extra, "-p", f"127.0.0.1:{port}:80",
                "-v", f"{site}:{site}", b.refs["nginx"], "nginx", "-c", str(conf)]
        try:
            cid = run(argv, dict(b.env, BENCH_TAG=tag)).strip()
            wait_http(port)
            out[tool] = (port, tag, cid, b.show(argv).replace(str(port), "$PORT"))
        except Failed as e:
            out[tool] = f"{e}"
    port = free_port()
    conf = make_site(b.work / "site-host", port, inside=False)
    b.host_nginx = subprocess.Popen(["/usr/sbin/nginx", "-c", str(conf)], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(port, 10)
        out[CEILING] = (port, "", "", f"/usr/sbin/nginx -c {conf} (host, no forwarding)".replace(str(b.work), "$W"))
    except Failed as e:
        out[CEILING] = str(e)
    return out


def stop_servers(b: Bench) -> None:
    for prefix in (b.rl, b.podman):
        for n in range(3):
            if prefix:
                subprocess.run([*prefix, "rm", "-f", f"bench-net-{n}"], env=b.env, capture_output=True)
    nginx = getattr(b, "host_nginx", None)
    if nginx is not None:
        nginx.terminate()
        nginx.wait()


def network(b: Bench, wrk_runs: int = 2, seconds: int = 3) -> list[Figure]:
    ceiling_goal = {"bulk": 0.8, "keepalive": 0.8, "close": 0.5}
    figs = {
        "bulk": Figure("throughput through -p: curl of a 256 MiB file", "MB/s", lower_better=False),
        "keepalive": Figure(f"wrk keep-alive through -p (-t1 -c32, {seconds} s)", "req/s", lower_better=False),
        "close": Figure(f"wrk `Connection: close` through -p (-t1 -c32, {seconds} s)", "req/s", lower_better=False),
    }
    for key, fig in figs.items():
        fig.goals = [Goal("rl", CEILING, ceiling_goal[key]), Goal("rl", PODMAN, 1.0)]
    memory = Figure("per-container helper memory, RSS sum after the traffic", "MiB", goals=[Goal("rl", PODMAN, 0.5)])
    try:
        servers = start_servers(b)
        commands = {
            "bulk": "curl -s -o /dev/null http://127.0.0.1:$PORT/big",
            "keepalive": f"wrk -t1 -c32 -d{seconds}s http://127.0.0.1:$PORT/",
            "close": f"wrk -H 'Connection: close' -t1 -c32 -d{seconds}s http://127.0.0.1:$PORT/",
        }
        for tool, server in servers.items():
            for key, fig in figs.items():
                fig.add(tool, Result(reason=server) if isinstance(server, str) else
                        Result(command=commands[key], note=f"server: `{server[3]}`"))
        clients = {"bulk": (3, lambda port: bf.curl(port)),
                   "keepalive": (wrk_runs, lambda port: bf.wrk(port, seconds, False)),
                   "close": (wrk_runs, lambda port: bf.wrk(port, seconds, True))}
        for key, (rounds, client) in clients.items():
            for _ in range(rounds):
                for tool, server in servers.items():
                    res = figs[key].results[tool]
                    if isinstance(server, str) or res.reason:
                        continue
                    try:
                        res.samples.append(client(server[0]))
                    except Exception as e:  # noqa: BLE001 - a client failure is a cell, not a crash
                        res.reason, res.samples = f"{type(e).__name__}: {e}"[:160], []
        for tool, server in servers.items():
            if tool == CEILING:
                continue
            if isinstance(server, str):
                memory.add(tool, Result(reason=server))
                continue
            kib, detail = helper_rss(server[1], server[2])
            memory.add(tool, Result([kib / 1024], command="sum of VmRSS in /proc/PID/status", note=detail)
                       if kib else Result(reason="no helper process found"))
    finally:
        stop_servers(b)
    return [*figs.values(), memory]


CONTAINER_COMMS = {"nginx", "catatonit"}   # the container's own processes; podman's per-user pause


def helper_rss(tag: str, cid: str) -> tuple[int, str]:
    """RSS (KiB) of this user's processes started for one container: those whose environment holds
    BENCH_TAG=`tag` (inherited from the `run -d` that started them) or whose command line names the
    container id, minus the container's own processes. Also a listing: name, RSS, and the PSS sum
    (forked helpers share pages, which RSS counts once per process)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _proc(entry, tag, cid)
            if info:
                found[int(entry)] = info
    total_rss = sum(i["rss"] for i in found.values())
    total_pss = sum(i["pss"] for i in found.values())
    parts = [f"{_label(pid, found)} {i['rss'] / 1024:.1f}" for pid, i in sorted(found.items())]
    return total_rss, f"RSS MiB each: {', '.join(parts)}; PSS sum {total_pss / 1024:.1f} MiB"


def _proc(entry: str, tag: str, cid: str) -> dict | None:
    base = f"/proc/{entry}"
    try:
        if os.stat(base).st_uid != os.getuid():
            return None
        with open(f"{base}/environ", "rb") as f:
            env = f.read().split(b"\0")
        with open(f"{base}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        with open(f"{base}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"{base}/smaps_rollup") as f:
            pss = next((int(ln.split()[1]) for ln in f if ln.startswith("Pss:")), 0)
    except (OSError, ValueError):
        return None
    name = status.get("Name", "?").strip()
    if name in CONTAINER_COMMS or "VmRSS" not in status:
        return None
    if f"BENCH_TAG={tag}".encode() not in env and not (cid and cid in cmdline):
        return None
    return {"name": name, "ppid": int(status["PPid"]), "rss": int(status["VmRSS"].split()[0]),
            "pss": pss, "rl": "rootless.engine.monitor" in cmdline}


RL_DEPTH = ("rl monitor", "rl forwarder (forked)", "rl forwarder's ns helper (forked)")
RL_FORWARDER = "_rl_forward"  # rl's C forwarder (native/rl_forward.c) and its forked ns helper


def _label(pid: int, found: dict) -> str:
    info = found[pid]
    if info["name"] == "exe":
        return "rootlessport child (exe)"
    if info["name"] == RL_FORWARDER:
        helper = found.get(info["ppid"], {}).get("name") == RL_FORWARDER
        return "rl forwarder's ns helper (C)" if helper else "rl forwarder (C)"
    if not info["rl"]:
        return info["name"]
    depth = 0
    while found.get(info["ppid"], {}).get("rl") and depth < 2:
        info, depth = found[info["ppid"]], depth + 1
    return RL_DEPTH[depth]
