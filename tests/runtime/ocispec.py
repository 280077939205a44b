"""A default OCI config.json for runtime tests (podman's rootless defaults, trimmed), and a bundle
maker. The mapping comes from rootless.runtime.idmap.choose(), as the engine's would."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rootless.runtime import caps

MASKED = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux",
          "/sys/dev/block"]
READONLY = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def default_mounts() -> list[dict]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]


def config(args, *, mapping=None, namespaces=("pid", "network", "ipc", "uts", "mount"), **extra) -> dict:
    from rootless.runtime import idmap

    mapping = mapping or idmap.choose()
    default_caps = list(caps.DOCKER_DEFAULT)
    linux = {
        "namespaces": [{"type": t} for t in namespaces],
        "maskedPaths": MASKED, "readonlyPaths": READONLY,
    }
    if mapping.mode != "root":
        linux["namespaces"].append({"type": "user"})
        linux.update(mapping.to_oci())
    cfg = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "args": list(args),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: default_caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "rltest-ctr",
        "mounts": default_mounts(),
        "linux": linux,
        "annotations": {},
    }
    for key, value in extra.items():
        cfg[key] = value
    return cfg


def bundle(directory: Path, cfg: dict, rootfs: Path | None = None) -> Path:
    """Write config.json into `directory`; root.path points at `rootfs` when given."""
    directory.mkdir(parents=True, exist_ok=True)
    if rootfs is not None:
        cfg["root"]["path"] = str(rootfs)
    (directory / "config.json").write_text(json.dumps(cfg, indent=1))
    return directory


def overlay(cfg: dict, lower: Path, base: Path) -> dict:
    """Make `cfg` mount an overlay of `lower` with upper/work dirs under `base`; returns cfg."""
    for d in ("upper", "work", "merged"):
        (base / d).mkdir(parents=True, exist_ok=True)
    cfg["root"]["path"] = str(base / "merged")
    cfg["annotations"].update({"rl.rootfs.driver": "overlay", "rl.rootfs.lowerdir": str(lower),
                               "rl.rootfs.upperdir": str(base / "upper"),
                               "rl.rootfs.workdir": str(base / "work")})
    return cfg
