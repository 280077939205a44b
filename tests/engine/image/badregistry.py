"""A tiny, deliberately wrong registry for tests: http.server on 127.0.0.1 in a thread.

It serves one image whose manifest and config are valid but whose layer bytes (or diff_id) do not
match what the manifest/config announce. Used to check that rl verifies and leaves the store as it
was.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(text: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    return buf.getvalue()


class BadRegistry:
    """mode: "layer-bytes" (layer digest mismatch), "diff-id" (config diff_id wrong), "ok"."""

    def __init__(self, mode: str) -> None:
        tar = _layer(b"the real content\n")
        layer = gzip.compress(tar, mtime=0)
        served = gzip.compress(_layer(b"evil content!!!!\n"), mtime=0) if mode == "layer-bytes" else layer
        diff_id = _digest(tar) if mode != "diff-id" else _digest(b"something else")
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config),
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _digest(layer),
                        "size": len(layer)}]}).encode()
        self.layer_digest = _digest(layer)
        self.blobs = {_digest(config): config, _digest(layer): served}
        self.manifest = manifest
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?")[0]
                if path == "/v2/":
                    return self._send(200, b"{}")
                if path.startswith("/v2/bad/manifests/"):
                    return self._send(200, owner.manifest, "application/vnd.oci.image.manifest.v1+json")
                if path.startswith("/v2/bad/blobs/"):
                    blob = owner.blobs.get(path.rsplit("/", 1)[1])
                    if blob is not None:
                        return self._send(200, blob, "application/octet-stream")
                self._send(404, json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode())

            do_HEAD = do_GET

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
