"""The plan: the work rl hands to its C executables (`_rl_boot`, `_rl_exec`), as
native/rl_plan.h describes it: NUL-terminated tokens in key/value pairs, keys repeated for lists.

`encode` makes the bytes, `memfd` puts them in an anonymous file the executable inherits and
reads from the start (any size: a pipe would block past 64 KiB before the reader runs).
"""

from __future__ import annotations

import os


def encode(pairs) -> bytes:
    """[(key, value)] -> the wire format. Values: str, bytes or int; a NUL inside one is an error
    (nothing is escaped)."""
    out = bytearray()
    for key, value in pairs:
        if isinstance(value, int):
            value = str(value)
        raw = value.encode(errors="surrogateescape") if isinstance(value, str) else bytes(value)
        if b"\0" in raw:
            raise ValueError(f"plan value for {key!r} contains a NUL byte")
        out += key.encode() + b"\0" + raw + b"\0"
    return bytes(out)


def memfd(data: bytes, name: str = "rl-plan") -> int:
    """An anonymous file holding `data`, offset 0, close-on-exec (dup2 it to hand it on)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


#: OCI process.capabilities sets -> plan keys (rl_process.h)
_CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")
_RLIM_MAX = 1 << 63  # a soft/hard limit at or above this is RLIM_INFINITY (OCI writes 2**64-1)


def _limit(value) -> int:
    if value == "RLIM_INFINITY" or value is None:
        return -1
    value = int(value)
    return -1 if value < 0 or value >= _RLIM_MAX else value


def rlimit_number(name: str) -> int:
    """"RLIMIT_NOFILE" -> resource.RLIMIT_NOFILE; ValueError("unknown rlimit X") otherwise."""
    import resource

    which = getattr(resource, name, None) if str(name).startswith("RLIMIT_") else None
    if not isinstance(which, int):
        raise ValueError(f"unknown rlimit {name}")
    return which


def process_pairs(process: dict, pdeathsig: int = 0) -> list[tuple[str, object]]:
    """An OCI `process` object (config.json) -> the plan pairs rl_process.h reads: args, env,
    cwd, user, capabilities as masks (caps.mask: unknown names ignored, as runc does), rlimits as
    RLIMIT_* numbers (-1 = unlimited), oomScoreAdj, noNewPrivileges, and `pdeathsig`. Raises
    ValueError for an unknown rlimit (process.set_rlimits' message)."""
    pairs: list[tuple[str, object]] = [("arg", a) for a in process.get("args") or ()]
    pairs += [("env", e) for e in process.get("env") or ()]
    pairs.append(("cwd", process.get("cwd") or "/"))
    user = process.get("user") or {}
    pairs += [("uid", int(user.get("uid", 0))), ("gid", int(user.get("gid", 0)))]
    pairs += [("group", int(g)) for g in user.get("additionalGids") or ()]
    if user.get("umask") is not None:
        pairs.append(("umask", int(user["umask"])))
    caps = process.get("capabilities")
    if caps is not None:
        from rootless.runtime.caps import mask

        pairs += [(f"cap.{name}", mask(caps.get(name, ()))) for name in _CAP_SETS]
    if process.get("noNewPrivileges"):
        pairs.append(("nnp", 1))
    if process.get("oomScoreAdj") is not None:
        pairs.append(("oom", int(process["oomScoreAdj"])))
    for item in process.get("rlimits") or ():
        which = rlimit_number(item["type"])
        pairs.append(("rlimit", f"{which}:{_limit(item.get('soft'))}:{_limit(item.get('hard'))}"))
    if pdeathsig:
        pairs.append(("pdeathsig", int(pdeathsig)))
    return pairs
