"""The container store: one directory per container under `Paths.containers`, its records, ids,
names, and the lock that serialises every change.

`<root>/containers/<id>/state.json` is the container's record, shaped like `docker inspect`
(Id, Created, Name "/web", Path, Args, Config, HostConfig, State{Status, Running, Pid, ExitCode,
StartedAt, FinishedAt, ...}, Driver, RestartCount, LogPath ...) plus rl's own fields under "Rl"
(the monitor's pid and start time, the boot id, the OCI runtime state dir). It is replaced
atomically (temp file + rename) and only under `Paths.containers_lock` (fcntl), so concurrent rl
processes and monitors never lose an update, and a killed writer leaves the old file intact.

Ids are 64 hex digits; a name is unique per store; `resolve` accepts the full id, the name, or a
unique id prefix, as docker does.
"""

from __future__ import annotations

import fcntl
from rootless import fastjson as json  # start-up: no re/enum (rootless/fastjson.py)
import os

from rootless.errors import Conflict, ContainerNotFound, RlError
from rootless.paths import Paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

STATE_FILE = "state.json"
ZERO_TIME = "0001-01-01T00:00:00Z"


def now_rfc3339() -> str:
    """Current UTC time, RFC 3339 with nanoseconds as docker prints it."""
    import time  # not datetime: start-up (docs/performance.md)

    secs, frac = divmod(time.time_ns(), 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{stamp}.{frac:09d}Z"


def parse_time(text: str) -> float | None:
    """RFC 3339 (nanoseconds allowed) -> Unix seconds; None for docker's zero time or junk."""
    if not text or text.startswith("0001-"):
        return None
    from datetime import datetime, timezone

    try:
        main, _, rest = text.rstrip("Z").partition(".")
        base = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
        return base + (float("0." + rest) if rest.isdigit() else 0.0)
    except ValueError:
        return None


def _dumps(record: dict) -> str:
    """json.dumps (the C encoder; json.dump writes chunk by chunk from Python: ~1 ms a record)."""
    return json.dumps(record, separators=(",", ":"))


class ContainerStore:
    """Records of the containers of one store root."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    # --- locking and files -------------------------------------------------------------------
    def lock(self) -> "_Lock":
        """`with store.lock():` the records' fcntl lock (a class, not contextlib: start-up)."""
        return _Lock(self.paths)

    def dir(self, container_id: str):
        """The container's directory (a pathlib.Path; `dir_name` for the string)."""
        return self.paths.container(container_id)

    def dir_name(self, container_id: str) -> str:
        return self.paths.container_dir(container_id)

    def _write(self, record: dict) -> None:
        directory = self.dir_name(record["Id"])
        tmp = os.path.join(directory, f".{STATE_FILE}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(_dumps(record))
        os.replace(tmp, os.path.join(directory, STATE_FILE))

    def load(self, container_id: str) -> dict:
        try:
            with open(os.path.join(self.dir_name(container_id), STATE_FILE), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            raise ContainerNotFound(f"No such container: {container_id}") from None
        except (OSError, ValueError) as e:
            raise RlError(f"cannot read the record of container {container_id}: {e}") from None

    # --- queries -----------------------------------------------------------------------------
    def ids(self) -> list[str]:
        try:
            entries = os.listdir(self.paths.containers_dir())
        except FileNotFoundError:
            return []
        return [e for e in entries if len(e) == 64 and os.path.exists(os.path.join(self.dir_name(e), STATE_FILE))]

    def list(self) -> list[dict]:
        """Every record, newest first (docker ps order)."""
        records = []
        for cid in self.ids():
            try:
                records.append(self.load(cid))
            except RlError:
                continue  # removed meanwhile
        return sorted(records, key=lambda r: r.get("Created", ""), reverse=True)

    def resolve(self, ref: str) -> dict:
        """The record for a full id, a name, or a unique id prefix (docker's order)."""
        if not ref:
            raise ContainerNotFound("No such container: ")
        ids = self.ids()
        if ref in ids:
            return self.load(ref)
        name = "/" + ref.lstrip("/")
        records = self.list()
        for record in records:
            if record.get("Name") == name:
                return record
        matches = [r for r in records if r["Id"].startswith(ref.lower())] if ref.isalnum() else []
        if len(matches) > 1:
            raise RlError(f"multiple IDs found with provided prefix: {ref}", "use more of the id, or the name")
        if not matches:
            raise ContainerNotFound(f"No such container: {ref}")
        return matches[0]

    def name_owner(self, name: str) -> str | None:
        target = "/" + name.lstrip("/")
        return next((r["Id"] for r in self.list() if r.get("Name") == target), None)

    # --- changes -----------------------------------------------------------------------------
    def create(self, make_record: Callable[[str, str], dict], name: str | None) -> dict:
        """Allocate an id (and a random name unless given), create the directory and write the
        record make_record(id, name) returns, all under the lock: the name check cannot race."""
        from rootless.engine.names import random_name

        os.makedirs(self.paths.containers_dir(), exist_ok=True)
        with self.lock():
            records = self.list()  # once: every record is a file to read and parse
            taken = {r.get("Name") for r in records}
            if name is not None:
                owner = next((r["Id"] for r in records if r.get("Name") == "/" + name.lstrip("/")), None)
                if owner:
                    raise Conflict(
                        f'Conflict. The container name "/{name}" is already in use by container "{owner}". '
                        "You have to remove (or rename) that container to be able to reuse that name.")
            else:
                for attempt in range(20):
                    name = random_name(attempt // 5)
                    if "/" + name not in taken:
                        break
            cid = os.urandom(32).hex()
            record = make_record(cid, name)
            record.update(Id=cid, Name="/" + str(name))
            # the directory appears with its record or not at all (a kill in between leaves only
            # a ".new-" dir, which no listing trusts and `rl system prune` removes)
            tmp = os.path.join(self.paths.containers_dir(), f".new-{cid}")
            os.mkdir(tmp, 0o700)
            with open(os.path.join(tmp, STATE_FILE), "w", encoding="utf-8") as f:
                f.write(_dumps(record))
            os.rename(tmp, self.dir_name(cid))
        return record

    def update(self, container_id: str, change: Callable[[dict], object]) -> dict:
        """Load, change in place and write back the record, under the lock; returns the record."""
        with self.lock():
            record = self.load(container_id)
            change(record)
            self._write(record)
        return record

    def set_state(self, container_id: str, **fields) -> dict:
        """Update fields of record["State"] (None values delete rl-private fields)."""
        def change(record: dict) -> None:
            record.setdefault("State", {}).update(fields)
        return self.update(container_id, change)

    def forget(self, container_id: str) -> None:
        """Drop the record (the caller deletes the directory's remaining files)."""
        with self.lock():
            try:
                os.unlink(os.path.join(self.dir_name(container_id), STATE_FILE))
            except FileNotFoundError:
                pass

    def images_in_use(self) -> dict[str, str]:
        """image id -> the id of a container using it (for `rl rmi` / `rl image prune`)."""
        return {r["Image"]: r["Id"] for r in self.list() if r.get("Image")}


class _Lock:
    """The fcntl lock of the container records (Paths.containers_lock), held inside `with`."""

    __slots__ = ("paths", "fd")

    def __init__(self, paths: Paths) -> None:
        self.paths, self.fd = paths, -1

    def __enter__(self) -> None:
        os.makedirs(self.paths.locks_dir(), exist_ok=True)
        self.fd = os.open(self.paths.containers_lock_file(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc) -> None:
        os.close(self.fd)
