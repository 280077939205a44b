"""Unit tests of rootless.engine.processes: the ps filter (docker's parsePSOutput) and the pid
namespace walk, plus the CLI's tabwriter layout (table-driven)."""

from __future__ import annotations

import os

import pytest

from rootless.cli.commands.processes import table
from rootless.engine import processes
from rootless.errors import RlError

PS = """UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 20:00 ?        00:00:01 /sbin/init
root          42       1  0 20:01 ?        00:00:00 sh -c sleep 1; echo a  b
user          43      42  0 20:01 pts/0    00:00:00 sleep 100
"""


@pytest.mark.parametrize("pids, expected", [
    ({42, 43}, ["sh -c sleep 1; echo a  b", "sleep 100"]),
    ({1}, ["/sbin/init"]),
    (set(), []),
])
def test_filter_ps(pids, expected):
    header, rows = processes.filter_ps(PS, pids)
    assert header.split()[1] == "PID"
    assert [r.split(None, 7)[7] for r in rows] == expected


@pytest.mark.parametrize("output, message", [
    ("", "Couldn't find PID field"),
    ("USER COMMAND\nroot x\n", "Couldn't find PID field"),
    ("PID CMD\nabc x\n", "Unexpected pid 'abc'"),
])
def test_filter_ps_errors(output, message):
    with pytest.raises(RlError, match=message):
        processes.filter_ps(output, {1})


def test_table_layout():
    lines = table("UID PID CMD", ["root 7 sh -c  x", "averyveryverylongusername 8 y"])
    assert lines[0] == "UID".ljust(28) + "PID".ljust(20) + "CMD"
    assert lines[1] == "root".ljust(28) + "7".ljust(20) + "sh -c  x"


def test_container_pids_of_the_host_namespace_is_the_process_alone():
    assert processes.container_pids(os.getpid()) == [os.getpid()]
    assert processes.container_pids(2 ** 22 + 1) == []
