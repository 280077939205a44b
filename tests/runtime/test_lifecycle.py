"""create / start / state / kill / delete, exec into a running container, the pty and --init."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from rootless.errors import ContainerCommandError, ContainerNotFound, Conflict, InvalidState
from rootless.runtime import container
from rootless.runtime.state import pid_start_time

pytestmark = pytest.mark.integration
DRIVER = Path(__file__).with_name("driver.py")


def _wait(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.fixture
def sleeper(ctr):
    """A started container running `sleep 100`; killed and deleted after the test."""
    stdio = ctr.stdio()
    st = container.create(ctr.write(["sleep", "100"]), ctr.state_dir, "s1", stdio=stdio)
    ctr.close(stdio)
    container.start(ctr.state_dir, "s1")
    yield st
    container.delete(ctr.state_dir, "s1", force=True)
    try:
        os.waitpid(st.pid, 0)
    except ChildProcessError:
        pass


def test_create_start_kill_delete(ctr):
    stdio = ctr.stdio()
    st = container.create(ctr.write(["sh", "-c", "echo started; exec sleep 100"]), ctr.state_dir, "c1", stdio=stdio)
    ctr.close(stdio)
    state = container.state(ctr.state_dir, "c1")
    assert state["status"] == "created" and state["pid"] == st.pid and state["id"] == "c1"
    assert state["bundle"] == str(ctr.tmp / "bundle") and state["ociVersion"].startswith("1.")
    assert ctr.out.read_text() == ""          # nothing runs before start
    with pytest.raises(Conflict):
        container.create(ctr.tmp / "bundle", ctr.state_dir, "c1")
    container.start(ctr.state_dir, "c1")
    assert container.state(ctr.state_dir, "c1")["status"] == "running"
    with pytest.raises(InvalidState):
        container.start(ctr.state_dir, "c1")
    with pytest.raises(InvalidState):
        container.delete(ctr.state_dir, "c1")
    container.kill(ctr.state_dir, "c1", "TERM")   # pid 1 without a handler: ignored
    time.sleep(0.1)
    assert container.state(ctr.state_dir, "c1")["status"] == "running"
    container.kill(ctr.state_dir, "c1", "SIGKILL")
    assert _wait(st.pid) == -9
    assert container.state(ctr.state_dir, "c1")["status"] == "stopped"
    with pytest.raises(InvalidState):
        container.kill(ctr.state_dir, "c1", 9)
    container.delete(ctr.state_dir, "c1")
    with pytest.raises(ContainerNotFound):
        container.state(ctr.state_dir, "c1")
    assert ctr.out.read_text() == "started\n"


def test_delete_a_created_container(ctr):
    st = container.create(ctr.write(["true"]), ctr.state_dir, "c2", stdio=ctr.stdio())
    container.delete(ctr.state_dir, "c2")
    assert _wait(st.pid) == -9
    assert not (ctr.state_dir / "c2").exists()


def test_start_reports_a_missing_command(ctr):
    st = container.create(ctr.write(["nosuch"]), ctr.state_dir, "c3", stdio=ctr.stdio())
    with pytest.raises(ContainerCommandError) as info:
        container.start(ctr.state_dir, "c3")
    assert info.value.exit_code == 127
    assert _wait(st.pid) == 127
    container.delete(ctr.state_dir, "c3")


def test_exec_into_a_running_container(ctr, sleeper):
    out = ctr.tmp / "exec-out"
    with open(out, "wb") as f:
        rc = container.exec_process(ctr.state_dir, "s1", {"args": ["sh", "-c", "cat /proc/1/cmdline; echo; hostname; echo $$; id -u"]},
                                    stdio=(0, f.fileno(), 2))
    assert rc == 0
    cmdline, hostname, pid, uid = out.read_text().splitlines()
    assert cmdline == "sleep\0" + "100\0" and hostname == "rltest-ctr"
    assert int(pid) > 1 and uid == "0"


def test_exec_status_env_cwd_and_errors(ctr, sleeper):
    proc = {"args": ["sh", "-c", 'test "$X" = y && test "$(pwd)" = /etc && exit 7'], "env": ["X=y"], "cwd": "/etc"}
    assert container.exec_process(ctr.state_dir, "s1", proc) == 7
    with pytest.raises(ContainerCommandError) as info:
        container.exec_process(ctr.state_dir, "s1", {"args": ["nosuch"]})
    assert info.value.exit_code == 127
    with pytest.raises(ContainerCommandError) as info:
        container.exec_process(ctr.state_dir, "s1", {"args": ["/etc/passwd"]})
    assert info.value.exit_code == 126


def test_exec_detached(ctr, sleeper):
    assert container.exec_process(ctr.state_dir, "s1", {"args": ["sh", "-c", "echo bg > /tmp/bg"]}, detach=True) == 0
    for _ in range(100):
        if (ctr.tmp / "ov" / "upper" / "tmp" / "bg").exists():
            break
        time.sleep(0.02)
    assert (ctr.tmp / "ov" / "upper" / "tmp" / "bg").read_text() == "bg\n"


def test_exec_into_a_stopped_container_is_refused(ctr):
    st = container.create(ctr.write(["true"]), ctr.state_dir, "c4", stdio=ctr.stdio())
    container.start(ctr.state_dir, "c4")
    _wait(st.pid)
    with pytest.raises(InvalidState):
        container.exec_process(ctr.state_dir, "c4", {"args": ["true"]})
    container.delete(ctr.state_dir, "c4")


def test_init_forwards_signals_and_reaps(ctr):
    ctr.config["annotations"]["rl.init"] = "true"
    st = container.create(ctr.write(["sh", "-c", "(sleep 0.05 &); (sleep 0.05 &); sleep 0.3; ps -o stat,comm; exec sleep 100"]),
                          ctr.state_dir, "i1", stdio=ctr.stdio())
    container.start(ctr.state_dir, "i1")
    time.sleep(0.6)
    container.kill(ctr.state_dir, "i1", signal.SIGTERM)    # forwarded by the init to pid 2
    assert _wait(st.pid) == 128 + signal.SIGTERM
    container.delete(ctr.state_dir, "i1")
    lines = ctr.out.read_text().splitlines()
    assert any("_rl_boot" in line for line in lines)   # the init is pid 1 (native/rl_boot.c)
    assert not any(line.split()[0].startswith("Z") for line in lines[1:]), lines   # orphans were reaped


def _spawn(args, **kw):
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return pexpect.spawn(sys.executable, [str(DRIVER)] + args, env=env, timeout=15, encoding="utf-8", **kw)


def test_pty_run(ctr):
    ctr.config["process"]["terminal"] = True
    child = _spawn([str(ctr.write(["sh"])), str(ctr.state_dir), "t1", "--tty"], dimensions=(33, 97))
    child.sendline("tty; stty size; echo $((6*7))")
    child.expect("/dev/pts/0")
    child.expect("33 97")
    child.expect("42")
    child.setwinsize(40, 120)
    time.sleep(0.2)
    child.sendline("stty size")
    child.expect("40 120")
    child.sendline("exit 3")
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 3


def test_pty_exec(ctr, sleeper):
    master, slave = os.openpty()
    try:
        pid = os.fork()
        if pid == 0:
            os.close(master)
            os.setsid()
            code = container.exec_process(ctr.state_dir, "s1", {"args": ["sh", "-c", "tty; exit 5"]},
                                          tty=True, stdio=(slave, slave, slave))
            os._exit(code)
        os.close(slave)
        output = b""
        while True:
            try:
                data = os.read(master, 1024)
            except OSError:
                break
            if not data:
                break
            output += data
        assert _wait(pid) == 5
        assert b"/dev/pts/" in output and b"not a tty" not in output
    finally:
        os.close(master)


def pexpect_eof():
    import pexpect

    return pexpect.EOF


def test_console_socket_gets_the_pty_master(ctr, tmp_path):
    import socket

    ctr.config["process"]["terminal"] = True
    path = str(tmp_path / "console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        st = container.create(ctr.write(["sh", "-c", "tty; stty size"]), ctr.state_dir, "cs", console_socket=path)
        conn, _ = server.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    master = fds[0]
    assert st.pty_master is None and os.isatty(master)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    container.start(ctr.state_dir, "cs")
    output = b""
    while True:
        try:
            data = os.read(master, 1024)
        except OSError:
            break
        if not data:
            break
        output += data
    assert _wait(st.pid) == 0
    os.close(master)
    container.delete(ctr.state_dir, "cs")
    assert output.split() == [b"/dev/pts/0", b"24", b"80"]


def test_signals_before_start_do_not_escape(ctr):
    st = container.create(ctr.write(["true"]), ctr.state_dir, "sig", stdio=ctr.stdio())
    os.kill(st.pid, signal.SIGINT)
    os.kill(st.pid, signal.SIGTERM)
    time.sleep(0.1)
    assert container.state(ctr.state_dir, "sig")["status"] == "created"
    container.start(ctr.state_dir, "sig")
    assert _wait(st.pid) == 0
    container.delete(ctr.state_dir, "sig")


def test_foreground_container_dies_with_its_runner(ctr, mapping):
    """`run` is a foreground run: if its process is killed, the container goes too (as bwrap
    --die-with-parent), even after changing its uid (which clears the parent-death signal)."""
    uid = 0 if mapping.mode == "single" else 1000
    ctr.config["process"]["user"] = {"uid": uid, "gid": uid}
    child = _spawn([str(ctr.write(["sleep", "100"])), str(ctr.state_dir), "dw"])
    for _ in range(200):
        try:
            pid = container.state(ctr.state_dir, "dw")["pid"]
            if container.state(ctr.state_dir, "dw")["status"] == "running":
                break
        except ContainerNotFound:
            pass
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.close()
    for _ in range(200):
        if container.state(ctr.state_dir, "dw")["status"] == "stopped":
            break
        time.sleep(0.02)
    assert container.state(ctr.state_dir, "dw")["status"] == "stopped"
    assert pid_start_time(pid) == 0      # gone, or a zombie
    container.delete(ctr.state_dir, "dw")


def test_killed_creator_leaves_a_deletable_container(ctr, tmp_path):
    """A caller killed before start leaves state that delete(force) cleans up."""
    code = ("import sys, os; from rootless.runtime.container import create; "
            f"create({str(ctr.write(['true']))!r}, {str(ctr.state_dir)!r}, 'orphan', stdio=(0, 1, 2)); "
            "os.kill(os.getpid(), 9)")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    import subprocess

    subprocess.run([sys.executable, "-c", code], env=env, check=False)
    st = container.state(ctr.state_dir, "orphan")
    assert st["status"] == "created"
    container.delete(ctr.state_dir, "orphan", force=True)
    time.sleep(0.1)
    assert not (ctr.state_dir / "orphan").exists()
    assert pid_start_time(st["pid"]) == 0


def test_init_with_a_terminal(ctr):
    """Under the init the shell is pid 2, in the terminal's foreground process group; ^C reaches
    the foreground job and the shell survives it, as at a real terminal."""
    ctr.config["process"]["terminal"] = True
    ctr.config["annotations"]["rl.init"] = "true"
    child = _spawn([str(ctr.write(["sh"])), str(ctr.state_dir), "ti", "--tty"])
    child.sendline("echo pid=$$")
    child.expect("pid=2")
    child.sendline("sleep 30")
    time.sleep(0.3)
    child.sendcontrol("c")
    child.sendline("echo back=$?")
    child.expect("back=130")
    child.sendline("exit 4")
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 4


def test_two_starts_at_once_one_wins(ctr):
    import threading

    st = container.create(ctr.write(["true"]), ctr.state_dir, "race", stdio=ctr.stdio())
    results = []

    def go():
        try:
            container.start(ctr.state_dir, "race")
            results.append("ok")
        except InvalidState as e:
            results.append(type(e).__name__)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == ["InvalidState", "ok"]
    assert _wait(st.pid) == 0
    container.delete(ctr.state_dir, "race")
