"""logs.py: docker's json-file lines, --tail, --since, follow."""

from __future__ import annotations

import json

import pytest

from rootless.engine import logs
from rootless.errors import UsageError


def test_writer_splits_lines_and_streams(tmp_path):
    path = tmp_path / "ctr.log"
    w = logs.LogWriter(str(path))
    w.write("stdout", b"one\ntw")
    w.write("stderr", b"err\n")
    w.write("stdout", b"o\nthree")
    w.close()
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["log"], e["stream"]) for e in entries] == [
        ("one\n", "stdout"), ("err\n", "stderr"), ("two\n", "stdout"), ("three", "stdout")]
    got, offset = logs.read_entries(str(path), tail=2)
    assert [e.log for e in got] == ["two\n", "three"] and offset == path.stat().st_size
    assert logs.read_entries(str(path), tail=0)[0] == []
    assert logs.read_entries(str(path), since=4102444800.0)[0] == []  # 2100-01-01


def test_long_line_is_split(tmp_path):
    path = tmp_path / "ctr.log"
    w = logs.LogWriter(str(path))
    w.write("stdout", b"x" * (logs.MAX_PARTIAL + 10) + b"\n")
    w.close()
    got = [e.log for e in logs.read_entries(str(path))[0]]
    assert got == ["x" * logs.MAX_PARTIAL, "x" * 10 + "\n"]


@pytest.mark.parametrize("value,expected", [
    ("10m", 1000.0 - 600), ("1h30m", 1000.0 - 5400), ("45s", 955.0), ("500", 500.0),
    ("1970-01-01T00:01:40Z", 100.0),
])
def test_since(value, expected):
    assert logs.parse_since(value, now=1000.0) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["", "yesterday", "10x"])
def test_since_bad(value):
    with pytest.raises(UsageError):
        logs.parse_since(value, now=0)


def test_follow_stops_when_container_stops(tmp_path):
    path = tmp_path / "ctr.log"
    w = logs.LogWriter(str(path))
    w.write("stdout", b"a\n")
    state = {"n": 0}

    def running():
        state["n"] += 1
        if state["n"] == 2:
            w.write("stdout", b"b\n")
        return state["n"] < 3
    assert [e.log for e in logs.follow(str(path), 0, running, interval=0.001)] == ["a\n", "b\n"]
    w.close()


def test_follow_waits_for_a_log_not_written_yet(tmp_path):
    """`rl run -d ...; rl logs -f` may come before the monitor has made the log file: follow waits
    for it while the container runs (it used to return at once, printing nothing)."""
    path = tmp_path / "ctr.log"
    state = {"n": 0}

    def running():
        state["n"] += 1
        if state["n"] == 3:
            w = logs.LogWriter(str(path))
            w.write("stdout", b"late\n")
            w.close()
        return state["n"] < 4
    assert [e.log for e in logs.follow(str(path), 0, running, interval=0.001)] == ["late\n"]
    assert state["n"] >= 4
    gone = tmp_path / "never.log"
    assert list(logs.follow(str(gone), 0, lambda: False, interval=0.001)) == []


def test_line_is_docker_json_file_exactly(tmp_path):
    path = tmp_path / "ctr.log"
    w = logs.LogWriter(str(path))
    w.write("stdout", 'é "q" \\ \t\x01\n'.encode() + b"\xff\n")
    w.close()
    first, second = path.read_text(encoding="utf-8").splitlines()
    import re

    assert re.fullmatch(r'\{"log":"é \\"q\\" \\\\ \\t\\u0001\\n","stream":"stdout","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"\}', first)
    assert json.loads(first)["log"] == 'é "q" \\ \t\x01\n' and json.loads(second)["log"] == "\ufffd\n"
    assert logs.read_entries(str(path))[0][0] == logs.Entry('é "q" \\ \t\x01\n', "stdout", json.loads(first)["time"])


def test_writer_imports_neither_json_nor_re():
    """The slim monitor (monitor_pump, `python -I -S`) imports logs.py: it must stay small."""
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(logs.__file__).resolve().parents[2])
    code = (f"import sys; sys.path.insert(0, {root!r}); import rootless.engine.logs; "
            "print(sorted(m for m in ('json', 're', 'dataclasses', 'datetime', 'pathlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
