"""Every path rl uses, on disk and at run time. Compute no such path anywhere else.

Layout (see DESIGN.md "Data on disk"):
  store root   $RL_ROOT, else $XDG_DATA_HOME/rl (~/.local/share/rl); --root overrides
  runtime dir  $XDG_RUNTIME_DIR/rl, else /tmp/rl-<uid> (0700, owned by the user, checked); --runroot
  config       $XDG_CONFIG_HOME/rl/config.toml; registry auth in ~/.docker/config.json format

Two spellings of the same layout: the properties give `pathlib.Path`s for the engine at large;
the `*_dir`/`*_file` methods give plain strings, for the modules on the `rl run`/`rl exec` path.
`import pathlib` loads `re`, `fnmatch` and `urllib.parse` (with `re` and `enum`: ~35 M
instructions, a third of `rl run --rm`; docs/performance.md), so this module imports it only
when a property is first used, and every property is defined by its string method.
"""

from __future__ import annotations

import os
import stat

from rootless.errors import StorageError

_join = os.path.join


def Path(*parts):  # noqa: N802 - pathlib.Path, imported on first use (see the module's docstring)
    from pathlib import Path as path_class

    return path_class(*parts)


def _home(env: dict[str, str]) -> str:
    home = env.get("HOME")
    if home:
        return home
    import pwd

    return pwd.getpwuid(os.getuid()).pw_dir


def default_root_dir(env: dict[str, str]) -> tuple[str, str]:
    """The store root and where it came from ("RL_ROOT", "XDG_DATA_HOME" or "HOME")."""
    if env.get("RL_ROOT"):
        return env["RL_ROOT"], "RL_ROOT"
    if env.get("XDG_DATA_HOME"):
        return _join(env["XDG_DATA_HOME"], "rl"), "XDG_DATA_HOME"
    return _join(_home(env), ".local", "share", "rl"), "HOME"


def default_runroot_dir(env: dict[str, str], uid: int) -> tuple[str, str]:
    """The runtime state dir and where it came from ("XDG_RUNTIME_DIR" or "fallback").

    Without systemd/logind nothing creates XDG_RUNTIME_DIR; youki and podman then fall back to a
    per-user directory under /tmp, which we create 0700 and check is ours.
    """
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return _join(xdg, "rl"), "XDG_RUNTIME_DIR"
    return f"/tmp/rl-{uid}", "fallback"


def default_root(env: dict[str, str]):
    """default_root_dir as a pathlib.Path."""
    root, source = default_root_dir(env)
    return Path(root), source


def default_runroot(env: dict[str, str], uid: int):
    """default_runroot_dir as a pathlib.Path."""
    runroot, source = default_runroot_dir(env, uid)
    return Path(runroot), source


def default_config_dir(env: dict[str, str]) -> str:
    if env.get("XDG_CONFIG_HOME"):
        return _join(env["XDG_CONFIG_HOME"], "rl")
    return _join(_home(env), ".config", "rl")


def ensure_private_dir(path):
    """Create `path` 0700 if missing and check it belongs to us and nobody else can write it."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
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

    __slots__ = ("root_dir", "runroot_dir", "config_dir_name", "home_dir")

    def __init__(self, root, runroot, config_dir, home) -> None:
        self.root_dir = os.path.normpath(os.fspath(root))
        self.runroot_dir = os.path.normpath(os.fspath(runroot))
        self.config_dir_name = os.path.normpath(os.fspath(config_dir))
        self.home_dir = os.path.normpath(os.fspath(home))

    def __repr__(self) -> str:
        return f"Paths(root={self.root_dir!r}, runroot={self.runroot_dir!r}, config_dir={self.config_dir_name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Paths) and all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_env(cls, env: dict[str, str], root: str | None = None, runroot: str | None = None) -> "Paths":
        return cls(
            root=root if root else default_root_dir(env)[0],
            runroot=runroot if runroot else default_runroot_dir(env, os.getuid())[0],
            config_dir=default_config_dir(env),
            home=_home(env),
        )

    # --- the four roots --------------------------------------------------------------------------
    @property
    def root(self):
        return Path(self.root_dir)

    @property
    def runroot(self):
        return Path(self.runroot_dir)

    @property
    def config_dir(self):
        return Path(self.config_dir_name)

    @property
    def home(self):
        return Path(self.home_dir)

    # --- store -------------------------------------------------------------------------------------
    def blobs_dir(self) -> str:
        return _join(self.root_dir, "blobs", "sha256")

    @property
    def blobs(self):
        return Path(self.blobs_dir())

    def blob_file(self, digest: str) -> str:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64:
            raise StorageError(f"unsupported digest {digest!r}")
        return _join(self.blobs_dir(), hexpart)

    def blob(self, digest: str):
        return Path(self.blob_file(digest))

    def layers_dir(self) -> str:
        return _join(self.root_dir, "layers")

    @property
    def layers(self):
        return Path(self.layers_dir())

    def layer_dir(self, chain_id: str) -> str:
        return _join(self.layers_dir(), chain_id.partition(":")[2])

    def layer(self, chain_id: str):
        return Path(self.layer_dir(chain_id))

    def layer_meta_file(self, chain_id: str) -> str:
        """Facts about an unpacked layer (diff_id, size), beside its directory."""
        return _join(self.layers_dir(), chain_id.partition(":")[2] + ".json")

    def layer_meta(self, chain_id: str):
        return Path(self.layer_meta_file(chain_id))

    def images_json_file(self) -> str:
        return _join(self.root_dir, "images.json")

    @property
    def images_json(self):
        return Path(self.images_json_file())

    def containers_dir(self) -> str:
        return _join(self.root_dir, "containers")

    @property
    def containers(self):
        return Path(self.containers_dir())

    def container_dir(self, container_id: str) -> str:
        return _join(self.root_dir, "containers", container_id)

    def container(self, container_id: str):
        return Path(self.container_dir(container_id))

    @property
    def volumes(self):
        return self.root / "volumes"

    def volume(self, name: str):
        return self.volumes / name

    @property
    def networks(self):
        return self.root / "networks"

    def tmp_dir(self) -> str:
        """Scratch space on the store's filesystem, so finished work can be renamed into place."""
        return _join(self.root_dir, "tmp")

    @property
    def tmp(self):
        return Path(self.tmp_dir())

    def locks_dir(self) -> str:
        return _join(self.root_dir, "locks")

    @property
    def locks(self):
        return Path(self.locks_dir())

    # --- config ------------------------------------------------------------------------------------
    @property
    def config_file(self):
        return self.config_dir / "config.toml"

    @property
    def docker_auth_file(self):
        return self.home / ".docker" / "config.json"

    # --- registries (owner: registry engineer) -----------------------------------------------------
    @property
    def certs_dir(self):
        """Per-registry CA files, like docker's /etc/docker/certs.d: <certs_dir>/<host[:port]>/ca.crt."""
        return self.config_dir / "certs.d"

    def registry_ca_file(self, host: str):
        return self.certs_dir / host / "ca.crt"

    # --- containers (owner: containers engineer) ---------------------------------------------------
    def containers_lock_file(self) -> str:
        """fcntl lock serialising changes to the container records (names, state.json)."""
        return _join(self.locks_dir(), "containers.lock")

    @property
    def containers_lock(self):
        return Path(self.containers_lock_file())

    def oci_state_dir(self) -> str:
        """The OCI runtime's state dir for rl's containers (pids, exec fifos; may vanish on reboot)."""
        return _join(self.runroot_dir, "oci")

    @property
    def oci_state(self):
        return Path(self.oci_state_dir())

    def pause_file(self) -> str:
        """The pause process keeping rl's user namespace (engine/pause.py): its pid and start time
        (run time state: gone on reboot, and the process exits when this file goes)."""
        return _join(self.runroot_dir, "pause.json")

    def storage_driver_json(self) -> str:
        """The cached result of the rootfs driver probe (storage/probe.py)."""
        return _join(self.root_dir, "storage-driver.json")

    @property
    def storage_driver_file(self):
        return Path(self.storage_driver_json())

    # --- networking (owner: network engineer) ------------------------------------------------------
    def slirp_socket(self, container_id: str):
        """slirp4netns' API socket for a running container (runtime state: may vanish on reboot)."""
        return self.runroot / container_id / "slirp.sock"

    # --- user-defined networks (owner: network engineer; engine/net/usernet.py, holder.py) -------
    def network_file(self, name: str) -> Path:
        """The definition of the user-defined network `name` (rl network create)."""
        return self.networks / f"{name}.json"

    @property
    def networks_lock(self) -> Path:
        """fcntl lock serialising changes to network definitions and their endpoints."""
        return self.locks / "networks.lock"

    @property
    def usernet_dir(self) -> Path:
        """Run-time state of the user networks of this store: the namespace holder's pid file and
        control socket, the endpoints (addresses) of running containers. One per store root."""
        import hashlib

        return self.runroot / "usernet" / hashlib.sha256(os.fsencode(self.root)).hexdigest()[:12]

    def network_endpoints(self, network_id: str) -> Path:
        return self.usernet_dir / f"{network_id[:12]}.endpoints.json"
