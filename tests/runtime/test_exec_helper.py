"""The process settings of native/rl_process.c, as the exec helper _rl_exec applies them
(runtime.exec.join_and_run against our own live process: nothing to join, the settings and the
exec are the C code's): env, cwd, umask, rlimits, no_new_privs, signal dispositions, uid/gid and
capabilities (root), docker's 125/126/127 reports, exit codes, signal forwarding."""

from __future__ import annotations

import os
import resource
import signal
import time

import pytest

from rootless.errors import ContainerCommandError, ContainerSetupError
from rootless.runtime import exec as rt
from rootless.runtime import plan as plan_mod
from rootless.runtime.state import pid_start_time

ME = {"uid": os.getuid(), "gid": os.getgid()}
ROOT = os.getuid() == 0


def run(proc: dict, tmp_path, **kw) -> tuple[int, str]:
    """join_and_run on ourselves; (exit code, what the process wrote on stdout)."""
    out = tmp_path / "out"
    with open(out, "wb") as f:
        code = rt.join_and_run(os.getpid(), pid_start_time(os.getpid()), {"user": ME, **proc},
                               stdio=(None, f.fileno(), 2), **kw)
    return code, out.read_text()


def sh(script: str, **proc) -> dict:
    return {"args": ["/bin/sh", "-c", script], **proc}


def test_env_entries_replace_by_name_and_path_is_added(tmp_path):
    code, out = run(sh("env | sort", env=["A=1", "junk", "B=x=y", "A=2"]), tmp_path)
    assert code == 0
    assert out.splitlines() == sorted(["A=2", "B=x=y", "PATH=" + rt_default_path(), "PWD=/"])


def rt_default_path() -> str:
    """native/rl_process.h's RL_DEFAULT_PATH (docker's default when the image sets no PATH)."""
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def test_cwd_is_made_and_entered_umask_defaults_to_022(tmp_path):
    cwd = tmp_path / "a" / "b"
    code, out = run(sh("pwd; umask", cwd=str(cwd)), tmp_path)
    assert (code, out.split()) == (0, [str(cwd), "0022"])
    code, out = run(sh("umask", user={**ME, "umask": 0o077}), tmp_path)
    assert out.strip() == "0077"


def test_cwd_that_is_a_file_is_a_setup_error(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ContainerSetupError, match=f"container process setup: mkdir {tmp_path}/f: File exists"):
        run(sh("true", cwd=str(tmp_path / "f")), tmp_path)


def test_rlimits_no_new_privs_and_signals_reset(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    proc = sh("ulimit -n; grep -E '^(NoNewPrivs|SigIgn|SigBlk)' /proc/self/status",
              rlimits=[{"type": "RLIMIT_NOFILE", "soft": 100, "hard": hard}], noNewPrivileges=True)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # inherited by the helper: undone
    try:
        code, out = run(proc, tmp_path)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    lines = out.split("\n")
    assert code == 0 and lines[0] == "100"
    status = dict(line.split(":\t") for line in lines[1:] if line)
    assert status == {"NoNewPrivs": "1", "SigIgn": "0" * 16, "SigBlk": "0" * 16}  # SIGPIPE: CPython ignores it


def test_a_raised_rlimit_is_a_setup_error_named_like_process_py(tmp_path):
    if ROOT:
        pytest.skip("root may raise its hard limit")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with pytest.raises(ContainerSetupError, match=f"setrlimit RLIMIT_NOFILE {hard + 1}:{hard + 1}: Operation not permitted"):
        run(sh("true", rlimits=[{"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}]), tmp_path)


@pytest.mark.parametrize("args, code, message", [
    (["nosuch"], 127, 'exec: "nosuch": executable file not found in $PATH'),
    (["/no/such"], 127, 'exec: "/no/such": stat /no/such: no such file or directory'),
    (["/etc"], 126, 'exec: "/etc": is a directory'),
    (["/etc/passwd"], 126, 'exec: "/etc/passwd": permission denied'),
    ([""], 127, 'exec: "": executable file not found in $PATH'),
])
def test_docker_codes_and_messages(tmp_path, args, code, message):
    with pytest.raises(ContainerCommandError) as info:
        run({"args": args}, tmp_path)
    assert (info.value.exit_code, info.value.message) == (code, message)


def test_exec_format_error(tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x7fELF garbage")
    junk.chmod(0o755)
    with pytest.raises(ContainerCommandError) as info:
        run({"args": [str(junk)]}, tmp_path)
    assert (info.value.exit_code, info.value.message) == (126, f'exec: "{junk}": exec format error')


def test_path_lookup_uses_the_process_path_and_skips_non_executables(tmp_path):
    bins = tmp_path / "bin"
    bins.mkdir()
    for name, mode in (("tool", 0o755), ("data", 0o644)):
        (bins / name).write_text("#!/bin/sh\necho tool ran\n")
        (bins / name).chmod(mode)
    code, out = run({"args": ["tool"], "env": [f"PATH=/nonexistent:{bins}"]}, tmp_path)
    assert (code, out) == (0, "tool ran\n")
    with pytest.raises(ContainerCommandError) as info:
        run({"args": ["data"], "env": [f"PATH={bins}"]}, tmp_path)
    assert info.value.exit_code == 127


@pytest.mark.parametrize("script, code", [("exit 7", 7), ("kill -TERM $$", 143), ("kill -KILL $$", 137)])
def test_exit_codes(tmp_path, script, code):
    assert run(sh(script), tmp_path)[0] == code


def test_detach_returns_at_once(tmp_path):
    t = time.monotonic()
    assert rt.join_and_run(os.getpid(), pid_start_time(os.getpid()),
                           sh(f"sleep 0.5; touch {tmp_path}/done", user=ME), detach=True) == 0
    assert time.monotonic() - t < 0.45 and not (tmp_path / "done").exists()
    for _ in range(100):
        if (tmp_path / "done").exists():
            break
        time.sleep(0.02)
    assert (tmp_path / "done").exists()


def test_the_helper_forwards_signals_to_the_process(tmp_path):
    """SIGTERM to _rl_exec reaches the process (its trap exits 42): the helper's exit code."""
    pairs = rt.plan_pairs(os.getpid(), pid_start_time(os.getpid()),
                          sh(f"trap 'exit 42' TERM; touch {tmp_path}/ready; while :; do sleep 0.02; done", user=ME))
    fd = plan_mod.memfd(plan_mod.encode(pairs))
    try:
        helper = rt._spawn(fd, [fd])
    finally:
        os.close(fd)
    for _ in range(250):
        if (tmp_path / "ready").exists():
            break
        time.sleep(0.02)
    os.kill(helper, signal.SIGTERM)
    assert os.waitstatus_to_exitcode(os.waitpid(helper, 0)[1]) == 42


@pytest.mark.skipif(not ROOT, reason="changing uid/gid and the bounding set needs root")
def test_user_groups_and_capabilities_as_root(tmp_path):
    os.chmod(tmp_path, 0o777)
    proc = sh("id -u; id -g; id -G; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status",
              user={"uid": 65534, "gid": 65534, "additionalGids": [10, 20]},
              capabilities={"bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
                            "effective": ["CAP_KILL"], "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                            "inheritable": ["CAP_NET_BIND_SERVICE"], "ambient": ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"]})
    code, out = run({**proc, "user": proc["user"]}, tmp_path)
    lines = out.split("\n")
    assert code == 0 and lines[:3] == ["65534", "65534", "65534 10 20"]
    caps = dict(line.split(":\t") for line in lines[3:] if line)
    bind, kill, chown = 1 << 10, 1 << 5, 1 << 0
    # through execve as a non-root uid: permitted/effective = ambient (capabilities(7))
    assert int(caps["CapBnd"], 16) == bind | kill | chown
    assert int(caps["CapInh"], 16) == bind and int(caps["CapAmb"], 16) == bind
    assert int(caps["CapPrm"], 16) == bind and int(caps["CapEff"], 16) == bind


@pytest.mark.skipif(ROOT, reason="root may set any supplementary groups")
def test_groups_an_unprivileged_user_cannot_set_are_a_setup_error(tmp_path):
    with pytest.raises(ContainerSetupError, match=r"^container process setup: setgroups \[10, 20\]: Operation not permitted$"):
        run(sh("true", user={**ME, "additionalGids": [10, 20]}), tmp_path)


def test_no_groups_wished_tolerates_a_refused_setgroups(tmp_path):
    """A single-id user namespace (or no CAP_SETGID) refuses setgroups: fine when none are asked."""
    assert run(sh("true", user=ME), tmp_path)[0] == 0
