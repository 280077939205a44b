"""`--network container:<name|id>`: a container that joins another one's network namespace.

At `rl run/create` the target is resolved to its id (HostConfig.NetworkMode "container:<id>", as
docker records it) and `-p` is refused. At each start the target must be running; the new
container's config.json then names the target's namespaces by path: the network namespace, and
the user namespace that owns it (a network namespace can be joined only from its owning user
namespace), whose id mappings must therefore be the new container's as well. As docker, the
joined container takes the target's hostname, /etc/hosts and /etc/resolv.conf.
"""

from __future__ import annotations

from rootless import fastjson as json  # start-up: no re/enum (rootless/fastjson.py)
import os

from rootless.errors import NetworkSetupError, UsageError
from rootless.paths import Path  # pathlib.Path, loaded on first use (start-up)

PREFIX = "container:"
ETC_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")
USER_MODES_AND_BUILTIN = ("", "bridge", "default", "slirp4netns", "pasta", "host", "none", "private")
PUBLISH_CONFLICT = "conflicting options: port publishing and the container type network mode"


def normalize(paths, network: str, publish) -> str:
    """The NetworkMode to record for `--network`: "container:<full id>" for a container mode
    (ContainerNotFound when the target does not exist), the value itself otherwise."""
    if not network.startswith(PREFIX):
        return network
    if publish:
        raise UsageError(PUBLISH_CONFLICT)
    ref = network[len(PREFIX):]
    if not ref:
        raise UsageError(f"invalid network mode: {network}", "use container:NAME or container:ID")
    from rootless.engine.container_store import ContainerStore

    return PREFIX + ContainerStore(paths).resolve(ref)["Id"]


def target_id(record: dict) -> str | None:
    mode = (record.get("HostConfig") or {}).get("NetworkMode") or ""
    return mode[len(PREFIX):] if mode.startswith(PREFIX) else None


def join_namespaces(config: dict, target_config: dict, target_pid: int) -> dict:
    """config.json with the network (and the owning user) namespace of `target_pid` joined by path
    and the target's id mappings (pure; UsageError when the mappings differ)."""
    linux = dict(config.get("linux") or {})
    tlinux = target_config.get("linux") or {}
    target_has_user = any(ns.get("type") == "user" for ns in tlinux.get("namespaces") or ())
    has_user = any(ns.get("type") == "user" for ns in linux.get("namespaces") or ())
    if has_user != target_has_user or (has_user and any(
            linux.get(k) != tlinux.get(k) for k in ("uidMappings", "gidMappings"))):
        raise UsageError("cannot join the network of a container with other user namespace mappings",
                         "run both containers with the same --userns")
    out = []
    for ns in linux.get("namespaces") or ():
        ns = {k: v for k, v in ns.items() if k != "path"}
        if ns.get("type") == "user":
            ns["path"] = f"/proc/{target_pid}/ns/user"
        elif ns.get("type") == "network":
            ns["path"] = f"/proc/{target_pid}/ns/net"
        out.append(ns)
    if not any(ns.get("type") == "network" for ns in out):
        out.append({"type": "network", "path": f"/proc/{target_pid}/ns/net"})
    linux["namespaces"] = out
    return {**config, "linux": linux, **_shared_identity(config, target_config)}


def _shared_identity(config: dict, target_config: dict) -> dict:
    """docker gives a joined container the target's hostname, /etc/hosts and /etc/resolv.conf."""
    sources = {m["destination"]: m["source"] for m in target_config.get("mounts") or ()
               if m.get("destination") in ETC_FILES}
    mounts = [{**m, "source": sources[m["destination"]]} if m.get("destination") in sources else m
              for m in config.get("mounts") or ()]
    out = {"mounts": mounts} if "mounts" in config else {}
    hostname = target_config.get("hostname")
    if hostname:
        out["hostname"] = hostname
        process = dict(config.get("process") or {})
        if "env" in process:
            process["env"] = [f"HOSTNAME={hostname}" if e.startswith("HOSTNAME=") else e for e in process["env"]]
            out["process"] = process
    return out


def prepare(paths, store, record: dict, bundle: Path) -> None:
    """Before the runtime creates a container in container mode: check that the target runs and
    rewrite the bundle's config.json to join its namespaces (nothing for other modes). A container
    on user networks joins the holder's user namespace instead (endpoints.prepare)."""
    mode = (record.get("HostConfig") or {}).get("NetworkMode") or ""
    if (record.get("Rl") or {}).get("Endpoints") or (mode not in USER_MODES_AND_BUILTIN and not mode.startswith(PREFIX)):
        from rootless.engine.net import endpoints

        endpoints.prepare(paths, record, bundle)
    tid = target_id(record)
    if tid is None:
        return
    from rootless.engine.lifecycle import truth

    if tid == record["Id"]:
        raise UsageError("cannot join own network")
    target = truth.current(store, store.resolve(tid))
    state = target["State"]
    if not truth.is_running(state) or not state.get("Pid"):
        raise NetworkSetupError(f"cannot join network of a non running container: {tid}")
    target_config = json.loads((Path(paths.container(tid)) / "config.json").read_text())
    path = Path(bundle) / "config.json"
    config = join_namespaces(json.loads(path.read_text()), target_config, state["Pid"])
    tmp = path.with_name(".config.json.tmp")
    tmp.write_text(json.dumps(config, separators=(",", ":")))
    os.replace(tmp, path)
