"""rootless.runtime.userns on the real kernel, as root, rltest (subuid range) and rltest1 (none)."""

from __future__ import annotations

import errno
import os
import pwd
import select

import pytest

from rootless.errors import (IdMappingError, KernelError, RlError, UsageError,
                             UserNamespaceUnavailable)
from rootless.runtime import idmap, syscalls, userns
from rootless.runtime.idmap import IdMap, IdMapping

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mapping() -> IdMapping:
    return idmap.choose()


def me() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def test_runs_as_root_inside_and_returns_the_result(mapping):
    outer = os.readlink("/proc/self/ns/user")

    def inside():
        return os.getresuid(), os.getresgid(), os.readlink("/proc/self/ns/user"), os.getpid()

    uids, gids, ns, pid = userns.run_in_userns(mapping, inside)
    assert uids == gids == (0, 0, 0)
    assert pid != os.getpid()
    assert (ns == outer) == (mapping.mode == "root")  # real root needs no user namespace


def test_big_result_travels_back(mapping):
    blob = os.urandom(1 << 20)
    assert userns.run_in_userns(mapping, lambda: blob) == blob


def test_files_created_as_root_inside_belong_to_the_user(mapping, tmp_path):
    path = tmp_path / "made-inside"
    userns.run_in_userns(mapping, lambda: path.write_text("x"))
    st = path.stat()
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    assert (mapping.host_uid(0), mapping.host_gid(0)) == (os.geteuid(), os.getegid())


def test_chown_to_1000_inside(mapping, tmp_path):
    """rltest: container 1000 is host 100000+999; rltest1: 1000 is unmapped (EINVAL); root: 1000."""
    path = tmp_path / "owned"
    path.write_text("x")
    expected = mapping.host_uid(1000)
    if expected is None:
        with pytest.raises(RlError) as err:
            userns.run_in_userns(mapping, lambda: os.chown(path, 1000, 1000))
        assert isinstance(err.value.__cause__, OSError)
        assert err.value.__cause__.errno == errno.EINVAL and "Invalid argument" in err.value.message
    else:
        userns.run_in_userns(mapping, lambda: os.chown(path, 1000, 1000))
        assert (path.stat().st_uid, path.stat().st_gid) == (expected, mapping.host_gid(1000))
    if me() == "rltest":
        assert expected == 100000 + 999
    elif me() == "rltest1":
        assert expected is None
    elif os.geteuid() == 0:
        assert expected == 1000


def test_rl_errors_come_back_intact(mapping):
    def fail():
        raise KernelError("mount", errno.ENOENT, "/nowhere", hint="make the dir")

    with pytest.raises(KernelError) as err:
        userns.run_in_userns(mapping, fail)
    e = err.value
    assert (e.call, e.errno, e.path, e.hint) == ("mount", errno.ENOENT, "/nowhere", "make the dir")
    assert e.message == "mount /nowhere: No such file or directory"
    assert any("fail" in note for note in e.__notes__)  # the child's traceback

    def usage():
        raise UsageError("bad flag", "use -x")

    with pytest.raises(UsageError) as err2:
        userns.run_in_userns(mapping, usage)
    e2 = err2.value
    assert (e2.message, e2.hint, e2.exit_code) == ("bad flag", "use -x", 125)


def test_other_errors_are_wrapped_with_their_text(mapping):
    with pytest.raises(RlError) as err:
        userns.run_in_userns(mapping, lambda: int("nope"))
    assert type(err.value) is RlError
    assert err.value.message == "ValueError: invalid literal for int() with base 10: 'nope'"
    assert isinstance(err.value.__cause__, ValueError)


def test_unpicklable_errors_and_results(mapping):
    class Local(Exception):
        pass

    def fail():
        raise Local("only here")

    with pytest.raises(RlError) as err:
        userns.run_in_userns(mapping, fail)
    assert "Local: only here" in err.value.message
    with pytest.raises(RlError) as err2:
        userns.run_in_userns(mapping, lambda: (lambda: 1))  # a lambda cannot be pickled
    assert "pickle" in err2.value.message.lower()


def test_a_killed_child_is_reported(mapping):
    with pytest.raises(RlError) as err:
        userns.run_in_userns(mapping, lambda: os.kill(os.getpid(), 9))
    assert "killed by signal 9" in err.value.message


def test_mounts_stay_inside_even_as_real_root(mapping, tmp_path):
    target = tmp_path / "mnt"
    target.mkdir()

    def inside():
        syscalls.mount("tmpfs", str(target), "tmpfs")
        (target / "f").write_text("x")
        return os.path.ismount(target)

    assert userns.run_in_userns(mapping, inside) is True
    assert not os.path.ismount(target) and list(target.iterdir()) == []


def test_extra_namespaces(mapping):
    flags = (syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS | syscalls.CLONE_NEWPID
             | syscalls.CLONE_NEWNET)

    def inside():
        syscalls.sethostname("rl-userns")
        return os.uname().nodename, os.getpid(), os.readlink("/proc/self/ns/net")

    name, pid, net = userns.run_in_userns(mapping, inside, flags=flags)
    assert (name, pid) == ("rl-userns", 1)
    assert net != os.readlink("/proc/self/ns/net") and os.uname().nodename != "rl-userns"


def test_spawn_waits_for_release_and_sees_its_map(mapping):
    out_r, out_w = os.pipe()
    pid, release = userns.spawn_in_userns(mapping, syscalls.CLONE_NEWNS, new_userns=True)
    if pid == 0:
        try:
            with open("/proc/self/uid_map") as f:
                os.write(out_w, f"{os.getuid()}|{f.read()}".encode())
        finally:
            os._exit(0)
    os.close(out_w)
    try:
        # mapped already, but not released: the child has not run
        assert select.select([out_r], [], [], 0.2)[0] == []
        with open(f"/proc/{pid}/uid_map") as f:
            host_view = f.read()
        release()
        uid, child_view = os.read(out_r, 65536).decode().split("|")
    finally:
        os.close(out_r)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and uid == "0"
    lines = tuple(IdMap(*map(int, line.split())) for line in child_view.splitlines())
    assert lines == mapping.uid_maps
    assert host_view.split() == child_view.split()


def test_spawn_with_a_refused_map_reaps_the_child_and_raises():
    bad = (IdMap(0, os.geteuid(), 1), IdMap(0, os.geteuid(), 1))  # overlapping: always refused
    before = set(os.listdir("/proc"))
    with pytest.raises(IdMappingError):
        pid, _ = userns.spawn_in_userns(IdMapping("single", bad, bad), syscalls.CLONE_NEWNS)
        if pid == 0:
            os._exit(0)
    # no child left behind, not even a zombie (zombies are in /proc too); other children of the
    # test process (session fixtures such as the registry) predate `before`
    assert not {p for p in set(os.listdir("/proc")) - before
                if p.isdigit() and _ppid(p) == os.getpid()}


def _ppid(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def test_userns_works_on_this_host():
    ok, reason = userns.userns_works()
    assert ok, reason
    assert "works" in reason


def test_userns_works_reports_a_failure_with_the_reason():
    bad = (IdMap(0, os.geteuid(), 1), IdMap(0, os.geteuid(), 1))
    ok, reason = userns.userns_works(IdMapping("single", bad, bad))
    assert not ok and reason.startswith("user namespaces do not work: writing")


@pytest.mark.parametrize("contents, words", [
    ({"unprivileged_userns_clone": "0"}, "kernel.unprivileged_userns_clone=1"),
    ({"max_user_namespaces": "0"}, "user.max_user_namespaces"),
    ({"apparmor_restrict_unprivileged_userns": "1"},
     "kernel.apparmor_restrict_unprivileged_userns=0"),
    ({"apparmor_restrict_unprivileged_userns": "0", "max_user_namespaces": "15000"}, None),
])
def test_sysctl_hint(tmp_path, monkeypatch, contents, words):
    table = []
    for path, bad, text in userns._SYSCTLS:
        name = path.rsplit("/", 1)[1]
        if name in contents:
            (tmp_path / name).write_text(contents[name] + "\n")
        table.append((str(tmp_path / name), bad, text))  # absent files are skipped
    monkeypatch.setattr(userns, "_SYSCTLS", tuple(table))
    hint = userns._sysctl_hint()
    assert (hint is None) if words is None else (words in hint)


def test_a_failing_clone_is_an_rl_error_naming_clone(mapping):
    with pytest.raises(RlError) as err:
        userns.spawn_in_userns(mapping, 0x800)  # CLONE_SIGHAND without CLONE_VM: EINVAL
    expected = KernelError if mapping.mode == "root" else UserNamespaceUnavailable
    assert type(err.value) is expected and "clone" in err.value.message


def test_release_twice_is_harmless(mapping):
    pid, release = userns.spawn_in_userns(mapping, 0)
    if pid == 0:
        os._exit(7)
    release()
    release()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7
