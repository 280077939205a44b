"""Keeping a non-loopback client address: IP_TRANSPARENT + fwmark policy routing in the container's
namespace. The "host" here is a network namespace of the test's own (unshare -rn) holding 192.0.2.1
(TEST-NET-1), so no traffic leaves 127.0.0.0/8 or namespaces the test made."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.integration
def test_non_loopback_client_address_reaches_the_server():
    out = subprocess.run([shutil.which("unshare"), "-rn", sys.executable, str(HERE / "transparent_case.py"),
                          str(HERE.parents[2]), str(HERE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    peer, _, rules = out.stdout.partition("\n")
    assert peer.startswith("192.0.2.1:"), out.stdout
    assert "fwmark 0x64 lookup 100" in rules
