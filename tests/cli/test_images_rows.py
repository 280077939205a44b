"""Pure row builders of `rl images` / `rl history` and the filters (table-driven)."""

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from rootless.cli.commands import images as cmd

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
ID = "sha256:" + "ab" * 32


def _image(tags=(), digests=(), history=None):
    config = {"created": "2023-12-31T23:58:30Z", "history": history or []}
    return SimpleNamespace(id=ID, config=config, repo_tags=list(tags), repo_digests=list(digests))


@pytest.mark.parametrize("tags, digests, expected", [
    (["docker.io/library/busybox:latest"], ["docker.io/library/busybox@sha256:" + "1" * 64],
     [("busybox", "latest", "sha256:" + "1" * 64)]),
    (["127.0.0.1:5000/a/b:v1", "docker.io/x/y:2"], [], [("127.0.0.1:5000/a/b", "v1", "<none>"), ("x/y", "2", "<none>")]),
    ([], ["docker.io/library/nginx@sha256:" + "2" * 64], [("nginx", "<none>", "sha256:" + "2" * 64)]),
    ([], [], [("<none>", "<none>", "<none>")]),
])
def test_image_rows(tags, digests, expected):
    rows = cmd.image_rows([_image(tags, digests)], {ID: 4_860_000}, now=NOW)
    assert [(r["Repository"], r["Tag"], r["Digest"]) for r in rows] == expected
    assert all(r["ID"] == "ab" * 6 and r["Size"] == "4.86MB" and r["CreatedSince"] == "About a minute ago"
               for r in rows)


@pytest.mark.parametrize("filters, repository, shown", [
    ([], None, True), (["dangling=true"], None, False), (["dangling=false"], None, True),
    (["reference=busybox"], None, True), (["reference=busy*"], None, True), (["reference=*/busybox"], None, False),
    (["reference=busybox:lat*"], None, True), ([], "busybox", True), ([], "busybox:1", False), ([], "busy", False),
])
def test_filters(filters, repository, shown):
    image = _image(["docker.io/library/busybox:latest"])
    row = cmd.image_rows([image], {}, now=NOW)[0]
    assert cmd._matches(row, image, cmd._parse_filters(filters), repository) is shown


def test_bad_filters():
    from rootless.errors import UsageError

    for bad in ("dangling", "dangling=maybe", "color=red"):
        with pytest.raises(UsageError):
            cmd._parse_filters([bad])


def test_history_rows_newest_first_with_sizes():
    history = [{"created": "2023-12-31T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in /"},
               {"created": "2023-12-31T00:00:00Z", "created_by": "/bin/sh -c #(nop) CMD [\"sh\"]", "empty_layer": True},
               {"created": "2023-12-31T23:00:00Z", "created_by": "RUN " + "x" * 60, "comment": "c"}]
    rows = cmd.history_rows(_image(history=history), [1000, 2_500_000], now=NOW)
    assert [r["ID"] for r in rows] == ["ab" * 6, "<missing>", "<missing>"]
    assert [r["Size"] for r in rows] == ["2.5MB", "0B", "1kB"]
    assert rows[0]["CreatedBy"].endswith("…") and len(rows[0]["CreatedBy"]) == 45 and rows[0]["Comment"] == "c"
    full = cmd.history_rows(_image(history=history), [1000, 2_500_000], human=False, no_trunc=True, now=NOW)
    assert full[0]["ID"] == ID and full[0]["Size"] == "2500000" and full[0]["CreatedSince"] == "2023-12-31T23:00:00Z"
