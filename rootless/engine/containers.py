"""Creating a container: image (pulled when missing) -> rootfs -> config.json -> record.

`create(ctx, options)` is `rl create` and the first half of `rl run`: it resolves the image in the
store (pulling it per --pull, saying "Unable to find image 'x' locally" as docker does), checks
every option by building the spec once before anything is written, reserves the name and id in
the container store, prepares the rootfs for the chosen driver, writes hostname/hosts/resolv.conf
and the bundle's config.json. A failure after the reservation removes what was made, so no
half-made container is left behind; a CLI killed in between leaves a record in state "created"
that `rl ps -a` shows and `rl rm` removes.
"""

from __future__ import annotations

from rootless import fastjson as json  # start-up: no re/enum (rootless/fastjson.py)
import os

from rootless.context import Context
from rootless.engine import spec
from rootless.engine.container_store import ZERO_TIME, ContainerStore, now_rfc3339
from rootless.engine.run_options import RunOptions
from rootless.errors import ImageNotFound, RlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

HOSTS_TEMPLATE = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                  "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                  "ff02::2\tip6-allrouters\n")


def id_mapping(userns: str = ""):
    from rootless.runtime import idmap

    return idmap.choose(userns)


def image_store(ctx: Context, mapping):
    from rootless.engine.image.store import ImageStore

    return ImageStore(ctx.paths, mapping)


def find_image(ctx: Context, store, name: str, policy: str, notify: Callable[[str], None]):
    """The image `name` per the --pull policy (always|missing|never)."""
    from rootless.engine.image.reference import parse

    if policy != "always":
        try:
            return store.resolve(name)
        except ImageNotFound:
            if policy == "never":
                raise
        ref = parse(name)  # an id prefix that is not found is no reference either: InvalidReference
        notify(f"Unable to find image '{ref.familiar()}' locally")
    else:
        ref = parse(name)
    from rootless.engine.image.pull import pull

    return pull(ctx, ref, store=store)


def _etc_files(directory: str, hostname: str, network: str) -> dict:
    files = {"/etc/hostname": os.path.join(directory, "hostname"), "/etc/hosts": os.path.join(directory, "hosts"),
             "/etc/resolv.conf": os.path.join(directory, "resolv.conf")}
    _write(files["/etc/hostname"], hostname + "\n")
    resolv = _resolv_conf(network)
    if network == "host":
        hosts = _read("/etc/hosts") or HOSTS_TEMPLATE
    elif network in ("bridge", "slirp4netns", "pasta"):  # user-mode stack (owner: network engineer)
        from rootless.engine.net import slirp

        hosts, resolv = slirp.hosts(hostname), slirp.resolv_conf(_read("/etc/resolv.conf"))
    else:
        hosts = HOSTS_TEMPLATE + f"127.0.1.1\t{hostname}\n"
    _write(files["/etc/hosts"], hosts)
    _write(files["/etc/resolv.conf"], resolv)
    return files


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _resolv_conf(network: str) -> str:
    """The host's resolv.conf; loopback name servers are unreachable from a private network
    namespace, so they are dropped there (docker falls back to public servers; rl has no
    network to reach them until the networking work, so it keeps what is left)."""
    text = _read("/etc/resolv.conf")
    if network == "host":
        return text
    keep = [line for line in text.splitlines()
            if not (line.startswith("nameserver") and line.split()[1:2] and
                    (line.split()[1].startswith("127.") or line.split()[1] == "::1"))]
    return "\n".join(keep) + "\n" if keep else ""


def _user_db(layer_dirs) -> tuple[str, str]:
    """The image's /etc/passwd and /etc/group texts."""
    from rootless.engine.users import read_image_file

    return read_image_file(layer_dirs, "etc/passwd"), read_image_file(layer_dirs, "etc/group")


def _inputs(ctx, cid: str, opts: RunOptions, image, user_db, mapping, rootfs="/", annotations=None,
            etc_files=None, pause=None) -> spec.SpecInputs:
    from rootless.engine.pause import userns_path

    return spec.SpecInputs(
        container_id=cid, options=opts, image_config=image.config, rootfs=rootfs,
        passwd=user_db[0], group=user_db[1],
        id_mappings=None if mapping.mode == "root" else mapping.to_oci(),
        userns_path=userns_path(pause[0]) if pause else "",
        host_ids=(os.getuid(), os.getgid()), host_hostname=os.uname().nodename,
        rootfs_annotations=annotations or {}, etc_files=etc_files or {})


def create(ctx: Context, opts: RunOptions, notify: Callable[[str], None] = lambda _: None,
           mapping=None) -> dict:
    """Create the container; returns its record (state "created"). `mapping`: id_mapping(opts.userns)
    when the caller has it already."""
    from rootless.engine.storage import probe

    mapping = mapping or id_mapping(opts.userns)
    images = image_store(ctx, mapping)
    image = find_image(ctx, images, opts.image, opts.pull, notify)
    layer_dirs = images.layer_dir_names(image)
    user_db = _user_db(layer_dirs)
    driver = probe.choose(ctx.paths, mapping, ctx.env)
    store = ContainerStore(ctx.paths)
    from rootless.engine import pause as pause_mod

    pause = pause_mod.current(ctx.paths, mapping)  # the user namespace to join, if kept

    def make_record(cid: str, name: str) -> dict:
        # the spec with the real id (hostname, HOSTNAME=): raises on bad options before anything
        # is written, and gives the record its final Config.Hostname/Env in one write
        checked = spec.build(_inputs(ctx, cid, opts, image, user_db, mapping))
        return _record(ctx, cid, opts, image, checked, driver.driver, mapping, pause)
    record = store.create(make_record, opts.name)
    try:
        _make_bundle(ctx, store, record, opts, image, layer_dirs, user_db, mapping, driver, pause)
    except BaseException:
        from rootless.engine.lifecycle.remove import remove_files

        remove_files(ctx.paths, record)
        raise
    return store.load(record["Id"])


def _make_bundle(ctx, store: ContainerStore, record: dict, opts, image, layer_dirs, user_db, mapping,
                 driver, pause=None) -> None:
    from rootless.engine.storage import rootfs as rootfs_mod

    cid = record["Id"]
    directory = store.dir_name(cid)
    rootfs, annotations = rootfs_mod.prepare(directory, driver.driver, layer_dirs, mapping)
    hostname = spec.hostname_for(_inputs(ctx, cid, opts, image, user_db, mapping))
    etc = _etc_files(directory, hostname, opts.network)
    if opts.volumes or opts.volumes_from:  # -v, --volumes-from (owner: containers II)
        from rootless.engine import volumes

        from rootless.paths import Path

        opts = volumes.resolve(ctx.paths, opts, [Path(d) for d in layer_dirs])
    config = spec.build(_inputs(ctx, cid, opts, image, user_db, mapping, rootfs, annotations, etc, pause))
    tmp = os.path.join(directory, ".config.json.tmp")
    _write(tmp, json.dumps(config, separators=(",", ":")))
    os.replace(tmp, os.path.join(directory, "config.json"))

    if not (opts.volumes or opts.volumes_from):
        return  # the record written by store.create is complete (hostname and env included)

    def finish(rec: dict) -> None:
        rec["HostConfig"]["Binds"] = [v.bind_text() for v in opts.volumes if v.is_bind_entry()] or None
        rec["HostConfig"]["VolumesFrom"] = list(opts.volumes_from) or None
        rec["HostConfig"]["Mounts"] = [_mount_entry(v) for v in opts.volumes
                                       if v.mount_flag and not v.inherited] or None
        rec["Rl"]["AnonymousVolumes"] = [os.path.basename(os.path.dirname(v.host_path)) for v in opts.volumes
                                         if v.kind == "volume" and not v.source and not v.inherited]
    store.update(cid, finish)


def _mount_entry(v) -> dict:
    """docker's HostConfig.Mounts entry of a --mount (bind or volume)."""
    entry = {"Type": v.kind, "Source": v.source, "Target": v.destination}
    if v.read_only:
        entry["ReadOnly"] = True
    if v.kind == "bind" and v.propagation != "rprivate":
        entry["BindOptions"] = {"Propagation": v.propagation}
    if v.kind == "volume" and not v.copy:
        entry["VolumeOptions"] = {"NoCopy": True}
    return entry


def _record(ctx, cid: str, opts: RunOptions, image, checked: dict, driver: str, mapping, pause=None) -> dict:
    directory = ctx.paths.container_dir(cid)
    args = checked["process"]["args"]
    cfg = image.config.get("config", {})
    return {
        "Id": cid, "Created": now_rfc3339(), "Path": args[0], "Args": args[1:],
        "State": {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
                  "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
                  "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME},
        "Image": image.id,
        "ResolvConfPath": os.path.join(directory, "resolv.conf"),
        "HostnamePath": os.path.join(directory, "hostname"),
        "HostsPath": os.path.join(directory, "hosts"), "LogPath": os.path.join(directory, "ctr.log"),
        "RestartCount": 0, "Driver": driver,
        "Config": {
            "Hostname": checked["hostname"], "User": opts.user or cfg.get("User", ""),
            "Tty": opts.tty, "OpenStdin": opts.interactive, "AttachStdin": opts.interactive and not opts.detach,
            "Env": checked["process"]["env"],
            "Cmd": list(opts.command) if opts.command or opts.entrypoint is not None else cfg.get("Cmd"),
            "Entrypoint": ([opts.entrypoint] if opts.entrypoint else None) if opts.entrypoint is not None
            else cfg.get("Entrypoint"),
            "Image": opts.image, "WorkingDir": checked["process"]["cwd"],
            "Labels": {**(cfg.get("Labels") or {}), **opts.labels},
            "StopSignal": opts.stop_signal or cfg.get("StopSignal") or "SIGTERM",
            "StopTimeout": opts.stop_timeout,
            "ExposedPorts": _exposed(cfg, opts),
        },
        "HostConfig": {
            "AutoRemove": opts.auto_remove, "RestartPolicy": opts.restart.to_docker(),
            "NetworkMode": opts.network, "Privileged": opts.privileged, "ReadonlyRootfs": opts.read_only,
            "CapAdd": list(opts.cap_add), "CapDrop": list(opts.cap_drop), "Init": opts.init,
            "Tmpfs": {t.partition(":")[0]: t.partition(":")[2] for t in opts.tmpfs},
            "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in opts.ulimits],
            "Devices": [{"PathOnHost": d.host_path, "PathInContainer": d.container_path,
                         "CgroupPermissions": d.permissions} for d in opts.devices],
            "UsernsMode": opts.userns, "Binds": None, "VolumesFrom": None,
            **_net_host_config(opts),
        },
        "Rl": {"IdMappingMode": mapping.mode, "Bundle": str(directory), "AnonymousVolumes": [],
               "Pause": list(pause) if pause else None},
    }


def _net_host_config(opts: RunOptions) -> dict:
    """HostConfig.PortBindings and PublishAllPorts (owner: network engineer)."""
    if not opts.publish:  # no -p: nothing to translate (and no import on the start-up path)
        return {"PortBindings": {}, "PublishAllPorts": opts.publish_all}
    from rootless.engine.net import ports

    return {"PortBindings": ports.port_bindings(opts.publish), "PublishAllPorts": opts.publish_all}


def _exposed(cfg: dict, opts: RunOptions) -> dict:
    """Config.ExposedPorts: the image's plus the published ones, as docker (owner: network engineer)."""
    if not (cfg.get("ExposedPorts") or opts.publish):
        return {}
    from rootless.engine.net import ports

    return ports.exposed_ports(cfg.get("ExposedPorts") or {}, opts.publish)


def _no_bundle(record: dict) -> RlError:
    return RlError(f"container {record['Id'][:12]} has no bundle (its creation was interrupted)",
                   f"remove it: rl rm {record['Id'][:12]}")


def bundle_dir(record: dict, ctx: Context) -> str:
    directory = ctx.paths.container_dir(record["Id"])
    if not os.path.exists(os.path.join(directory, "config.json")):
        raise _no_bundle(record)
    return directory


def bundle_config(paths, record: dict) -> dict:
    """The container's config.json (its OCI spec); the "no bundle" error when it is missing."""
    try:
        with open(os.path.join(paths.container_dir(record["Id"]), "config.json"), "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        raise _no_bundle(record) from None
