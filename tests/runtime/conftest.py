"""Fixtures for the runtime tests: a bundle over the session's busybox rootfs (mounted as the lower
dir of an overlay, so tests may write), and a foreground runner capturing stdout/stderr."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ocispec  # noqa: E402


class Ctr:
    """One test container: its config (edit before run), bundle and state dirs."""

    def __init__(self, tmp_path: Path, rootfs: Path) -> None:
        self.tmp = tmp_path
        self.rootfs = rootfs
        self.state_dir = tmp_path / "state"
        self.config = ocispec.config(["true"])
        ocispec.overlay(self.config, rootfs, tmp_path / "ov")
        self.out = tmp_path / "out"
        self.err = tmp_path / "err"

    def write(self, args=None) -> Path:
        if args is not None:
            self.config["process"]["args"] = list(args)
        return ocispec.bundle(self.tmp / "bundle", self.config)

    def stdio(self):
        """(stdin /dev/null, stdout -> self.out, stderr -> self.err); closed by close() or at the
        end of the test."""
        self._files = [open(self.out, "wb"), open(self.err, "wb"), open(os.devnull, "rb")]
        return (self._files[2].fileno(), self._files[0].fileno(), self._files[1].fileno())

    def close(self, stdio=None) -> None:
        for f in getattr(self, "_files", ()):
            f.close()

    def run(self, *args, cid: str = "c1") -> tuple[int, str, str]:
        """Run in the foreground; (exit code, stdout, stderr)."""
        from rootless.runtime.container import run

        bundle = self.write(args or None)
        stdio = self.stdio()
        try:
            rc = run(bundle, self.state_dir, cid, stdio=stdio)
        finally:
            self.close(stdio)
        return rc, self.out.read_text(), self.err.read_text()


@pytest.fixture
def ctr(tmp_path, busybox_rootfs):
    c = Ctr(tmp_path, Path(busybox_rootfs))
    yield c
    c.close()


@pytest.fixture
def mapping():
    from rootless.runtime import idmap

    return idmap.choose()
