"""inspect.py: docker's ContainerJSON from a record and its config.json (pure)."""

from __future__ import annotations

import json

from rootless.engine import inspect

RECORD = {
    "Id": "c" * 64, "Created": "2026-01-01T00:00:00.000000001Z", "Name": "/web", "Path": "sh", "Args": ["-c", "x"],
    "State": {"Status": "running", "Running": True, "Paused": False, "Restarting": False, "OOMKilled": False,
              "Dead": False, "Pid": 42, "ExitCode": 0, "Error": "", "StartedAt": "2026-01-01T00:00:01Z",
              "FinishedAt": "0001-01-01T00:00:00Z", "Monitor": {"Pid": 1}, "Process": {"Pid": 42}},
    "Image": "sha256:" + "f" * 64, "Driver": "overlay", "RestartCount": 0,
    "Config": {"Hostname": "cccccccccccc", "Image": "busybox", "Cmd": ["sh", "-c", "x"], "Env": ["A=1"],
               "Labels": {"k": "v"}, "StopTimeout": None},
    "HostConfig": {"NetworkMode": "bridge", "CapAdd": ["NET_ADMIN"], "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}},
    "Rl": {"Bundle": "/x"},
}
CONFIG = {
    "root": {"path": "/store/c/rootfs"},
    "annotations": {"rl.rootfs.driver": "overlay", "rl.rootfs.lowerdir": "/l2:/l1",
                    "rl.rootfs.upperdir": "/store/c/upper", "rl.rootfs.workdir": "/store/c/work"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/etc/hosts", "type": "bind", "source": "/store/c/hosts", "options": ["rbind"]},
               {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}],
}


def test_docker_keys_in_order_and_no_private_fields():
    view = inspect.container_view(RECORD, CONFIG)
    assert list(view)[:6] == ["Id", "Created", "Path", "Args", "State", "Image"]
    assert "Rl" not in view and "Monitor" not in view["State"] and "Process" not in view["State"]
    assert list(view["State"]) == [k for k, _ in inspect.STATE_KEYS]
    assert view["Name"] == "/web" and view["State"]["Pid"] == 42 and view["Platform"] == "linux"
    assert view["ExecIDs"] is None and "SizeRw" not in view
    json.dumps(view)


def test_host_config_and_config_defaults():
    view = inspect.container_view(RECORD, CONFIG)
    hc = view["HostConfig"]
    assert hc["CapAdd"] == ["NET_ADMIN"] and hc["RestartPolicy"]["Name"] == "always"
    assert hc["Binds"] is None and hc["PortBindings"] == {} and hc["AutoRemove"] is False
    cfg = view["Config"]
    assert cfg["Cmd"] == ["sh", "-c", "x"] and cfg["Labels"] == {"k": "v"} and cfg["Domainname"] == ""
    assert "StopTimeout" not in cfg and cfg["AttachStdout"] is True


def test_graph_driver_and_mounts():
    view = inspect.container_view(RECORD, CONFIG)
    assert view["GraphDriver"] == {"Name": "overlay", "Data": {
        "LowerDir": "/l2:/l1", "MergedDir": "/store/c/rootfs", "UpperDir": "/store/c/upper", "WorkDir": "/store/c/work"}}
    assert view["Mounts"] == [{"Type": "bind", "Source": "/srv/data", "Destination": "/data", "Mode": "",
                               "RW": False, "Propagation": "rprivate"}]
    vfs = inspect.container_view(dict(RECORD, Driver="vfs"), {"root": {"path": "/r"}})
    assert vfs["GraphDriver"] == {"Name": "vfs", "Data": {"MergedDir": "/r"}}


def test_network_settings():
    bare = inspect.container_view(RECORD, CONFIG)["NetworkSettings"]
    assert bare["Networks"] == {"bridge": bare["Networks"]["bridge"]} and bare["Ports"] == {}
    given = dict(RECORD, NetworkSettings={"IPAddress": "10.0.2.100", "Ports": {"80/tcp": None},
                                          "Networks": {"bridge": {"IPAddress": "10.0.2.100"}}})
    ns = inspect.container_view(given, CONFIG)["NetworkSettings"]
    assert ns["IPAddress"] == "10.0.2.100" and ns["Networks"]["bridge"]["IPAddress"] == "10.0.2.100"
    assert ns["Ports"] == {"80/tcp": None}
    host = inspect.container_view(dict(RECORD, HostConfig={"NetworkMode": "host"}), CONFIG)["NetworkSettings"]
    assert list(host["Networks"]) == ["host"]


def test_template_examples_from_the_seed():
    from rootless.cli.format import gotemplate

    view = inspect.container_view(dict(RECORD, NetworkSettings={"Networks": {"bridge": {"IPAddress": "10.0.2.100"}}}), CONFIG)
    assert gotemplate.render("{{ .State.Pid }}", view, missingkey="error") == "42"
    assert gotemplate.render("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", view,
                             missingkey="error") == "10.0.2.100"
    assert gotemplate.render("{{join .Config.Cmd \" \"}}|{{len .Args}}", view) == "sh -c x|2"


def test_size(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_bytes(b"y" * 5)
    (tmp_path / "d" / "link").symlink_to("../a")
    assert inspect.tree_size(tmp_path) == 15
    view = inspect.container_view(RECORD, CONFIG, size=(15, 100))
    assert (view["SizeRw"], view["SizeRootFs"]) == (15, 100)


def test_volume_mounts_are_named():
    config = {"mounts": [{"destination": "/d", "type": "bind", "source": "/store/volumes/data/_data",
                          "options": ["rbind", "rprivate"]}]}
    [m] = inspect.container_view(RECORD, config, volumes_root="/store/volumes")["Mounts"]
    assert m == {"Type": "volume", "Name": "data", "Source": "/store/volumes/data/_data", "Destination": "/d",
                 "Driver": "local", "Mode": "", "RW": True, "Propagation": ""}
