"""containerfmt.py: `rl ps` output through the Go template engine, against docker's outputs (pure)."""

from __future__ import annotations

import json

import pytest

from rootless.cli.commands import containerfmt
from rootless.cli.format.gotemplate import TemplateExecError, TemplateSyntaxError
from rootless.engine import listing
from rootless.engine.container_store import parse_time

NOW = parse_time("2026-01-01T00:10:00Z")


def row(name="/web", labels=None, status="running", cid="a" * 64):
    record = {"Id": cid, "Name": name, "Created": "2026-01-01T00:09:54.5Z", "Path": "sh",
              "Args": ["-c", "echo started; sleep 1"], "Image": "sha256:" + "f" * 64,
              "Config": {"Image": "busybox", "Labels": labels or {}}, "HostConfig": {"NetworkMode": "bridge"},
              "State": {"Status": status, "ExitCode": 0, "StartedAt": "2026-01-01T00:09:55Z",
                        "FinishedAt": "0001-01-01T00:00:00Z", "Error": ""}}
    return listing.row(record, now=NOW)


def test_default_table_like_docker():
    out = containerfmt.format_rows([row()], None, False).splitlines()
    assert out[0] == "CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS     NAMES"
    assert out[1] == 'aaaaaaaaaaaa   busybox   "sh -c echo started;…"   5 seconds ago   Up 5 seconds             web'
    assert containerfmt.format_rows([], "table", False) == \
        "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES"


@pytest.mark.parametrize("fmt,text", [
    ("{{.Names}}\\t{{.State}} {{.Label \"tier\"}}", "web\trunning web"),
    ("{{json .Names}}", '"web"'),
    ("{{.ID}}: {{.Status}}", "aaaaaaaaaaaa: Up 5 seconds"),
    ("{{.Label \"nope\"}}|{{.Labels}}", "|a.b.c=x,tier=web"),
    ("{{if eq .State \"running\"}}up{{else}}down{{end}}", "up"),
    ("{{printf \"%-5s|\" .Names}}{{len .Names}}", "web  |3"),
    ("{{upper .Image}} {{lower .Names}}", "BUSYBOX web"),
    ("table {{.Names}}\\t{{.Label \"a.b.c\"}}", "NAMES     c\nweb       x"),  # old docker: the key's last part
    ("table {{.ID}}\\t{{.CreatedAt}}", "CONTAINER ID   CREATED AT\naaaaaaaaaaaa   2026-01-01 00:09:54 +0000 UTC"),
    ("table {{upper .Names}}\\t{{.Networks}}", "NAMES     NETWORKS\nWEB       bridge"),
])
def test_templates(fmt, text):
    r = row(labels={"tier": "web", "a.b.c": "x"})
    r["_labels"] = dict(sorted(r["_labels"].items()))
    r["Labels"] = ",".join(f"{k}={v}" for k, v in r["_labels"].items())
    assert containerfmt.format_rows([r], fmt, False) == text


def test_json_quiet_and_several_rows():
    data = json.loads(containerfmt.format_rows([row()], "json", False))
    assert data["Names"] == "web" and "Label" not in data and "_labels" not in data
    assert sorted(data) == sorted(containerfmt.HEADERS)
    two = [row(), row(name="/db", cid="b" * 64)]
    assert containerfmt.format_rows(two, "{{.Names}}", False) == "web\ndb"
    assert containerfmt.format_rows(two, None, True) == "aaaaaaaaaaaa\nbbbbbbbbbbbb"


def test_errors_are_docker_s():
    with pytest.raises(TemplateExecError) as bad:
        containerfmt.format_rows([row()], "{{.Nope}}", False)
    assert "can't evaluate field Nope in type *formatter.ContainerContext" in bad.value.message
    assert bad.value.exit_code == 1
    with pytest.raises(TemplateSyntaxError) as syntax:
        containerfmt.format_rows([row()], "{{.Names", False)
    assert syntax.value.exit_code == 1 and "unclosed action" in syntax.value.message
