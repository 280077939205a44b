"""The container process's plan (rootless.runtime.boot.pairs): what native/rl_boot.c is told to do,
decided from config.json and the fds `create` prepared. Its behaviour in a real container is
tested by test_run.py and test_lifecycle.py."""

from __future__ import annotations

import pytest

from rootless.runtime import boot, plan
from rootless.runtime import syscalls as sc

ALL_NEW = sc.CLONE_NEWUSER | sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWNET


def make(config=None, flags=ALL_NEW, joins=(), stdio=None, terminal=False, die=False):
    config = {"process": {"args": ["true"]}, **(config or {})}
    b = boot.Boot(config, "/b/rootfs", "/state/c1", flags, list(joins), stdio, terminal)
    b.sync_r, b.ready_w = 5, 6
    b.die_with_parent = die
    return b


def keys(b) -> dict:
    out: dict = {}
    for key, value in boot.pairs(b):
        out.setdefault(key, []).append(value)
    return out


def test_the_minimal_plan():
    got = boot.pairs(make())
    assert got[:4] == [("clone", ALL_NEW), ("sync", 5), ("ready", 6), ("dir", "/state/c1")]
    assert ("lo", 1) in got and ("root", "/b/rootfs") in got and ("driver", "vfs") in got
    assert got[-3:] == plan.process_pairs({"args": ["true"]})[-3:]
    for absent in ("userns", "sock", "stdin", "join", "hostname", "init", "die", "pdeathsig", "sysctl"):
        assert absent not in keys(make()), absent


@pytest.mark.parametrize("flags, config, want", [
    (ALL_NEW, {"hostname": "h", "domainname": "d"}, {"hostname": ["h"], "domainname": ["d"], "lo": [1]}),
    (ALL_NEW & ~sc.CLONE_NEWUTS, {"hostname": "h"}, {"lo": [1]}),                 # the host's uts: untouched
    (ALL_NEW & ~sc.CLONE_NEWNET, {"hostname": "h"}, {"hostname": ["h"]}),         # joined or host network
])
def test_uts_and_network_only_when_new(flags, config, want):
    got = keys(make(config, flags))
    assert {k: got[k] for k in ("hostname", "domainname", "lo") if k in got} == want


def test_fds_joins_stdio_and_terminal():
    b = make(joins=[(sc.CLONE_NEWNET, 9), (sc.CLONE_NEWIPC, 10)], stdio=(0, 11, None), terminal=True)
    b.sock, b.user_join = 12, 13
    got = keys(b)
    assert got["join"] == [f"{sc.CLONE_NEWNET}:9", f"{sc.CLONE_NEWIPC}:10"]
    assert got["stdin"] == [0] and got["stdout"] == [11] and "stderr" not in got
    assert got["sock"] == [12] and got["userns"] == [13]
    assert sorted(b.fds()) == [0, 5, 6, 9, 10, 11, 12, 13]


@pytest.mark.parametrize("annotations, die, want", [
    ({}, False, {}),
    ({}, True, {"die": [1], "pdeathsig": ["9"]}),
    ({"rl.init": "true"}, False, {"init": [1]}),
    ({"rl.init": "true"}, True, {"init": [1], "die": [1]}),   # the init keeps it; its child gets none
])
def test_init_and_parent_death(annotations, die, want):
    got = keys(make({"annotations": annotations}, die=die))
    got["pdeathsig"] = [str(v) for v in got.get("pdeathsig", ())] or None
    assert {k: got[k] for k in ("init", "die", "pdeathsig") if got.get(k)} == want


def test_sysctl_and_mounts_in_order():
    config = {"linux": {"sysctl": {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": 1},
                        "maskedPaths": ["/proc/kcore"]},
              "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}
    got = boot.pairs(make(config))
    names = [k for k, _ in got]
    assert names.index("driver") < names.index("private") < names.index("mount") < names.index("mask")
    assert [v for k, v in got if k == "sysctl"] == ["net/ipv4/ip_forward=1", "kernel/shm_rmid_forced=1"]


def test_the_plan_encodes():
    data = boot.encode(make({"hostname": "h"}))
    assert b"hostname\0h\0" in data and data.endswith(b"\0")
