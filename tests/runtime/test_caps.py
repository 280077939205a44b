"""Capability names and masks (rootless.runtime.caps)."""

import pytest

from rootless.runtime import caps


@pytest.mark.parametrize("name, number", [
    ("CAP_CHOWN", 0), ("chown", 0), ("NET_ADMIN", 12), ("cap_sys_admin", 21), ("CAP_CHECKPOINT_RESTORE", 40),
])
def test_number(name, number):
    assert caps.number(name) == number


def test_unknown_name():
    with pytest.raises(ValueError):
        caps.number("CAP_FLY")
    assert caps.mask(["CAP_FLY", "CAP_KILL"]) == 1 << 5


def test_docker_default_mask():
    # what `docker run busybox grep CapEff /proc/self/status` shows
    assert caps.mask(caps.DOCKER_DEFAULT) == 0xA80425FB
    assert caps.mask([]) == 0 and caps.mask(None) == 0
