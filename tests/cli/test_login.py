"""`rl login` / `rl logout` / `rl search` against real registries (basic-auth and plain)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.registry


def _auth_file(env) -> Path:
    return Path(env["HOME"]) / ".docker" / "config.json"


def test_login_logout(registry_auth, run_rl, rl_env):
    host = registry_auth.host
    bad = run_rl("login", "-u", registry_auth.username, "--password-stdin", host, input="wrong\n")
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[0] == f"Error: login to {host}: unauthorized: incorrect username or password"
    assert "Traceback" not in bad.stderr and not _auth_file(rl_env).exists()

    ok = run_rl("login", "-u", registry_auth.username, "--password-stdin", f"http://{host}/", input=registry_auth.password + "\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("Login Succeeded")
    entry = json.loads(_auth_file(rl_env).read_text())["auths"][host]
    assert base64.b64decode(entry["auth"]).decode() == f"{registry_auth.username}:{registry_auth.password}"

    again = run_rl("login", host)              # stored credentials are verified again
    assert again.returncode == 0 and "Login Succeeded" in again.stdout

    with_p = run_rl("login", "-u", registry_auth.username, "-p", registry_auth.password, host)
    assert with_p.returncode == 0 and "--password-stdin" in with_p.stderr

    out = run_rl("logout", host)
    assert out.returncode == 0 and out.stdout.strip() == f"Removing login credentials for {host}"
    assert host not in json.loads(_auth_file(rl_env).read_text())["auths"]
    assert run_rl("logout", host).stdout.strip() == f"Not logged in to {host}"


def test_login_needs_a_tty_or_stdin(registry_auth, run_rl):
    res = run_rl("login", registry_auth.host)
    assert res.returncode != 0 and "Cannot perform an interactive login from a non TTY device" in res.stderr


def test_search_private_registry(registry, fixture_images, run_rl):
    res = run_rl("search", f"{registry.host}/busy")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]
    names = [line.split()[0] for line in lines[1:]]
    assert f"{registry.host}/busybox" in names and f"{registry.host}/busybox-zstd" in names
    assert f"{registry.host}/nginx" not in names
    fmt = run_rl("search", "--format", "{{.Name}}", f"{registry.host}/ngin")
    found = fmt.stdout.splitlines()                 # other tests push more repositories here
    assert f"{registry.host}/nginx" in found and all("ngin" in name for name in found)
    assert f"{registry.host}/busybox" not in found
