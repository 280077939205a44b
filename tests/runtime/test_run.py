"""The runtime end to end: a busybox bundle run in the foreground (namespaces, id mapping,
overlay rootfs, mounts, process settings, exit codes). Runs as root, as a subuid user and as a
user without subordinate ids."""

from __future__ import annotations

import os

import pytest

from rootless.errors import ContainerCommandError, ContainerSetupError
from rootless.runtime import caps

pytestmark = pytest.mark.integration


def test_echo_hi(ctr):
    assert ctr.run("echo", "hi") == (0, "hi\n", "")


@pytest.mark.parametrize("status", [0, 1, 42, 255])
def test_exit_status_passes_through(ctr, status):
    assert ctr.run("sh", "-c", f"exit {status}")[0] == status


def test_pid_1_ignores_its_own_sigkill(ctr):
    """The kernel protects a pid namespace's init from signals sent inside it."""
    assert ctr.run("sh", "-c", "kill -9 $$; echo alive")[1] == "alive\n"


def test_killed_by_signal_is_128_plus_under_init(ctr):
    ctr.config["annotations"]["rl.init"] = "true"
    assert ctr.run("sh", "-c", "kill -9 $$")[0] == 137


def test_command_not_found_is_127(ctr):
    with pytest.raises(ContainerCommandError) as info:
        ctr.run("nosuchcommand")
    assert info.value.exit_code == 127
    assert info.value.message == 'exec: "nosuchcommand": executable file not found in $PATH'


def test_missing_path_is_127(ctr):
    with pytest.raises(ContainerCommandError) as info:
        ctr.run("/no/such/file")
    assert info.value.exit_code == 127
    assert "no such file or directory" in info.value.message


def test_not_executable_is_126(ctr):
    with pytest.raises(ContainerCommandError) as info:
        ctr.run("/etc/passwd")
    assert info.value.exit_code == 126
    assert info.value.message == 'exec: "/etc/passwd": permission denied'


def test_state_is_removed_after_run(ctr):
    ctr.run("true")
    assert os.listdir(ctr.state_dir) == []


def test_root_inside(ctr):
    rc, out, _ = ctr.run("id")
    assert rc == 0 and out.startswith("uid=0(root) gid=0(root)")


def test_user_1000_with_groups(ctr, mapping):
    if mapping.mode == "single":
        pytest.skip("only uid 0 exists in a single-id user namespace (no subuid range)")
    ctr.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [33]}
    rc, out, err = ctr.run("id")
    assert (rc, out) == (0, "uid=1000(user) gid=1000(user) groups=33(www-data)\n"), err


def test_unmapped_user_is_a_setup_error(ctr, mapping):
    if mapping.mode != "single":
        pytest.skip("every uid up to 65536 is mapped here")
    ctr.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    with pytest.raises(ContainerSetupError, match="Invalid argument"):
        ctr.run("id")


def test_hostname(ctr):
    assert ctr.run("hostname") == (0, "rltest-ctr\n", "")


def test_pid_1_and_own_proc(ctr):
    rc, out, _ = ctr.run("sh", "-c", "echo $$; cd /proc; echo [0-9]*")
    assert rc == 0 and out.split()[0] == "1"
    assert set(out.split()[1:]) <= {"1", "2"}    # sh and maybe a subshell: nothing of the host


def test_dev(ctr):
    rc, out, err = ctr.run("sh", "-c", "ls /dev; echo x > /dev/null; head -c 4 /dev/zero | wc -c; "
                                       "readlink /dev/ptmx; ls /dev/pts")
    assert rc == 0, err
    names = set(out.split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "fd", "ptmx"} <= names
    assert "4" in names and "pts/ptmx" in names


def test_sys_read_only_and_masked_paths(ctr):
    rc, out, _ = ctr.run("sh", "-c", "touch /sys/x 2>&1; wc -c < /proc/timer_list; "
                                     "(echo 1 > /proc/sys/kernel/hostname) 2>&1; ls /sys/firmware | wc -l")
    lines = [line.strip() for line in out.splitlines()]
    assert rc == 0
    assert lines[0] == "touch: /sys/x: Read-only file system"
    assert lines[1] == "0"          # a masked file: /dev/null over it
    assert "Read-only file system" in lines[2]   # a read-only path
    assert lines[3] == "0"          # a masked directory: an empty read-only tmpfs


def test_loopback_is_up(ctr):
    rc, out, _ = ctr.run("ip", "link", "show", "lo")
    assert rc == 0 and ",UP" in out and "LOWER_UP" in out


def test_readonly_rootfs(ctr):
    ctr.config["root"]["readonly"] = True
    rc, out, _ = ctr.run("sh", "-c", "touch /x 2>&1; touch /dev/shm/ok && echo shm-ok")
    assert "Read-only file system" in out and "shm-ok" in out


def test_bind_mounts_rw_and_ro(ctr, tmp_path):
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "f").write_text("from host\n")
    ctr.config["mounts"] += [
        {"destination": "/rw", "type": "bind", "source": str(rw), "options": ["rbind", "rw"]},
        {"destination": "/data/ro", "type": "bind", "source": str(ro), "options": ["rbind", "ro", "nosuid", "nodev"]},
        {"destination": "/etc/hostname", "type": "bind", "source": str(ro / "f"), "options": ["bind", "ro"]},
    ]
    rc, out, _ = ctr.run("sh", "-c", "echo written > /rw/new; cat /data/ro/f; "
                                     "touch /data/ro/g 2>&1; cat /etc/hostname")
    assert rc == 0
    assert (rw / "new").read_text() == "written\n"
    assert out.count("from host") == 2 and "Read-only file system" in out
    assert not (ro / "g").exists()


def test_tmpfs_mount(ctr):
    ctr.config["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["nosuid", "nodev", "size=1m", "mode=1777"]})
    rc, out, _ = ctr.run("sh", "-c", "grep ' /scratch ' /proc/mounts; stat -c %a /scratch")
    assert rc == 0 and out.startswith("tmpfs /scratch tmpfs") and "size=1024k" in out
    assert out.split()[-1] == "1777"


def test_capabilities_reduced(ctr):
    rc, out, _ = ctr.run("grep", "-E", "^Cap(Eff|Bnd|Inh|Amb)", "/proc/self/status")
    want = caps.mask(caps.DOCKER_DEFAULT)
    got = dict(line.split(":\t") for line in out.splitlines())
    assert rc == 0
    assert int(got["CapEff"], 16) == want and int(got["CapBnd"], 16) == want
    assert int(got["CapAmb"], 16) == 0


def test_cap_drop_takes_effect(ctr):
    script = "echo secret > /tmp/f; chmod 000 /tmp/f; cat /tmp/f 2>&1; echo rc=$?"
    assert ctr.run("sh", "-c", script)[1] == "secret\nrc=0\n"
    keep = [c for c in caps.DOCKER_DEFAULT if c != "CAP_DAC_OVERRIDE"]
    ctr.config["process"]["capabilities"] = {k: keep for k in ("bounding", "effective", "permitted")}
    (ctr.tmp / "ov" / "upper" / "tmp" / "f").unlink()
    assert ctr.run("sh", "-c", script)[1] == "cat: can't open '/tmp/f': Permission denied\nrc=1\n"


def test_no_new_privs_and_rlimits(ctr):
    ctr.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768},
                                        {"type": "RLIMIT_NPROC", "soft": 4000, "hard": 4000}]
    rc, out, _ = ctr.run("sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; grep NoNewPrivs /proc/self/status")
    assert rc == 0 and out.split()[:3] == ["512", "768", "4000"] and out.split()[-1] == "1"


def test_env_cwd_umask(ctr):
    ctr.config["process"]["env"].append("GREETING=hello world")
    ctr.config["process"]["cwd"] = "/var/work"
    ctr.config["process"]["user"]["umask"] = 0o077
    rc, out, _ = ctr.run("sh", "-c", 'echo "$GREETING"; pwd; umask')
    assert (rc, out) == (0, "hello world\n/var/work\n0077\n")


def test_overlay_writes_go_to_upper(ctr, busybox_rootfs):
    rc, _, _ = ctr.run("sh", "-c", "echo new > /etc/created; rm /etc/group")
    assert rc == 0
    upper = ctr.tmp / "ov" / "upper" / "etc"
    assert (upper / "created").read_text() == "new\n"
    assert (busybox_rootfs / "etc" / "group").exists()   # the lower dir is untouched
    assert not (busybox_rootfs / "etc" / "created").exists()
    st = os.lstat(upper / "group")   # the whiteout: a 0/0 character device
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0


def test_vfs_rootfs_is_used_as_is(ctr, tmp_path, busybox_rootfs):
    ctr.config["annotations"] = {}
    ctr.config["root"] = {"path": str(busybox_rootfs), "readonly": True}
    assert ctr.run("cat", "/etc/hostname") == (0, "busybox\n", "")


def test_bad_rootfs_driver_names_it(ctr):
    ctr.config["annotations"]["rl.rootfs.lowerdir"] = str(ctr.tmp / "missing")
    with pytest.raises(ContainerSetupError) as info:
        ctr.run("true")
    assert "kernel overlay" in info.value.message and "fuse-overlayfs" in info.value.message
    assert os.listdir(ctr.state_dir) == []


def test_two_containers_at_once(ctr, tmp_path, busybox_rootfs):
    from rootless.runtime.container import create, delete, start

    other = type(ctr)(tmp_path / "second", busybox_rootfs)   # conftest.Ctr ("conftest" is ambiguous in a full run)
    (tmp_path / "second").mkdir(exist_ok=True)
    sts = []
    for c, cid in ((ctr, "a"), (other, "b")):
        c.config["hostname"] = cid
        sts.append(create(c.write(["hostname"]), ctr.state_dir, cid, stdio=c.stdio()))
    for cid in ("a", "b"):
        start(ctr.state_dir, cid)
    for st in sts:
        assert os.waitstatus_to_exitcode(os.waitpid(st.pid, 0)[1]) == 0
    other.close()
    for c, cid in ((ctr, "a"), (other, "b")):
        delete(ctr.state_dir, cid)
        assert c.out.read_text() == cid + "\n"


def test_fuse_overlayfs_driver(ctr):
    ctr.config["annotations"]["rl.rootfs.driver"] = "fuse-overlayfs"
    rc, out, err = ctr.run("sh", "-c", "echo via-fuse > /etc/fused; grep ' / ' /proc/mounts")
    assert rc == 0, err
    assert "fuse" in out
    assert (ctr.tmp / "ov" / "upper" / "etc" / "fused").read_text() == "via-fuse\n"


def test_sysctl(ctr):
    ctr.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    ctr.config["linux"]["readonlyPaths"] = []
    assert ctr.run("cat", "/proc/sys/net/ipv4/ip_forward") == (0, "1\n", "")


def test_join_network_namespace_by_path(ctr, tmp_path):
    """A second container joins the first one's network namespace (what --network container: needs)."""
    from rootless.runtime.container import create, delete, start

    stdio = ctr.stdio()
    first = create(ctr.write(["sleep", "100"]), ctr.state_dir, "net1", stdio=stdio)
    ctr.close(stdio)
    start(ctr.state_dir, "net1")
    try:
        # a network namespace belongs to its user namespace: join both (the mapping is theirs)
        joined = ("network", "user") if first.userns else ("network",)
        ns = [n for n in ctr.config["linux"]["namespaces"] if n["type"] not in joined]
        names = {"network": "net", "user": "user"}
        ctr.config["linux"]["namespaces"] = ns + [{"type": t, "path": f"/proc/{first.pid}/ns/{names[t]}"} for t in joined]
        rc, out, err = ctr.run("sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/user; echo $$; id -u", cid="net2")
        assert rc == 0, err
        net, user, pid, uid = out.split()
        assert net == os.readlink(f"/proc/{first.pid}/ns/net") and pid == "1" and uid == "0"
        assert user == os.readlink(f"/proc/{first.pid}/ns/user")
    finally:
        delete(ctr.state_dir, "net1", force=True)
        os.waitpid(first.pid, 0)


def test_host_network_binds_the_hosts_sys(ctr, mapping):
    """Without a network namespace of our own a new sysfs is refused in a user namespace: the
    host's /sys is bound read-only instead."""
    ctr.config["linux"]["namespaces"] = [n for n in ctr.config["linux"]["namespaces"] if n["type"] != "network"]
    rc, out, _ = ctr.run("sh", "-c", "touch /sys/x 2>&1; ls /sys/class/net")
    first, *rest = out.splitlines()
    assert rc == 0 and first == "touch: /sys/x: Read-only file system"
    assert set(" ".join(rest).split()) == set(os.listdir("/sys/class/net"))   # the host's interfaces


def test_read_only_binds_keep_source_flags_and_are_recursive(ctr, tmp_path):
    """A read-only remount keeps the flags of the source mount (in a user namespace they are
    locked: dropping one is EPERM); an rbind ro is read-only on the mounts below it too."""
    (tmp_path / "tree" / "inner").mkdir(parents=True)
    root = ctr.config["root"]["path"]
    ctr.config["mounts"] += [
        {"destination": "/hostshm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "ro"]},
        {"destination": "/tree", "type": "bind", "source": str(tmp_path / "tree"), "options": ["rbind", "rw"]},
        {"destination": "/tree/inner", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "nosuid", "nodev"]},
        # the container's own /tree (with its submount), bound again read-only
        {"destination": "/rotree", "type": "bind", "source": root + "/tree", "options": ["rbind", "ro"]},
    ]
    rc, out, err = ctr.run("sh", "-c", "touch /hostshm/rl-x /rotree/inner/x 2>&1; "
                                       "grep -E ' /(hostshm|tree/inner|rotree|rotree/inner) ' /proc/mounts")
    assert rc == 0, err
    assert out.count("Read-only file system") == 2
    mounts = {line.split()[1]: line.split()[3].split(",") for line in out.splitlines()[2:]}
    assert set(mounts) == {"/hostshm", "/tree/inner", "/rotree", "/rotree/inner"}
    assert "ro" in mounts["/hostshm"] and "ro" in mounts["/rotree"] and "ro" in mounts["/rotree/inner"]
    assert "rw" in mounts["/tree/inner"]
    assert {"nosuid", "nodev"} <= set(mounts["/rotree/inner"])
    host = os.statvfs("/dev/shm").f_flag
    for bit, name in ((os.ST_NOSUID, "nosuid"), (os.ST_NODEV, "nodev"), (os.ST_NOEXEC, "noexec")):
        assert (name in mounts["/hostshm"]) == bool(host & bit)


def test_linux_devices_are_bound_from_the_host(ctr):
    ctr.config["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
    rc, out, _ = ctr.run("sh", "-c", "stat -c '%F %t:%T' /dev/fuse /dev/null")
    assert (rc, out) == (0, "character special file a:e5\ncharacter special file 1:3\n")


def test_only_stdio_reaches_the_process(ctr):
    """The runtime's pipes, the plan and the caller's stdio files stay out of the container: the
    process gets 0, 1 and 2, plus what the caller itself left inheritable (3 is ls's own fd)."""
    inherited = {int(fd) for fd in os.listdir("/proc/self/fd") if _inheritable(int(fd))}
    rc, out, err = ctr.run("ls", "/proc/self/fd")
    assert rc == 0, err
    assert {0, 1, 2, 3} <= {int(fd) for fd in out.split()} <= {0, 1, 2, 3} | inherited


def _inheritable(fd: int) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:   # the listing's own fd, closed by now
        return False


def test_a_user_namespace_that_cannot_be_joined(ctr):
    """_rl_boot's own failure (before the clone) is raised as it is, and nothing is left behind."""
    ns = [n for n in ctr.config["linux"]["namespaces"] if n["type"] != "user"]
    ctr.config["linux"]["namespaces"] = ns + [{"type": "user", "path": "/proc/self/ns/net"}]
    with pytest.raises(ContainerSetupError, match="cannot join the user namespace: setns: Invalid argument"):
        ctr.run("true")
    assert os.listdir(ctr.state_dir) == []


def test_a_missing_boot_helper_is_named(ctr, monkeypatch, tmp_path):
    from rootless.runtime import create

    monkeypatch.setattr(create, "boot_binary", lambda: str(tmp_path / "_rl_boot"))
    with pytest.raises(ContainerSetupError, match="cannot run rl's container helper .*_rl_boot") as info:
        ctr.run("true")
    assert "make native" in info.value.hint
    assert os.listdir(ctr.state_dir) == []
