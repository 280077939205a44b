"""Every wrapper in rootless.runtime.syscalls performs its real system call, and fails as the kernel
says, naming the call. No kernel mocks: each test clones a child into fresh namespaces with
clone_fork, writes its id map from the parent (directly, as user_namespaces(7) allows: uid/gid
0 -> the invoking user; as real root 0..65535 -> 0..65535), and gets the child's findings back
pickled over a pipe. Run as root and as the unprivileged users rltest and rltest1.
"""

from __future__ import annotations

import errno
import os
import pickle
import signal
import time
import traceback

import pytest

from rootless.runtime import idmap, syscalls as sc
from rootless.runtime.syscalls import (CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS,
                                       CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS)

pytestmark = pytest.mark.integration

CAP_SETPCAP = 8
CAP_NET_BIND_SERVICE = 10
CAP_SYS_ADMIN = 21
PR_GET_KEEPCAPS = 7
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT_IS_SET = 1
CLONE_SIGHAND = 0x800
NS_NAMES = ("user", "mnt", "uts", "ipc", "pid", "net", "cgroup")
ALL_NS = (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
          | CLONE_NEWCGROUP)


# --- the harness: a child in fresh namespaces, its result back over a pipe ----------------------

class Child:
    """A child cloned with `flags`, mapped by the parent, running fn once released."""

    def __init__(self, fn, flags=CLONE_NEWUSER | CLONE_NEWNS, *, mapping="narrow"):
        self.gate_r, gate_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.pid = sc.clone_fork(flags)
        if self.pid == 0:
            self._child(fn, gate_w, out_w)
        os.close(self.gate_r)
        os.close(out_w)
        try:
            if flags & CLONE_NEWUSER:
                write_map(self.pid, mapping)
        finally:
            os.write(gate_w, b"g")
            os.close(gate_w)

    def _child(self, fn, gate_w, out_w):
        code = 0
        try:
            os.close(gate_w)
            os.close(self.out_r)
            os.read(self.gate_r, 1)
            try:
                payload = (True, fn())
            except BaseException as exc:  # noqa: BLE001
                payload = (False, exc, traceback.format_exc())
            data = pickle.dumps(payload)
            while data:
                data = data[os.write(out_w, data):]
        except BaseException:  # noqa: BLE001
            code = 99
        finally:
            os._exit(code)

    def result(self):
        """fn's return value; fn's exception re-raised (its child traceback in a note)."""
        chunks = []
        while chunk := os.read(self.out_r, 65536):
            chunks.append(chunk)
        os.close(self.out_r)
        _, status = os.waitpid(self.pid, 0)
        assert chunks, f"child died without a result: status {status:#x}"
        payload = pickle.loads(b"".join(chunks))
        if payload[0]:
            return payload[1]
        payload[1].add_note("in the child:\n" + payload[2])
        raise payload[1]


def write_map(pid: int, mapping: str) -> None:
    """narrow: root 0..65535 identity, else 0 -> me (written directly); chosen: idmap's choice."""
    if mapping == "chosen":
        idmap.apply(pid, idmap.choose())
        return
    if os.geteuid() == 0:
        uid_line = gid_line = "0 0 65536\n"
    else:
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny")
        uid_line, gid_line = f"0 {os.geteuid()} 1\n", f"0 {os.getegid()} 1\n"
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(uid_line)
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(gid_line)


def in_child(fn, flags=CLONE_NEWUSER | CLONE_NEWNS, **kw):
    return Child(fn, flags, **kw).result()


def ns_links(pid="self") -> dict[str, str]:
    return {n: os.readlink(f"/proc/{pid}/ns/{n}") for n in NS_NAMES}


def private_root() -> None:
    """Nothing a test mounts may reach the host (as real root "/" is rshared here)."""
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)


def status_field(name: str, pid="self") -> str:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    raise KeyError(name)


def all_caps() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return (1 << (int(f.read()) + 1)) - 1


def bit(cap: int) -> int:
    return 1 << cap


def expect_oserror(fn, *args) -> OSError:
    try:
        fn(*args)
    except OSError as exc:
        return exc
    raise AssertionError(f"{fn.__name__}{args} did not fail")


# --- clone_fork ---------------------------------------------------------------------------------

def test_clone_fork_creates_every_namespace():
    parent = ns_links()

    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()

    def child():
        os.write(ready_w, b"r")
        os.read(done_r, 1)  # stay alive while the parent looks at /proc/PID/ns
        return os.getpid(), os.getuid(), ns_links()

    proc = Child(child, ALL_NS)
    os.read(ready_r, 1)
    host_view = ns_links(proc.pid)
    os.write(done_w, b"d")
    pid_inside, uid, links = proc.result()
    assert pid_inside == 1  # pid 1 of its new pid namespace
    assert uid == 0
    for name in NS_NAMES:  # clone (unlike unshare) puts the child itself in the new pid namespace
        assert links[name] != parent[name], name
        assert host_view[name] == links[name], name


def test_clone_fork_error_names_clone():
    exc = expect_oserror(sc.clone_fork, CLONE_SIGHAND)  # CLONE_SIGHAND needs CLONE_VM
    assert exc.errno == errno.EINVAL
    assert str(exc).startswith("[Errno 22] clone:")


def test_clone_fork_clone_parent_makes_a_sibling():
    """CLONE_PARENT: the new process is the caller's sibling, so the caller's parent reaps it."""
    out_r, out_w = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            pid = sc.clone_fork(sc.CLONE_PARENT)
            if pid == 0:
                os.write(out_w, f"{os.getppid()} ".encode())
            else:
                os.write(out_w, f"{pid} ".encode())
        finally:
            os._exit(0)
    os.close(out_w)
    os.waitpid(middle, 0)
    words = b""
    while chunk := os.read(out_r, 100):
        words += chunk
    os.close(out_r)
    numbers = sorted(int(w) for w in words.split())
    assert len(numbers) == 2 and os.getpid() in numbers  # the grandchild's parent is us
    sibling = max(numbers) if min(numbers) == os.getpid() else min(numbers)
    assert os.waitpid(sibling, 0)[0] == sibling


# --- unshare ------------------------------------------------------------------------------------

def test_unshare_user_uts_mount():
    parent = ns_links()
    uid, gid = os.geteuid(), os.getegid()

    def child():
        sc.unshare(CLONE_NEWUSER)
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                           ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        sc.unshare(CLONE_NEWUTS | CLONE_NEWNS)
        sc.sethostname("rl-unshared")
        return os.getuid(), os.uname().nodename, ns_links()

    got_uid, host, links = in_child(child, 0)  # a plain fork: the child unshares itself
    assert (got_uid, host) == (0, "rl-unshared")
    for name in ("user", "uts", "mnt"):
        assert links[name] != parent[name]
    assert links["net"] == parent["net"]


def test_unshare_bogus_flags_einval():
    def child():
        return expect_oserror(sc.unshare, 0x1)  # CSIGNAL bits are not unshare flags

    exc = in_child(child, 0)
    assert exc.errno == errno.EINVAL and "unshare" in str(exc)


# --- setns --------------------------------------------------------------------------------------

def test_setns_joins_another_process_namespaces():
    ready_r, ready_w = os.pipe()
    stop_r, stop_w = os.pipe()

    def holder():
        sc.sethostname("rl-setns-target")
        os.write(ready_w, b"r")
        os.read(stop_r, 1)
        return ns_links()

    target = Child(holder, CLONE_NEWUSER | CLONE_NEWUTS | CLONE_NEWNET)
    try:
        assert os.read(ready_r, 1) == b"r"

        def joiner():
            fds = {n: os.open(f"/proc/{target.pid}/ns/{n}", os.O_RDONLY)
                   for n in ("user", "uts", "net")}
            sc.setns(fds["user"], CLONE_NEWUSER)  # first: caps in the target's user namespace
            sc.setns(fds["uts"], CLONE_NEWUTS)
            sc.setns(fds["net"])  # nstype 0: any type
            return os.uname().nodename, ns_links()

        nodename, links = in_child(joiner, 0)
    finally:
        os.write(stop_w, b"s")
    target_links = target.result()
    assert nodename == "rl-setns-target"
    for name in ("user", "uts", "net"):
        assert links[name] == target_links[name]
    assert links["mnt"] == ns_links()["mnt"]
    assert os.uname().nodename != "rl-setns-target"


def test_setns_errors():
    def child():
        bad_fd = expect_oserror(sc.setns, -1)
        fd = os.open("/proc/self/ns/uts", os.O_RDONLY)
        wrong_type = expect_oserror(sc.setns, fd, CLONE_NEWNET)
        return bad_fd, wrong_type

    bad_fd, wrong_type = in_child(child)
    assert bad_fd.errno == errno.EBADF and "setns" in str(bad_fd)
    assert wrong_type.errno == errno.EINVAL and "setns" in str(wrong_type)


# --- mount / umount2 ---------------------------------------------------------------------------

def mountinfo() -> dict[str, str]:
    """mount point -> filesystem type, from /proc/self/mountinfo."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            out[fields[4]] = fields[fields.index("-") + 1]
    return out


def test_mount_tmpfs_bind_and_readonly_remount(tmp_path):
    tmpfs, bind = tmp_path / "tmpfs", tmp_path / "bind"
    tmpfs.mkdir()
    bind.mkdir()

    def child():
        private_root()
        sc.mount("tmpfs", str(tmpfs), "tmpfs", sc.MS_NOSUID, "size=1m,mode=0755")
        (tmpfs / "inside").write_text("x")
        sc.mount(str(tmpfs), str(bind), None, sc.MS_BIND)
        seen = (bind / "inside").read_text()
        sc.mount(None, str(bind), None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)
        ro = expect_oserror((bind / "other").write_text, "y")
        info = mountinfo()
        return info.get(str(tmpfs)), info.get(str(bind)), seen, ro.errno

    fstype, bind_type, seen, ro_errno = in_child(child)
    assert (fstype, bind_type, seen, ro_errno) == ("tmpfs", "tmpfs", "x", errno.EROFS)
    assert list(tmpfs.iterdir()) == [] and not os.path.ismount(tmpfs)  # gone with the namespace


def test_mount_errors_name_call_and_path(tmp_path):
    missing = tmp_path / "missing"
    (tmp_path / "dir").mkdir()

    def child():
        private_root()
        return (expect_oserror(sc.mount, "tmpfs", str(missing), "tmpfs"),
                expect_oserror(sc.mount, "none", str(tmp_path / "dir"), "rl-no-such-fs"))

    enoent, enodev = in_child(child)
    assert enoent.errno == errno.ENOENT
    assert f"mount tmpfs on {missing}: No such file or directory" in str(enoent)
    assert enodev.errno == errno.ENODEV and "mount rl-no-such-fs on" in str(enodev)


def test_umount2_plain_and_detach(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()

    def child():
        private_root()
        sc.mount("tmpfs", str(a), "tmpfs")
        sc.mount("tmpfs", str(b), "tmpfs")
        busy = os.open(b, os.O_RDONLY)  # a busy mount: only a lazy unmount succeeds
        ebusy = expect_oserror(sc.umount2, str(b))
        sc.umount2(str(a))
        sc.umount2(str(b), sc.MNT_DETACH)
        os.close(busy)
        return os.path.ismount(a), os.path.ismount(b), ebusy.errno

    assert in_child(child) == (False, False, errno.EBUSY)


def test_umount2_errors(tmp_path):
    def child():
        private_root()
        return (expect_oserror(sc.umount2, str(tmp_path)),
                expect_oserror(sc.umount2, str(tmp_path / "missing")))

    einval, enoent = in_child(child)
    assert einval.errno == errno.EINVAL and f"umount2 {tmp_path}" in str(einval)
    assert enoent.errno == errno.ENOENT and "umount2" in str(enoent)


def test_mount_setattr_recursive_readonly(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()

    def child():
        private_root()
        sc.mount("tmpfs", str(src), "tmpfs")
        (src / "sub").mkdir()
        sc.mount("tmpfs", str(src / "sub"), "tmpfs")
        sc.mount(str(src), str(dst), None, sc.MS_BIND | sc.MS_REC)
        sc.mount_setattr(str(dst), sc.MOUNT_ATTR_RDONLY)  # MS_REMOUNT would miss dst/sub
        top = expect_oserror((dst / "x").write_text, "x")
        sub = expect_oserror((dst / "sub" / "x").write_text, "x")
        (src / "sub" / "x").write_text("still writable")
        return top.errno, sub.errno, (dst / "sub" / "x").read_text()

    assert in_child(child) == (errno.EROFS, errno.EROFS, "still writable")


def test_mount_setattr_errors(tmp_path):
    def child():
        private_root()
        missing = expect_oserror(sc.mount_setattr, str(tmp_path / "missing"), sc.MOUNT_ATTR_RDONLY)
        bad_attr = expect_oserror(sc.mount_setattr, "/", 1 << 40)
        return missing, bad_attr

    missing, bad_attr = in_child(child)
    assert missing.errno == errno.ENOENT
    assert f"mount_setattr {tmp_path / 'missing'}" in str(missing)
    assert bad_attr.errno == errno.EINVAL and "mount_setattr" in str(bad_attr)


# --- pivot_root ---------------------------------------------------------------------------------

def test_pivot_root_into_tmpfs(tmp_path):
    new_root = tmp_path / "root"
    new_root.mkdir()

    def child():
        private_root()
        sc.mount("tmpfs", str(new_root), "tmpfs")
        (new_root / "old").mkdir()
        (new_root / "marker").write_text("new root")
        sc.pivot_root(str(new_root), str(new_root / "old"))
        os.chdir("/")
        marker = open("/marker").read()
        had_old = os.path.isdir("/old/proc")
        sc.umount2("/old", sc.MNT_DETACH)
        return marker, had_old, sorted(os.listdir("/")), os.listdir("/old")

    marker, had_old, top, old = in_child(child)
    assert (marker, had_old, top, old) == ("new root", True, ["marker", "old"], [])


def test_pivot_root_not_a_mountpoint_einval(tmp_path):
    plain = tmp_path / "plain"
    (plain / "old").mkdir(parents=True)

    def child():
        private_root()
        return expect_oserror(sc.pivot_root, str(plain), str(plain / "old"))

    exc = in_child(child)
    assert exc.errno == errno.EINVAL and f"pivot_root {plain}" in str(exc)


# --- sethostname / setdomainname ---------------------------------------------------------------

def test_sethostname_in_new_uts_namespace():
    def child():
        sc.sethostname("rl-host")
        return os.uname().nodename

    assert in_child(child, CLONE_NEWUSER | CLONE_NEWUTS) == "rl-host"
    assert os.uname().nodename != "rl-host"


def test_sethostname_errors():
    def child():
        too_long = expect_oserror(sc.sethostname, "h" * 65)  # HOST_NAME_MAX is 64
        return too_long

    assert in_child(child, CLONE_NEWUSER | CLONE_NEWUTS).errno == errno.EINVAL
    # the host's UTS namespace belongs to the initial user namespace: no capability over it
    eperm = in_child(lambda: expect_oserror(sc.sethostname, "rl-nope"), CLONE_NEWUSER)
    assert eperm.errno == errno.EPERM and "sethostname" in str(eperm)


def read_domainname() -> str:
    with open("/proc/sys/kernel/domainname") as f:
        return f.read().strip()


def test_setdomainname_in_new_uts_namespace():
    def child():
        sc.setdomainname("rl.example")
        return read_domainname()

    assert in_child(child, CLONE_NEWUSER | CLONE_NEWUTS) == "rl.example"
    assert read_domainname() != "rl.example"


def test_setdomainname_errors():
    exc = in_child(lambda: expect_oserror(sc.setdomainname, "d" * 65), CLONE_NEWUSER | CLONE_NEWUTS)
    assert exc.errno == errno.EINVAL and "setdomainname" in str(exc)


# --- prctl and its helpers ----------------------------------------------------------------------

def test_prctl_no_new_privs():
    def child():
        before = sc.prctl(PR_GET_NO_NEW_PRIVS)
        sc.set_no_new_privs()
        return before, sc.prctl(PR_GET_NO_NEW_PRIVS), status_field("NoNewPrivs")

    assert in_child(child) == (0, 1, "1")


def test_prctl_errors():
    def child():
        return expect_oserror(sc.prctl, 0x7FFF0000), expect_oserror(sc.prctl, sc.PR_SET_KEEPCAPS, 2)

    unknown, bad_arg = in_child(child)
    assert unknown.errno == errno.EINVAL and "prctl" in str(unknown)
    assert bad_arg.errno == errno.EINVAL


def test_keepcaps():
    def child():
        sc.set_keepcaps(True)
        on = sc.prctl(PR_GET_KEEPCAPS)
        sc.set_keepcaps(False)
        return on, sc.prctl(PR_GET_KEEPCAPS)

    assert in_child(child) == (1, 0)


def test_pdeathsig_and_child_subreaper():
    """A subreaper S forks I, I forks G; G asks for SIGKILL when its parent dies; I exits: G is
    killed, and reparented to S (the subreaper), which reaps it and sees the signal."""

    def subreaper():
        sc.set_child_subreaper()
        ready_r, ready_w = os.pipe()
        middle = os.fork()
        if middle == 0:
            if os.fork() == 0:
                sc.set_pdeathsig(signal.SIGKILL)
                os.write(ready_w, b"r")
                time.sleep(10)  # not reached when the death signal works
                os._exit(0)
            os.read(ready_r, 1)
            os._exit(0)
        os.waitpid(middle, 0)
        pid, status = os.wait()  # only the reparented grandchild is left
        return os.WIFSIGNALED(status) and os.WTERMSIG(status)

    assert in_child(subreaper) == signal.SIGKILL


def test_pdeathsig_bad_signal_einval():
    exc = in_child(lambda: expect_oserror(sc.set_pdeathsig, 1000))
    assert exc.errno == errno.EINVAL and "prctl" in str(exc)


def test_capbset_read_and_drop():
    def child():
        before = sc.capbset_read(CAP_SYS_ADMIN)
        sc.capbset_drop(CAP_SYS_ADMIN)
        return before, sc.capbset_read(CAP_SYS_ADMIN), int(status_field("CapBnd"), 16)

    before, after, bnd = in_child(child)
    assert (before, after) == (True, False)
    assert bnd == all_caps() & ~bit(CAP_SYS_ADMIN)


def test_capbset_errors():
    def child():
        bad_cap = expect_oserror(sc.capbset_read, 1000)
        full = all_caps()
        sc.capset(full & ~bit(CAP_SETPCAP), full, 0)  # dropping needs CAP_SETPCAP effective
        return bad_cap, expect_oserror(sc.capbset_drop, CAP_SYS_ADMIN)

    bad_cap, eperm = in_child(child)
    assert bad_cap.errno == errno.EINVAL and "prctl" in str(bad_cap)
    assert eperm.errno == errno.EPERM


def test_ambient_raise_and_clear():
    def child():
        full = all_caps()
        sc.capset(full, full, bit(CAP_NET_BIND_SERVICE))  # ambient needs permitted + inheritable
        sc.ambient_raise(CAP_NET_BIND_SERVICE)
        raised = int(status_field("CapAmb"), 16), sc.prctl(sc.PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET,
                                                            CAP_NET_BIND_SERVICE)
        sc.ambient_clear_all()
        return raised, int(status_field("CapAmb"), 16)

    assert in_child(child) == ((bit(CAP_NET_BIND_SERVICE), 1), 0)


def test_ambient_errors():
    def child():
        not_inheritable = expect_oserror(sc.ambient_raise, CAP_NET_BIND_SERVICE)
        return not_inheritable, expect_oserror(sc.ambient_raise, 1000)

    eperm, einval = in_child(child)
    assert eperm.errno == errno.EPERM and "prctl" in str(eperm)
    assert einval.errno == errno.EINVAL


# --- capget / capset ----------------------------------------------------------------------------

def test_capget_capset_drop_sys_admin(tmp_path):
    def child():
        private_root()
        full = all_caps()
        before = sc.capget()
        by_pid = sc.capget(os.getpid())
        sc.capset(full & ~bit(CAP_SYS_ADMIN), full & ~bit(CAP_SYS_ADMIN), 0)
        after = sc.capget()
        eff = int(status_field("CapEff"), 16)
        denied = expect_oserror(sc.mount, "tmpfs", str(tmp_path), "tmpfs")
        return full, before, by_pid, after, eff, denied.errno

    full, before, by_pid, after, eff, denied = in_child(child)
    assert before == by_pid == (full, full, 0)
    less = full & ~bit(CAP_SYS_ADMIN)
    assert after == (less, less, 0) and eff == less
    assert denied == errno.EPERM  # the dropped capability is really gone


def test_capget_capset_errors():
    def child():
        full = all_caps()
        sc.capset(full & ~bit(CAP_SYS_ADMIN), full & ~bit(CAP_SYS_ADMIN), 0)
        regain = expect_oserror(sc.capset, full, full, 0)  # permitted can only shrink
        return regain, expect_oserror(sc.capget, 0x3FFFFFFF)

    regain, no_such = in_child(child)
    assert regain.errno == errno.EPERM and "capset" in str(regain)
    assert no_such.errno == errno.ESRCH and "capget" in str(no_such)


# --- setresuid / setresgid ----------------------------------------------------------------------

def test_setresuid_setresgid():
    """Switch to container id 1000 where the chosen mapping has it (root, rltest), else to 0."""
    mapping = idmap.choose()
    has_1000 = mapping.host_uid(1000) is not None and mapping.host_gid(1000) is not None
    target = 1000 if has_1000 else 0
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()

    def child():
        sc.setresgid(target, target, target)
        sc.setresuid(target, target, target)
        os.write(ready_w, b"r")
        os.read(done_r, 1)
        return os.getresuid(), os.getresgid()

    proc = Child(child, CLONE_NEWUSER, mapping="chosen")
    os.read(ready_r, 1)
    host_uid = status_field("Uid", proc.pid).split()
    host_gid = status_field("Gid", proc.pid).split()
    os.write(done_w, b"d")
    assert proc.result() == ((target,) * 3, (target,) * 3)
    assert host_uid[:3] == [str(mapping.host_uid(target))] * 3
    assert host_gid[:3] == [str(mapping.host_gid(target))] * 3
    if os.geteuid() != 0 and mapping.mode == "subuid":
        assert target == 1000


def test_setresuid_setresgid_unmapped_einval():
    def child():
        return (expect_oserror(sc.setresuid, 70000, 70000, 70000),
                expect_oserror(sc.setresgid, 70000, 70000, 70000))

    uid_err, gid_err = in_child(child, CLONE_NEWUSER)  # narrow map: 70000 is unmapped
    assert uid_err.errno == errno.EINVAL and "setresuid" in str(uid_err)
    assert gid_err.errno == errno.EINVAL and "setresgid" in str(gid_err)

