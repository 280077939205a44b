"""Registry credentials and authentication schemes.

- The credential file is docker's `~/.docker/config.json` (`Paths.docker_auth_file`): an "auths"
  object keyed by registry host ("https://index.docker.io/v1/" for Docker Hub), each entry holding
  `auth` = base64("user:password"). Read and written here (written atomically, mode 0600).
- The schemes, chosen by the registry's `WWW-Authenticate` challenge (distribution spec, "token
  authentication" of the Docker registry v2 auth spec):
    Anonymous  no header until challenged
    Basic      `Authorization: Basic ...` with the stored credentials
    Bearer     GET <realm>?service=<service>&scope=<scope> (with basic credentials when we have
               them), then `Authorization: Bearer <token>`; tokens cached per scope
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from rootless.plainclass import dataclass, field
from pathlib import Path

from rootless.errors import AuthError, RlError

#: the key docker uses for Docker Hub in config.json
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Challenge:
    scheme: str                  # "basic" or "bearer" (lower case)
    params: dict[str, str]


_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenge(header: str) -> Challenge | None:
    """Parse a WWW-Authenticate header value (RFC 7235) into its scheme and parameters (pure)."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {}
    for m in _PARAM.finditer(rest):
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return Challenge(scheme.lower(), params)


def auth_key(host: str) -> str:
    """The config.json key for a registry host (docker's spelling)."""
    return DOCKER_HUB_AUTH_KEY if host in ("docker.io", "index.docker.io", "registry-1.docker.io") else host


# --- config.json -----------------------------------------------------------------------------
def _read_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise RlError(f"cannot read {path}: {e}", "fix or remove the file") from None
    if not isinstance(data, dict):
        raise RlError(f"{path} is not a JSON object", "fix or remove the file")
    return data


def _write_file(path: Path, data: dict) -> None:
    import tempfile  # here: only `rl login`/`logout` write (a pull's start-up reads)

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.json.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent="\t")
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _lookup_keys(host: str) -> list[str]:
    key = auth_key(host)
    keys = [key, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]
    if key == DOCKER_HUB_AUTH_KEY:
        keys += ["docker.io", "index.docker.io", "https://index.docker.io/v1"]
    return keys


def get_credentials(path: Path, host: str) -> Credentials | None:
    """The stored credentials for `host`, or None."""
    auths = _read_file(path).get("auths") or {}
    for key in _lookup_keys(host):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except ValueError:
                raise RlError(f"invalid auth entry for {key} in {path}", f"run `rl login {host}` again") from None
            return Credentials(user, password)
        if entry.get("username"):
            return Credentials(entry["username"], entry.get("password", ""))
    return None


def store_credentials(path: Path, host: str, creds: Credentials) -> None:
    data = _read_file(path)
    auths = data.setdefault("auths", {})
    raw = f"{creds.username}:{creds.password}".encode()
    auths[auth_key(host)] = {"auth": base64.b64encode(raw).decode()}
    _write_file(path, data)


def remove_credentials(path: Path, host: str) -> bool:
    """Forget the credentials of `host`; False when there were none."""
    data = _read_file(path)
    auths = data.get("auths") or {}
    found = [k for k in _lookup_keys(host) if k in auths]
    for key in found:
        del auths[key]
    if found:
        _write_file(path, data)
    return bool(found)


# --- schemes ---------------------------------------------------------------------------------
@dataclass
class Authenticator:
    """The authentication state of one registry: credentials, last challenge, tokens by scope.

    `header(scope)` gives the Authorization header to send (None while anonymous);
    `answer(challenge, scope, fetch_token)` reacts to a 401 and says whether a retry can succeed
    (the client retries a request once).
    """

    host: str
    credentials: Credentials | None = None
    challenge: Challenge | None = None
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def header(self, scope: str) -> str | None:
        if self.challenge is None:
            return None
        if self.challenge.scheme == "basic":
            return self.credentials.basic_header() if self.credentials else None
        if self.challenge.scheme == "bearer":
            token = self.tokens.get(scope)
            if token and token[1] > time.monotonic():
                return f"Bearer {token[0]}"
        return None

    def answer(self, challenge: Challenge | None, scope: str, fetch_token) -> bool:
        """Handle a 401. `fetch_token(realm, params, credentials) -> (token, expires_in)`."""
        if challenge is None:
            return False
        self.challenge = challenge
        if challenge.scheme == "basic":
            return self.credentials is not None
        if challenge.scheme == "bearer":
            realm = challenge.params.get("realm")
            if not realm:
                raise AuthError(f"{self.host}: bearer challenge without a realm")
            params = {"service": challenge.params.get("service", ""),
                      "scope": challenge.params.get("scope") or scope}
            params = {k: v for k, v in params.items() if v}
            token, expires_in = fetch_token(realm, params, self.credentials)
            self.tokens[scope] = (token, time.monotonic() + max(30, expires_in - 10))
            return True
        raise AuthError(f"{self.host}: unsupported authentication scheme {challenge.scheme!r}")
