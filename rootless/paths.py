"""Every path rl uses, on disk and at run time. Compute no such path anywhere else.

Layout (see DESIGN.md "Data on disk"):
  store root   $RL_ROOT, else $XDG_DATA_HOME/rl (~/.local/share/rl); --root overrides
  runtime dir  $XDG_RUNTIME_DIR/rl, else /tmp/rl-<uid> (0700, owned by the user, checked); --runroot
  config       $XDG_CONFIG_HOME/rl/config.toml; registry auth in ~/.docker/config.json format
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rootless.errors import StorageError


def _home(env: dict[str, str]) -> Path:
    home = env.get("HOME")
    if home:
        return Path(home)
    import pwd

    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def default_root(env: dict[str, str]) -> tuple[Path, str]:
    """The store root and where it came from ("RL_ROOT", "XDG_DATA_HOME" or "HOME")."""
    if env.get("RL_ROOT"):
        return Path(env["RL_ROOT"]), "RL_ROOT"
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]) / "rl", "XDG_DATA_HOME"
    return _home(env) / ".local" / "share" / "rl", "HOME"


def default_runroot(env: dict[str, str], uid: int) -> tuple[Path, str]:
    """The runtime state dir and where it came from ("XDG_RUNTIME_DIR" or "fallback").

    Without systemd/logind nothing creates XDG_RUNTIME_DIR; youki and podman then fall back to a
    per-user directory under /tmp, which we create 0700 and check is ours.
    """
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return Path(xdg) / "rl", "XDG_RUNTIME_DIR"
    return Path(f"/tmp/rl-{uid}"), "fallback"


def default_config_dir(env: dict[str, str]) -> Path:
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / "rl"
    return _home(env) / ".config" / "rl"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` 0700 if missing and check it belongs to us and nobody else can write it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.lstat()
    except OSError as e:
        raise StorageError(f"cannot create {path}: {e.strerror}", "use --runroot to choose another directory") from e
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise StorageError(
            f"{path} is not a private directory owned by uid {os.getuid()}",
            "remove it or use --runroot to choose another directory",
        )
    return path


class Paths:
    """Owns every path below the store root, the runtime dir and the config dir.

    A plain class, not a dataclass: `dataclasses` imports `inspect` and costs the start-up budget
    of every command (docs/cli.md)."""

    __slots__ = ("root", "runroot", "config_dir", "home")

    def __init__(self, root: Path, runroot: Path, config_dir: Path, home: Path) -> None:
        self.root = Path(root)
        self.runroot = Path(runroot)
        self.config_dir = Path(config_dir)
        self.home = Path(home)

    def __repr__(self) -> str:
        return f"Paths(root={self.root!r}, runroot={self.runroot!r}, config_dir={self.config_dir!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Paths) and all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_env(cls, env: dict[str, str], root: str | None = None, runroot: str | None = None) -> "Paths":
        return cls(
            root=Path(root) if root else default_root(env)[0],
            runroot=Path(runroot) if runroot else default_runroot(env, os.getuid())[0],
            config_dir=default_config_dir(env),
            home=_home(env),
        )

    # --- store ---------------------------------------------------------------------------------
    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    def blob(self, digest: str) -> Path:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64:
            raise StorageError(f"unsupported digest {digest!r}")
        return self.blobs / hexpart

    @property
    def layers(self) -> Path:
        return self.root / "layers"

    def layer(self, chain_id: str) -> Path:
        return self.layers / chain_id.partition(":")[2]

    def layer_meta(self, chain_id: str) -> Path:
        """Facts about an unpacked layer (diff_id, size), beside its directory."""
        return self.layers / (chain_id.partition(":")[2] + ".json")

    @property
    def images_json(self) -> Path:
        return self.root / "images.json"

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    def container(self, container_id: str) -> Path:
        return self.containers / container_id

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    def volume(self, name: str) -> Path:
        return self.volumes / name

    @property
    def networks(self) -> Path:
        return self.root / "networks"

    @property
    def tmp(self) -> Path:
        """Scratch space on the store's filesystem, so finished work can be renamed into place."""
        return self.root / "tmp"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    # --- config --------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def docker_auth_file(self) -> Path:
        return self.home / ".docker" / "config.json"

    # --- registries (owner: registry engineer) -------------------------------------------------
    @property
    def certs_dir(self) -> Path:
        """Per-registry CA files, like docker's /etc/docker/certs.d: <certs_dir>/<host[:port]>/ca.crt."""
        return self.config_dir / "certs.d"

    def registry_ca_file(self, host: str) -> Path:
        return self.certs_dir / host / "ca.crt"

    # --- containers (owner: containers engineer) ------------------------------------------------
    @property
    def containers_lock(self) -> Path:
        """fcntl lock serialising changes to the container records (names, state.json)."""
        return self.locks / "containers.lock"

    @property
    def oci_state(self) -> Path:
        """The OCI runtime's state dir for rl's containers (pids, exec fifos; may vanish on reboot)."""
        return self.runroot / "oci"

    @property
    def storage_driver_file(self) -> Path:
        """The cached result of the rootfs driver probe (storage/probe.py)."""
        return self.root / "storage-driver.json"

    # --- networking (owner: network engineer) ---------------------------------------------------
    def slirp_socket(self, container_id: str) -> Path:
        """slirp4netns' API socket for a running container (runtime state: may vanish on reboot)."""
        return self.runroot / container_id / "slirp.sock"
