"""`rl network connect|disconnect` and `--network-alias`: a container's user networks in its record.

The record keeps the attachments under Rl.Endpoints ({network name: {"Aliases": [...]}}; the
network of HostConfig.NetworkMode is implied, endpoints.wanted). A stopped container gets the
change at its next start; a running one is attached or detached at once (endpoints.hot_attach)
and its NetworkSettings.Networks follows.
"""

from __future__ import annotations

from rootless.errors import Conflict, RlError


def _load(paths, ref: str):
    from rootless.engine.container_store import ContainerStore
    from rootless.engine.lifecycle import truth

    store = ContainerStore(paths)
    return store, truth.current(store, store.resolve(ref))


def set_aliases(paths, record: dict, aliases: list[str]) -> dict:
    """Record `--network-alias` values for the container's user network (at create); the record."""
    from rootless.engine.container_store import ContainerStore
    from rootless.engine.net import endpoints
    from rootless.errors import UsageError

    network = (record.get("HostConfig") or {}).get("NetworkMode") or ""
    if not endpoints.is_user_network(network):
        from rootless.engine.lifecycle.remove import remove_files

        remove_files(paths, record)  # docker refuses before creating anything
        raise UsageError("network-scoped alias is supported only for containers in user defined networks")

    def change(rec: dict) -> None:
        rec.setdefault("Rl", {}).setdefault("Endpoints", {})[network] = {"Aliases": list(aliases)}
    return ContainerStore(paths).update(record["Id"], change)


def connect(paths, network: dict, ref: str, aliases: list[str]) -> None:
    from rootless.engine.lifecycle import truth
    from rootless.engine.net import endpoints

    store, record = _load(paths, ref)
    name = network["Name"]
    mode = (record.get("HostConfig") or {}).get("NetworkMode") or ""
    if mode in ("host", "none", "private") or mode.startswith("container:"):
        raise RlError(f"container cannot be connected to network {name}: its network mode is {mode}")
    if name in (n for n, _ in endpoints.wanted(record)):
        raise Conflict(f"endpoint with name {record['Name'].lstrip('/')} already exists in network {name}")
    cid = record["Id"]
    state = record["State"]
    if truth.is_running(state) and state.get("Pid"):
        ep = endpoints.hot_attach(paths, cid, record["Name"].lstrip("/"), state["Pid"], network, aliases)

        def running(rec: dict) -> None:
            settings = rec.setdefault("NetworkSettings", {})
            settings.setdefault("Networks", {})[name] = endpoints.settings(network, ep)
            rec.setdefault("Rl", {}).setdefault("Endpoints", {})[name] = {"Aliases": aliases}
        store.update(cid, running)
        return
    store.update(cid, lambda rec: rec.setdefault("Rl", {}).setdefault("Endpoints", {}).__setitem__(
        name, {"Aliases": aliases}))


def disconnect(paths, network: dict, ref: str) -> None:
    from rootless.engine.lifecycle import truth
    from rootless.engine.net import endpoints

    store, record = _load(paths, ref)
    name = network["Name"]
    if name not in (n for n, _ in endpoints.wanted(record)):
        raise RlError(f"container {record['Id']} is not connected to network {name}")
    state = record["State"]
    if truth.is_running(state) and state.get("Pid"):
        endpoints.hot_detach(paths, record["Id"], network)

    def change(rec: dict) -> None:
        (rec.get("Rl") or {}).get("Endpoints", {}).pop(name, None)
        host_config = rec.setdefault("HostConfig", {})
        if host_config.get("NetworkMode") == name:
            host_config["NetworkMode"] = "none"  # docker: no network left
        (rec.get("NetworkSettings") or {}).get("Networks", {}).pop(name, None)
    store.update(record["Id"], change)
