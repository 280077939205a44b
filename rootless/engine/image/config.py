"""Registry configuration: mirrors, insecure registries and per-registry CA files.

Read from `$RL_CONFIG` when set, else `Paths.config_file` (`$XDG_CONFIG_HOME/rl/config.toml`). The
keys are the seed's daemon.json ones, spelled the same in TOML:

    registry-mirrors = ["http://127.0.0.1:5000"]     # tried first for docker.io, in order (a URL,
                                                      # or host[:port] reached like a registry)
    insecure-registries = ["myregistry:5000"]         # HTTPS without verification, then HTTP

A CA for one registry goes in `<config dir>/certs.d/<host[:port]>/ca.crt` (docker's certs.d layout).
Loopback registries (localhost, 127.0.0.0/8, ::1) may answer in plain HTTP, as docker allows.
"""

from __future__ import annotations

import ipaddress
from rootless.plainclass import dataclass, field
from pathlib import Path

from rootless.errors import RlError
from rootless.paths import Paths

DOCKER_HUB = "docker.io"
#: the endpoint that serves docker.io's distribution API
DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"


class ConfigError(RlError):
    """The config file does not parse or holds a value of the wrong type."""


@dataclass(frozen=True)
class RegistryConfig:
    mirrors: tuple[str, ...] = ()
    insecure: tuple[str, ...] = ()
    certs_dir: Path | None = None
    source: Path | None = None
    extra: dict = field(default_factory=dict)

    def is_insecure(self, host: str) -> bool:
        """True for a host listed in insecure-registries (host[:port] or a CIDR, as docker)."""
        bare = host_without_port(host)
        for entry in self.insecure:
            entry = entry.removeprefix("http://").removeprefix("https://").rstrip("/")
            if entry in (host, bare):
                return True
            if "/" in entry and _in_cidr(bare, entry):
                return True
        return False

    def ca_file(self, host: str) -> Path | None:
        """The CA bundle configured for `host` (certs.d/<host:port>/ca.crt, else certs.d/<host>/)."""
        if self.certs_dir is None:
            return None
        for name in (host, host_without_port(host)):
            for fname in ("ca.crt", "ca.pem"):
                candidate = self.certs_dir / name / fname
                if candidate.is_file():
                    return candidate
        return None


def host_without_port(host: str) -> str:
    if host.startswith("["):
        return host[1:host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _in_cidr(host: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    bare = host_without_port(host)
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def config_path(paths: Paths, env: dict[str, str]) -> Path:
    return Path(env["RL_CONFIG"]) if env.get("RL_CONFIG") else paths.config_file


def parse(text: str, source: Path | None = None, certs_dir: Path | None = None) -> RegistryConfig:
    """Parse config.toml text (pure)."""
    import tomllib  # here: most hosts have no config file, and a pull's start-up is timed

    where = f" in {source}" if source else ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid config file{where}: {e}", "fix the TOML syntax") from None
    lists = {}
    for key in ("registry-mirrors", "insecure-registries"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}{where} must be a list of strings", f'e.g. {key} = ["127.0.0.1:5000"]')
        lists[key] = tuple(v.strip() for v in value if v.strip())
    mirrors = tuple(_mirror_url(m) for m in lists["registry-mirrors"])
    rest = {k: v for k, v in data.items() if k not in lists}
    return RegistryConfig(mirrors=mirrors, insecure=lists["insecure-registries"], certs_dir=certs_dir,
                          source=source, extra=rest)


def _mirror_url(text: str) -> str:
    """A mirror: a base URL ("http://127.0.0.1:5000"), or a bare host[:port] that is reached like
    any registry host (HTTPS; plain HTTP too when loopback or listed as insecure)."""
    text = text.rstrip("/")
    if "://" not in text:
        return text
    scheme = text.split("://", 1)[0]
    if scheme not in ("http", "https"):
        raise ConfigError(f"invalid mirror {text!r}: scheme must be http or https")
    return text


def load(paths: Paths, env: dict[str, str]) -> RegistryConfig:
    """The registry configuration in effect (an absent file means the defaults)."""
    path = config_path(paths, env)
    try:
        text = path.read_text()
    except FileNotFoundError:
        if env.get("RL_CONFIG"):
            raise ConfigError(f"config file {path} (RL_CONFIG) does not exist") from None
        return RegistryConfig(certs_dir=paths.certs_dir)
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    return parse(text, path, paths.certs_dir)
