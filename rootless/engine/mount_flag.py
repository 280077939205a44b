"""`--mount` of run/create: docker's CSV syntax, parsed into the -v machinery (pure).

    parse_mount("type=bind,src=/srv,dst=/data,ro")     -> VolumeSpec("bind", "/srv", "/data", ro=True, mount_flag=True)
    parse_mount("type=volume,source=cache,target=/c")  -> VolumeSpec("volume", "cache", "/c", mount_flag=True)
    parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m")    -> "/t:size=64m" (a --tmpfs value)

The keys and checks are the docker CLI's (cli/opts/mount.go: fields are a CSV record, keys are
case-insensitive, `type` defaults to volume) and then its daemon's (volume/mounts: target absolute
and not "/", bind source absolute, tmpfs without source, known type and propagation). Messages are
docker's: the CLI's as `invalid argument "VALUE" for "--mount" flag: ...`, the daemon's as
`invalid mount config for type "T": ...`; every failure is a UsageError (run/create exit 125).
Options rl has no use for without a volume driver (volume-driver other than local, volume-opt,
volume-subpath, image mounts) are refused by name rather than ignored.
"""

from __future__ import annotations

import os
import re

from rootless.errors import UsageError

TYPES = ("bind", "volume", "tmpfs")
PROPAGATION = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
TRUE = ("1", "t", "T", "TRUE", "true", "True")
FALSE = ("0", "f", "F", "FALSE", "false", "False")
SIZE = re.compile(r"(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?")
UNSUPPORTED = ("volume-opt", "volume-subpath", "image-subpath")


class _Mount:
    """What the fields say, before the checks."""

    def __init__(self) -> None:
        self.type, self.source, self.target, self.read_only = "volume", "", "", False
        self.bind: dict = {}
        self.volume: dict = {}
        self.tmpfs: dict = {}


def parse_bool(key: str, value: str) -> bool:
    """Go's strconv.ParseBool, with the CLI's message."""
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError(f"invalid value for {key}: {value}")


def ram_in_bytes(value: str) -> int:
    """go-units' RAMInBytes: "64m", "1.5g", "100" (binary multiples)."""
    m = SIZE.fullmatch(value)
    if not m:
        raise ValueError(value)
    number = float(m.group(1))  # "1.2.3" matches the pattern but is no number: ValueError
    return int(number * 1024 ** " kmgtp".index((m.group(2) or " ").lower()))


def fields(value: str) -> list[str]:
    """The first CSV record of the value, as Go's encoding/csv reads it: "," separates, a field
    may be wrapped in quotes (holding commas, "" for a quote); a bare quote elsewhere is an error."""
    if value == "":
        raise ValueError("EOF")  # what Go's csv reader returns for an empty input
    line = value.split("\n", 1)[0].removesuffix("\r")
    out, i = [], 0
    while True:
        if line.startswith('"', i):
            text, i = _quoted(line, i + 1)
        else:
            end = line.find(",", i)
            end = len(line) if end < 0 else end
            text = line[i:end]
            if '"' in text:
                raise ValueError(f'parse error on line 1, column {i + text.index(chr(34)) + 1}: bare " in non-quoted field')
            i = end
        out.append(text)
        if i >= len(line):
            return out
        i += 1  # the comma


def _quoted(line: str, i: int) -> tuple[str, int]:
    """A quoted field from just after its opening quote; (text, index after the closing quote)."""
    text = []
    while True:
        q = line.find('"', i)
        if q < 0:
            raise ValueError(f'parse error on line 1, column {len(line) + 1}: extraneous or missing " in quoted-field')
        text.append(line[i:q])
        if line.startswith('"', q + 1):
            text.append('"')
            i = q + 2
            continue
        if q + 1 < len(line) and line[q + 1] != ",":
            raise ValueError(f'parse error on line 1, column {q + 2}: extraneous or missing " in quoted-field')
        return "".join(text), q + 1


def _bare(mount: _Mount, key: str, field: str) -> None:
    """A field without "=": the flags docker accepts so."""
    if key in ("readonly", "ro"):
        mount.read_only = True
    elif key == "volume-nocopy":
        mount.volume["nocopy"] = True
    elif key == "bind-nonrecursive":
        mount.bind["recursive"] = False
    else:
        raise ValueError(f"invalid field '{field}' must be a key=value pair")


def _field(mount: _Mount, field: str) -> None:
    key, eq, value = field.partition("=")
    key = key.lower()
    if not eq:
        return _bare(mount, key, field)
    if key == "type":
        mount.type = value.lower()
    elif key in ("source", "src"):
        mount.source = value
    elif key in ("target", "dst", "destination"):
        mount.target = value
    elif key in ("readonly", "ro"):
        mount.read_only = parse_bool(key, value)
    elif key == "consistency":
        pass  # macOS only: docker accepts and ignores it on Linux
    elif key == "bind-propagation":
        mount.bind["propagation"] = value.lower()
    elif key == "bind-nonrecursive":
        mount.bind["recursive"] = not parse_bool(key, value)
    elif key == "bind-recursive":
        if value not in ("enabled", "disabled", "writable", "readonly"):
            raise ValueError(f"invalid value for {key}: {value}")
        mount.bind["recursive_mode"] = value
    elif key == "volume-nocopy":
        mount.volume["nocopy"] = parse_bool(key, value)
    elif key == "volume-label":
        name, _, label = value.partition("=")
        mount.volume.setdefault("labels", {})[name] = label
    elif key == "volume-driver":
        mount.volume["driver"] = value
    elif key in UNSUPPORTED:
        mount.volume[key] = value
    elif key == "tmpfs-size":
        try:
            mount.tmpfs["size"] = ram_in_bytes(value)
        except ValueError:
            raise ValueError(f"invalid value for {key}: {value}") from None
    elif key == "tmpfs-mode":
        if not value or any(c not in "01234567" for c in value) or int(value, 8) >= 1 << 32:
            raise ValueError(f"invalid value for {key}: {value}")
        mount.tmpfs["mode"] = int(value, 8)
    else:
        raise ValueError(f"unexpected key '{key}' in '{field}'")


def _cli_checks(mount: _Mount) -> None:
    """The docker CLI's checks, after every field."""
    if mount.type == "":
        raise ValueError("type is required")
    if mount.target == "":
        raise ValueError("target is required")
    for options, kind in ((mount.volume, "volume"), (mount.bind, "bind"), (mount.tmpfs, "tmpfs")):
        if options and mount.type != kind:
            raise ValueError(f"cannot mix '{kind}-*' options with mount type '{mount.type}'")
    mode = mount.bind.get("recursive_mode")
    if mode == "writable" and not mount.read_only:
        raise ValueError("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
    if mode == "readonly" and not mount.read_only:
        raise ValueError("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")


def _daemon_check(mount: _Mount) -> None:
    """The daemon's checks (moby volume/mounts/linux_parser.go), as `invalid mount config`."""
    def bad(reason: str) -> UsageError:
        return UsageError(f'invalid mount config for type "{mount.type}": {reason}')
    if clean(mount.target) == "/":
        raise bad("invalid specification: destination can't be '/'")
    if not mount.target.startswith("/"):
        raise bad(f"invalid mount path: '{mount.target}' mount path must be absolute")
    if mount.type == "bind":
        if not mount.source:
            raise bad("field Source must not be empty")
        propagation = mount.bind.get("propagation")
        if propagation is not None and propagation not in PROPAGATION:
            raise bad(f"invalid propagation mode: {propagation}")
        if not mount.source.startswith("/"):
            raise bad(f"invalid mount path: '{mount.source}' mount path must be absolute")
    elif mount.type == "volume":
        if mount.read_only and not mount.source:
            raise bad("must not set ReadOnly mode when using anonymous volumes")
    elif mount.type == "tmpfs":
        if mount.source:
            raise bad("field Source must not be specified")
    else:
        raise bad("mount type unknown")


def _unsupported(mount: _Mount) -> None:
    """What rl cannot do (no volume drivers, no recursive read-only binds): said, not ignored."""
    driver = mount.volume.get("driver", "local")
    if driver not in ("", "local"):
        raise UsageError(f"volume driver {driver!r} is not available: rl has only the local driver")
    for key in UNSUPPORTED:
        if key in mount.volume:
            raise UsageError(f"--mount option {key} is not supported by rl")
    if mount.bind.get("recursive_mode") in ("writable", "readonly"):
        raise UsageError(f"--mount option bind-recursive={mount.bind['recursive_mode']} is not supported by rl",
                         "use bind-recursive=enabled (the default) or disabled")


def clean(path: str) -> str:
    """Go's filepath.Clean of a path ("//x/../y/" -> "/y"; os.path.normpath keeps a leading "//")."""
    out = os.path.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("//") else out


def tmpfs_value(target: str, read_only: bool, options: dict) -> str:
    """The --tmpfs value of a tmpfs mount (docker's ConvertTmpfsOptions: mode in octal, the size
    in the largest unit that divides it)."""
    raw = ["ro"] if read_only else []
    if options.get("mode"):
        raw.append(f"mode={options['mode']:o}")
    size = options.get("size", 0)
    if size:
        for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % divisor == 0:
                raw.append(f"size={size // divisor}{suffix}")
                break
        else:
            raw.append(f"size={size}")
    return target + (":" + ",".join(raw) if raw else "")


def parse_mount(value: str):
    """One --mount value -> a VolumeSpec (bind, volume) or a --tmpfs string (tmpfs)."""
    from rootless.engine.volumes import NAME, VolumeSpec

    mount = _Mount()
    try:
        for field in fields(value):
            _field(mount, field)
        _cli_checks(mount)
    except ValueError as e:
        raise UsageError(f'invalid argument "{value}" for "--mount" flag: {e}') from None
    _daemon_check(mount)
    _unsupported(mount)
    target = clean(mount.target)
    if mount.type == "tmpfs":
        return tmpfs_value(target, mount.read_only, mount.tmpfs)
    if mount.type == "bind":
        recursive = mount.bind.get("recursive", True) and mount.bind.get("recursive_mode") != "disabled"
        return VolumeSpec("bind", clean(mount.source), target, mount.read_only,
                          propagation=mount.bind.get("propagation", "rprivate"), recursive=recursive,
                          mount_flag=True)
    if mount.source and not NAME.match(mount.source):
        raise UsageError(f'create {mount.source}: "{mount.source}" includes invalid characters for a local volume '
                         'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                         "directory, use absolute path")
    return VolumeSpec("volume", mount.source, target, mount.read_only, copy=not mount.volume.get("nocopy", False),
                      mount_flag=True, labels=mount.volume.get("labels"))
