"""The OCI state of a container and where it lives: `<state_dir>/<container_id>/state.json`.

`state_dir` is given by the caller (the engine passes its runtime dir); each container gets its own
directory there holding state.json, the exec.fifo that keeps a created container waiting for
`start` (as runc does) and exec.status, through which the container reports a failed execve.
Status follows the spec: creating, created, running, stopped. The recorded status is corrected on
every read: a dead pid (or a pid reused by another process, told apart by its start time) is
`stopped`, whatever the file says.
"""

from __future__ import annotations

from rootless import fastjson as json  # start-up: no re/enum (rootless/fastjson.py)
import os

from rootless.errors import ContainerNotFound, RlError

EXEC_FIFO = "exec.fifo"
EXEC_STATUS = "exec.status"


class State:
    """A container's OCI state plus what rl keeps beside it (a plain class: dataclasses costs
    milliseconds to import on the container start path)."""

    def __init__(self, id: str, status: str, pid: int, bundle: str, annotations: dict | None = None,
                 pid_start: int = 0, created: str = "", rootfs_driver: str = "",
                 userns: bool = False) -> None:
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations or {}
        self.pid_start = pid_start      # the init's start time (/proc/PID/stat field 22): pid reuse check
        self.created = created
        self.rootfs_driver = rootfs_driver  # overlay | fuse-overlayfs | vfs: what was mounted
        self.userns = userns
        #: master side of the container's pty when created with a terminal (this process only)
        self.pty_master: int | None = None

    def __repr__(self) -> str:
        return f"State(id={self.id!r}, status={self.status!r}, pid={self.pid})"

    def to_oci(self) -> dict:
        return {"ociVersion": "1.0.2", "id": self.id, "status": self.status, "pid": self.pid,
                "bundle": self.bundle, "annotations": self.annotations}


def container_dir(state_dir, container_id: str) -> str:
    if not container_id or "/" in container_id or container_id in (".", ".."):
        raise RlError(f"invalid container id {container_id!r}")
    return os.path.join(os.fspath(state_dir), container_id)


def pid_start_time(pid: int) -> int:
    """Start time of `pid` in clock ticks since boot, 0 when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return 0
    fields = raw[raw.rindex(b")") + 2:].split()
    if fields[0] == b"Z":   # a zombie has exited: the container is stopped
        return 0
    return int(fields[19])


def write(directory: str, st: State) -> None:
    """Replace state.json atomically."""
    data = {**st.to_oci(), "rl": {"pidStart": st.pid_start, "created": st.created,
                                  "rootfsDriver": st.rootfs_driver, "userns": st.userns}}
    tmp = os.path.join(directory, ".state.json.tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(data))  # dumps: the C encoder (dump writes chunk by chunk in Python)
    os.replace(tmp, os.path.join(directory, "state.json"))


def read(state_dir, container_id: str) -> State:
    """The container's State with its status checked against the live process."""
    directory = container_dir(state_dir, container_id)
    try:
        with open(os.path.join(directory, "state.json"), "rb") as f:
            data = json.loads(f.read())
    except FileNotFoundError:
        raise ContainerNotFound(f"container {container_id} does not exist") from None
    except (OSError, ValueError) as e:
        raise RlError(f"cannot read the state of container {container_id}: {e}") from None
    extra = data.get("rl", {})
    st = State(id=data["id"], status=data["status"], pid=data.get("pid", 0), bundle=data["bundle"],
               annotations=data.get("annotations") or {}, pid_start=extra.get("pidStart", 0),
               created=extra.get("created", ""), rootfs_driver=extra.get("rootfsDriver", ""),
               userns=extra.get("userns", False))
    if st.status in ("creating", "created", "running"):
        if not st.pid or pid_start_time(st.pid) != st.pid_start:
            st.status = "stopped"
        elif st.status == "created" and not os.path.exists(os.path.join(directory, EXEC_FIFO)):
            st.status = "running"
    return st


def state(state_dir, container_id: str) -> dict:
    """The OCI state of the container (`runc state`): ociVersion, id, status, pid, bundle, annotations."""
    return read(state_dir, container_id).to_oci()
