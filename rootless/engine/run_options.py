"""The options of `rl run`/`rl create` as one value, and the parsers of their flag values.

`RunOptions` is what the CLI builds from its flags and what `spec.py` turns into an OCI
config.json. The parsers here are pure (no file or kernel access) except `read_env_file` and
`device_from_host`, which are the two places a flag names a host file. Error messages follow
docker's wording where docker has one.
"""

from __future__ import annotations

from rootless.plainclass import dataclass, field

from rootless.errors import UsageError

#: docker's rule for container names (daemon/names.go)
NAME_PATTERN = r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$"  # compiled in validate_name (`re` costs start-up)

#: --ulimit names -> OCI rlimit types (docker's units.ParseUlimit table)
ULIMITS = {
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
NETWORKS = ("none", "host", "bridge", "private", "slirp4netns", "pasta")
USERNS_MODES = ("", "keep-id", "host", "auto")
PULL_POLICIES = ("always", "missing", "never")


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int

    def to_oci(self) -> dict:
        return {"type": ULIMITS[self.name], "soft": self.soft, "hard": self.hard}


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"
    maximum_retry_count: int = 0

    def to_docker(self) -> dict:
        return {"Name": self.name, "MaximumRetryCount": self.maximum_retry_count}


@dataclass(frozen=True)
class Device:
    """--device HOST[:CONTAINER[:PERMISSIONS]] (bind-mounted: a rootless user cannot mknod)."""
    host_path: str
    container_path: str
    permissions: str = "rwm"


@dataclass(frozen=True)
class RunOptions:
    """Everything `rl run`/`rl create` was asked, already parsed and validated."""
    image: str
    command: tuple[str, ...] = ()
    entrypoint: str | None = None          # None: not given; "" : reset the image's ENTRYPOINT
    name: str | None = None
    env: tuple[str, ...] = ()              # KEY=VALUE, -e and --env-file in command-line order
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    auto_remove: bool = False
    init: bool = False
    read_only: bool = False
    tmpfs: tuple[str, ...] = ()
    network: str = "none"
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    ulimits: tuple[Ulimit, ...] = ()
    stop_signal: str | None = None
    stop_timeout: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    restart: RestartPolicy = RestartPolicy()
    devices: tuple[Device, ...] = ()
    userns: str = ""
    pull: str = "missing"
    publish: tuple = ()                    # net.ports.PortMapping per -p container port
    publish_all: bool = False              # -P
    volumes: tuple = ()                    # volumes.VolumeSpec per -v (owner: containers II)
    volumes_from: tuple[str, ...] = ()     # --volumes-from CONTAINER[:ro|rw]


def parse_env(values: list[str] | tuple[str, ...], environ: dict[str, str]) -> list[str]:
    """-e KEY=VALUE as is; -e KEY takes KEY from rl's environment (dropped if unset), as docker."""
    out: list[str] = []
    for value in values:
        key, eq, _ = value.partition("=")
        if not key.strip():
            raise UsageError(f"invalid environment variable: {value}", "use -e NAME=VALUE or -e NAME")
        if any(c.isspace() for c in key):
            raise UsageError(f"invalid environment variable: {value}", "variable names cannot contain whitespace")
        if eq:
            out.append(value)
        elif key in environ:
            out.append(f"{key}={environ[key]}")
    return out


def parse_env_file_text(text: str, environ: dict[str, str], source: str = "env file") -> list[str]:
    """docker's --env-file format: KEY=VALUE or KEY lines, '#' comments, blank lines, no quoting."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key = line.partition("=")[0]
        if not key or any(c.isspace() for c in key):
            raise UsageError(f"{source}: line {number}: variable '{key}' contains whitespaces"
                             if key else f"{source}: line {number}: no variable name")
        lines.append(line)
    return parse_env(lines, environ)


def read_env_file(path: str, environ: dict[str, str]) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return parse_env_file_text(f.read(), environ, path)
    except OSError as e:
        raise UsageError(f"open {path}: {e.strerror}") from e


def parse_ulimit(value: str) -> Ulimit:
    """name=soft[:hard] (docker's go-units ParseUlimit); -1 means unlimited."""
    name, eq, limits = value.partition("=")
    if not eq:
        raise UsageError(f"invalid ulimit argument: {value}", "use name=soft[:hard], e.g. nofile=1024:2048")
    if name not in ULIMITS:
        raise UsageError(f"invalid ulimit type: {name}", f"one of {', '.join(sorted(ULIMITS))}")
    soft_s, colon, hard_s = limits.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if colon else soft
    except ValueError:
        raise UsageError(f"invalid ulimit argument: {value}", "limits are integers (-1: unlimited)") from None
    soft = (1 << 64) - 1 if soft == -1 else soft
    hard = (1 << 64) - 1 if hard == -1 else hard
    if soft < 0 or hard < 0:
        raise UsageError(f"invalid ulimit argument: {value}", "limits are integers (-1: unlimited)")
    if soft > hard:
        raise UsageError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return Ulimit(name, soft, hard)


def parse_restart(value: str) -> RestartPolicy:
    name, colon, count = (value or "no").partition(":")
    if name not in RESTART_POLICIES:
        raise UsageError(f"invalid restart policy: {value}", "use no, on-failure[:N], always or unless-stopped")
    if colon:
        if name != "on-failure":
            raise UsageError(f"invalid restart policy: maximum retry count can only be used with 'on-failure'")
        if not count.isdigit():
            raise UsageError(f"invalid restart policy: maximum retry count must be an integer: {count}")
        return RestartPolicy(name, int(count))
    return RestartPolicy(name)


def parse_signal(value: str) -> str:
    """A signal name or number -> its canonical name ("SIGTERM"); raises on junk."""
    import signal  # here: `signal` loads `enum` (start-up)

    text = value.strip().upper()
    if text.isdigit():
        try:
            return signal.Signals(int(text)).name
        except ValueError:
            raise UsageError(f"invalid signal: {value}") from None
    name = text if text.startswith("SIG") else "SIG" + text
    if name not in signal.Signals.__members__:
        raise UsageError(f"invalid signal: {value}")
    return name


def parse_labels(values: list[str] | tuple[str, ...]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        key, _, val = value.partition("=")
        if not key:
            raise UsageError(f"invalid label: {value}")
        labels[key] = val
    return labels


def parse_device(value: str) -> Device:
    parts = value.split(":")
    if not parts[0].startswith("/") or len(parts) > 3:
        raise UsageError(f"invalid device specification: {value}", "use /dev/HOST[:/dev/CONTAINER[:rwm]]")
    host = parts[0]
    container = host
    perms = "rwm"
    if len(parts) >= 2:
        if parts[1].startswith("/"):
            container = parts[1]
        elif set(parts[1]) <= set("rwm") and len(parts) == 2:
            perms = parts[1]
        else:
            raise UsageError(f"invalid device specification: {value}")
    if len(parts) == 3:
        perms = parts[2]
    if not perms or not set(perms) <= set("rwm"):
        raise UsageError(f"invalid device mode: {perms}")
    return Device(host, container, perms)


def parse_tmpfs(value: str) -> tuple[str, list[str]]:
    """/path[:opt,opt] -> (path, options) over docker's defaults rw,noexec,nosuid,nodev."""
    path, _, opts = value.partition(":")
    if not path.startswith("/"):
        raise UsageError(f"invalid mount path for --tmpfs: {path!r}", "the path must be absolute")
    options = {"rw": "rw", "exec": "noexec", "suid": "nosuid", "dev": "nodev"}
    extra: list[str] = []
    for opt in filter(None, opts.split(",")):
        if opt in ("rw", "ro"):
            options["rw"] = opt
        elif opt.removeprefix("no") in ("exec", "suid", "dev"):
            options[opt.removeprefix("no")] = opt
        else:
            extra.append(opt)
    return path, list(options.values()) + extra


def validate_name(name: str) -> str:
    import re

    if not re.match(NAME_PATTERN, name):
        raise UsageError(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def validate_choice(flag: str, value: str, choices: tuple[str, ...], hint: str | None = None) -> str:
    if value not in choices:
        raise UsageError(f"invalid value for {flag}: {value!r}", hint or f"one of {', '.join(c for c in choices if c)}")
    return value


def check_device_on_host(device: Device) -> Device:
    """docker refuses a --device the host lacks before creating anything."""
    import os
    import stat as stat_mod

    try:
        mode = os.stat(device.host_path).st_mode
    except OSError as e:
        raise UsageError(f'error gathering device information while adding custom device "{device.host_path}": '
                         f"{(e.strerror or str(e)).lower()}") from None
    if not (stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode)):
        raise UsageError(f'"{device.host_path}" is not a device node')
    return device
