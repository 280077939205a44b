"""docker's JSON view of an image (`docker image inspect`), built from the store's records.

Field names and shapes follow docker's API (types.ImageInspect): Id, RepoTags, RepoDigests,
Parent, Comment, Created, DockerVersion, Author, Config, Architecture, Os, Size, GraphDriver,
RootFS{Type, Layers}, Metadata{LastTagTime}. Pure functions of an Image and its layer dirs.
"""

from __future__ import annotations

import time

#: docker's container-config defaults, in its key order (an image config omits most of them)
CONFIG_DEFAULTS = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "ExposedPorts": None, "Tty": False, "OpenStdin": False, "StdinOnce": False,
    "Env": None, "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
    "OnBuild": None, "Labels": None,
}


def docker_config(config: dict) -> dict:
    """The image config's "config" object with docker's defaults filled in."""
    own = config.get("config") or {}
    merged = dict(CONFIG_DEFAULTS)
    merged.update(own)
    return merged


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e9):09d}Z"


def inspect(store, image) -> dict:
    config = image.config
    view = {
        "Id": image.id,
        "RepoTags": [_familiar(t) for t in image.repo_tags],
        "RepoDigests": [_familiar_digest(d) for d in image.repo_digests],
        "Parent": "",
        "Comment": _comment(config),
        "Created": config.get("created") or "",
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": docker_config(config),
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", ""),
        "Size": image.size,
        "GraphDriver": {"Name": "overlay", "Data": _graph_data(store, image)},
        "RootFS": {"Type": (config.get("rootfs") or {}).get("type", "layers"), "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": _iso(image.created) if image.created else "0001-01-01T00:00:00Z"},
    }
    if config.get("variant"):
        view["Variant"] = config["variant"]
    return view


def _comment(config: dict) -> str:
    history = config.get("history") or []
    return (history[-1].get("comment") or "") if history else ""


def _graph_data(store, image) -> dict:
    dirs = [str(store.paths.layer(c)) for c in image.chain_ids]
    if not dirs:
        return {}
    data = {"UpperDir": dirs[-1]}
    if len(dirs) > 1:
        data["LowerDir"] = ":".join(reversed(dirs[:-1]))
    return data


def _familiar(text: str) -> str:
    from rootless.engine.image.reference import try_parse

    ref = try_parse(text)
    return ref.familiar() if ref else text


def _familiar_digest(text: str) -> str:
    from rootless.engine.image.reference import try_parse

    name, _, digest = text.partition("@")
    ref = try_parse(name)
    return f"{ref.familiar_name()}@{digest}" if ref else text
