"""Run by test_transparent.py inside `unshare -rn` (a throwaway "host" namespace of the test's own):
gives the host a non-loopback address, 192.0.2.1 on lo, publishes a namespace server's port there and
prints the client address the server saw for a connection from 192.0.2.1, then the namespace's
`ip rule` list."""

import socket
import subprocess
import sys

sys.path[:0] = [sys.argv[1], sys.argv[2]]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", "192.0.2.1/32", "dev", "lo"], check=True)

from netns_helpers import NetNamespace  # noqa: E402

from rootless.engine.net import forwarder, listeners, ports  # noqa: E402

ns = NetNamespace(80)
try:
    lst = listeners.bind_published(ports.parse_publish(["192.0.2.1::80"]))
    fw = forwarder.spawn(ns.pid, lst)
    for item in lst:
        item.close()
    c = socket.create_connection(("192.0.2.1", lst[0].bound.host_port), timeout=5,
                                 source_address=("192.0.2.1", 0))
    c.sendall(b"GET /peer HTTP/1.0\r\n\r\n")
    print(c.makefile("rb").read().rpartition(b"\r\n\r\n")[2].decode().strip())
    print(ns.run("ip", "rule").stdout)
    fw.stop()
finally:
    ns.kill()
