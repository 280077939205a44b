"""`--change` instructions of `rl import` (and `rl commit`), applied to an image config like docker.

docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME and WORKDIR, written as
Dockerfile lines: `CMD ["nginx", "-g", "daemon off;"]` (JSON form) or `CMD nginx -g ...` (shell
form, run by /bin/sh -c). Pure functions: a list of strings and a config in, a new config out.
"""

from __future__ import annotations

import copy
import json
import posixpath
import shlex

from rootless.errors import UsageError

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR")


def _json_list(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _command(rest: str) -> list[str]:
    as_json = _json_list(rest)
    return as_json if as_json is not None else ["/bin/sh", "-c", rest]


def _pairs(instruction: str, rest: str) -> list[tuple[str, str]]:
    """`k=v k2="v 2"` pairs, or the legacy `KEY value with spaces` form."""
    try:
        words = shlex.split(rest)
    except ValueError as e:
        raise UsageError(f"{instruction} {rest}: {e}") from None
    if not words:
        raise UsageError(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        if instruction == "LABEL" or len(words) < 2:
            raise UsageError(f"{instruction} {rest}: expected KEY=VALUE")
        return [(words[0], rest.split(None, 1)[1].strip())]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise UsageError(f"{instruction} {rest}: expected KEY=VALUE, got {word!r}")
        pairs.append((key, value))
    return pairs


def _ports(rest: str) -> list[str]:
    ports = []
    for word in rest.split():
        number, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        first, _, last = number.partition("-")
        if not first.isdigit() or (last and not last.isdigit()) or proto not in ("tcp", "udp", "sctp"):
            raise UsageError(f"invalid containerPort: {word}")
        for port in range(int(first), int(last or first) + 1):
            ports.append(f"{port}/{proto}")
    return ports


def apply_change(config: dict, line: str) -> None:
    """Apply one instruction to `config` (the image config's "config" object) in place."""
    instruction, _, rest = line.strip().partition(" ")
    instruction = instruction.upper()
    rest = rest.strip()
    if instruction not in ALLOWED:
        raise UsageError(f'"{instruction or line}" is not a valid change command',
                         f"use one of {', '.join(ALLOWED)}")
    if instruction == "CMD":
        config["Cmd"] = _command(rest)
    elif instruction == "ENTRYPOINT":
        config["Entrypoint"] = _command(rest)
    elif instruction == "ENV":
        env = [e for e in config.get("Env") or []]
        for key, value in _pairs("ENV", rest):
            env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
        config["Env"] = env
    elif instruction == "LABEL":
        config["Labels"] = dict(config.get("Labels") or {}, **dict(_pairs("LABEL", rest)))
    elif instruction == "EXPOSE":
        config["ExposedPorts"] = dict(config.get("ExposedPorts") or {}, **{p: {} for p in _ports(rest)})
    elif instruction == "VOLUME":
        paths = _json_list(rest)
        paths = paths if paths is not None else rest.split()
        config["Volumes"] = dict(config.get("Volumes") or {}, **{p: {} for p in paths})
    elif instruction == "USER":
        config["User"] = rest
    elif instruction == "WORKDIR":
        config["WorkingDir"] = posixpath.normpath(posixpath.join(config.get("WorkingDir") or "/", rest))
    elif instruction == "ONBUILD":
        config["OnBuild"] = list(config.get("OnBuild") or []) + [rest]


def apply_changes(config: dict, changes: list[str]) -> dict:
    """A copy of `config` with every change applied, in order."""
    result = copy.deepcopy(config)
    for line in changes:
        apply_change(result, line)
    return result
