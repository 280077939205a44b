"""rl_process_init (native/rl_process.c, `rl run --init` in C): forwards signals to the main
process, reaps orphans, exits with the main process's code (128+N after signal N), as
rootless/runtime/init.py does. Driven through a 10-line C program linked with rl_process.c."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from rootless.runtime import plan as plan_mod

NATIVE = Path(__file__).resolve().parents[2] / "native"
DRIVER = r"""
#include <stdlib.h>
#include <sys/prctl.h>
#include "rl_plan.h"
#include "rl_process.h"
int main(int argc, char **argv)
{
    struct rl_plan plan;
    if (rl_plan_read(atoi(argv[1]), &plan) < 0)
        return 99;
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans come to us, as to a container's pid 1 */
    rl_process_init(&plan, atoi(argv[2]));
}
"""


@pytest.fixture(scope="module")
def init_exe(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on this host")
    out = tmp_path_factory.mktemp("init")
    (out / "driver.c").write_text(DRIVER)
    subprocess.run([cc, "-O2", "-I", str(NATIVE), "-o", str(out / "init"), str(out / "driver.c"),
                    str(NATIVE / "rl_plan.c"), str(NATIVE / "rl_process.c")], check=True)
    return str(out / "init")


def start(init_exe, script: str, tmp_path):
    pairs = [("arg", "/bin/sh"), ("arg", "-c"), ("arg", script), ("env", "PATH=/usr/bin:/bin"),
             ("cwd", str(tmp_path)), ("uid", os.getuid()), ("gid", os.getgid())]
    fd = plan_mod.memfd(plan_mod.encode(pairs))
    r, w = os.pipe()
    try:
        p = subprocess.Popen([init_exe, str(fd), str(w)], pass_fds=[fd, w], stdout=subprocess.PIPE, text=True)
    finally:
        os.close(fd)
        os.close(w)
    return p, r


def test_exit_code_and_the_status_fd_closes_on_exec(init_exe, tmp_path):
    p, r = start(init_exe, "exit 7", tmp_path)
    try:
        assert os.read(r, 100) == b""   # nothing reported: the exec succeeded
    finally:
        os.close(r)
    assert p.wait(timeout=10) == 7


def test_a_failed_exec_is_reported_with_docker_s_code(init_exe, tmp_path):
    pairs = [("arg", "nosuch"), ("uid", os.getuid()), ("gid", os.getgid()), ("cwd", str(tmp_path))]
    fd = plan_mod.memfd(plan_mod.encode(pairs))
    r, w = os.pipe()
    p = subprocess.Popen([init_exe, str(fd), str(w)], pass_fds=[fd, w])
    os.close(fd)
    os.close(w)
    try:
        assert os.read(r, 1000) == b'127\nexec: "nosuch": executable file not found in $PATH'
    finally:
        os.close(r)
    assert p.wait(timeout=10) == 127


def test_signals_are_forwarded_and_orphans_reaped(init_exe, tmp_path):
    script = ("(sleep 0.05 &); (sleep 0.05 &); trap 'echo term; exit 42' TERM; echo ready; "
              "while :; do sleep 0.05; done")
    p, r = start(init_exe, script, tmp_path)
    os.close(r)
    try:
        assert p.stdout.readline() == "ready\n"
        time.sleep(0.3)   # the orphans were reparented to the init (a subreaper here) and exited
        children = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        assert len(children) == 1, children   # reaped: no zombie left beside the main process
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 42 and p.stdout.read() == "term\n"
    finally:
        p.kill()


def test_a_signalled_main_process_is_128_plus_n(init_exe, tmp_path):
    p, r = start(init_exe, "kill -KILL $$", tmp_path)
    os.close(r)
    assert p.wait(timeout=10) == 128 + signal.SIGKILL
