"""Progress renderers: silent, one line per layer, rich bars on a terminal."""

import io
import subprocess
import sys

from rootless.engine.image import progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def _run(events):
    events.message("latest: Pulling from busybox")
    layer = events.layer("0123456789ab", 1000)
    layer.start()
    layer.advance(600)
    layer.advance(400)
    layer.done("Pull complete")
    events.message("Digest: sha256:x")
    events.close()


def test_quiet_prints_nothing(capsys):
    _run(progress.make(quiet=True))
    assert capsys.readouterr().out == ""


def test_lines_when_not_a_terminal():
    out = io.StringIO()
    events = progress.make(stream=out)
    assert isinstance(events, progress.Lines)
    _run(events)
    assert out.getvalue() == "latest: Pulling from busybox\n0123456789ab: Pull complete\nDigest: sha256:x\n"


def test_rich_is_imported_only_for_bars():
    code = ("import sys, io; from rootless.engine.image import progress; "
            "progress.make(stream=io.StringIO()); print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_bars_on_a_terminal():
    out = Tty()
    events = progress.make(stream=out)
    assert isinstance(events, progress.Bars)
    _run(events)
    text = out.getvalue()
    assert "latest: Pulling from busybox" in text and "0123456789ab" in text and "Pull complete" in text
