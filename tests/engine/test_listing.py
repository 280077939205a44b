"""listing.py: docker's ps wording, filters and templates (pure)."""

from __future__ import annotations

import json

import pytest

from rootless.engine import listing
from rootless.engine.container_store import parse_time
from rootless.errors import UsageError

NOW = parse_time("2026-01-01T00:10:00Z")


def rec(cid="a" * 64, name="/web", status="running", code=0, started="2026-01-01T00:09:55Z",
        finished="0001-01-01T00:00:00Z", created="2026-01-01T00:09:54.5Z", labels=None, image="busybox",
        path="sh", args=("-c", "echo started; sleep 1"), error=""):
    return {"Id": cid, "Name": name, "Created": created, "Path": path, "Args": list(args), "Image": "sha256:" + "f" * 64,
            "Config": {"Image": image, "Labels": labels or {}}, "HostConfig": {"NetworkMode": "bridge"},
            "State": {"Status": status, "ExitCode": code, "StartedAt": started, "FinishedAt": finished, "Error": error}}


@pytest.mark.parametrize("state,text", [
    ({"Status": "running", "StartedAt": "2026-01-01T00:09:55Z"}, "Up 5 seconds"),
    ({"Status": "exited", "ExitCode": 0, "FinishedAt": "2026-01-01T00:09:57Z"}, "Exited (0) 3 seconds ago"),
    ({"Status": "exited", "ExitCode": 137, "FinishedAt": "2026-01-01T00:00:00Z"}, "Exited (137) 10 minutes ago"),
    ({"Status": "exited", "ExitCode": 255, "FinishedAt": "2026-01-01T00:09:59Z",
      "Error": "the exit status is unknown: the process ... is gone"}, "Exited (unknown) 1 second ago"),
    ({"Status": "created"}, "Created"),
    ({"Status": "unknown"}, "Unknown (monitor gone)"),
    ({"Status": "restarting", "ExitCode": 1, "FinishedAt": "2026-01-01T00:09:58Z"}, "Restarting (1) 2 seconds ago"),
])
def test_status_text(state, text):
    assert listing.status_text(state, NOW) == text


def test_row_and_command_truncation():
    row = listing.row(rec(), now=NOW)
    assert row["ID"] == "a" * 12 and row["Names"] == "web" and row["RunningFor"] == "5 seconds ago"
    assert row["Command"] == '"sh -c echo started;…"'
    assert listing.row(rec(), now=NOW, trunc=False)["Command"] == '"sh -c echo started; sleep 1"'
    assert listing.row(rec(path="nginx", args=("-g", "daemon off;")), now=NOW)["Command"] == '"nginx -g daemon off;"'


def test_filters():
    running = rec(cid="1" * 64, name="/web", labels={"tier": "web"})
    exited = rec(cid="2" * 64, name="/db", status="exited", code=3, image="nginx:1.2")
    created = rec(cid="3" * 64, name="/job", status="created")
    records = [created, exited, running]
    pick = lambda **kw: [r["Name"] for r in listing.select(records, all_=kw.pop("all_", False), last=kw.pop("last", None),  # noqa: E731
                                                          latest=kw.pop("latest", False), filters=listing.parse_filters(kw.pop("f", [])))]
    assert pick() == ["/web"]
    assert pick(all_=True) == ["/job", "/db", "/web"]
    assert pick(f=["status=exited"]) == ["/db"]
    assert pick(f=["exited=3"]) == ["/db"]
    assert pick(all_=True, f=["name=^d"]) == ["/db"]
    assert pick(all_=True, f=["label=tier"]) == ["/web"]
    assert pick(all_=True, f=["label=tier=db"]) == []
    assert pick(all_=True, f=["ancestor=nginx"]) == ["/db"]
    assert pick(all_=True, f=["status=exited", "status=created"]) == ["/job", "/db"]
    assert pick(latest=True) == ["/job"]
    assert pick(last=2) == ["/job", "/db"]
    assert pick(all_=True, f=["id=2"]) == ["/db"]
    for bad in ("colour=red", "status=sleeping", "exited=x", "name"):
        with pytest.raises(UsageError):
            listing.parse_filters([bad])
