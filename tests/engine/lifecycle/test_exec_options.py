"""lifecycle/exec.py: the exec's OCI process from the container's config.json and the options (pure).

Named test_exec_options: tests/cli/test_exec.py holds the basename test_exec (no packages here)."""

from __future__ import annotations

import pytest

from rootless.engine.lifecycle.exec import ExecOptions, process_for
from rootless.errors import UsageError

CONFIG = {"process": {
    "terminal": True, "consoleSize": {"height": 1, "width": 1}, "args": ["sh"], "cwd": "/srv",
    "user": {"uid": 0, "gid": 0, "umask": 0o022},
    "env": ["PATH=/bin", "HOME=/root", "FOO=bar"],
    "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN", "CAP_KILL"],
                     "permitted": ["CAP_CHOWN", "CAP_KILL"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}], "noNewPrivileges": False}}
PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\n"
GROUP = "root:x:0:\nwww:x:33:\nstaff:x:50:bob\nbob:x:1000:\n"


@pytest.mark.parametrize("opts,check", [
    (ExecOptions(args=("ls",)), lambda p: p["args"] == ["ls"] and p["terminal"] is False and "consoleSize" not in p),
    (ExecOptions(args=("ls",)), lambda p: p["cwd"] == "/srv" and p["rlimits"][0]["soft"] == 1024),
    (ExecOptions(args=("ls",), env=("FOO=x", "NEW=1")), lambda p: p["env"] == ["PATH=/bin", "HOME=/root", "FOO=x", "NEW=1"]),
    (ExecOptions(args=("ls",), tty=True), lambda p: p["terminal"] is True and "TERM=xterm" in p["env"]),
    (ExecOptions(args=("ls",), tty=True, env=("TERM=dumb",)), lambda p: p["env"].count("TERM=dumb") == 1 and "TERM=xterm" not in p["env"]),
    (ExecOptions(args=("ls",), workdir="/tmp"), lambda p: p["cwd"] == "/tmp"),
    (ExecOptions(args=("ls",), user="www"), lambda p: p["user"] == {"uid": 33, "gid": 33, "umask": 0o022}
     and "HOME=/var/www" in p["env"] and p["capabilities"]["effective"] == []),
    (ExecOptions(args=("ls",), user="bob"), lambda p: p["user"]["additionalGids"] == [50]),
    (ExecOptions(args=("ls",), user="1234:5"), lambda p: (p["user"]["uid"], p["user"]["gid"]) == (1234, 5)),
    (ExecOptions(args=("ls",), user="www", env=("HOME=/h",)), lambda p: "HOME=/h" in p["env"] and "HOME=/var/www" not in p["env"]),
    (ExecOptions(args=("ls",), user="0"), lambda p: p["capabilities"]["effective"] == ["CAP_CHOWN", "CAP_KILL"]),
    (ExecOptions(args=("ls",), privileged=True), lambda p: "CAP_SYS_ADMIN" in p["capabilities"]["bounding"]
     and "CAP_SYS_ADMIN" in p["capabilities"]["effective"]),
])
def test_process_for(opts, check):
    assert check(process_for(CONFIG, opts, PASSWD, GROUP))


def test_privileged_limited_to_what_is_available():
    proc = process_for(CONFIG, ExecOptions(args=("ls",), privileged=True), available=(1 << 0) | (1 << 21))
    assert proc["capabilities"]["bounding"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]


@pytest.mark.parametrize("opts,message", [
    (ExecOptions(args=()), "exec requires at least 1 argument"),
    (ExecOptions(args=("ls",), workdir="tmp"), "needs to be an absolute path"),
    (ExecOptions(args=("ls",), user="nosuch"), "unable to find user nosuch"),
    (ExecOptions(args=("ls",), user="bob:nogroup"), "unable to find group nogroup"),
])
def test_bad_options(opts, message):
    with pytest.raises(UsageError, match=message):
        process_for(CONFIG, opts, PASSWD, GROUP)


def test_container_config_is_not_changed():
    before = repr(CONFIG)
    process_for(CONFIG, ExecOptions(args=("ls",), env=("A=1",), user="www", privileged=True), PASSWD, GROUP)
    assert repr(CONFIG) == before
