"""A small test server run inside a test's network namespace (not a module of rl).

Serves HTTP on TCP PORT: GET / -> "hello from the namespace\n", GET /peer -> the client's
"ip:port" as the server saw it, GET /bytes/N -> N bytes; and a UDP echo on the same port number
that answers "echo:<data>|<peer ip>". Writes "ready\n" to stdout once both are bound.
"""

import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = b"x" * (1 << 20)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/bytes/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            while size:
                n = min(size, len(CHUNK))
                self.wfile.write(CHUNK[:n])
                size -= n
            return
        body = (f"{self.client_address[0]}:{self.client_address[1]}\n" if self.path == "/peer"
                else "hello from the namespace\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def udp_echo(s):
    while True:
        data, addr = s.recvfrom(65535)
        s.sendto(b"echo:" + data + b"|" + addr[0].encode(), addr)


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", port))
    threading.Thread(target=udp_echo, args=(udp,), daemon=True).start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
