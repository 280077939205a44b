"""A client for one registry, speaking the OCI distribution spec (v2 API) over HTTP/1.1 (transport).

Owns: choosing the endpoint (HTTPS with the system CAs plus the registry's certs.d CA; HTTP only for
registries listed as insecure and for loopback ones, as docker), the auth challenge flow (via
`auth.Authenticator`), retries with backoff on connection errors and 5xx, error bodies turned into
docker's messages, and the endpoints: manifests (GET/HEAD/PUT), blobs (GET with redirects, HEAD,
uploads monolithic or chunked, cross-repository mounts), `_catalog` and tags.

Nothing here knows about the image store: bytes in, bytes out, digests checked by the callers that
stream (pull.py, push.py) and here for everything read whole.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import time
from contextlib import contextmanager
from rootless.plainclass import dataclass
from typing import Iterable, Iterator

from rootless.engine.image import transport as tp
from rootless.engine.image.auth import Authenticator, parse_challenge
from rootless.engine.image.config import DOCKER_HUB, DOCKER_HUB_ENDPOINT, RegistryConfig, is_loopback
from rootless.errors import AuthError, ImageNotFound, RegistryError

MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
ACCEPT = ", ".join(MANIFEST_TYPES + INDEX_TYPES)
#: a manifest larger than this is refused (the distribution spec suggests 4 MiB)
MAX_MANIFEST = 4 << 20

RETRIES = 3
BACKOFF = (0.2, 0.6, 1.5)


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as served: the raw bytes (what the digest covers), its type and digest."""

    raw: bytes
    media_type: str
    digest: str

    @property
    def data(self) -> dict:
        return json.loads(self.raw)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _ssl_context(ca_file) -> ssl.SSLContext:
    return tp.system_context(ca_file)         # the system CAs, and the registry's certs.d CA


def _is_plain_http_answer(err: Exception) -> bool:
    """A TLS handshake answered in plain HTTP (the server does not speak TLS at all)."""
    text = str(err).lower()
    return "wrong version number" in text or "record layer failure" in text or "http request" in text


def _cert_error(err: Exception) -> bool:
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError) or "certificate verify failed" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def error_from_response(resp: tp.Response, what: str) -> RegistryError:
    """Turn a registry's error answer into a one-line error, docker's wording where it has one."""
    try:
        errors = json.loads(resp.read() or b"{}").get("errors") or []
    except (ValueError, AttributeError, tp.TransportError):
        errors = []
    codes = [e.get("code", "") for e in errors if isinstance(e, dict)]
    detail = "; ".join((e.get("message") or e.get("code") or "").lower() for e in errors if isinstance(e, dict))
    if resp.status_code == 401 or "UNAUTHORIZED" in codes:
        return AuthError(f"{what}: unauthorized: authentication required",
                         "log in with `rl login <registry>` (or check the credentials)")
    if resp.status_code == 403 or "DENIED" in codes:
        return AuthError(f"{what}: denied: requested access to the resource is denied",
                         "check the repository name and that you are logged in with push rights")
    if resp.status_code == 404 or any(c.endswith("_UNKNOWN") for c in codes):
        return ImageNotFound(f"{what}: {detail or 'not found'}")
    return RegistryError(f"{what}: {detail or f'HTTP {resp.status_code} {resp.reason_phrase}'}")


class Registry:
    """One registry (or one mirror endpoint of docker.io). Use as a context manager."""

    def __init__(self, host: str, config: RegistryConfig, authenticator: Authenticator | None = None, *,
                 endpoint: str | None = None, transport=None,
                 timeout: float = 30.0) -> None:
        self.host = host
        self.config = config
        self.auth = authenticator or Authenticator(host)
        self._transport = transport
        self._timeout = timeout
        self._endpoint = endpoint or (DOCKER_HUB_ENDPOINT if host == DOCKER_HUB else None)
        self._client: tp.Client | None = None
        self.base: str | None = None

    # --- connection ----------------------------------------------------------------------------
    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _candidates(self) -> list[tuple[str, object]]:
        """(base URL, verify) to try, in order."""
        if self._endpoint:
            netloc = self._endpoint.split("://", 1)[1]
            insecure = self.config.is_insecure(netloc)
            return [(self._endpoint, False if insecure else _ssl_context(self.config.ca_file(netloc)))]
        ca = self.config.ca_file(self.host)
        if self.config.is_insecure(self.host):
            return [(f"https://{self.host}", _ssl_context(ca) if ca else False), (f"http://{self.host}", False)]
        if is_loopback(self.host):
            if ca:  # a CA for it: TLS is what it speaks
                return [(f"https://{self.host}", _ssl_context(ca)), (f"http://{self.host}", False)]
            # plain HTTP first on this machine's own addresses (docker treats them as insecure
            # registries): a TLS one answers it with an error and is tried next, and a plain one
            # spares the system CAs' loading (~30 ms) and a failed handshake
            return [(f"http://{self.host}", False), (f"https://{self.host}", None)]
        return [(f"https://{self.host}", _ssl_context(ca))]

    def _new_client(self, verify) -> tp.Client:
        return tp.Client(verify=verify, transport=self._transport, timeout=self._timeout,
                         headers={"User-Agent": "rl"})

    def connect(self) -> None:
        """Find a working endpoint (GET /v2/) and record the auth challenge it sends."""
        if self._client is not None:
            return
        candidates = self._candidates()
        last: Exception | None = None
        refused = None
        for i, (base, verify) in enumerate(candidates):
            if verify is None:  # made when tried (loopback's second choice)
                verify = _ssl_context(self.config.ca_file(self.host))
            client = self._new_client(verify)
            probe = i + 1 < len(candidates) and base.startswith("http://")  # loopback's plain try
            try:
                resp = client.get(f"{base}/v2/") if probe else self._retrying(lambda: client.get(f"{base}/v2/"))
            except tp.TransportError as e:
                client.close()
                last = e
                if probe:
                    refused = (base, e)
                if i + 1 < len(candidates) and not _cert_error(e):
                    continue       # docker: a loopback or insecure registry may speak plain HTTP
                if refused and isinstance(e, tp.ConnectError) and not _is_plain_http_answer(e):
                    raise self._connect_error(*refused) from None  # nothing listens: docker names http
                raise self._connect_error(base, e) from None
            if probe and resp.status_code == 400:  # a TLS server's answer to plain HTTP
                client.close()
                continue
            if resp.status_code == 401:
                challenge = parse_challenge(resp.headers.get("www-authenticate", ""))
                self.auth.challenge = challenge or self.auth.challenge
            elif resp.status_code >= 400 and resp.status_code != 404:
                client.close()
                raise RegistryError(f"{base}/v2/: HTTP {resp.status_code} {resp.reason_phrase}",
                                    "is this a registry (OCI distribution API)?")
            self._client, self.base = client, base
            return
        raise self._connect_error(candidates[-1][0], last)  # pragma: no cover - loop always returns/raises

    def _connect_error(self, base: str, err: Exception) -> RegistryError:
        if _cert_error(err):
            return RegistryError(f"Get \"{base}/v2/\": x509: certificate signed by unknown authority",
                                 f"put the registry's CA in {self.config.certs_dir}/{self.host}/ca.crt, "
                                 "or list it in insecure-registries")
        if base.startswith("https://") and _is_plain_http_answer(err):
            return RegistryError(f"Get \"{base}/v2/\": http: server gave HTTP response to HTTPS client",
                                 f"add \"{self.host}\" to insecure-registries in the rl config file")
        reason = str(err) or type(err).__name__
        return RegistryError(f"Get \"{base}/v2/\": {reason}",
                             "check the registry name and that it is reachable")

    @staticmethod
    def _retrying(send):
        """Call `send()`; retry with backoff on connection errors and 5xx answers."""
        for attempt in range(RETRIES + 1):
            try:
                resp = send()
            except (tp.ConnectError, tp.Timeout, tp.ProtocolError) as e:
                if attempt == RETRIES or _cert_error(e) or _is_plain_http_answer(e):
                    raise
            else:
                if resp.status_code < 500 or attempt == RETRIES:
                    return resp
                resp.close()
            time.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
        raise AssertionError("unreachable")

    # --- requests ------------------------------------------------------------------------------
    def _fetch_token(self, realm: str, params: dict, credentials) -> tuple[str, int]:
        query = [(k, v) for k, v in params.items() if k != "scope"]
        query += [("scope", s) for s in params.get("scope", "").split(" ") if s]
        headers = {"Authorization": credentials.basic_header()} if credentials else {}
        resp = self._retrying(lambda: self._client.get(realm, params=query, headers=headers))
        if resp.status_code in (401, 403):
            raise AuthError(f"{self.host}: unauthorized: incorrect username or password",
                            "check the credentials (`rl login`)")
        if resp.status_code != 200:
            raise RegistryError(f"{self.host}: token server {realm} answered HTTP {resp.status_code}")
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
        except ValueError:
            token = None
        if not token:
            raise AuthError(f"{self.host}: token server {realm} sent no token")
        return token, int(body.get("expires_in") or 60)

    def _request(self, method: str, url: str, scope: str, *, stream: bool = False, retry: bool = True,
                 **kw) -> tp.Response:
        """Send one request with authentication (one retry after a 401 challenge)."""
        self.connect()
        if not url.startswith(("http://", "https://")):
            url = self.base + url
        headers = kw.pop("headers", None) or {}
        for attempt in (0, 1):
            auth = self.auth.header(scope)
            sent = dict(headers, Authorization=auth) if auth else headers
            send = lambda: self._client.request(method, url, headers=sent, stream=stream, **kw)  # noqa: E731
            resp = self._retrying(send) if retry else send()
            if resp.status_code != 401 or attempt:
                return resp
            challenge = parse_challenge(resp.headers.get("www-authenticate", ""))
            resp.read()
            resp.close()
            if not self.auth.answer(challenge, scope, self._fetch_token):
                return resp
        raise AssertionError("unreachable")

    # --- manifests -----------------------------------------------------------------------------
    def get_manifest(self, repo: str, reference: str, *, display: str | None = None) -> Manifest:
        """GET a manifest or index by tag or digest; by digest, the bytes are verified."""
        resp = self._request("GET", f"/v2/{repo}/manifests/{reference}", f"repository:{repo}:pull",
                             headers={"Accept": ACCEPT})
        what = display or f"{repo}{'@' if reference.startswith('sha256:') else ':'}{reference}"
        if resp.status_code == 404:
            raise ImageNotFound(f"manifest for {what} not found: manifest unknown",
                                "check the name and the tag (`rl search`, or the registry's tag list)")
        if resp.status_code != 200:
            raise error_from_response(resp, f"reading manifest for {what}")
        raw = resp.content
        if len(raw) > MAX_MANIFEST:
            raise RegistryError(f"manifest for {what} is larger than {MAX_MANIFEST} bytes")
        digest = sha256(raw)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"manifest for {what}: digest mismatch: got {digest}",
                                "the registry served corrupt or tampered content")
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES + INDEX_TYPES:
            media_type = _sniff_media_type(raw, media_type, what)
        return Manifest(raw, media_type, digest)

    def head_manifest(self, repo: str, reference: str) -> str | None:
        """The digest of a manifest if it exists (Docker-Content-Digest), else None."""
        resp = self._request("HEAD", f"/v2/{repo}/manifests/{reference}", f"repository:{repo}:pull",
                             headers={"Accept": ACCEPT})
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise error_from_response(resp, f"{repo}:{reference}")
        return resp.headers.get("docker-content-digest")

    def put_manifest(self, repo: str, reference: str, raw: bytes, media_type: str) -> str:
        resp = self._request("PUT", f"/v2/{repo}/manifests/{reference}", f"repository:{repo}:pull,push",
                             content=raw, headers={"Content-Type": media_type}, retry=False)
        if resp.status_code not in (200, 201, 202):
            raise error_from_response(resp, f"pushing manifest {repo}:{reference}")
        return resp.headers.get("docker-content-digest") or sha256(raw)

    # --- blobs ---------------------------------------------------------------------------------
    @contextmanager
    def open_blob(self, repo: str, digest: str) -> Iterator[tp.Response]:
        """Stream a blob (redirects to blob storage followed). The caller verifies the digest."""
        resp = self._request("GET", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull", stream=True)
        try:
            if resp.status_code != 200:
                resp.read()
                raise error_from_response(resp, f"fetching blob {digest} of {repo}")
            yield resp
        finally:
            resp.close()

    def get_blob(self, repo: str, digest: str, *, limit: int = 64 << 20) -> bytes:
        """A small blob (an image config) read whole and verified."""
        with self.open_blob(repo, digest) as resp:
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise RegistryError(f"blob {digest} of {repo} is larger than {limit} bytes")
                chunks.append(chunk)
        data = b"".join(chunks)
        if sha256(data) != digest:
            raise RegistryError(f"blob {digest} of {repo}: digest mismatch: got {sha256(data)}",
                                "the registry served corrupt or tampered content")
        return data

    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self._request("HEAD", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull,push")
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise error_from_response(resp, f"checking blob {digest} in {repo}")
        return True

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Try a cross-repository mount; True when the registry mounted it (201)."""
        scope = f"repository:{repo}:pull,push repository:{from_repo}:pull"
        resp = self._request("POST", f"/v2/{repo}/blobs/uploads/", scope,
                             params={"mount": digest, "from": from_repo}, retry=False)
        resp.close()
        if resp.status_code == 201:
            return True
        location = resp.headers.get("location")
        if resp.status_code == 202 and location:   # an upload session we will not use
            try:
                self._request("DELETE", self._absolute(location), f"repository:{repo}:pull,push").close()
            except tp.TransportError:
                pass
        return False

    def _absolute(self, location: str) -> str:
        return location if location.startswith(("http://", "https://")) else self.base + location

    def upload_blob(self, repo: str, digest: str, size: int, chunks: Iterable[bytes], *,
                    chunk_size: int | None = None) -> None:
        """Upload a blob: POST a session, then one PUT (monolithic) or PATCHes and a closing PUT."""
        scope = f"repository:{repo}:pull,push"
        resp = self._request("POST", f"/v2/{repo}/blobs/uploads/", scope, retry=False)
        if resp.status_code != 202 or "location" not in resp.headers:
            raise error_from_response(resp, f"starting upload of {digest} to {repo}")
        location = self._absolute(resp.headers["location"])
        if chunk_size is None:
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
            resp = self._request("PUT", _with_query(location, digest=digest), scope, content=iter(chunks),
                                 headers=headers, retry=False)
        else:
            offset = 0
            for piece in _rechunk(chunks, chunk_size):
                headers = {"Content-Type": "application/octet-stream",
                           "Content-Range": f"{offset}-{offset + len(piece) - 1}", "Content-Length": str(len(piece))}
                resp = self._request("PATCH", location, scope, content=piece, headers=headers, retry=False)
                if resp.status_code != 202:
                    raise error_from_response(resp, f"uploading {digest} to {repo}")
                offset += len(piece)
                location = self._absolute(resp.headers.get("location", location))
            resp = self._request("PUT", _with_query(location, digest=digest), scope, content=b"", retry=False)
        if resp.status_code not in (201, 204):
            raise error_from_response(resp, f"uploading {digest} to {repo}")

    # --- listing -------------------------------------------------------------------------------
    def catalog(self, page: int = 1000) -> list[str]:
        """Every repository name (GET /v2/_catalog, following Link pagination)."""
        repos: list[str] = []
        url = f"/v2/_catalog?n={page}"
        while url:
            resp = self._request("GET", url, "registry:catalog:*")
            if resp.status_code != 200:
                raise error_from_response(resp, f"listing repositories of {self.host}")
            repos += resp.json().get("repositories") or []
            url = _next_link(resp.headers.get("link", ""))
        return repos

    def tags(self, repo: str) -> list[str]:
        resp = self._request("GET", f"/v2/{repo}/tags/list", f"repository:{repo}:pull")
        if resp.status_code != 200:
            raise error_from_response(resp, f"listing tags of {repo}")
        return resp.json().get("tags") or []


def _with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query (upload locations carry their own state in it)."""
    return tp.with_params(url, params)


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def _next_link(header: str) -> str | None:
    """The target of a `Link: </v2/_catalog?last=x&n=y>; rel="next"` header."""
    for part in header.split(","):
        if 'rel="next"' in part and "<" in part:
            return part[part.index("<") + 1:part.index(">")]
    return None


def _sniff_media_type(raw: bytes, served: str, what: str) -> str:
    """Registries may serve OCI content without a content type; fall back to the body's mediaType."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise RegistryError(f"manifest for {what} is not JSON") from None
    media_type = data.get("mediaType") if isinstance(data, dict) else None
    if media_type in MANIFEST_TYPES + INDEX_TYPES:
        return media_type
    if isinstance(data, dict) and data.get("schemaVersion") == 2:
        return MEDIA_OCI_INDEX if "manifests" in data else MEDIA_OCI_MANIFEST
    if isinstance(data, dict) and data.get("schemaVersion") == 1:
        raise RegistryError(f"manifest for {what}: unsupported media type {served or 'schema 1'}",
                            "Docker image manifest v2 schema 1 is deprecated; push the image again with a current tool")
    raise RegistryError(f"manifest for {what}: unsupported media type {served!r}")


def check_login(registry: Registry) -> None:
    """Verify the registry accepts `registry.auth.credentials` (GET /v2/ with them)."""
    try:
        resp = registry._request("GET", "/v2/", "")
    except AuthError:
        raise AuthError(f"login to {registry.host}: unauthorized: incorrect username or password",
                        "check the user name and password") from None
    if resp.status_code == 401:
        raise AuthError(f"login to {registry.host}: unauthorized: incorrect username or password",
                        "check the user name and password")
    if resp.status_code >= 400 and resp.status_code != 404:
        raise error_from_response(resp, f"login to {registry.host}")


HUB_SEARCH = "https://index.docker.io/v1/search"


def hub_search(term: str, limit: int, *, transport=None) -> list[dict]:
    """Docker Hub's search API: [{"name", "description", "star_count", "is_official"}...]."""
    try:
        with tp.Client(transport=transport, timeout=15.0) as client:
            resp = client.get(HUB_SEARCH, params={"q": term, "n": str(limit)})
    except tp.TransportError as e:
        raise RegistryError(f"Get \"{HUB_SEARCH}?q={term}\": {e or type(e).__name__}",
                            "Docker Hub is unreachable from here; search a private registry with "
                            "`rl search HOST:PORT/TERM`") from None
    if resp.status_code != 200:
        raise error_from_response(resp, "searching Docker Hub")
    try:
        return list(resp.json().get("results") or [])
    except ValueError:
        raise RegistryError("Docker Hub's search answer is not JSON") from None
