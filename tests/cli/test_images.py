"""The image commands end to end: rl pull/images/tag/history/inspect/rmi/save/load/import/push,
as the current user, against the rig's docker-registry (fixture images)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tarfile
import time

import pytest

from fixtures.rl import rl_command

pytestmark = [pytest.mark.integration, pytest.mark.registry]


@pytest.fixture(autouse=True)
def _remove_stores(remove_image_stores):
    """The stores of each test go at its end (conftest's remove_image_stores)."""


def ok(res):
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_pull_output_like_docker(run_rl, fixture_images):
    host_ref = fixture_images["busybox"].rsplit(":", 1)[0]
    out = ok(run_rl("pull", host_ref)).splitlines()
    assert out[0] == "Using default tag: latest"
    assert out[1] == "latest: Pulling from busybox"
    assert all(re.fullmatch(r"[0-9a-f]{12}: Pull complete", line) for line in out[2:-3])
    assert re.fullmatch(r"Digest: sha256:[0-9a-f]{64}", out[-3])
    assert out[-2] == f"Status: Downloaded newer image for {host_ref}:latest"
    assert out[-1] == f"{host_ref}:latest"
    again = ok(run_rl("pull", fixture_images["busybox"])).splitlines()
    assert again[-2] == f"Status: Image is up to date for {fixture_images['busybox']}"
    assert ok(run_rl("pull", "-q", fixture_images["nginx"])) == fixture_images["nginx"] + "\n"


def test_pull_errors_are_one_line(run_rl, registry, fixture_images):
    res = run_rl("pull", f"{registry.host}/busybox:nope")
    assert res.returncode == 1
    assert res.stderr.splitlines()[0] == f"Error: manifest for {registry.host}/busybox:nope not found: manifest unknown"
    res = run_rl("pull", "UPPER/Case")
    assert res.returncode == 1 and res.stderr.startswith("Error: invalid reference format")
    res = run_rl("pull", "--platform", "linux/s390x", fixture_images["multiarch"])
    assert res.returncode == 1
    assert res.stderr.splitlines()[0] == "Error: no matching manifest for linux/s390x in the manifest list entries"
    res = run_rl("pull", "127.0.0.1:9/nothing")
    assert res.returncode == 1 and "Traceback" not in res.stderr and 'Get "http://127.0.0.1:9/v2/"' in res.stderr


def test_images_tag_history_inspect_rmi(run_rl, fixture_images):
    busybox, nginx = fixture_images["busybox"], fixture_images["nginx"]
    ok(run_rl("pull", "-q", busybox))
    ok(run_rl("pull", "-q", nginx))
    ok(run_rl("tag", busybox, "mybox:1"))
    lines = ok(run_rl("images")).splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    rows = {tuple(line.split()[:2]): line for line in lines[1:]}
    repo = busybox.rsplit(":", 1)[0]
    assert (repo, "latest") in rows and ("mybox", "1") in rows
    assert re.search(r"\s[0-9a-f]{12}\s+\d+ years ago\s+\d[\d.]*[kMG]?B$", rows[("mybox", "1")])
    ids = ok(run_rl("images", "-q")).split()
    assert len(ids) == 2 and all(len(i) == 12 for i in ids)
    assert ok(run_rl("images", "--format", "{{.Repository}}:{{.Tag}}", "mybox")) == "mybox:1\n"
    assert ok(run_rl("images", "--filter", "reference=mybox")).count("\n") == 2
    assert ok(run_rl("images", "--filter", "dangling=true")).count("\n") == 1
    assert "sha256:" in ok(run_rl("images", "--digests", repo))
    full = ok(run_rl("images", "--no-trunc", "-q", "mybox"))
    assert full.startswith("sha256:") and len(full.strip()) == 71

    history = ok(run_rl("history", "mybox:1")).splitlines()
    assert history[0].split()[:2] == ["IMAGE", "CREATED"]
    assert history[1].split()[0] == ids[0] or history[1].split()[0] in ids
    assert ok(run_rl("history", "-q", "mybox:1")).splitlines()[0] in ids

    info = json.loads(ok(run_rl("image", "inspect", "mybox:1")))[0]
    assert info["Id"].startswith("sha256:") and "mybox:1" in info["RepoTags"]
    assert info["Config"]["Cmd"] == ["sh"] and info["RootFS"]["Type"] == "layers"
    assert ok(run_rl("image", "inspect", "--format", "{{.Os}}", "mybox:1")) == "linux\n"
    res = run_rl("image", "inspect", "nosuch")
    assert res.returncode == 1 and "No such image: nosuch" in res.stderr

    assert ok(run_rl("rmi", "mybox:1")).strip() == "Untagged: mybox:1"
    out = ok(run_rl("rmi", nginx))
    assert out.splitlines()[0] == f"Untagged: {nginx}" and "Deleted: sha256:" in out
    res = run_rl("rmi", "nosuch")
    assert res.returncode == 1 and "No such image" in res.stderr


def test_save_load_import_roundtrip(run_rl, fixture_images, tmp_path, rl_env):
    busybox = fixture_images["busybox"]
    ok(run_rl("pull", "-q", busybox))
    archive = tmp_path / "busybox.tar"
    ok(run_rl("save", "-o", archive, busybox))
    with tarfile.open(archive) as tf:
        assert {"manifest.json", "index.json", "oci-layout"} <= set(tf.getnames())
    ok(run_rl("rmi", busybox))
    assert ok(run_rl("load", "-i", archive)).strip() == f"Loaded image: {busybox}"
    assert ok(run_rl("images", busybox)).splitlines()[1].startswith(busybox.rsplit(":", 1)[0])

    with open(archive, "rb") as f:
        data = f.read()
    saved = subprocess.run([*rl_command(), "save", busybox], env=rl_env, capture_output=True, timeout=120)
    assert saved.returncode == 0 and saved.stdout[:512] and len(saved.stdout) > 100000
    res = run_rl("load", input=data)                       # from stdin
    assert res.returncode == 0 and res.stdout.strip() == f"Loaded image: {busybox}".encode()
    quiet = run_rl("load", "-q", "-i", archive)
    assert quiet.returncode == 0 and quiet.stdout == ""

    skopeo_dir = tmp_path / "oci"
    subprocess.run(["skopeo", "copy", f"docker-archive:{archive}", f"oci:{skopeo_dir}:x"], check=True,
                   capture_output=True)

    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tf:
        (tmp_path / "hello.txt").write_text("hi\n")
        tf.add(tmp_path / "hello.txt", arcname="hello.txt")
    image_id = ok(run_rl("import", "-c", 'CMD ["/bin/sh"]', "-m", "imported", rootfs, "imported:v1")).strip()
    assert image_id.startswith("sha256:")
    info = json.loads(ok(run_rl("image", "inspect", "imported:v1")))[0]
    assert info["Config"]["Cmd"] == ["/bin/sh"]
    with open(rootfs, "rb") as f:
        assert ok(run_rl("import", "-", "imported:v2", input=f.read())).startswith(b"sha256:")


def test_push_to_second_repository(run_rl, registry, fixture_images):
    nginx = fixture_images["nginx"]
    ok(run_rl("pull", "-q", nginx))
    target = f"{registry.host}/pushed/nginx:v1"
    ok(run_rl("tag", nginx, target))
    out = ok(run_rl("push", target)).splitlines()
    assert out[0] == f"The push refers to repository [{registry.host}/pushed/nginx]"
    assert re.fullmatch(r"v1: digest: sha256:[0-9a-f]{64} size: \d+", out[-1])
    digest = out[-1].split()[2]
    inspected = json.loads(subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{target}"],
                                          check=True, capture_output=True, text=True).stdout)
    assert inspected["Digest"] == digest and inspected["Os"] == "linux"
    again = ok(run_rl("push", target)).splitlines()
    assert all(line.endswith("Layer already exists") for line in again[1:-1])


def test_push_imported_image(run_rl, registry, tmp_path):
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tf:
        (tmp_path / "f").write_text("x\n")
        tf.add(tmp_path / "f", arcname="f")
    target = f"{registry.host}/imported/x:1"
    ok(run_rl("import", rootfs, target))
    out = ok(run_rl("push", target))
    assert "Pushed" in out
    subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{target}"], check=True, capture_output=True)


def test_mirror_for_docker_hub_names(run_rl, rl_env, registry, push_image):
    push_image("busybox", registry, "library/busybox")
    config = rl_env["XDG_CONFIG_HOME"] + "/rl/config.toml"
    import os

    os.makedirs(os.path.dirname(config), exist_ok=True)
    with open(config, "w") as f:
        f.write(f'registry-mirrors = ["{registry.url}"]\n')
    out = ok(run_rl("pull", "busybox")).splitlines()
    assert out[1] == "latest: Pulling from library/busybox"
    assert out[-2] == "Status: Downloaded newer image for busybox:latest"
    assert out[-1] == "docker.io/library/busybox:latest"
    assert ok(run_rl("images", "--format", "{{.Repository}}:{{.Tag}}")) == "busybox:latest\n"


def test_pull_over_tls_with_certs_d(run_rl, rl_env, registry_tls, push_image):
    ref = push_image("busybox", registry_tls)
    res = run_rl("pull", ref)
    assert res.returncode == 1 and "certificate signed by unknown authority" in res.stderr
    ca_dir = f"{rl_env['XDG_CONFIG_HOME']}/rl/certs.d/{registry_tls.host}"
    import os

    os.makedirs(ca_dir)
    shutil.copy(registry_tls.ca_file, f"{ca_dir}/ca.crt")
    assert ok(run_rl("pull", "-q", ref)).strip() == ref


def test_login_then_pull_from_auth_registry(run_rl, registry_auth, push_image):
    ref = push_image("busybox", registry_auth)
    res = run_rl("pull", ref)
    assert res.returncode == 1 and "unauthorized: authentication required" in res.stderr
    ok(run_rl("login", "-u", registry_auth.username, "--password-stdin", registry_auth.host,
              input=registry_auth.password))
    assert ok(run_rl("pull", "-q", ref)).strip() == ref


def test_concurrent_and_interrupted_pulls(run_rl, rl_env, fixture_images):
    nginx = fixture_images["nginx"]
    killed = subprocess.Popen([*rl_command(), "pull", "-q", nginx], env=rl_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.4)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    procs = [subprocess.Popen([*rl_command(), "pull", nginx], env=rl_env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert ok(run_rl("images", "-q")).count("\n") == 1
    layers = [line for out, _ in outs for line in out.splitlines() if ": Pull complete" in line]
    assert len(layers) <= 2            # each layer unpacked once across both pulls


def test_dangling_and_prune(run_rl, tmp_path):
    for n in (1, 2):
        rootfs = tmp_path / f"rootfs{n}.tar"
        with tarfile.open(rootfs, "w") as tf:
            (tmp_path / "f").write_text(f"{n}\n")
            tf.add(tmp_path / "f", arcname="f")
        ok(run_rl("import", rootfs, "app:latest"))
    dangling = ok(run_rl("images", "--filter", "dangling=true", "-q")).split()
    assert len(dangling) == 1
    assert ok(run_rl("images", "--filter", "dangling=false", "--format", "{{.Repository}}")) == "app\n"
    out = ok(run_rl("image", "prune", "-f"))
    assert out.startswith("Deleted Images:\n") and f"deleted: sha256:{dangling[0]}".lower() in out.lower()
    assert re.search(r"^Total reclaimed space: \d[\d.]*[kMG]?B$", out, re.M)
    assert ok(run_rl("images", "-q")).count("\n") == 1
    bad = run_rl("images", "--filter", "colour=red")
    assert bad.returncode != 0 and "invalid filter 'colour=red'" in bad.stderr


def test_load_an_archive_skopeo_wrote(run_rl, fixture_images, tmp_path):
    archive = tmp_path / "from-skopeo.tar"
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{fixture_images['busybox']}",
                    f"docker-archive:{archive}:skopeo/busybox:v1"], check=True, capture_output=True)
    assert ok(run_rl("load", "-i", archive)).strip() == "Loaded image: skopeo/busybox:v1"
    info = json.loads(ok(run_rl("image", "inspect", "skopeo/busybox:v1")))[0]
    assert info["Config"]["Cmd"] == ["sh"]
