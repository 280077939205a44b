"""The container's mount tree, planned: config.json's `mounts` and `linux` mount settings turned
into the plan keys native/rl_boot.c reads (its header lists them); native/rl_mounts.c builds the
tree in the container's first process: private propagation, the rootfs bound onto itself, the OCI
mounts (proc, /dev on tmpfs with device nodes bound from the host, devpts, shm, mqueue, sysfs, bind
and tmpfs mounts), then pivot_root, masked and read-only paths, and a read-only root.

Everything that does not depend on the container's own view is decided here (option parsing,
flags, how each mount is made); where a destination lands once the image's symlinks are followed,
and whether a bind source is a directory (it may be in the rootfs), is decided in the container,
after the rootfs is mounted.
"""

from __future__ import annotations

from rootless.runtime import syscalls as sc

MS_SYNCHRONOUS, MS_MANDLOCK, MS_DIRSYNC, MS_NODIRATIME, MS_RELATIME = 16, 64, 128, 2048, 1 << 21

#: mount option -> (flag, set it?)
OPTION_FLAGS = {
    "ro": (sc.MS_RDONLY, True), "rw": (sc.MS_RDONLY, False),
    "nosuid": (sc.MS_NOSUID, True), "suid": (sc.MS_NOSUID, False),
    "nodev": (sc.MS_NODEV, True), "dev": (sc.MS_NODEV, False),
    "noexec": (sc.MS_NOEXEC, True), "exec": (sc.MS_NOEXEC, False),
    "sync": (MS_SYNCHRONOUS, True), "async": (MS_SYNCHRONOUS, False),
    "dirsync": (MS_DIRSYNC, True), "mand": (MS_MANDLOCK, True), "nomand": (MS_MANDLOCK, False),
    "noatime": (sc.MS_NOATIME, True), "atime": (sc.MS_NOATIME, False),
    "nodiratime": (MS_NODIRATIME, True), "diratime": (MS_NODIRATIME, False),
    "relatime": (MS_RELATIME, True), "norelatime": (MS_RELATIME, False),
    "strictatime": (sc.MS_STRICTATIME, True), "nostrictatime": (sc.MS_STRICTATIME, False),
    "bind": (sc.MS_BIND, True), "rbind": (sc.MS_BIND | sc.MS_REC, True),
}
PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
}
#: options meant for the engine (podman/docker spellings), not the kernel
IGNORED = frozenset({"z", "Z", "U", "tmpcopyup", "notmpcopyup", "copy", "nocopy", "idmap", "O"})
DEFAULT_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
#: how rl_mounts.c makes a mount (enum rl_mount_kind): a plain mount(2), a bind, or a file system
#: with its own rule (devpts: retried without gid=; sysfs, mqueue, proc: the host's bound when
#: the kernel refuses a new one here; cgroup: the host's tree bound read-only, best effort)
KIND_PLAIN, KIND_BIND = 0, 1
SPECIAL_KINDS = {"devpts": 2, "sysfs": 3, "mqueue": 4, "proc": 5, "cgroup": 6, "cgroup2": 6}


def parse_options(options) -> tuple[int, int, str]:
    """OCI mount options -> (mount flags, propagation flags, data string)."""
    flags = propagation = 0
    data = []
    for opt in options or ():
        if opt in OPTION_FLAGS:
            bit, on = OPTION_FLAGS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in PROPAGATION:
            propagation = PROPAGATION[opt]
        elif opt not in IGNORED:
            data.append(opt)
    return flags, propagation, ",".join(data)


def mount_pairs(m: dict) -> list[tuple[str, object]]:
    """One entry of config.json "mounts" -> its plan keys ("mount" first)."""
    kind = m.get("type") or ""
    source = m.get("source") or kind or "none"
    flags, propagation, data = parse_options(m.get("options"))
    pairs: list[tuple[str, object]] = [("mount", m["destination"]), ("m.source", source),
                                       ("m.flags", flags)]
    if flags & sc.MS_BIND or kind == "bind":
        pairs.append(("m.kind", KIND_BIND))
    else:
        pairs += [("m.kind", SPECIAL_KINDS.get(kind, KIND_PLAIN)), ("m.type", kind), ("m.data", data)]
    if propagation:
        pairs.append(("m.prop", propagation))
    return pairs


def tree_pairs(config: dict) -> list[tuple[str, object]]:
    """The plan keys of the whole mount tree: propagation, mounts, devices, masked and read-only
    paths, read-only root."""
    linux = config.get("linux") or {}
    propagation = PROPAGATION.get(linux.get("rootfsPropagation") or "", 0)
    slave = propagation & (sc.MS_SHARED | sc.MS_SLAVE)
    # first of all, nothing we mount may propagate to the host (as real root without a user
    # namespace the copied mounts are still shared): private, or slave for a shared/slave rootfs
    pairs: list[tuple[str, object]] = [("private", sc.MS_REC | (sc.MS_SLAVE if slave else sc.MS_PRIVATE))]
    dev_tmpfs = False
    for m in config.get("mounts") or ():
        pairs += mount_pairs(m)
        dev_tmpfs = dev_tmpfs or m.get("destination", "").rstrip("/") == "/dev"
    if dev_tmpfs:
        pairs.append(("dev", 1))
        for device in linux.get("devices") or ():
            path = device.get("path") or ""
            if path.startswith("/dev/") and path[5:] not in DEFAULT_DEVICES:
                pairs.append(("device", path))
    if slave:
        pairs.append(("rootprop", propagation))
    pairs += [("mask", p) for p in linux.get("maskedPaths") or ()]
    pairs += [("ro", p) for p in linux.get("readonlyPaths") or ()]
    if (config.get("root") or {}).get("readonly"):
        pairs.append(("readonly", 1))
    return pairs
