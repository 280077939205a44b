"""Progress reporting for pull and push, in docker's words.

Three renderings of the same events, chosen by `make(quiet, stream)`:
- `Quiet`: nothing (`-q`); the command prints only its final line itself.
- `Lines`: not a terminal: one line per message and one line per layer when it is done
  ("<id>: Pull complete", "<id>: Already exists", "<id>: Pushed").
- `Bars`: a terminal: a rich progress bar per layer (rich is imported only here, only then).
Thread-safe: layers report from their download threads.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class LayerProgress:
    """What one layer (or blob) reports; the base class drops everything."""

    def start(self, status: str = "Downloading") -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def done(self, status: str) -> None: ...


class Quiet:
    def message(self, text: str) -> None: ...

    def layer(self, short_id: str, total: int | None) -> LayerProgress:
        return LayerProgress()

    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _LineLayer(LayerProgress):
    def __init__(self, owner: "Lines", short_id: str) -> None:
        self.owner, self.short_id = owner, short_id

    def done(self, status: str) -> None:
        self.owner.message(f"{self.short_id}: {status}")


class Lines(Quiet):
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def message(self, text: str) -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def layer(self, short_id: str, total: int | None) -> LayerProgress:
        return _LineLayer(self, short_id)


class _BarLayer(LayerProgress):
    def __init__(self, owner: "Bars", short_id: str, total: int | None) -> None:
        self.owner, self.short_id = owner, short_id
        self.task = owner.bars.add_task(short_id, total=total, status="Waiting", start=False)

    def start(self, status: str = "Downloading") -> None:
        self.owner.bars.start_task(self.task)
        self.owner.bars.update(self.task, status=status)

    def advance(self, nbytes: int) -> None:
        self.owner.bars.advance(self.task, nbytes)

    def done(self, status: str) -> None:
        bars = self.owner.bars
        total = bars.tasks[self.task].total if self.task < len(bars.tasks) else None
        bars.update(self.task, status=status, completed=total or 0)
        bars.stop_task(self.task)


class Bars(Quiet):
    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        self.console = Console(file=stream)
        self.bars = Progress(TextColumn("{task.description}:"), TextColumn("{task.fields[status]:<16}"),
                             BarColumn(), DownloadColumn(), console=self.console, transient=False)
        self.started = False

    def _ensure(self) -> None:
        if not self.started:
            self.bars.start()
            self.started = True

    def message(self, text: str) -> None:
        """A whole line: printed below the finished bars (a message ends the layer phase)."""
        self.close()
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def layer(self, short_id: str, total: int | None) -> LayerProgress:
        self._ensure()
        return _BarLayer(self, short_id, total)

    def close(self) -> None:
        if self.started:
            self.bars.stop()
            self.started = False


def make(quiet: bool = False, stream: TextIO | None = None) -> Quiet:
    """The renderer for this output: silent, one line per event, or rich bars on a terminal."""
    stream = stream or sys.stdout
    if quiet:
        return Quiet()
    if stream.isatty():
        return Bars(stream)
    return Lines(stream)
