"""HTTP/1.1 for the registry client (registry.py), on the standard library's http.client.

Why not httpx (docs/performance.md, "pull"): `import httpx` took ~67 ms before a pull could send
its first request, and its body path (httpcore + h11) copied every 64 KiB twice and spent ~40 us
of Python on it, ~70 ms of CPU per 60 MB layer; http.client reads a body in large pieces straight
from the socket. What is written here is only what http.client leaves to its caller:

- `Client(verify=, timeout=, headers=)`: persistent connections pooled per (scheme, host, port),
  usable from several threads at once (each request has a connection to itself); a response gives
  its connection back once its body has been read to the end, else closes it.
- TLS: `verify` True (the system CAs, `system_context`), an `ssl.SSLContext`, or False.
- Redirects (301, 302, 303, 307, 308; 10 at most) are followed unless asked not to: 303, and 301
  or 302 after a POST, become a GET without a body; `Authorization` is dropped when the redirect
  leaves the origin (a registry sending blobs to storage with a signed URL), as httpx and docker do.
- Proxies from the environment, as docker reads them: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY (or lower
  case), NO_PROXY (`*`, hosts, domain suffixes, host:port, addresses and CIDR blocks); loopback
  addresses never go through a proxy (Go's net/http, hence docker).
- Errors: `ConnectError` (refused, unresolvable, TLS handshake or certificate: the ssl error is the
  cause), `Timeout`, `ProtocolError` (a malformed or cut answer); all are `TransportError`.
- Tests: `transport=` a function `Request -> Response` stands in for the network.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import os
import socket
import ssl
import threading
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from rootless.engine.image.config import is_loopback

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
READ = 256 << 10          # body bytes per iter_bytes() piece
IDLE_PER_HOST = 8


class TransportError(Exception):
    """The request got no (complete) HTTP answer."""


class ConnectError(TransportError):
    """No connection: refused, unresolvable, or the TLS handshake failed (see __cause__)."""


class Timeout(TransportError):
    """Connecting or reading took longer than the client's timeout."""


class ProtocolError(TransportError):
    """The server's answer is not HTTP/1.1 as it should be, or stopped early."""


# --- values --------------------------------------------------------------------------------------
class Headers:
    """Case-insensitive header mapping that keeps the names as given (first one wins for `get`)."""

    def __init__(self, items=()) -> None:
        self._items: list[tuple[str, str]] = list(items.items() if isinstance(items, dict) else items)

    def get(self, name: str, default=None):
        name = name.lower()
        return next((v for k, v in self._items if k.lower() == name), default)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def merged(self, other: dict) -> "Headers":
        """These headers with `other`'s values in place of (or beside) same-named ones."""
        names = {k.lower() for k in other}
        return Headers([(k, v) for k, v in self._items if k.lower() not in names] + list(other.items()))

    def without(self, *names: str) -> "Headers":
        drop = {n.lower() for n in names}
        return Headers([(k, v) for k, v in self._items if k.lower() not in drop])


class QueryParams:
    def __init__(self, query: str) -> None:
        self._pairs = parse_qsl(query, keep_blank_values=True)

    def get(self, name: str, default=None):
        return next((v for k, v in self._pairs if k == name), default)

    def get_list(self, name: str) -> list[str]:
        return [v for k, v in self._pairs if k == name]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value


class URL:
    def __init__(self, text: str) -> None:
        self.text = text
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProtocolError(f"not an http(s) URL: {text!r}")
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = parts.path or "/"
        self.query = parts.query
        self.target = self.path + (f"?{parts.query}" if parts.query else "")

    @property
    def params(self) -> QueryParams:
        return QueryParams(self.query)

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    def __str__(self) -> str:
        return self.text


def with_params(url: str, params) -> str:
    """`url` with `params` (a dict or a list of pairs) added to its query."""
    if not params:
        return url
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    base, _, fragment = url.partition("#")
    sep = "&" if "?" in base else "?"
    return base + ("" if base.endswith(("?", "&")) else sep) + urlencode(pairs) + (f"#{fragment}" if fragment else "")


class Request:
    def __init__(self, method: str, url: str, headers: Headers | dict | None = None, content=None) -> None:
        self.method = method
        self.url = URL(url)
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or {})
        self.content = content


class Response:
    """An answer: `status_code`, `reason_phrase`, `headers`, and the body by `read()` / `content` /
    `json()` / `iter_bytes()`. Built from the network by Client, or by a test transport as
    `Response(200, content=b"...", headers={...})` / `Response(200, json={...})`."""

    def __init__(self, status_code: int, *, headers=None, content: bytes | None = None, json=None,
                 reason: str | None = None) -> None:
        self.status_code = status_code
        self.reason_phrase = reason if reason is not None else http.client.responses.get(status_code, "")
        if json is not None:
            content = jsonlib.dumps(json).encode()
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or {})
        self._body: bytes | None = content if content is not None else b""
        self._raw: http.client.HTTPResponse | None = None
        self._release = None
        self.url: URL | None = None
        self.request: Request | None = None

    @classmethod
    def _from_network(cls, raw: http.client.HTTPResponse, release) -> "Response":
        resp = cls(raw.status, headers=Headers(raw.getheaders()), reason=raw.reason)
        resp._body, resp._raw, resp._release = None, raw, release
        return resp

    def read(self) -> bytes:
        if self._body is None:
            self._body = self._read(None)
            self.close()
        return self._body

    def _read(self, size: int | None) -> bytes:
        try:
            return self._raw.read(size)
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise _failure(e, "reading the answer") from e

    @property
    def content(self) -> bytes:
        return self.read()

    def json(self):
        return jsonlib.loads(self.read())

    def iter_bytes(self, size: int = READ):
        if self._body is not None:
            if self._body:
                yield self._body
            return
        while chunk := self._read(size):
            yield chunk
        self.close()

    def close(self) -> None:
        """Done with the answer: its connection goes back to the pool when the body was read whole."""
        if self._release is not None:
            release, self._release = self._release, None
            release(self._raw.isclosed() and not self._raw.will_close)


def _failure(e: OSError | http.client.HTTPException, doing: str) -> TransportError:
    if isinstance(e, TimeoutError):        # socket.timeout is TimeoutError
        return Timeout(f"timed out {doing}")
    return ProtocolError(str(e) or type(e).__name__)


# --- TLS -----------------------------------------------------------------------------------------
#: where distributions keep their CA bundle (the list Go's crypto/x509 reads, hence docker's)
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
              "/etc/pki/tls/cacert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem")


def system_context(ca_file=None) -> ssl.SSLContext:
    """A verifying context with this host's CAs (and `ca_file`'s). OpenSSL's own default paths are
    those of the distribution it was built on (dist/rl's: Debian's), so where they do not exist
    (RHEL, SUSE, Alpine) the host's bundle is found where Go looks for it. SSL_CERT_FILE and
    SSL_CERT_DIR still apply."""
    ctx = ssl.create_default_context()
    paths = ssl.get_default_verify_paths()
    if not (paths.cafile and os.path.isfile(paths.cafile)) and not _nonempty_dir(paths.capath):
        bundle = next((b for b in CA_BUNDLES if os.path.isfile(b)), None)
        if bundle:
            ctx.load_verify_locations(cafile=bundle)
    if ca_file is not None:
        ctx.load_verify_locations(cafile=str(ca_file))
    return ctx


def _nonempty_dir(path: str | None) -> bool:
    try:
        with os.scandir(path) as entries:
            return any(entries)
    except (OSError, TypeError):
        return False


# --- proxies -------------------------------------------------------------------------------------
def _env(env, name: str) -> str:
    return env.get(name.lower()) or env.get(name.upper()) or ""


def _bypass(host: str, port: int, no_proxy: str) -> bool:
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, want_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if want_port and want_port != str(port):
            continue
        name = name.strip("[]")
        if "/" in name:
            import ipaddress

            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if host == name.lstrip(".") or host.endswith("." + name.lstrip(".")):
            return True
    return False


def proxy_for(url: URL, env=None) -> URL | None:
    """The proxy the environment names for `url`, or None (NO_PROXY, loopback, none set)."""
    env = os.environ if env is None else env
    if is_loopback(url.host) or _bypass(url.host, url.port, _env(env, "no_proxy")):
        return None
    text = _env(env, f"{url.scheme}_proxy") or _env(env, "all_proxy")
    if not text:
        return None
    return URL(text if "://" in text else f"http://{text}")


def _proxy_auth(proxy: URL) -> dict:
    parts = urlsplit(proxy.text)
    if not parts.username:
        return {}
    import base64
    from urllib.parse import unquote

    raw = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(raw).decode()}


# --- the client ----------------------------------------------------------------------------------
class Client:
    def __init__(self, *, verify: ssl.SSLContext | bool = True, timeout: float = 30.0,
                 headers: dict | None = None, transport=None) -> None:
        self._verify = verify
        self._timeout = timeout
        self._headers = Headers(headers or {})
        self._transport = transport
        self._idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def get(self, url: str, **kw) -> Response:
        return self.request("GET", url, **kw)

    def request(self, method: str, url: str, *, params=None, headers: dict | None = None, content=None,
                stream: bool = False, follow_redirects: bool = True) -> Response:
        """Send one request (following redirects); the body is read unless `stream`."""
        url = with_params(url, params)
        sent = self._headers.merged(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._send(Request(method, url, sent, content))
            location = resp.headers.get("location")
            if not (follow_redirects and resp.status_code in REDIRECTS and location):
                if not stream:
                    resp.read()
                return resp
            _drain(resp)
            target = urljoin(url, location)
            if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                method, content = "GET", None
                sent = sent.without("Content-Type", "Content-Length")
            if URL(target).origin != URL(url).origin:
                sent = sent.without("Authorization")
            url = target
        raise ProtocolError(f"more than {MAX_REDIRECTS} redirects from {url}")

    # --- one exchange ----------------------------------------------------------------------------
    def _send(self, request: Request) -> Response:
        if self._transport is not None:
            resp = self._transport(request)
            resp.url, resp.request = request.url, request
            return resp
        url = request.url
        proxy = proxy_for(url)
        key = (url.scheme, url.host, url.port, proxy.text if proxy else None)
        target = url.text if proxy and url.scheme == "http" else url.target
        headers = dict(request.headers.items())
        if proxy and url.scheme == "http":
            headers.update(_proxy_auth(proxy))
        reused = self._checkout(key)
        conn = reused or self._connect(url, proxy)
        try:
            try:
                conn.request(request.method, target, body=request.content, headers=headers)
                raw = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused or not isinstance(request.content, (bytes, type(None))):
                    raise
                conn.close()           # the server closed an idle connection: once more, anew
                conn = self._connect(url, proxy)
                conn.request(request.method, target, body=request.content, headers=headers)
                raw = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise _failure(e, f"waiting for {url.host}") from e
        resp = Response._from_network(raw, lambda reusable: self._checkin(key, conn, reusable))
        resp.url, resp.request = url, request
        return resp

    def _connect(self, url: URL, proxy: URL | None) -> http.client.HTTPConnection:
        host, port = (proxy.host, proxy.port) if proxy else (url.host, url.port)
        if url.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=self._ssl_context())
            if proxy:
                conn.set_tunnel(url.host, url.port, headers=_proxy_auth(proxy))
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        conn._create_connection = _create_connection
        try:
            conn.connect()
        except TimeoutError as e:          # socket.timeout is TimeoutError
            conn.close()
            raise Timeout(f"timed out connecting to {host}:{port}") from e
        except (OSError, http.client.HTTPException) as e:   # ssl.SSLError is an OSError
            conn.close()
            raise ConnectError(str(e) or type(e).__name__) from e
        if conn.sock is not None:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            if isinstance(self._verify, ssl.SSLContext):
                self._context = self._verify
            elif self._verify:
                self._context = system_context()
            else:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                self._context = ctx
        return self._context

    def _checkout(self, key: tuple):
        with self._lock:
            conns = self._idle.get(key)
            return conns.pop() if conns else None

    def _checkin(self, key: tuple, conn, reusable: bool) -> None:
        if reusable:
            with self._lock:
                conns = self._idle.setdefault(key, [])
                if len(conns) < IDLE_PER_HOST:
                    conns.append(conn)
                    return
        conn.close()


def _create_connection(address, timeout=None, source_address=None):
    """socket.create_connection, with an ASCII host name as bytes: for a str, getaddrinfo loads
    the idna codec first (~5 ms of a pull's start-up), even for "127.0.0.1"."""
    host, port = address
    if isinstance(host, str) and host.isascii():
        host = host.encode()
    return socket.create_connection((host, port), timeout, source_address)


def _drain(resp: Response, limit: int = 1 << 16) -> None:
    """Read a redirect's (small) body so its connection can serve the next request."""
    if resp._raw is not None and resp._body is None:
        try:
            length = int(resp.headers.get("content-length") or "-1")
        except ValueError:
            length = -1
        if 0 <= length <= limit:
            resp.read()
    resp.close()
