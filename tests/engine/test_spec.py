"""spec.py: the OCI config.json a `rl run` produces, table-driven (no kernel)."""

from __future__ import annotations

import pytest

from rootless.engine import spec
from rootless.engine.run_options import RunOptions, parse_ulimit
from rootless.errors import UsageError

CID = "a" * 64
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n" \
         "alice:x:1000:1000::/home/alice:/bin/sh\n"
GROUP = "root:x:0:\nnginx:x:101:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\n"


def build(image_cfg=None, **opts):
    inputs = spec.SpecInputs(container_id=CID, options=RunOptions(image="img", **opts),
                             image_config={"config": image_cfg or {}}, rootfs="/r",
                             passwd=PASSWD, group=GROUP)
    return spec.build(inputs)


# The Dockerfile reference's ENTRYPOINT/CMD table and the seed's 3.1.4 (nginx v0.3..v0.5)
@pytest.mark.parametrize("entrypoint,cmd,override_ep,command,expected", [
    (None, ["/usr/sbin/nginx", "-g", "daemon off;"], None, (), ["/usr/sbin/nginx", "-g", "daemon off;"]),
    (None, ["/usr/sbin/nginx", "-g", "daemon off;"], None, ("/bin/bash",), ["/bin/bash"]),
    (["/usr/sbin/nginx", "-g", "daemon off;"], None, None, (), ["/usr/sbin/nginx", "-g", "daemon off;"]),
    (["/usr/sbin/nginx", "-g", "daemon off;"], None, None, ("/bin/bash",),
     ["/usr/sbin/nginx", "-g", "daemon off;", "/bin/bash"]),
    (["/usr/sbin/nginx", "-g", "daemon off;"], None, "/bin/bash", (), ["/bin/bash"]),
    (["/usr/sbin/nginx"], ["-g"], None, (), ["/usr/sbin/nginx", "-g"]),
    (["/usr/sbin/nginx"], ["-g"], None, ("-g", "daemon off;"), ["/usr/sbin/nginx", "-g", "daemon off;"]),
    # shell forms
    ("exec_entry p1_entry", None, None, (), ["/bin/sh", "-c", "exec_entry p1_entry"]),
    ("exec_entry p1_entry", "exec_cmd p1_cmd", None, (), ["/bin/sh", "-c", "exec_entry p1_entry",
                                                          "/bin/sh", "-c", "exec_cmd p1_cmd"]),
    (None, "echo $HOME", None, (), ["/bin/sh", "-c", "echo $HOME"]),
    (["exec_entry", "p1_entry"], "exec_cmd p1_cmd", None, (),
     ["exec_entry", "p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd"]),
    # --entrypoint drops the image's CMD, keeps the run's command; "" clears it
    (["/a"], ["b"], "/x", (), ["/x"]),
    (["/a"], ["b"], "/x", ("y", "z"), ["/x", "y", "z"]),
    (["/a"], ["b"], "", ("sh",), ["sh"]),
    (None, None, "/bin/echo hi", (), ["/bin/echo hi"]),  # one executable, never split
])
def test_entrypoint_cmd(entrypoint, cmd, override_ep, command, expected):
    cfg = {"Entrypoint": entrypoint, "Cmd": cmd}
    assert build(cfg, entrypoint=override_ep, command=command)["process"]["args"] == expected


@pytest.mark.parametrize("entrypoint,cmd,override_ep,command", [
    (None, None, None, ()),
    (["/a"], ["b"], "", ()),
    (None, [], None, ()),
])
def test_no_command(entrypoint, cmd, override_ep, command):
    with pytest.raises(UsageError, match="No command specified"):
        build({"Entrypoint": entrypoint, "Cmd": cmd}, entrypoint=override_ep, command=command)


@pytest.mark.parametrize("image_env,run_env,tty,expected", [
    ([], (), False, [f"PATH={spec.DEFAULT_PATH}", "HOSTNAME=aaaaaaaaaaaa", "HOME=/root"]),
    (["PATH=/x", "A=1"], (), False, ["PATH=/x", "HOSTNAME=aaaaaaaaaaaa", "A=1", "HOME=/root"]),
    (["A=1", "B=2"], ("A=3", "C=4"), True,
     [f"PATH={spec.DEFAULT_PATH}", "HOSTNAME=aaaaaaaaaaaa", "TERM=xterm", "A=3", "B=2", "C=4", "HOME=/root"]),
    (["HOME=/h"], ("HOSTNAME=mine",), False, [f"PATH={spec.DEFAULT_PATH}", "HOSTNAME=mine", "HOME=/h"]),
])
def test_env(image_env, run_env, tty, expected):
    assert build({"Env": image_env, "Cmd": ["x"]}, env=run_env, tty=tty)["process"]["env"] == expected


@pytest.mark.parametrize("image_user,user,expected", [
    ("", None, {"uid": 0, "gid": 0}),
    ("nginx", None, {"uid": 101, "gid": 101}),
    ("101:101", None, {"uid": 101, "gid": 101}),
    ("nginx", "0", {"uid": 0, "gid": 0}),
    ("", "1000", {"uid": 1000, "gid": 1000, "additionalGids": [10, 29]}),
    ("", "alice", {"uid": 1000, "gid": 1000, "additionalGids": [10, 29]}),
    ("", "alice:wheel", {"uid": 1000, "gid": 10, "additionalGids": [29]}),
    ("", "4242", {"uid": 4242, "gid": 0}),
    ("", "4242:77", {"uid": 4242, "gid": 77}),
    ("", "nginx:audio", {"uid": 101, "gid": 29}),
])
def test_user(image_user, user, expected):
    got = build({"User": image_user, "Cmd": ["x"]}, user=user)["process"]["user"]
    got.pop("umask")
    assert got == expected


@pytest.mark.parametrize("user,message", [
    ("nobody", "unable to find user nobody"),
    ("alice:nogroup", "unable to find group nogroup"),
])
def test_user_unknown(user, message):
    with pytest.raises(UsageError, match=message):
        build({"Cmd": ["x"]}, user=user)


def test_home_from_passwd_and_workdir():
    proc = build({"Cmd": ["x"], "WorkingDir": "/srv"}, user="nginx")["process"]
    assert "HOME=/var/cache/nginx" in proc["env"] and proc["cwd"] == "/srv"
    assert build({"Cmd": ["x"], "WorkingDir": "/srv"}, workdir="/tmp")["process"]["cwd"] == "/tmp"
    with pytest.raises(UsageError):
        build({"Cmd": ["x"]}, workdir="relative")


@pytest.mark.parametrize("add,drop,privileged,present,absent", [
    ((), (), False, ["CAP_CHOWN", "CAP_KILL", "CAP_AUDIT_WRITE"], ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]),
    (("NET_ADMIN",), ("chown",), False, ["CAP_NET_ADMIN"], ["CAP_CHOWN"]),
    (("CAP_SYS_ADMIN",), ("ALL",), False, ["CAP_SYS_ADMIN"], ["CAP_CHOWN", "CAP_KILL"]),
    (("ALL",), ("MKNOD",), False, ["CAP_SYS_ADMIN", "CAP_BPF"], ["CAP_MKNOD"]),
    ((), (), True, list(spec.ALL_CAPS), []),
])
def test_caps(add, drop, privileged, present, absent):
    caps = spec.capabilities(add, drop, privileged)
    assert all(c in caps for c in present) and not any(c in caps for c in absent)
    assert len(caps) == len(set(caps))


def test_default_caps_exactly_docker():
    assert sorted(spec.capabilities((), (), False)) == sorted(spec.DEFAULT_CAPS)
    assert len(spec.DEFAULT_CAPS) == 14


def test_unknown_cap():
    with pytest.raises(UsageError, match="unknown capability"):
        spec.capabilities(("FLY",), (), False)


def test_non_root_user_gets_bounding_only():
    caps = build({"Cmd": ["x"]}, user="1000")["process"]["capabilities"]
    assert caps["bounding"] and caps["effective"] == [] and caps["permitted"] == []


def test_privileged_has_no_masks_and_all_caps():
    cfg = build({"Cmd": ["x"]}, privileged=True)
    assert "maskedPaths" not in cfg["linux"] and "readonlyPaths" not in cfg["linux"]
    assert cfg["process"]["capabilities"]["bounding"] == list(spec.ALL_CAPS)
    plain = build({"Cmd": ["x"]})
    assert "/proc/kcore" in plain["linux"]["maskedPaths"] and "/proc/sys" in plain["linux"]["readonlyPaths"]


def test_hostname_readonly_tmpfs_init_ulimit_annotations():
    cfg = build({"Cmd": ["x"], "StopSignal": "SIGQUIT"}, hostname="box", read_only=True,
                tmpfs=("/run:size=1m,exec",), init=True, ulimits=(parse_ulimit("nofile=10:20"),))
    assert cfg["hostname"] == "box" and cfg["root"] == {"path": "/r", "readonly": True}
    run = [m for m in cfg["mounts"] if m["destination"] == "/run"][0]
    assert run["type"] == "tmpfs" and "exec" in run["options"] and "size=1m" in run["options"]
    assert "noexec" not in run["options"] and "nosuid" in run["options"]
    assert cfg["annotations"]["rl.init"] == "true"
    assert cfg["annotations"]["org.opencontainers.image.stopSignal"] == "SIGQUIT"
    assert cfg["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]
    assert build({"Cmd": ["x"]})["hostname"] == CID[:12]


def test_namespaces_and_mappings():
    maps = {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}
    inputs = spec.SpecInputs(CID, RunOptions(image="i", command=("x",)), {}, "/r", id_mappings=maps,
                             rootfs_annotations={"rl.rootfs.driver": "overlay"},
                             etc_files={"/etc/hosts": "/c/hosts"})
    cfg = spec.build(inputs)
    assert [n["type"] for n in cfg["linux"]["namespaces"]] == ["user", "pid", "ipc", "uts", "mount", "network"]
    assert cfg["linux"]["uidMappings"] == maps["uidMappings"]
    pts = [m for m in cfg["mounts"] if m["destination"] == "/dev/pts"][0]
    assert "gid=5" not in pts["options"]  # gid 5 is not mapped in a single-id namespace
    assert {"destination": "/etc/hosts", "type": "bind", "source": "/c/hosts",
            "options": ["rbind", "rprivate"]} in cfg["mounts"]
    assert cfg["annotations"]["rl.rootfs.driver"] == "overlay"
    host = spec.build(spec.SpecInputs(CID, RunOptions(image="i", command=("x",), network="host"), {}, "/r",
                                      host_hostname="h"))
    assert "network" not in [n["type"] for n in host["linux"]["namespaces"]]
    assert "user" not in [n["type"] for n in host["linux"]["namespaces"]]
    assert host["hostname"] == "h"


def test_keep_id_runs_as_the_user():
    inputs = spec.SpecInputs(CID, RunOptions(image="i", command=("x",), userns="keep-id"), {}, "/r",
                             passwd=PASSWD, group=GROUP, host_ids=(1000, 1000))
    user = spec.build(inputs)["process"]["user"]
    assert (user["uid"], user["gid"]) == (1000, 1000)


def test_single_id_mapping_refuses_other_users_and_drops_unmapped_groups():
    from rootless.errors import IdMappingError

    single = {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
              "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}
    def inputs(user):
        return spec.SpecInputs(CID, RunOptions(image="i", command=("x",), user=user), {}, "/r",
                               passwd=PASSWD, group=GROUP + "rootish:x:0:alice\n", id_mappings=single)
    with pytest.raises(IdMappingError, match="cannot run as 1000:1000"):
        spec.build(inputs("alice"))
    assert "additionalGids" not in spec.build(inputs("0"))["process"]["user"]
    ranged = {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1},
                              {"containerID": 1, "hostID": 100000, "size": 65536}],
              "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1},
                              {"containerID": 1, "hostID": 100000, "size": 65536}]}
    ok = spec.SpecInputs(CID, RunOptions(image="i", command=("x",), user="alice"), {}, "/r",
                         passwd=PASSWD, group=GROUP, id_mappings=ranged)
    assert spec.build(ok)["process"]["user"]["additionalGids"] == [10, 29]
