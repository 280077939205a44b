"""container_store.py: ids, names, resolution, atomic updates under the lock."""

from __future__ import annotations

import re
import threading

import pytest

from rootless.engine.container_store import ContainerStore, now_rfc3339, parse_time
from rootless.errors import Conflict, ContainerNotFound, RlError
from rootless.paths import Paths


@pytest.fixture
def store(tmp_path):
    return ContainerStore(Paths(root=tmp_path / "root", runroot=tmp_path / "run", config_dir=tmp_path, home=tmp_path))


def make(store, name=None):
    return store.create(lambda cid, n: {"Created": now_rfc3339(), "State": {"Status": "created"}}, name)


def test_ids_names_and_resolution(store):
    a = make(store, "web")
    b = make(store)
    assert re.fullmatch(r"[0-9a-f]{64}", a["Id"]) and a["Name"] == "/web"
    assert re.fullmatch(r"/[a-z]+_[a-z]+\d?", b["Name"])
    assert store.resolve("web")["Id"] == a["Id"]
    assert store.resolve("/web")["Id"] == a["Id"]
    assert store.resolve(a["Id"])["Id"] == a["Id"]
    assert store.resolve(a["Id"][:12])["Id"] == a["Id"]
    assert store.resolve(b["Name"][1:])["Id"] == b["Id"]
    with pytest.raises(ContainerNotFound, match="No such container: nope"):
        store.resolve("nope")
    assert [r["Id"] for r in store.list()] == [b["Id"], a["Id"]]  # newest first


def test_name_conflict_message(store):
    a = make(store, "web")
    with pytest.raises(Conflict) as info:
        make(store, "web")
    assert info.value.message == (f'Conflict. The container name "/web" is already in use by container "{a["Id"]}". '
                                  "You have to remove (or rename) that container to be able to reuse that name.")


def test_ambiguous_prefix(store):
    ids = [make(store)["Id"] for _ in range(40)]
    first = ids[0][0]
    same = [i for i in ids if i[0] == first]
    if len(same) > 1:
        with pytest.raises(RlError, match="multiple IDs"):
            store.resolve(first)


def test_concurrent_updates_lose_nothing(store):
    cid = make(store)["Id"]

    def bump():
        for _ in range(25):
            store.update(cid, lambda r: r.__setitem__("RestartCount", r.get("RestartCount", 0) + 1))
    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.load(cid)["RestartCount"] == 100


def test_concurrent_names_are_unique(store):
    results, errors = [], []

    def create():
        try:
            results.append(make(store, "same"))
        except Conflict as e:
            errors.append(e)
    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and len(errors) == 5


def test_forget_and_time_format(store):
    cid = make(store)["Id"]
    store.forget(cid)
    assert store.ids() == []
    stamp = now_rfc3339()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", stamp)
    assert abs(parse_time("2026-01-01T00:00:01.5Z") - parse_time("2026-01-01T00:00:00Z") - 1.5) < 1e-6
    assert parse_time("0001-01-01T00:00:00Z") is None
