"""placement.py: the layer root is made once, where probing says creating files is cheap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rootless.engine.image import placement


def test_make_root_creates_one_empty_directory(tmp_path: Path) -> None:
    costs = placement.make_root(tmp_path / "layer-x")
    assert (tmp_path / "layer-x").is_dir()
    assert os.listdir(tmp_path / "layer-x") == []
    assert os.listdir(tmp_path) == ["layer-x"]        # the other candidates are gone
    assert (os.stat(tmp_path / "layer-x").st_mode & 0o7777) == 0o755 & ~_umask()
    assert 1 <= len(costs) <= placement.TRIES


@pytest.mark.parametrize("fast_ns, expected", [
    (10**12, 1),                # the first candidate is cheap enough
    (-1, placement.TRIES),      # nothing is cheap enough: every candidate priced, cheapest kept
])
def test_make_root_tries_until_a_cheap_spot(tmp_path: Path, fast_ns: int, expected: int) -> None:
    costs = placement.make_root(tmp_path / "root", fast_ns=fast_ns)
    if costs == [None]:
        pytest.skip("no O_TMPFILE on the test directory's filesystem: nothing to price")
    assert len(costs) == expected
    assert os.listdir(tmp_path) == ["root"]


def test_make_root_refuses_an_existing_destination(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "keep").write_text("x")
    with pytest.raises(FileExistsError):
        placement.make_root(tmp_path / "root")
    assert os.listdir(tmp_path / "root") == ["keep"]
    assert os.listdir(tmp_path) == ["root"]


def test_probe_cost_leaves_nothing(tmp_path: Path) -> None:
    cost = placement.probe_cost(str(tmp_path), 8)
    assert cost is None or cost >= 0
    assert os.listdir(tmp_path) == []


def test_mark_top_dir_is_best_effort(tmp_path: Path) -> None:
    placement.mark_top_dir(tmp_path / "missing")       # no error
    placement.mark_top_dir(tmp_path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
