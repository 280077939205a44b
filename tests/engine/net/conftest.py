"""Fixtures for the network tests (helpers in netns_helpers.py)."""

from __future__ import annotations

import pytest

from netns_helpers import NetNamespace


@pytest.fixture
def netns():
    made: list[NetNamespace] = []

    def make(port: int = 80, argv: list[str] | None = None) -> NetNamespace:
        ns = NetNamespace(port, argv)
        made.append(ns)
        return ns
    yield make
    for ns in made:
        ns.kill()
