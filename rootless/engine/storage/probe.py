"""Which rootfs driver to use: kernel overlay, else fuse-overlayfs, else vfs — found by trying.

The overlay test is `rl info`'s own probe (engine.host.probes.overlay_facts: mount an overlay in a
user+mount namespace with the store's id mapping, on the store's filesystem, write and delete
through it). The answer is cached in `Paths.storage_driver_file`, keyed by what decides it (uid,
mapping mode, kernel release, store filesystem device), so `rl run` pays for the probe once.
`RL_STORAGE_DRIVER` (overlay|fuse-overlayfs|vfs) forces a driver, e.g. for tests.
"""

from __future__ import annotations

from rootless import fastjson as json  # start-up: no re/enum (rootless/fastjson.py)
import os
from rootless.plainclass import dataclass

from rootless.errors import StorageError
from rootless.paths import Paths

DRIVERS = ("overlay", "fuse-overlayfs", "vfs")


@dataclass(frozen=True)
class DriverChoice:
    driver: str
    reason: str


def _key(paths: Paths, mapping) -> str:
    try:
        dev = os.stat(paths.root_dir).st_dev
    except OSError:
        dev = 0
    return f"{os.getuid()}:{mapping.mode}:{os.uname().release}:{dev}"


def _fuse_usable() -> str | None:
    """None when fuse-overlayfs can be used, else why not."""
    from rootless.frozen import find_tool  # the host's, else the copy bundled in dist/rl

    if not find_tool("fuse-overlayfs"):
        return "fuse-overlayfs is not installed"
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        return f"/dev/fuse: {e.strerror}"
    return None


def probe(paths: Paths, mapping) -> DriverChoice:
    """Try the drivers in order (no cache)."""
    from rootless.engine.host import probes

    facts, probe_dir = probes.store_facts(paths.root)
    try:
        overlay = probes.overlay_facts(mapping, probe_dir)
    finally:
        if probe_dir is not None:
            probes.remove_probe_dir(probe_dir)
    if overlay.get("Works"):
        return DriverChoice("overlay", "kernel overlayfs mounts in the user namespace")
    why = f"kernel overlay: {overlay.get('Error') or 'does not work'}"
    fuse = _fuse_usable()
    if fuse is None:
        return DriverChoice("fuse-overlayfs", why)
    return DriverChoice("vfs", f"{why}; {fuse}")


def choose(paths: Paths, mapping, env: dict[str, str] | None = None) -> DriverChoice:
    """The driver for new containers of this store (forced, cached, or probed now and cached)."""
    forced = (env or {}).get("RL_STORAGE_DRIVER", "")
    if forced:
        if forced not in DRIVERS:
            raise StorageError(f"RL_STORAGE_DRIVER={forced} is not a rootfs driver", f"one of {', '.join(DRIVERS)}")
        return DriverChoice(forced, "forced by RL_STORAGE_DRIVER")
    os.makedirs(paths.root_dir, exist_ok=True)
    key = _key(paths, mapping)
    try:
        with open(paths.storage_driver_json(), "rb") as f:
            cached = json.loads(f.read())
        if cached.get("key") == key and cached.get("driver") in DRIVERS:
            return DriverChoice(cached["driver"], cached.get("reason", ""))
    except (OSError, ValueError):
        pass
    choice = probe(paths, mapping)
    tmp = paths.storage_driver_file.with_name(f".{paths.storage_driver_file.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "driver": choice.driver, "reason": choice.reason}))
    os.replace(tmp, paths.storage_driver_file)
    return choice
