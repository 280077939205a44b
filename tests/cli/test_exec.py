"""`rl exec` and `rl inspect` end to end: the real rl executable and runtime, the fixture busybox
from the local registry, as root, rltest (subuid range) and rltest1 (none) alike."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from fixtures import rl

pytestmark = [pytest.mark.integration, pytest.mark.registry]

SLEEPER = ["sh", "-c", "echo ready; trap 'exit 0' TERM; while :; do sleep 0.1; done"]


@pytest.fixture(scope="module")
def env(tmp_path_factory, fixture_images):
    with rl.store_with_images(tmp_path_factory.mktemp("exec"), fixture_images) as environ:
        yield environ


@pytest.fixture(scope="module")
def box(env):
    """A running container "box" (busybox, env FOO=bar, label a.b.c=x)."""
    done = rl.run_rl("run", "-d", "--name", "box", "-e", "FOO=bar", "-l", "a.b.c=x", "busybox", *SLEEPER, env=env)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 10
    while "ready" not in rl.run_rl("logs", "box", env=env).stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    yield done.stdout.strip()
    rl.run_rl("rm", "-f", "box", env=env)


def mapping_mode() -> str:
    from rootless.runtime import idmap

    return idmap.choose().mode


def test_exec_echo_status_env_workdir(rlx, box):
    done = rlx("exec", "box", "echo", "hi")
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr
    assert rlx("exec", "box", "sh", "-c", "exit 7").returncode == 7
    assert rlx("container", "exec", box[:12], "true").returncode == 0
    env = rlx("exec", "-e", "A=1", "-e", "FOO=over", "box", "sh", "-c", 'echo $A $FOO; pwd').stdout
    assert env.splitlines() == ["1 over", "/"]
    assert rlx("exec", "box", "sh", "-c", "echo $FOO").stdout == "bar\n"
    assert rlx("exec", "-w", "/tmp", "box", "pwd").stdout == "/tmp\n"
    # options stop at the container: -w belongs to the command
    assert rlx("exec", "box", "echo", "-w", "/x").stdout == "-w /x\n"
    missing = rlx("exec", "box", "nope")
    assert missing.returncode == 127 and 'exec: "nope": executable file not found in $PATH' in missing.stderr
    assert rlx("exec", "box", "/etc/passwd").returncode == 126


def test_exec_joins_the_namespaces(rlx, box):
    ours = rlx("exec", "box", "sh", "-c", "hostname; for n in 1/ns/pid self/ns/pid 1/ns/mnt self/ns/mnt; do readlink /proc/$n; done").stdout.split()
    assert ours[0] == box[:12]
    assert ours[1] == ours[2] and ours[3] == ours[4]
    assert rlx("exec", "box", "sh", "-c", "ps -o comm | grep -c '^sleep\\|^sh'").stdout.strip() != "0"
    # the file the exec writes is seen by the container's own process
    assert rlx("exec", "box", "sh", "-c", "echo x > /tmp/mark").returncode == 0
    assert rlx("exec", "box", "cat", "/tmp/mark").stdout == "x\n"


def test_exec_user(rlx, box):
    if mapping_mode() == "single":
        done = rlx("exec", "-u", "nobody", "box", "id", "-u")
        assert done.returncode != 0
    else:
        assert rlx("exec", "-u", "nobody", "box", "id", "-u").stdout == "65534\n"
        assert rlx("exec", "-u", "1000:1000", "box", "sh", "-c", "id -u; id -g").stdout == "1000\n1000\n"
        caps = rlx("exec", "-u", "1000", "box", "grep", "CapEff", "/proc/self/status").stdout
        assert int(caps.split()[1], 16) == 0
    assert rlx("exec", "-u", "0", "box", "id", "-u").stdout == "0\n"
    bad = rlx("exec", "-u", "nosuchuser", "box", "true")
    assert bad.returncode == 125 and "unable to find user nosuchuser" in bad.stderr


def test_exec_privileged_caps(rlx, box):
    def capbnd(*flags):
        done = rlx("exec", *flags, "box", "grep", "CapBnd", "/proc/self/status")
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[1], 16)
    assert not capbnd() & (1 << 21)
    assert capbnd("--privileged") & (1 << 21)


def test_exec_tty(env, box):
    import pexpect

    cmd = rl.rl_command()
    child = pexpect.spawn(cmd[0], [*cmd[1:], "exec", "-it", "box", "sh"], env=env, timeout=15,
                          encoding="utf-8")
    child.sendline("tty; echo $TERM; exit 5")
    child.expect("/dev/pts/")
    child.expect("xterm")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5


def test_exec_detach(rlx, box):
    done = rlx("exec", "-d", "box", "sh", "-c", "sleep 0.2; echo done > /tmp/detached")
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    deadline = time.monotonic() + 10
    while rlx("exec", "box", "cat", "/tmp/detached").stdout != "done\n":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_exec_stdin(rlx, box):
    assert rlx("exec", "-i", "box", "cat", input="piped\n").stdout == "piped\n"
    assert rlx("exec", "box", "cat", input="not read\n").stdout == ""


def test_exec_not_running_and_missing(rlx):
    cid = rlx("create", "--name", "stopped", "busybox", "true").stdout.strip()
    try:
        done = rlx("exec", "stopped", "true")
        assert done.returncode == 1
        assert f"container {cid} is not running" in done.stderr
        assert rlx("start", "-a", "stopped").returncode == 0
        assert rlx("exec", "stopped", "true").returncode == 1
    finally:
        rlx("rm", "-f", "stopped")
    assert "No such container: nosuch" in rlx("exec", "nosuch", "true").stderr


def test_inspect_running(rlx, box, env):
    done = rlx("inspect", "box")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[\n    {\n        \"Id\": ")
    [view] = json.loads(done.stdout)
    assert view["Id"] == box and view["Name"] == "/box"
    assert view["Path"] == "sh" and view["Args"] == SLEEPER[1:]
    state = view["State"]
    assert state["Status"] == "running" and state["Running"] is True and state["ExitCode"] == 0
    assert os.path.exists(f"/proc/{state['Pid']}")
    assert view["Config"]["Cmd"] == SLEEPER and view["Config"]["Image"] == "busybox"
    assert "FOO=bar" in view["Config"]["Env"] and view["Config"]["Labels"]["a.b.c"] == "x"
    assert view["Image"].startswith("sha256:")
    assert view["HostConfig"]["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert view["GraphDriver"]["Name"] == view["Driver"] in ("overlay", "fuse-overlayfs", "vfs")
    assert view["HostnamePath"].endswith("/hostname") and "Networks" in view["NetworkSettings"]
    assert json.loads(rlx("container", "inspect", box[:10]).stdout)[0]["Id"] == box


def test_inspect_formats(rlx, box):
    pid = rlx("inspect", "-f", "{{ .State.Pid }}", "box").stdout.strip()
    assert pid.isdigit() and os.path.exists(f"/proc/{pid}")
    assert rlx("inspect", "-f", "{{.Name}} {{.State.Running}}", "box").stdout == "/box true\n"
    ips = rlx("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "box")
    assert ips.returncode == 0, ips.stderr
    assert rlx("inspect", "--format", "{{json .Config.Cmd}}", "box").stdout == json.dumps(SLEEPER, separators=(",", ":")) + "\n"
    assert rlx("inspect", "-f", "{{index .Config.Labels \"a.b.c\"}}", "box").stdout == "x\n"
    assert rlx("inspect", "-f", "{{upper .State.Status}}", "box").stdout == "RUNNING\n"
    two = rlx("inspect", "-f", "{{.Id}}", "box", "busybox")
    assert two.returncode == 0 and two.stdout.splitlines()[0] == box
    assert two.stdout.splitlines()[1].startswith("sha256:")
    image = json.loads(rlx("inspect", "--type", "image", "busybox").stdout)[0]
    assert image["Id"].startswith("sha256:") and "RepoTags" in image


def test_inspect_errors(rlx, box):
    missing = rlx("inspect", "nosuch")
    assert missing.returncode == 1 and "Error: No such object: nosuch" in missing.stderr
    assert missing.stdout == "[]\n"
    assert "No such container: nosuch" in rlx("container", "inspect", "nosuch").stderr
    assert rlx("inspect", "--type", "image", "box").returncode == 1
    part = rlx("inspect", "-f", "{{.Name}}", "box", "nosuch")
    assert (part.returncode, part.stdout) == (1, "/box\n")
    field = rlx("inspect", "-f", "{{.Nope}}", "box")
    assert field.returncode == 1 and 'map has no entry for key "Nope"' in field.stderr
    syntax = rlx("inspect", "-f", "{{.Name", "box")
    assert syntax.returncode == 64 and "template parsing error" in syntax.stderr


def test_inspect_exited(rlx):
    assert rlx("run", "--name", "ended", "busybox", "sh", "-c", "exit 3").returncode == 3
    try:
        state = json.loads(rlx("inspect", "ended").stdout)[0]["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 3 and state["Pid"] == 0
        assert state["Running"] is False and not state["FinishedAt"].startswith("0001")
        size = json.loads(rlx("inspect", "-s", "ended").stdout)[0]
        assert size["SizeRw"] >= 0 and size["SizeRootFs"] > 0
    finally:
        rlx("rm", "ended")


@pytest.mark.skipif(shutil.which("nsenter") is None, reason="util-linux nsenter missing")
def test_nsenter_with_the_inspected_pid(rlx, box):
    """The seed's "production way": nsenter into the pid `inspect` gives (with -U: own userns)."""
    pid = rlx("inspect", "-f", "{{.State.Pid}}", "box").stdout.strip()
    mine = os.getuid() == 0 and mapping_mode() == "root"
    flags = ["-m", "-u", "-i", "-n", "-p"] if mine else ["-U", "-m", "-u", "-i", "-n", "-p"]
    if mapping_mode() == "single":  # setgroups is denied in a single-id user namespace
        flags.append("--preserve-credentials")
    done = subprocess.run(["nsenter", "-t", pid, *flags, "--", "/bin/sh", "-c", "hostname; cat /tmp/mark 2>/dev/null; echo $$"],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines[0] == rlx("inspect", "-f", "{{.Config.Hostname}}", "box").stdout.strip()
    assert re.fullmatch(r"\d+", lines[-1])


def test_ps_format_through_the_template_engine(rlx, box):
    table = rlx("ps", "--format", "table {{.Names}}\\t{{.Label \"a.b.c\"}}\\t{{.State}}").stdout.splitlines()
    assert table[0].split() == ["NAMES", "c", "STATE"]
    assert ["box", "x", "running"] in [line.split() for line in table[1:]]
    assert rlx("ps", "--filter", "name=^box$", "--format", "{{.ID}} {{upper .State}}").stdout == f"{box[:12]} RUNNING\n"
    row = json.loads(rlx("ps", "--filter", "name=^box$", "--format", "json").stdout)
    assert row["Names"] == "box" and row["Labels"] == "a.b.c=x"
    bad = rlx("ps", "--format", "{{.Nope}}")
    assert bad.returncode == 1 and "can't evaluate field Nope in type *formatter.ContainerContext" in bad.stderr


#: what `rl exec` may import beyond the entry, the fast path and the Context (docs/performance.md)
EXEC_MODULES = {"rootless.cli.commands", "rootless.cli.commands.exec", "rootless.engine",
                "rootless.engine.lifecycle", "rootless.engine.lifecycle.exec", "_json", "rootless.runtime",
                "rootless.runtime.exec", "rootless.runtime.plan", "rootless.runtime.caps",
                "rootless.fastjson", "rootless.cli.quick_exit",
                "rootless.runtime.children"}  # no cffi, signal, json: the C helper joins


@pytest.mark.parametrize("args", [["box", "true"], ["-i", "-e", "A=1", "-e", "HOME", "-w", "/tmp", "box", "true"]])
def test_exec_imports_only_what_it_needs(env, box, args):
    """The start-up path: the same interpreter that ran the exec lists what it imported."""
    code = ("import sys\n"
            "from rootless.cli import main, fastpath, binding\nimport rootless.context\n"
            f"fastpath.analyse(['exec', *{args!r}])\n"
            "before = set(sys.modules)\n"
            f"status = main.main(['exec', *{args!r}])\n"
            "print(status, *sorted(set(sys.modules) - before))\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    status, *extra = done.stdout.split()
    assert status == "0"
    assert set(extra) <= EXEC_MODULES, sorted(set(extra) - EXEC_MODULES)


def test_exec_writes_nothing(env, rlx, box):
    """The default path reads the record and config.json and writes no file of the store."""
    state = os.path.join(env["RL_ROOT"], "containers", box, "state.json")
    before = os.stat(state)
    assert rlx("exec", "box", "true").returncode == 0
    after = os.stat(state)
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)


def test_exec_with_a_stale_record(env, rlx):
    """A record that still says running for a container process that is gone: the store's way
    (truth.current) finds out, writes it down, and exec says docker's "not running"."""
    cid = rlx("run", "-d", "--name", "stale", "busybox", "sleep", "60").stdout.strip()
    try:
        path = os.path.join(env["RL_ROOT"], "containers", cid, "state.json")
        with open(path) as f:
            original = f.read()
        record = json.loads(original)
        record["State"]["Process"]["Start"] += 1  # as if the pid had been reused
        record["State"]["Monitor"]["Start"] += 1   # and its monitor gone
        with open(path, "w") as f:
            json.dump(record, f, separators=(",", ":"))
        done = rlx("exec", "stale", "true")
        assert done.returncode == 1 and f"container {cid} is not running" in done.stderr, done.stderr
        assert rl.container_record(env, cid)["State"]["Status"] == "exited"  # written down
        with open(path, "w") as f:  # the truth again, so that rm -f stops the real process
            f.write(original)
    finally:
        rlx("rm", "-f", "stale")


# --- the C helper (_rl_exec) that `rl exec` becomes -----------------------------------------------
def test_exec_failures_are_docker_s(rlx, box):
    cases = [(["nope"], 127, 'Error: exec: "nope": executable file not found in $PATH\n'),
             (["/no/such"], 127, 'Error: exec: "/no/such": stat /no/such: no such file or directory\n'),
             (["/etc"], 126, 'Error: exec: "/etc": is a directory\n'),
             (["/etc/passwd"], 126, 'Error: exec: "/etc/passwd": permission denied\n')]
    for args, code, stderr in cases:
        for detach in ([], ["-d"]):  # -d: the process's stdio is /dev/null, the error still reaches us
            done = rlx("exec", *detach, "box", *args)
            assert (done.returncode, done.stderr, done.stdout) == (code, stderr, ""), (args, detach)


@pytest.mark.parametrize("script, code", [("kill -TERM $$", 143), ("kill -KILL $$", 137), ("exit 300", 44)])
def test_exec_exit_code_of_a_signalled_process(rlx, box, script, code):
    assert rlx("exec", "box", "sh", "-c", script).returncode == code


def test_exec_becomes_the_helper_and_forwards_signals(env, box):
    """`rl exec` execs into _rl_exec (no interpreter left waiting); a SIGTERM sent to it reaches
    the process in the container, whose status is rl's."""
    import signal

    script = "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done"
    p = subprocess.Popen([*rl.rl_command(), "exec", "box", "sh", "-c", script], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert p.stdout.readline() == "ready\n"
        assert os.path.basename(os.readlink(f"/proc/{p.pid}/exe")) == "_rl_exec"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    finally:
        p.kill()
    assert (p.returncode, out) == (42, "got TERM\n"), err


def test_exec_into_a_reused_pid_is_refused_by_the_helper(env, box):
    """The helper checks the start time itself (the record could go stale between rl's look and
    the join): a plan naming the container's pid with another start time runs nothing."""
    from rootless.runtime import exec as rt
    from rootless.runtime import plan

    pid = int(rl.container_record(env, box)["State"]["Pid"])
    pairs = rt.plan_pairs(pid, rt.start_time(pid) + 1, {"args": ["true"]}, container_id=box)
    fd = plan.memfd(plan.encode(pairs))
    try:
        done = subprocess.run([rt.binary(), str(fd)], pass_fds=[fd], capture_output=True, text=True, timeout=20)
    finally:
        os.close(fd)
    assert (done.returncode, done.stderr) == (1, f"Error: container {box} is not running\n")
