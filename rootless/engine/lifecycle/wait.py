"""wait: block until a container stops; its exit code (docker prints one line per container)."""

from __future__ import annotations

import time

from rootless.engine.container_store import ContainerStore
from rootless.engine.lifecycle import truth
from rootless.errors import RlError


def wait(store: ContainerStore, record: dict) -> int:
    delay = 0.01
    cid = record["Id"]
    while True:
        try:
            record = truth.current(store, store.load(cid))
        except RlError:  # removed (--rm) while we waited: docker reports what it last saw
            return record["State"].get("ExitCode", 0)
        if not truth.is_running(record["State"]) and not (
                record["State"]["Status"] == "created" and truth.monitor_alive(record["State"])):
            return record["State"].get("ExitCode", 0)
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
