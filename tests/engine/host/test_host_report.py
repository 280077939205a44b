"""The pure rules of `rl info` / `rl system check`: raw probe facts -> verdicts, fixes, problems,
and the text layout."""

from __future__ import annotations

import copy

import pytest

from rootless.engine.host import render, report


def healthy_raw() -> dict:
    """Raw facts of a rootless host where everything works (rltest on the project machine)."""
    maps = [{"containerID": 0, "hostID": 1001, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65536}]
    helper = {"Path": "/usr/bin/newuidmap", "Privilege": "setuid root", "Usable": True}
    tool = {"Path": "/usr/bin/x", "Version": "1.0"}
    device = {"Path": "/dev/x", "Usable": True, "Error": None}
    return {
        "version": "0.1.0",
        "host": {"KernelVersion": "6.1.0", "OperatingSystem": "Debian GNU/Linux 12 (bookworm)", "OSType": "linux",
                 "Architecture": "x86_64", "NCPU": 2, "MemTotal": 1 << 30, "Name": "vm"},
        "user": {"Uid": 1001, "Gid": 1001, "Name": "rltest", "Rootless": True},
        "userns": {"Works": True, "Error": None, "Sysctls": {
            "kernel.unprivileged_userns_clone": None, "user.max_user_namespaces": 1000,
            "kernel.apparmor_restrict_unprivileged_userns": None}},
        "mapping": {"Mode": "subuid", "UidMappings": maps, "GidMappings": maps, "Note": ""},
        "mapping_error": None,
        "subids": {"SubuidRanges": [{"Start": 100000, "Size": 65536}], "SubgidRanges": [{"Start": 100000, "Size": 65536}]},
        "newuidmap": helper, "newgidmap": dict(helper, Path="/usr/bin/newgidmap"),
        "store": {"Root": "/home/rltest/.local/share/rl", "RootSource": "HOME", "Exists": True,
                  "Filesystem": "ext4", "Mountpoint": "/", "Writable": True, "WritableError": None},
        "overlay": {"Works": True, "Tried": True, "Error": None, "UidMap": "0 1001 1\n1 100000 65536\n"},
        "dev_fuse": dict(device, Path="/dev/fuse"), "dev_tun": dict(device, Path="/dev/net/tun"),
        "port_start": 1024,
        "cgroups": {"Version": "v2", "V2Mountpoint": "/sys/fs/cgroup", "V1Controllers": [],
                    "Path": "/user.slice/user-1001.slice/user@1001.service", "Controllers": ["cpu", "memory", "pids"],
                    "Delegated": True, "Error": None},
        "runtime": {"XdgRuntimeDir": "/run/user/1001", "Runroot": "/run/user/1001/rl",
                    "RunrootSource": "XDG_RUNTIME_DIR", "Exists": False},
        "config": {"Path": "/home/rltest/.config/rl/config.toml", "Exists": False},
        "tools": {"slirp4netns": dict(tool, Path="/usr/bin/slirp4netns"), "pasta": dict(tool, Path="/usr/bin/pasta"),
                  "fuse-overlayfs": dict(tool, Path="/usr/bin/fuse-overlayfs")},
    }


def with_changes(changes: dict) -> dict:
    """healthy_raw() with some facts replaced; a key is "a.b.c" or a tuple of keys (for keys that
    hold dots themselves, like sysctl names)."""
    raw = copy.deepcopy(healthy_raw())
    for path, value in changes.items():
        *parents, last = path.split(".") if isinstance(path, str) else path
        target = raw
        for key in parents:
            target = target[key]
        target[last] = value
    return raw


def test_healthy_host_has_no_problems():
    r = report.assemble(healthy_raw())
    assert r["Problems"] == [] and r["Warnings"] == []
    assert (r["Driver"], r["CgroupVersion"], r["CgroupDriver"]) == ("overlay", "2", "cgroupfs")
    assert r["IdMapping"]["Works"] is True
    assert r["DockerRootDir"] == r["Storage"]["Root"]


# each row: changed facts -> (blocking?, a phrase of the problem, a phrase of its fix)
PROBLEMS = [
    ({"userns.Works": False, "userns.Error": "clone: Operation not permitted",
      ("userns", "Sysctls", "kernel.apparmor_restrict_unprivileged_userns"): 1},
     True, "user namespaces do not work", "kernel.apparmor_restrict_unprivileged_userns=0"),
    ({"store.Writable": False, "store.WritableError": "/x: Permission denied",
      "overlay": {"Works": False, "Tried": False, "Error": "not tried", "UidMap": "0 1001 1\n1 100000 65536\n"}},
     True, "is not writable", "--root /local/dir"),
    ({"mapping": None, "mapping_error": "cannot read /etc/subuid"}, True, "no usable id mapping", "/etc/subuid"),
    ({"mapping.Mode": "single", "mapping.UidMappings": [{"containerID": 0, "hostID": 1001, "size": 1}],
      "overlay.UidMap": "0 1001 1\n", "subids.SubuidRanges": [], "subids.SubgidRanges": []},
     False, "chown to other ids fails", "usermod --add-subuids"),
    ({"overlay.UidMap": "0 1001 1\n"}, True, "subuid id mapping failed", "newuidmap"),
    ({"overlay.Works": False, "overlay.Error": "Invalid argument"}, False, "rl uses fuse-overlayfs", "none needed"),
    ({"overlay.Works": False, "overlay.Error": "Invalid argument", "tools.fuse-overlayfs.Path": None},
     False, "rl uses vfs", "apt-get install fuse-overlayfs"),
    ({"store.Filesystem": "nfs4"}, False, "nfs4 (network filesystem)", "RL_ROOT"),
    ({"store.Filesystem": "overlay"}, False, "overlay (overlay filesystem)", "--root"),
    ({"tools.slirp4netns.Path": None, "tools.pasta.Path": None}, False, "neither slirp4netns nor pasta", "slirp4netns"),
    ({"dev_tun.Usable": False, "dev_tun.Error": "Permission denied"}, False, "/dev/net/tun", "chmod 666 /dev/net/tun"),
    ({"cgroups.Delegated": False, "cgroups.Error": "cannot create a cgroup"}, False,
     "resource limits unavailable; rl runs without cgroups", "Delegate=yes"),
    ({"cgroups.Version": "hybrid", "cgroups.Controllers": ["hugetlb"]}, False, "controllers available: hugetlb",
     "systemd.unified_cgroup_hierarchy=1"),
]


@pytest.mark.parametrize("changes, blocking, problem, fix", PROBLEMS)
def test_problems(changes, blocking, problem, fix):
    found = report.assemble(with_changes(changes))["Problems"]
    assert len(found) == 1, found
    assert found[0]["Blocking"] is blocking
    assert problem in found[0]["Problem"]
    assert fix in found[0]["Fix"]


def test_blocking_problems_come_first():
    raw = with_changes({"dev_tun.Usable": False, "dev_tun.Error": "Permission denied",
                        "store.Writable": False, "store.WritableError": "/x: Permission denied"})
    found = report.assemble(raw)["Problems"]
    assert [p["Blocking"] for p in found] == [True, False]


def test_root_without_userns_is_only_a_warning():
    raw = with_changes({"user.Uid": 0, "user.Rootless": False, "userns.Works": False, "userns.Error": "x",
                        "mapping.Mode": "root"})
    (problem,) = report.assemble(raw)["Problems"]
    assert not problem["Blocking"] and "not needed as root" in problem["Problem"]


@pytest.mark.parametrize("sysctls, reason, fix", [
    ({"kernel.unprivileged_userns_clone": 0}, "unprivileged_userns_clone is 0", "unprivileged_userns_clone=1"),
    ({"user.max_user_namespaces": 0}, "max_user_namespaces is 0", "max_user_namespaces=28633"),
    ({"kernel.apparmor_restrict_unprivileged_userns": 1}, "AppArmor", "userns,"),
    ({"kernel.apparmor_restrict_unprivileged_userns": 0, "user.max_user_namespaces": 5}, "none of the known", "administrator"),
])
def test_userns_diagnosis(sysctls, reason, fix):
    got_reason, got_fix = report.userns_diagnosis(False, sysctls)
    assert reason in got_reason and fix in got_fix


def test_userns_diagnosis_when_it_works():
    assert report.userns_diagnosis(True, {"user.max_user_namespaces": 0}) == (None, None)


@pytest.mark.parametrize("overlay, fuse, dev_fuse, driver", [
    (True, "/usr/bin/fuse-overlayfs", True, "overlay"),
    (True, None, False, "overlay"),
    (False, "/usr/bin/fuse-overlayfs", True, "fuse-overlayfs"),
    (False, "/usr/bin/fuse-overlayfs", False, "vfs"),
    (False, None, True, "vfs"),
])
def test_choose_driver(overlay, fuse, dev_fuse, driver):
    assert report.choose_driver(overlay, fuse, dev_fuse)[0] == driver


def test_driver_unknown_when_overlay_not_tried():
    raw = with_changes({"overlay.Tried": False, "overlay.Works": False, "overlay.Error": "not tried: x"})
    r = report.assemble(raw)
    assert r["Driver"] == "none" and "not tried" in r["Storage"]["DriverReason"]


@pytest.mark.parametrize("text, entries", [
    ("         0       1001          1\n         1     100000      65536\n",
     [{"containerID": 0, "hostID": 1001, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65536}]),
    ("", []),
    ("junk\n", []),
])
def test_parse_id_map(text, entries):
    assert report.parse_id_map(text) == entries


@pytest.mark.parametrize("changes, consequence", [
    ({}, None),
    ({"mapping.Mode": "single"}, report.SINGLE_CONSEQUENCE),
])
def test_single_mapping_consequence(changes, consequence):
    assert report.assemble(with_changes(changes))["IdMapping"]["Consequence"] == consequence


@pytest.mark.parametrize("helpers, install", [(True, False), (False, True)])
def test_single_without_ranges_says_usermod(helpers, install):
    raw = with_changes({"mapping.Mode": "single", "subids.SubuidRanges": [], "newgidmap.Usable": helpers})
    fix = report.assemble(raw)["IdMapping"]["Fix"]
    assert "usermod --add-subuids 100000-165535" in fix
    assert ("install the uidmap package" in fix) is install


def test_single_with_ranges_but_no_helpers_says_install_uidmap():
    raw = with_changes({"mapping.Mode": "single", "newuidmap.Usable": False})
    assert "apt-get install uidmap" in report.assemble(raw)["IdMapping"]["Fix"]


def test_render_info_sections_and_warnings():
    raw = with_changes({"dev_tun.Usable": False, "dev_tun.Error": "Permission denied"})
    text = render.render_info(report.assemble(raw))
    for line in ("Client: rl", " Version: 0.1.0", "Host:", " Kernel Version: 6.1.0", " CPUs: 2",
                 " Total Memory: 1.00GiB", "User:", " Rootless: true", " User Namespaces: work",
                 "ID Mapping:", " Mode: subuid", " Subuid Ranges: 100000:65536",
                 " UID Mappings: 0:1001:1, 1:100000:65536", "Storage:",
                 " Root: /home/rltest/.local/share/rl (from HOME)", " Filesystem: ext4 (local, mounted on /)",
                 " Kernel Overlay In User Namespace: works", " Driver: overlay (", "Network:",
                 " slirp4netns: /usr/bin/slirp4netns (version 1.0)",
                 " /dev/net/tun: cannot open: Permission denied; fix: chmod 666 /dev/net/tun (as root)",
                 "Cgroups:", " Resource Limits: available", "Runtime Dir:", " Runroot: /run/user/1001/rl (from XDG_RUNTIME_DIR)",
                 "Registry Config:", " Path: /home/rltest/.config/rl/config.toml (missing)"):
        assert line in text.splitlines() or any(l.startswith(line) for l in text.splitlines()), line
    assert text.splitlines()[-1].startswith("WARNING: /dev/net/tun cannot be opened")


def test_render_check():
    ok = render.render_check(report.assemble(healthy_raw()))
    assert ok == "rl can run containers on this host\n"
    raw = with_changes({"store.Writable": False, "store.WritableError": "/x: Permission denied",
                        "cgroups.Delegated": False})
    lines = render.render_check(report.assemble(raw)).splitlines()
    assert lines[0] == "rl cannot run containers on this host:"
    assert lines[1].startswith("ERROR: the store root") and lines[2].startswith("  fix: ")
    assert lines[3].startswith("WARNING: resource limits unavailable")
