"""rl's HTTP/1.1 client (rootless/engine/image/transport.py) against real servers on 127.0.0.1:
the standard library's http.server, a CONNECT proxy written here, and the TLS registry fixture.
Connection reuse, redirects and what they keep, streaming, chunked answers, errors, proxies."""

from __future__ import annotations

import http.server
import os
import socket
import ssl
import threading
from pathlib import Path

import pytest

from rootless.engine.image import transport as tp


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))   # the body, if any
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization"), self.client_address[1]))
        route = self.server.routes.get(self.path.split("?")[0])
        status, headers, body = route(self) if callable(route) else route or (404, {}, b"no")
        if status is None:
            return
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Transfer-Encoding" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_POST = do_PUT = do_GET


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.seen, srv.routes = [], {}
    srv.url = f"http://127.0.0.1:{srv.server_port}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_connections_are_kept_and_reused(server) -> None:
    server.routes["/a"] = (200, {}, b"A")
    with tp.Client() as client:
        assert client.get(server.url + "/a").content == b"A"
        assert client.get(server.url + "/a", params={"x": "1 2"}).content == b"A"
    assert [s[1] for s in server.seen] == ["/a", "/a?x=1+2"]
    assert server.seen[0][3] == server.seen[1][3]          # the same client port: one connection


def test_a_stream_left_unread_closes_its_connection(server) -> None:
    server.routes["/big"] = (200, {}, os.urandom(3 << 20))
    server.routes["/a"] = (200, {}, b"A")
    with tp.Client() as client:
        resp = client.get(server.url + "/big", stream=True)
        first = next(resp.iter_bytes(1000))
        resp.close()                                        # not read to the end: not reusable
        assert len(first) == 1000
        assert client.get(server.url + "/a").content == b"A"
        whole = b"".join(client.get(server.url + "/big", stream=True).iter_bytes())
    assert len(whole) == 3 << 20
    assert server.seen[0][3] != server.seen[1][3]


def test_chunked_answers_are_decoded(server) -> None:
    def chunked(handler):
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for piece in (b"hello ", b"world"):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.write(b"0\r\n\r\n")
        return None, {}, b""
    server.routes["/c"] = chunked
    with tp.Client() as client:
        assert client.get(server.url + "/c").content == b"hello world"


def test_redirects_keep_authorization_only_within_the_origin(server) -> None:
    other = server.url.replace("127.0.0.1", "localhost")    # same server, another origin
    server.routes["/same"] = (307, {"Location": "/final"}, b"")
    server.routes["/away"] = (302, {"Location": other + "/final"}, b"")
    server.routes["/final"] = (200, {}, b"F")
    with tp.Client() as client:
        for start in ("/same", "/away"):
            resp = client.get(server.url + start, headers={"Authorization": "Bearer t"})
            assert resp.content == b"F" and resp.status_code == 200
        unfollowed = client.request("GET", server.url + "/same", follow_redirects=False)
        assert unfollowed.status_code == 307
    auth = {path: a for _, path, a, _ in server.seen}
    assert [s[1] for s in server.seen[:4]] == ["/same", "/final", "/away", "/final"]
    assert server.seen[1][2] == "Bearer t" and server.seen[3][2] is None
    assert auth["/away"] == "Bearer t"


def test_303_turns_a_post_into_a_get(server) -> None:
    server.routes["/form"] = (303, {"Location": "/done"}, b"")
    server.routes["/done"] = lambda h: (200, {}, h.command.encode())
    with tp.Client() as client:
        assert client.request("POST", server.url + "/form", content=b"x").content == b"GET"


def test_too_many_redirects(server) -> None:
    server.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with tp.Client() as client, pytest.raises(tp.ProtocolError, match="redirects"):
        client.get(server.url + "/loop")


def test_refused_and_timed_out() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                         # bound, not listening: refused
        with tp.Client() as client, pytest.raises(tp.ConnectError, match="refused"):
            client.get(f"http://127.0.0.1:{port}/")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)                                  # accepts (backlog), never answers
        with tp.Client(timeout=0.3) as client, pytest.raises(tp.Timeout):
            client.get(f"http://127.0.0.1:{silent.getsockname()[1]}/")


def test_a_cut_answer_is_a_protocol_error(server) -> None:
    def cut(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b"only this")
        handler.close_connection = True
        return None, {}, b""
    server.routes["/cut"] = cut
    with tp.Client() as client, pytest.raises(tp.ProtocolError):
        client.get(server.url + "/cut")


# --- proxies ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("host, port, no_proxy, bypass", [
    ("registry.example", 443, "", False), ("registry.example", 443, "*", True),
    ("registry.example", 443, "example", True), ("registry.examples", 443, "example", False),
    ("registry.example", 443, ".example", True),
    ("registry.example", 443, "registry.example", True), ("a.registry.example", 443, "registry.example", True),
    ("registry.example", 443, "registry.example:5000", False), ("registry.example", 5000, "registry.example:5000", True),
    ("10.1.2.3", 443, "10.0.0.0/8", True), ("11.1.2.3", 443, "10.0.0.0/8", False), ("10.1.2.3", 443, " x , 10.1.2.3", True),
])
def test_no_proxy(host, port, no_proxy, bypass) -> None:
    assert tp._bypass(host, port, no_proxy) is bypass


def test_proxy_choice_from_the_environment() -> None:
    env = {"HTTPS_PROXY": "http://u:p%40ss@proxy.example:3128", "http_proxy": "proxy.example:8080"}
    https = tp.proxy_for(tp.URL("https://registry.example/v2/"), env)
    assert (https.host, https.port) == ("proxy.example", 3128)
    assert tp._proxy_auth(https) == {"Proxy-Authorization": "Basic dTpwQHNz"}
    assert tp.proxy_for(tp.URL("http://registry.example/v2/"), env).port == 8080
    assert tp.proxy_for(tp.URL("https://127.0.0.1:5000/v2/"), env) is None      # loopback: direct
    assert tp.proxy_for(tp.URL("https://registry.example/v2/"), dict(env, NO_PROXY="*")) is None
    assert tp.proxy_for(tp.URL("https://registry.example/v2/"), {"ALL_PROXY": "http://p:1"}).port == 1


def test_plain_http_goes_through_the_proxy(server, monkeypatch) -> None:
    server.routes["http://registry.example/v2/"] = (200, {}, b"via proxy")
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with tp.Client() as client:
        assert client.get("http://registry.example/v2/").content == b"via proxy"
    assert server.seen[0][1] == "http://registry.example/v2/"   # the absolute form a proxy gets


def _connect_proxy(target: tuple[str, int], seen: list) -> tuple[socket.socket, int]:
    """A CONNECT proxy that tunnels every request to `target`, whatever host it names."""
    lsock = socket.create_server(("127.0.0.1", 0))

    def pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            seen.append(head.split(b"\r\n")[0].decode())
            upstream = socket.create_connection(target)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return lsock, lsock.getsockname()[1]


@pytest.mark.registry
def test_https_through_a_connect_tunnel(registry_tls, monkeypatch) -> None:
    """The TLS registry reached as "localhost" through a CONNECT proxy: the tunnel is asked for
    that host, and the certificate is checked against it (the fixture's names localhost)."""
    seen: list = []
    lsock, port = _connect_proxy(("127.0.0.1", registry_tls.port), seen)
    try:
        # "localhost" is loopback, which never goes through a proxy: this test's proxy takes it anyway
        monkeypatch.setattr(tp, "proxy_for", lambda url, env=None: tp.URL(f"http://127.0.0.1:{port}"))
        ctx = tp.system_context(registry_tls.ca_file)
        with tp.Client(verify=ctx) as client:
            resp = client.get(f"https://localhost:{registry_tls.port}/v2/")
        assert resp.status_code in (200, 401)
        assert [line.rsplit(" ", 1)[0] for line in seen] == [f"CONNECT localhost:{registry_tls.port}"]
    finally:
        lsock.close()


@pytest.mark.registry
def test_system_context_finds_a_distributions_bundle(registry_tls, monkeypatch, tmp_path: Path) -> None:
    """OpenSSL's compiled-in paths missing (dist/rl from Debian on RHEL): the bundle is found where
    Go looks; without one, verification fails as it should."""
    missing = ssl.DefaultVerifyPaths(str(tmp_path / "no.pem"), str(tmp_path / "nodir"), "", "", "", "")
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: missing)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    url = f"https://localhost:{registry_tls.port}/v2/"
    monkeypatch.setattr(tp, "CA_BUNDLES", (str(tmp_path / "none.crt"), str(registry_tls.ca_file)))
    with tp.Client() as client:
        assert client.get(url).status_code in (200, 401)
    monkeypatch.setattr(tp, "CA_BUNDLES", (str(tmp_path / "none.crt"),))
    with tp.Client() as client, pytest.raises(tp.ConnectError) as info:
        client.get(url)
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


def test_with_params() -> None:
    assert tp.with_params("http://h/p", {"a": "1"}) == "http://h/p?a=1"
    assert tp.with_params("http://h/p?x=y", [("s", "a b"), ("s", "c:d/e")]) == "http://h/p?x=y&s=a+b&s=c%3Ad%2Fe"
    assert tp.with_params("http://h/p", None) == "http://h/p"
