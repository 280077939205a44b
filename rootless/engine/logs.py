"""Container logs in docker's json-file format: one JSON object per line in `ctr.log`,
{"log":"hi\\n","stream":"stdout","time":"2026-11-27T19:00:00.123456789Z"}.

`LogWriter` (used by the monitor) splits a stream into lines, as docker's copier does (a partial
line is written when it grows past 16 KiB or at the end); writes are O_APPEND so a reader sees
whole lines. `read_entries` / `follow` serve `rl logs` (--tail, --since, -f, -t).
"""

from __future__ import annotations

import os
import time

try:  # the C encoder json.dumps uses; imported alone, as the slim monitor (monitor_pump) has no re
    from _json import encode_basestring as _quote
except ImportError:  # pragma: no cover - a Python without the _json accelerator
    from json.encoder import py_encode_basestring as _quote

MAX_PARTIAL = 16 * 1024


def now_rfc3339() -> str:
    """Current UTC time, RFC 3339 with nanoseconds as docker prints it (container_store's, without
    its datetime import)."""
    secs, frac = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class LogWriter:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.partial: dict[str, bytes] = {}

    def _emit(self, stream: str, data: bytes) -> None:
        text = data.decode("utf-8", errors="replace")
        line = f'{{"log":{_quote(text)},"stream":"{stream}","time":"{now_rfc3339()}"}}\n'.encode()
        while line:
            line = line[os.write(self.fd, line):]

    def write(self, stream: str, data: bytes) -> None:
        buf = self.partial.get(stream, b"") + data
        while True:
            nl = buf.find(b"\n", 0, MAX_PARTIAL)
            if nl >= 0:
                cut = nl + 1
            elif len(buf) >= MAX_PARTIAL:
                cut = MAX_PARTIAL
            else:
                break
            self._emit(stream, buf[:cut])
            buf = buf[cut:]
        self.partial[stream] = buf

    def flush(self) -> None:
        for stream, buf in self.partial.items():
            if buf:
                self._emit(stream, buf)
        self.partial.clear()

    def close(self) -> None:
        self.flush()
        os.close(self.fd)


class Entry:
    """One log line (a plain class: no dataclasses import, for the slim monitor's sake)."""

    __slots__ = ("log", "stream", "time")

    def __init__(self, log: str, stream: str, time: str) -> None:
        self.log, self.stream, self.time = log, stream, time

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and (self.log, self.stream, self.time) == (other.log, other.stream, other.time)

    def __hash__(self) -> int:
        return hash((self.log, self.stream, self.time))

    def __repr__(self) -> str:
        return f"Entry(log={self.log!r}, stream={self.stream!r}, time={self.time!r})"


def parse_since(value: str, now: float | None = None) -> float:
    """--since: RFC 3339 time, Unix timestamp, or a duration ago (10m, 1h30m, 45s)."""
    from rootless.engine.container_store import parse_time
    from rootless.errors import UsageError

    now = time.time() if now is None else now
    text = value.strip()
    if not text:
        raise UsageError("invalid value for --since: ''")
    stamp = parse_time(text if "T" in text else "")
    if stamp is not None:
        return stamp
    try:
        return float(text)
    except ValueError:
        pass
    import re

    parts = re.fullmatch(r"((\d+(\.\d+)?)(h|m|s|ms))+", text)
    if not parts:
        raise UsageError(f"invalid value for --since: {value!r}", "use a time (2026-01-02T15:04:05Z), a Unix "
                         "timestamp, or a duration like 10m")
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    total = sum(float(n) * scale[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ms|h|m|s)", text))
    return now - total


def _parse(line: bytes) -> Entry | None:
    import json

    try:
        data = json.loads(line)
        return Entry(data.get("log", ""), data.get("stream", "stdout"), data.get("time", ""))
    except ValueError:
        return None


def read_entries(path: str, *, tail: int | None = None, since: float | None = None) -> tuple[list[Entry], int]:
    """The entries now in the log (the last `tail`, from `since`), and the offset read up to."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], 0
    from rootless.engine.container_store import parse_time

    end = data.rfind(b"\n") + 1
    entries = [e for e in map(_parse, data[:end].splitlines()) if e is not None]
    if since is not None:
        entries = [e for e in entries if (parse_time(e.time) or 0) >= since]
    if tail is not None:
        entries = entries[-tail:] if tail > 0 else []
    return entries, end


def follow(path: str, offset: int, still_running, interval: float = 0.1):
    """Entries appended after `offset` (a generator), until `still_running()` says the container has
    stopped and the log is drained."""
    buf = b""
    while True:
        running = still_running()
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:  # not written yet (the monitor makes it) or removed
            if not running:
                return
            time.sleep(interval)
            continue
        offset += len(chunk)
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            entry = _parse(line)
            if entry is not None:
                yield entry
        if not running and not chunk:
            return
        if not chunk:
            time.sleep(interval)
