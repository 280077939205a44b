"""Unpack helpers started ahead of need (layerstore.prestart): taken by writers in order, the
unused ones ended without a trace. Real helper processes, real user namespaces (root, rltest,
rltest1)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from rootless.engine.image import layerstore
from rootless.paths import Paths
from rootless.runtime import idmap

pytestmark = pytest.mark.integration


def _layer(name: str, data: bytes) -> tuple[bytes, str]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 1_600_000_000
        tf.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw), "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.fixture
def paths(tmp_path: Path):
    p = Paths(root=tmp_path / "store", runroot=tmp_path / "run", config_dir=tmp_path / "cfg", home=tmp_path)
    yield p
    layerstore.remove_trees(idmap.choose(), [str(p.layers), str(p.tmp)])


def _children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if stat.rpartition(")")[2].split()[1] == me:
                found.add(int(entry))
    return found


def _wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = pids & _children()
        time.sleep(0.05)
    return pids


def test_writers_take_the_spares_and_unpack(paths) -> None:
    mapping = idmap.choose()
    before = _children()
    spares = layerstore.prestart(mapping, 2)
    for spare in spares:
        assert spare.ready.wait(30)
        assert spare.helper is not None and spare.helper.proc.poll() is None
    taken = {spare.helper.proc.pid for spare in spares}
    for name in ("a", "b", "c"):      # two spares, then a helper of its own
        blob, diff_id = _layer(name, name.encode() * 100)
        result = layerstore.ensure_layer(paths, mapping, diff_id, diff_id, io.BytesIO(blob))
        assert result["unpacked"] and result["diff_id"] == diff_id
        assert (paths.layer(diff_id) / name).read_bytes() == name.encode() * 100
    assert layerstore._spares == []
    layerstore.discard_spares(spares)  # nothing left to end
    assert not _wait_gone(taken)
    assert not _wait_gone(_children() - before)


@pytest.mark.parametrize("wait_ready", [True, False])
def test_unused_spares_end_quietly(paths, wait_ready: bool) -> None:
    before = _children()
    spares = layerstore.prestart(idmap.choose(), 2)
    if wait_ready:
        for spare in spares:
            assert spare.ready.wait(30)
    layerstore.discard_spares(spares)
    for spare in spares:               # one still starting ends itself once up
        assert spare.ready.wait(30)
    assert layerstore._spares == []
    assert not _wait_gone(_children() - before)
    for spare in spares:
        if spare.helper is not None:
            assert spare.helper.proc.returncode == 0   # EOF before a request: a clean exit
            spare.helper._stderr.seek(0)
            assert spare.helper._stderr.read() == b""
    assert not paths.tmp.exists() or list(paths.tmp.iterdir()) == []


def test_a_small_layer_leaves_the_spares_to_big_ones(paths) -> None:
    mapping = idmap.choose()
    spares = layerstore.prestart(mapping, 1)
    try:
        blob, diff_id = _layer("small", b"s")
        with layerstore.LayerWriter(paths, mapping, diff_id, diff_id, size_hint=len(blob)) as writer:
            writer.write(blob)
        assert (paths.layer(diff_id) / "small").read_bytes() == b"s"
        assert layerstore._spares == spares
        blob, diff_id = _layer("big", b"b")
        with layerstore.LayerWriter(paths, mapping, diff_id, diff_id,
                                    size_hint=layerstore.SPARE_MIN_SIZE) as writer:
            writer.write(blob)
        assert layerstore._spares == []
    finally:
        layerstore.discard_spares(spares)


def test_a_spare_for_another_mapping_is_not_taken(paths) -> None:
    mapping = idmap.choose()
    other = idmap.IdMapping(mapping.mode, mapping.uid_maps, mapping.gid_maps, userns="another")
    spares = layerstore.prestart(other, 1)
    try:
        blob, diff_id = _layer("x", b"x")
        layerstore.ensure_layer(paths, mapping, diff_id, diff_id, io.BytesIO(blob))
        assert layerstore._spares == spares      # still there, not used for `mapping`
    finally:
        layerstore.discard_spares(spares)
    assert layerstore._spares == []
