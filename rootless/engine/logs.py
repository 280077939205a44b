"""Container logs in docker's json-file format: one JSON object per line in `ctr.log`,
{"log":"hi\\n","stream":"stdout","time":"2026-11-27T19:00:00.123456789Z"}.

`LogWriter` (used by the monitor) splits a stream into lines, as docker's copier does (a partial
line is written when it grows past 16 KiB or at the end); writes are O_APPEND so a reader sees
whole lines. `read_entries` / `follow` serve `rl logs` (--tail, --since, -f, -t).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rootless.engine.container_store import now_rfc3339, parse_time
from rootless.errors import UsageError

MAX_PARTIAL = 16 * 1024


class LogWriter:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.partial: dict[str, bytes] = {}

    def _emit(self, stream: str, data: bytes) -> None:
        entry = {"log": data.decode("utf-8", errors="replace"), "stream": stream, "time": now_rfc3339()}
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
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


@dataclass(frozen=True)
class Entry:
    log: str
    stream: str
    time: str


def parse_since(value: str, now: float | None = None) -> float:
    """--since: RFC 3339 time, Unix timestamp, or a duration ago (10m, 1h30m, 45s)."""
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
    end = data.rfind(b"\n") + 1
    entries = [e for e in map(_parse, data[:end].splitlines()) if e is not None]
    if since is not None:
        entries = [e for e in entries if (parse_time(e.time) or 0) >= since]
    if tail is not None:
        entries = entries[-tail:] if tail > 0 else []
    return entries, end


def follow(path: str, offset: int, still_running: Callable[[], bool], interval: float = 0.1) -> Iterator[Entry]:
    """Entries appended after `offset`, until the container has stopped and the log is drained."""
    buf = b""
    while True:
        running = still_running()
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            return
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
