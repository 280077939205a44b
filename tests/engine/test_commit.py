"""Unit tests of rootless.engine.commit's config building (table-driven)."""

from __future__ import annotations

import pytest

from rootless.engine import commit

RECORD = {"Id": "c" * 64, "Path": "sh", "Args": ["-c", "echo hi"],
          "Config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Entrypoint": None, "WorkingDir": "/w",
                     "User": "", "Labels": {"l": "1"}, "ExposedPorts": {}, "Hostname": "h"}}
PARENT = {"architecture": "amd64", "os": "linux", "author": "old", "created": "2020-01-01T00:00:00Z",
          "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "User": "nobody", "Volumes": {"/v": {}}},
          "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
          "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "ADD x"}]}


@pytest.mark.parametrize("key, expected", [
    ("Env", ["PATH=/bin", "A=1"]),       # the container's
    ("User", "nobody"),                  # empty in the container: the image's stays
    ("WorkingDir", "/w"),
    ("Labels", {"l": "1"}),
    ("Volumes", {"/v": {}}),             # not a container field: the image's stays
    ("Hostname", None),                  # not carried into the image
])
def test_image_config(key, expected):
    assert commit.image_config(PARENT["config"], RECORD).get(key) == expected


@pytest.mark.parametrize("message, author, entry_extra, top_author", [
    ("msg", "Me <me@x>", {"comment": "msg", "author": "Me <me@x>"}, "Me <me@x>"),
    (None, None, {}, None),
])
def test_new_config(message, author, entry_extra, top_author):
    cfg = commit.new_config(PARENT, {"Cmd": ["x"]}, RECORD, "sha256:" + "2" * 64, message, author)
    assert cfg["rootfs"]["diff_ids"] == ["sha256:" + "1" * 64, "sha256:" + "2" * 64]
    assert cfg["config"] == {"Cmd": ["x"]} and cfg["architecture"] == "amd64"
    assert cfg["history"][0] == PARENT["history"][0]
    entry = cfg["history"][1]
    assert entry["created_by"] == "sh -c echo hi" and entry["created"] == cfg["created"]
    assert {k: v for k, v in entry.items() if k in ("comment", "author")} == entry_extra
    assert cfg.get("author") == top_author
    assert PARENT["rootfs"]["diff_ids"] == ["sha256:" + "1" * 64]  # the parent is not modified
