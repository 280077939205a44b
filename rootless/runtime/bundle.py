"""Reading an OCI bundle: config.json (runtime spec 1.x) and where its root filesystem is.

Only what the runtime needs; no schema validation (start-up is a feature): a malformed config gives
an RlError naming the file and the key.
"""

from __future__ import annotations

from rootless import fastjson as json  # start-up: no re/enum (rootless/fastjson.py)
import os

from rootless.errors import RlError

def load(bundle: str) -> dict:
    """The bundle's config.json as a dict; RlError when it is missing or not a JSON object."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            config = json.loads(f.read())
    except FileNotFoundError:
        raise RlError(f"bundle {bundle}: no config.json", "a bundle is a directory with config.json and a rootfs") from None
    except (OSError, ValueError) as e:
        raise RlError(f"cannot read {path}: {e}") from None
    if not isinstance(config, dict) or not isinstance(config.get("process", {}), dict):
        raise RlError(f"{path}: not an OCI runtime config")
    return config


def rootfs(bundle: str, config: dict) -> str:
    """Absolute path of root.path (relative paths are relative to the bundle, spec "root")."""
    path = (config.get("root") or {}).get("path") or "rootfs"
    return os.path.normpath(os.path.join(os.path.abspath(bundle), path))


def namespaces(config: dict) -> list[dict]:
    return list((config.get("linux") or {}).get("namespaces") or [])
