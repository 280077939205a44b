"""`rl info` and `rl system check` against what the kernel, /proc, /etc/subuid and the tools say.

Every expected value is found here independently of rl's probes: os.uname, /proc files, our own
parse of /etc/subuid and /etc/subgid, util-linux (findmnt, unshare), the tools' --version output.
Run as root, as rltest (subuid range) and as rltest1 (none): the expectations follow the user.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def info_json(run_rl, env=None, *args) -> dict:
    proc = run_rl(*args, "info", "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def info(run_rl, rl_env) -> dict:
    return info_json(run_rl, rl_env)


def sysctl(name: str) -> int | None:
    path = Path("/proc/sys") / name.replace(".", "/")
    return int(path.read_text()) if path.exists() else None


def own_ranges(path: str) -> list[dict]:
    """This user's lines of a subuid/subgid file, parsed here (subuid(5))."""
    me = {pwd.getpwuid(os.getuid()).pw_name, str(os.getuid())}
    ranges = []
    for line in Path(path).read_text().splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in me:
            ranges.append({"Start": int(parts[1]), "Size": int(parts[2])})
    return ranges


def helper_is_setuid(name: str) -> bool:
    path = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    return bool(path) and bool(os.stat(path).st_mode & stat.S_ISUID)


def fstype_of(path: Path) -> str:
    return subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "--target", str(path)], capture_output=True,
                          text=True, check=True).stdout.split("\n")[0].strip()


def test_host_facts_match_the_kernel(info):
    uname = os.uname()
    assert info["KernelVersion"] == uname.release
    assert info["Architecture"] == uname.machine
    assert info["NCPU"] == len(os.sched_getaffinity(0))
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    assert info["MemTotal"] == int(meminfo["MemTotal"].split()[0]) * 1024
    pretty = next(line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                  if line.startswith("PRETTY_NAME="))
    assert info["OperatingSystem"] == pretty
    from rootless import __version__

    assert info["ServerVersion"] == __version__


def test_user_and_user_namespaces(info, tmp_path):
    assert info["User"] == {"Uid": os.getuid(), "Gid": os.getgid(), "Name": pwd.getpwuid(os.getuid()).pw_name,
                            "Rootless": os.getuid() != 0}
    # util-linux's unshare: a user+mount namespace with a mount inside, tried independently
    tried = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "mount", "-t", "tmpfs", "none",
                            str(tmp_path)], capture_output=True)
    assert info["UserNamespaces"]["Works"] is (tried.returncode == 0)
    for name, value in info["UserNamespaces"]["Sysctls"].items():
        assert value == sysctl(name), name


def test_id_mapping_follows_etc_subuid(info):
    uid, gid = os.getuid(), os.getgid()
    subuid, subgid = own_ranges("/etc/subuid"), own_ranges("/etc/subgid")
    m = info["IdMapping"]
    assert (m["SubuidRanges"], m["SubgidRanges"]) == (subuid, subgid)
    if uid == 0:
        assert m["Mode"] == "root"
        assert m["UidMappings"] == [{"containerID": 0, "hostID": 0, "size": 4294967295}]
    elif subuid and subgid and helper_is_setuid("newuidmap") and helper_is_setuid("newgidmap"):
        assert m["Mode"] == "subuid"
        assert m["UidMappings"][0] == {"containerID": 0, "hostID": uid, "size": 1}
        assert m["UidMappings"][1:] == [{"containerID": 1, "hostID": subuid[0]["Start"], "size": subuid[0]["Size"]}]
        assert m["GidMappings"][0] == {"containerID": 0, "hostID": gid, "size": 1}
        assert m["Consequence"] is None
    else:
        assert m["Mode"] == "single"
        assert m["UidMappings"] == [{"containerID": 0, "hostID": uid, "size": 1}]
        assert m["Consequence"] == "files in images are all owned by root inside; chown to other ids fails"
        assert any("chown to other ids fails" in w for w in info["Warnings"])
    assert m["Works"] is True
    for name in ("newuidmap", "newgidmap"):
        assert m[name.capitalize()]["Path"] == shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
        assert m[name.capitalize()]["Usable"] is helper_is_setuid(name)


def overlay_by_hand(base: Path) -> bool:
    """Mount an overlay with util-linux's unshare (in a user namespace unless root)."""
    dirs = [base / d for d in ("lower", "upper", "work", "merged")]
    for d in dirs:
        d.mkdir()
    opts = f"lowerdir={dirs[0]},upperdir={dirs[1]},workdir={dirs[2]}"
    cmd = ["unshare", "--mount"] if os.getuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount"]
    opts += "" if os.getuid() == 0 else ",userxattr"
    ok = subprocess.run([*cmd, "mount", "-t", "overlay", "overlay", "-o", opts, str(dirs[3])],
                        capture_output=True).returncode == 0
    for d in dirs:
        d.chmod(0o700)
    return ok


def test_storage(info, rl_env, tmp_path):
    s = info["Storage"]
    assert s["Root"] == rl_env["RL_ROOT"] == info["DockerRootDir"]
    assert s["RootSource"] == "RL_ROOT"
    assert s["Filesystem"] == fstype_of(tmp_path)  # RL_ROOT does not exist yet: its parent counts
    assert s["Writable"] is True
    probe = tmp_path / "overlay"
    probe.mkdir()
    works = overlay_by_hand(probe)
    assert s["Overlay"]["Works"] is works
    assert s["Driver"] == info["Driver"] == ("overlay" if works else s["Driver"])
    fuse = shutil.which("fuse-overlayfs")
    assert s["FuseOverlayfs"]["Path"] == fuse
    if fuse:
        out = subprocess.run([fuse, "--version"], capture_output=True, text=True)
        line = next(l for l in (out.stdout + out.stderr).splitlines() if l.startswith("fuse-overlayfs"))
        assert s["FuseOverlayfs"]["Version"] == line.split()[-1]
    assert s["DevFuse"]["Usable"] is can_open("/dev/fuse")
    assert not list(tmp_path.glob(".rl-probe-*")), "the probe dir was left behind"


def can_open(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_RDWR))
        return True
    except OSError:
        return False


def test_network(info):
    n = info["Network"]
    slirp = shutil.which("slirp4netns")
    assert n["Slirp4netns"]["Path"] == slirp
    if slirp:
        first = subprocess.run([slirp, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        assert first == f"slirp4netns version {n['Slirp4netns']['Version']}"
    assert n["Pasta"]["Path"] == shutil.which("pasta")
    assert n["DevNetTun"]["Usable"] is can_open("/dev/net/tun")
    assert n["IpUnprivilegedPortStart"] == sysctl("net.ipv4.ip_unprivileged_port_start")


def test_cgroups(info):
    c = info["Cgroups"]
    mounts = subprocess.run(["findmnt", "-n", "-l", "-o", "FSTYPE,TARGET"], capture_output=True, text=True,
                            check=True).stdout.split("\n")
    v2 = [line.split()[1] for line in mounts if line.startswith("cgroup2 ")]
    v1 = [line for line in mounts if line.startswith("cgroup ")]
    assert c["Version"] == ("hybrid" if v1 and v2 else "v2" if v2 else "v1" if v1 else "none")
    assert info["CgroupVersion"] == ("2" if c["Version"] == "v2" else "1")
    if not v2:
        return
    assert c["V2Mountpoint"] in v2
    own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
    assert c["Path"] == own
    child = Path(c["V2Mountpoint"] + own.rstrip("/")) / f"rl-test-{os.getpid()}"
    try:
        child.mkdir()
        child.rmdir()
        can_create = True
    except OSError:
        can_create = False
    assert c["Delegated"] is (can_create and os.access(child.parent / "cgroup.subtree_control", os.W_OK))
    if not c["Limits"]:
        assert c["Consequence"] == "resource limits unavailable; rl runs without cgroups"


def test_runtime_dir_and_config(run_rl, rl_env):
    info = info_json(run_rl, rl_env)
    assert info["RuntimeDir"]["XdgRuntimeDir"] == rl_env["XDG_RUNTIME_DIR"]
    assert info["RuntimeDir"]["Runroot"] == rl_env["XDG_RUNTIME_DIR"] + "/rl"
    assert info["RuntimeDir"]["RunrootSource"] == "XDG_RUNTIME_DIR"
    config = Path(rl_env["XDG_CONFIG_HOME"]) / "rl" / "config.toml"
    assert info["Config"] == {"Path": str(config), "Exists": False}
    env = dict(rl_env)
    env.pop("XDG_RUNTIME_DIR")
    config.parent.mkdir(parents=True)
    config.write_text("")
    info = info_json(run_rl, env)
    assert info["RuntimeDir"]["XdgRuntimeDir"] is None
    assert info["RuntimeDir"]["Runroot"] == f"/tmp/rl-{os.getuid()}"
    assert info["RuntimeDir"]["RunrootSource"] == "fallback"
    assert info["Config"]["Exists"] is True


def test_root_option_and_tmpfs(run_rl, rl_env):
    """A store root on /dev/shm is reported as tmpfs (the real filesystem, nothing faked)."""
    root = tempfile.mkdtemp(prefix="rl-info-", dir="/dev/shm")
    try:
        info = info_json(run_rl, rl_env, "--root", root)
        assert info["Storage"]["Root"] == root
        assert info["Storage"]["RootSource"] == "--root"
        assert info["Storage"]["Filesystem"] == "tmpfs" == fstype_of(Path(root))
        assert info["Storage"]["Mountpoint"] == "/dev/shm"
        assert os.listdir(root) == []  # the probe dir is gone
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_human_output(run_rl, rl_env):
    proc = run_rl("info")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for header in ("Client: rl", "Host:", "User:", "ID Mapping:", "Storage:", "Network:", "Cgroups:",
                   "Runtime Dir:", "Registry Config:"):
        assert header in lines
    expected = [f" Kernel Version: {os.uname().release}", f" Uid: {os.getuid()}", f" Root: {rl_env['RL_ROOT']} (from RL_ROOT)",
                f" Runroot: {rl_env['XDG_RUNTIME_DIR']}/rl (from XDG_RUNTIME_DIR)", " Mode: "]
    for line in expected:
        assert any(l.startswith(line) for l in lines), line
    same = run_rl("system", "info", "-f", "json")
    assert same.returncode == 0 and json.loads(same.stdout)["KernelVersion"] == os.uname().release


def test_go_template_over_the_report(run_rl):
    """`docker info --format '{{.ServerVersion}}'`: the same template engine as inspect and ps,
    over the JSON report's fields; an unknown field or bad syntax is docker's template error."""
    proc = run_rl("info", "--format", "{{.ServerVersion}} {{.Driver}}|{{json .IdMapping.Mode}}")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(run_rl("info", "--format", "json").stdout)
    assert proc.stdout == f"{report['ServerVersion']} {report['Driver']}|{json.dumps(report['IdMapping']['Mode'])}\n"
    missing = run_rl("info", "--format", "{{.NoSuchField}}")
    assert missing.returncode != 0 and 'map has no entry for key "NoSuchField"' in missing.stderr
    bad = run_rl("info", "--format", "{{.Driver")
    assert bad.returncode != 0 and "template parsing error" in bad.stderr


def test_system_check_passes_here(run_rl):
    proc = run_rl("system", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0] == "rl can run containers on this host"


def test_system_check_fails_without_a_writable_store(run_rl):
    proc = run_rl("--root", "/proc/rl-store", "system", "check")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == "rl cannot run containers on this host:"
    assert "ERROR: the store root /proc/rl-store is not writable" in proc.stdout
    assert "--root /local/dir or RL_ROOT" in proc.stdout


def test_collect_is_fast(rl_env):
    """The probes themselves (no CLI start-up) take well under a second."""
    import time

    from rootless.context import Context
    from rootless.engine import host

    ctx = Context.create(env=rl_env)
    start = time.monotonic()
    report = host.collect(ctx.paths, ctx.env)
    assert time.monotonic() - start < 1.0
    assert report["KernelVersion"] == os.uname().release


# Run by the test below with the venv's python: in a user namespace with the identity map (only
# root may write one), lower user.max_user_namespaces to 0 for everything below it, become an
# unprivileged uid, and exec rl. The kernel then refuses rl's own user namespace: ENOSPC.
_DENIED_USERNS = """
import os, sys
from rootless.runtime import idmap, userns
uid, argv = int(sys.argv[1]), sys.argv[2:]
pid, release = userns.spawn_in_userns(idmap.choose(), 0, new_userns=True)
if pid == 0:
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    os.execv(argv[0], argv)
release()
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.skipif(os.getuid() != 0, reason="only root may write the identity map that lets the test "
                    "lower user.max_user_namespaces in a child user namespace")
def test_info_explains_refused_user_namespaces(rl_env):
    import sys

    from fixtures.rl import rl_command

    nobody = 65534
    home = Path(tempfile.mkdtemp(prefix="rl-denied-"))
    try:
        os.chown(home, nobody, nobody)
        env = dict(rl_env, HOME=str(home), RL_ROOT=str(home / "root"), XDG_CONFIG_HOME=str(home / "config"))
        env.pop("XDG_RUNTIME_DIR")

        def run(*args):
            return subprocess.run([sys.executable, "-c", _DENIED_USERNS, str(nobody), *rl_command(), *args],
                                  env=env, capture_output=True, text=True, timeout=60)
        info = json.loads(run("info", "--format", "json").stdout)
        check = run("system", "check")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    ns = info["UserNamespaces"]
    assert info["User"]["Uid"] == nobody and info["User"]["Rootless"] is True
    assert ns["Works"] is False and "No space left on device" in ns["Error"]
    assert ns["Sysctls"]["user.max_user_namespaces"] == 0
    assert ns["Reason"] == "user.max_user_namespaces is 0"
    assert "sysctl -w user.max_user_namespaces=" in ns["Fix"]
    assert info["Storage"]["Writable"] is True and info["Storage"]["Driver"] == "none"
    assert check.returncode == 1, check.stdout + check.stderr
    assert check.stdout.splitlines()[1].startswith("ERROR: unprivileged user namespaces do not work")
    assert "fix: as root: sysctl -w user.max_user_namespaces=" in check.stdout
