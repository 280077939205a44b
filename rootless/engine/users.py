"""`-u user[:group]` resolved against the image's /etc/passwd and /etc/group, as docker does.

Pure: the caller reads the two files from the image's layers (`read_image_file`) and hands the
text in. Rules (moby's user.GetExecUser): a numeric uid need not exist in passwd (gid then 0,
home "/"); a name must; a group given after ':' replaces the primary group; supplementary groups
are those that list the user's name in /etc/group.
"""

from __future__ import annotations

import os
from rootless.plainclass import dataclass

from rootless.errors import UsageError


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"


def _entries(text: str, fields: int) -> list[list[str]]:
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        out.append(parts + [""] * (fields - len(parts)))
    return out


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def resolve_user(spec: str | None, passwd: str, group: str) -> ExecUser:
    """Resolve `spec` ("", "name", "uid", "name:group", "uid:gid"...) to numeric ids."""
    spec = (spec or "").strip()
    user_part, _, group_part = spec.partition(":")
    users = _entries(passwd, 7)
    groups = _entries(group, 4)
    name = None
    if not user_part:
        user_part = "0"
    uid = _int(user_part)
    match = next((u for u in users if u[0] == user_part or (uid is not None and _int(u[2]) == uid)), None)
    if match is None and uid is None:
        raise UsageError(f"unable to find user {user_part}: no matching entries in passwd file",
                         "the image has no such user; use a numeric uid[:gid]")
    if match is not None:
        name, uid, gid, home = match[0], _int(match[2]) or 0, _int(match[3]) or 0, match[5] or "/"
    else:
        gid, home = 0, "/"
    assert uid is not None
    if group_part:
        gid = _resolve_group(group_part, groups)
    extra = tuple(sorted({_int(g[2]) for g in groups if name and name in g[3].split(",")
                          and _int(g[2]) is not None and _int(g[2]) != gid}))  # type: ignore[type-var]
    return ExecUser(uid, gid, extra, home)  # type: ignore[arg-type]


def _resolve_group(text: str, groups: list[list[str]]) -> int:
    gid = _int(text)
    if gid is not None:
        return gid
    match = next((g for g in groups if g[0] == text), None)
    if match is None or _int(match[2]) is None:
        raise UsageError(f"unable to find group {text}: no matching entries in group file")
    return _int(match[2])  # type: ignore[return-value]


def read_image_file(layer_dirs: list, relpath: str) -> str:
    """The text of `relpath` as the merged rootfs would show it (layers bottom-most first).

    The top-most layer holding the file wins; a whiteout (".wh.<name>" or an overlay 0/0 char
    device) above it hides it. Missing or unreadable: "".
    """
    rel = relpath.lstrip("/")
    parent, base = os.path.split(rel)
    for layer in reversed(layer_dirs):
        candidate = os.path.join(layer, rel)
        if os.path.lexists(os.path.join(layer, parent, f".wh.{base}")):  # False too when unreadable
            return ""
        try:
            st = os.lstat(candidate)
        except OSError:
            continue
        if st.st_rdev == 0 and (st.st_mode & 0o170000) == 0o020000:  # overlay whiteout
            return ""
        try:
            with open(candidate, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""
    return ""
