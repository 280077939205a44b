"""Throughput of rl's port forwarder (not a test; run by hand, as root or a rootless user):

    .venv/bin/python tests/engine/net/bench_forwarder.py [SECONDS [ROUNDS]]

nginx (nginx-light) serves a 600-byte page and a 256 MiB file in a "container" network namespace
(made as the tests make it, slirp4netns configured) published with rl's forwarder on 127.0.0.1,
and the same nginx config in the host namespace without forwarding (the ceiling). For each:
wrk keep-alive requests/s, wrk `Connection: close` connections/s (the new-connection rate), curl
download MB/s of the big file, the forwarder's CPU time and its (and its helper's) RSS. Direct and
forwarded runs alternate for ROUNDS rounds (default 1) and medians are shown, so that a busy host
hurts both alike. The ratios are the issue's goals: bulk >= 0.8x, keep-alive >= 0.8x, new
connections >= 0.5x. `make bench` (bench/run.py --only network) compares with podman too.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[2])]

from netns_helpers import NetNamespace  # noqa: E402

from rootless.engine.net import forwarder, listeners, ports, slirp  # noqa: E402

CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx-{port}.pid;
error_log stderr error;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body-{port};
    proxy_temp_path {dir}/proxy-{port};
    fastcgi_temp_path {dir}/fastcgi-{port};
    uwsgi_temp_path {dir}/uwsgi-{port};
    scgi_temp_path {dir}/scgi-{port};
    server {{ listen {port}; root {dir}/www; }}
}}
"""


def nginx_conf(directory: Path, port: int, inside: bool) -> Path:
    conf = directory / f"nginx-{port}.conf"
    user = "user root root;" if inside else ""
    conf.write_text(CONF.format(dir=directory, port=port, user=user))
    return conf


def wait_http(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                if c.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on {port}")


def wrk(port: int, seconds: int, close: bool) -> float:
    argv = ["wrk", "-t1", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{port}/"]
    if close:
        argv[1:1] = ["-H", "Connection: close"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def curl(port: int) -> float:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download}",
                          f"http://127.0.0.1:{port}/big"], capture_output=True, text=True, timeout=120)
    return float(out.stdout) / 1e6


def cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """VmRSS of `pid` and its children (the forwarder and its namespace helper)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        pids = [pid, *map(int, f.read().split())]
    total = 0
    for p in pids:
        with open(f"/proc/{p}/status") as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return total


def measure(ports: dict[str, int], seconds: int, rounds: int, fw_pid: int) -> dict[str, dict]:
    """Each client on each port in turn, `rounds` times; medians per port."""
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in ports}
    before = cpu(fw_pid)
    clients = {"bulk": lambda port: max(curl(port) for _ in range(3)),
               "keepalive": lambda port: wrk(port, seconds, False),
               "close": lambda port: wrk(port, seconds, True)}
    for key, client in clients.items():
        for _ in range(rounds):
            for name, port in ports.items():
                samples[name].setdefault(key, []).append(client(port))
        print(key, {name: got[key] for name, got in samples.items()}, file=sys.stderr)
    out = {name: {key: statistics.median(v) for key, v in got.items()} for name, got in samples.items()}
    out["forwarded"]["cpu"] = cpu(fw_pid) - before
    out["forwarded"]["rss"] = rss_kib(fw_pid) / 1024
    return out


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        os.chmod(d, 0o755)
        (d / "www").mkdir()
        (d / "www" / "index.html").write_text("x" * 600)
        with open(d / "www" / "big", "wb") as f:
            f.truncate(256 << 20)
        direct_port = listeners.bind_published(ports.parse_publish(["127.0.0.1::80"]))[0]
        port = direct_port.bound.host_port
        direct_port.close()
        host_nginx = subprocess.Popen(["/usr/sbin/nginx", "-c", str(nginx_conf(d, port, False))])
        ns = NetNamespace(80, ["/usr/sbin/nginx", "-c", str(nginx_conf(d, 80, True))])
        s = slirp.start(ns.pid)
        lst = listeners.bind_published(ports.parse_publish(["127.0.0.1::80"]))
        fw = forwarder.spawn(ns.pid, lst)
        for item in lst:
            item.close()
        try:
            wait_http(port)
            wait_http(lst[0].bound.host_port)
            got = measure({"direct": port, "forwarded": lst[0].bound.host_port}, seconds, rounds, fw.pid)
        finally:
            fw.stop()
            s.stop()
            os.kill(ns.pid, signal.SIGQUIT)  # nginx's graceful stop: its worker goes too
            time.sleep(0.5)
            ns.kill()
            host_nginx.terminate()
            host_nginx.wait()
    direct, forwarded = got["direct"], got["forwarded"]
    print(f"{'':24}{'direct':>12}{'rl forwarder':>14}{'ratio':>8}")
    for key, label in (("bulk", "bulk MB/s (curl)"), ("keepalive", "keep-alive req/s"),
                       ("close", "new conn/s (close)")):
        print(f"{label:24}{direct[key]:12.0f}{forwarded[key]:14.0f}{forwarded[key] / direct[key]:8.2f}")
    print(f"{'forwarder CPU s':24}{'':12}{forwarded['cpu']:14.1f}")
    print(f"{'forwarder RSS MiB':24}{'':12}{forwarded['rss']:14.1f}")


if __name__ == "__main__":
    main()
