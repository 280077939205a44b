"""docker's output for `rl ps`: the default table, `--format` (table / json / Go template) through
the one template engine (rootless.cli.format), `-q`.

A row is the engine's `listing.row` as docker's formatter.ContainerContext shows it: its fields,
plus the `Label "key"` method; a field the context does not have fails as docker's does
(`can't evaluate field Nope in type *formatter.ContainerContext`).
"""

from __future__ import annotations

#: docker's column titles (cli/command/formatter/container.go)
HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
           "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
           "Labels": "LABELS", "Mounts": "MOUNTS", "Size": "SIZE", "State": "STATE",
           "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES"}
TYPE_NAME = "*formatter.ContainerContext"
DEFAULT_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"


def context(row: dict) -> dict:
    """The template data of one row: its fields and docker's Label method."""
    labels = dict(row.get("_labels") or {})
    data = {k: v for k, v in row.items() if not k.startswith("_")}
    data.setdefault("LocalVolumes", "0")
    data["Label"] = lambda name: str(labels.get(str(name), ""))
    return data


def format_rows(rows: list[dict], fmt: str | None, quiet: bool) -> str:
    """The text `rl ps` prints (no trailing newline; "" for nothing)."""
    from rootless.cli.format import table

    if quiet:
        return "\n".join(r["ID"] for r in rows)
    if not fmt or fmt == "table":
        fmt = DEFAULT_TABLE
    text = table.render_rows(fmt, [context(r) for r in rows], HEADERS, type_name=TYPE_NAME)
    return text[:-1] if text.endswith("\n") else text
