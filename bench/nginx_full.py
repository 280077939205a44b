"""The benchmark's realistic image, "nginx-full": Debian bookworm minbase plus nginx, built once.

The test suite's nginx fixture (tests/fixtures/images.py) is ~5 MB so that CI stays fast; the pull
goal of issue 3 is about an image the size of docker.io/library/nginx (~58 MB compressed, ~7k
files, a Debian base layer under the nginx layer). This module builds such an image from Debian
packages only (no registry but apt's mirror):

  1. `debootstrap --variant=minbase bookworm` into base/ (the mirror of /etc/apt/sources.list),
     apt lists, caches and logs removed (as Debian's docker images do);
  2. a copy of base/ in which `apt-get install --no-install-recommends nginx ...` runs (chroot in a
     private mount and pid namespace, policy-rc.d forbids starting services);
  3. layer 1 = base/, layer 2 = what step 2 changed (new or changed entries, their parents,
     whiteouts for what it removed), layer 3 = a small config layer (like nginx's entrypoint
     scripts); each a gzip tar (numeric owners, sorted names), in an OCI layout with an OCI
     config (Cmd nginx -g "daemon off;", ExposedPorts 80/tcp) and a manifest tagged nginx-full.

Building needs root (debootstrap, chroot): `bench/run.py` calls `ensure_built()` in its root step.
The layout is cached in CACHE/<recipe hash>/ (world-readable: the benchmark runs as rltest), so a
second `make bench` reuses it; `cached_layout()` finds it as any user. `push(layout, registry)`
copies it to the bench's registry with skopeo.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

CACHE = Path(os.environ.get("RL_BENCH_CACHE", "/var/tmp/rl-bench-cache"))
TAG = "nginx-full"
SUITE = "bookworm"
PACKAGES = ["nginx", "ca-certificates", "curl", "gettext-base", "procps"]
CREATED = "2023-11-14T22:13:20Z"
POLICY_RC = "#!/bin/sh\nexit 101\n"
DEFAULT_CONF = """server {
    listen       80;
    server_name  localhost;
    location / {
        root   /var/www/html;
        index  index.html index.nginx-debian.html;
    }
}
"""


#: bump when the way the image is made changes (the cache key: with SUITE, PACKAGES, DEFAULT_CONF)
RECIPE = 1


def recipe_key() -> str:
    h = hashlib.sha256(json.dumps([RECIPE, SUITE, PACKAGES, DEFAULT_CONF, mirror()]).encode())
    return h.hexdigest()[:16]


def layout_dir() -> Path:
    return CACHE / f"{TAG}-{recipe_key()}"


def cached_layout() -> Path | None:
    """The OCI layout if a previous build finished, else None."""
    final = layout_dir()
    return final / "oci" if (final / "done").exists() else None


def mirror() -> str:
    """The Debian mirror apt uses here (first `URIs:`/`deb` line naming /debian)."""
    sources = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for src in sources:
        try:
            text = src.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] or words[:1] == ["deb"]:
                for word in words[1:]:
                    if word.startswith("http") and word.rstrip("/").endswith("/debian"):
                        return word
    return "http://deb.debian.org/debian"


def ensure_built(log=print) -> Path:
    """Build the layout unless cached (root only); returns the layout path."""
    found = cached_layout()
    if found:
        return found
    if os.getuid() != 0:
        raise PermissionError("building nginx-full needs root (debootstrap, chroot): run `make bench` as root once")
    CACHE.mkdir(parents=True, exist_ok=True)
    CACHE.chmod(0o755)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cached_layout():
            return cached_layout()  # type: ignore[return-value]
        tmp = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
        try:
            t0 = time.time()
            build(tmp, log)
            (tmp / "done").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
            subprocess.run(["chmod", "-R", "a+rX", str(tmp / "oci")], check=True)
            tmp.chmod(0o755)
            final = layout_dir()
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
            log(f"nginx-full built in {time.time() - t0:.0f} s: {final}")
        finally:
            _rm(tmp)
        for old in CACHE.glob(f"{TAG}-*"):
            if old != layout_dir():
                _rm(old)
    return layout_dir() / "oci"


def _rm(path: Path) -> None:
    if path.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


def _sh(*argv: str, **kw) -> None:
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, **kw)


def _in_chroot(root: Path, script: str) -> None:
    """Run `script` in `root` with its own /proc, in private mount and pid namespaces."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    _sh("unshare", "--mount", "--pid", "--fork", f"--mount-proc={root}/proc", "chroot", str(root),
        "sh", "-ec", script, env=env)


def _clean(root: Path) -> None:
    for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb",
                    "var/log/*.log", "var/log/apt/*", "var/cache/debconf/*-old", "var/lib/dpkg/*-old"):
        for p in root.glob(pattern):
            if p.is_file() or p.is_symlink():
                p.unlink()
    (root / "etc" / "resolv.conf").unlink(missing_ok=True)
    (root / "usr" / "sbin" / "policy-rc.d").unlink(missing_ok=True)


def build(tmp: Path, log) -> None:
    base, full = tmp / "base", tmp / "full"
    log(f"nginx-full: debootstrap --variant=minbase {SUITE} from {mirror()} (a few minutes, once)")
    _sh("debootstrap", "--variant=minbase", SUITE, str(base), mirror(), stdout=subprocess.DEVNULL)
    _clean(base)
    _sh("cp", "-a", str(base), str(full))
    shutil.copy("/etc/resolv.conf", full / "etc" / "resolv.conf")
    policy = full / "usr" / "sbin" / "policy-rc.d"
    policy.write_text(POLICY_RC)
    policy.chmod(0o755)
    log(f"nginx-full: apt-get install {' '.join(PACKAGES)}")
    _in_chroot(full, "apt-get -q update >/dev/null && apt-get -q install -y --no-install-recommends "
               + " ".join(PACKAGES) + " >/dev/null && apt-get clean")
    _clean(full)
    oci = tmp / "oci"
    (oci / "blobs" / "sha256").mkdir(parents=True)
    layers = [_layer(oci, _tar_tree(base, _all_paths(base))),
              _layer(oci, _tar_tree(full, *_changes(base, full))),
              _layer(oci, _config_layer())]
    _write_image(oci, layers)


# --- layer tars -----------------------------------------------------------------------------------
def _all_paths(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            out.append(name if rel == "." else f"{rel}/{name}")
    return sorted(out)


def _same(a: os.stat_result, b: os.stat_result, pa: Path, pb: Path) -> bool:
    if (a.st_mode, a.st_uid, a.st_gid) != (b.st_mode, b.st_uid, b.st_gid):
        return False
    if stat.S_ISDIR(a.st_mode):
        return True
    if stat.S_ISLNK(a.st_mode):
        return os.readlink(pa) == os.readlink(pb)
    if (a.st_size, a.st_mtime_ns) != (b.st_size, b.st_mtime_ns):
        return False
    return True


def _changes(base: Path, full: Path) -> tuple[list[str], list[str]]:
    """(paths of full/ that are new or changed, with their parent dirs; paths removed from base/)."""
    before, after = set(_all_paths(base)), _all_paths(full)
    changed: set[str] = set()
    for rel in after:
        if rel not in before or not _same(os.lstat(base / rel), os.lstat(full / rel), base / rel, full / rel):
            changed.add(rel)   # a directory whose metadata changed: the entry, not its tree
            parent = rel.rpartition("/")[0]
            while parent:
                changed.add(parent)
                parent = parent.rpartition("/")[0]
    removed = sorted(p for p in before - set(after) if p.rpartition("/")[0] not in before - set(after))
    return sorted(changed), removed


def _tar_tree(root: Path, paths: list[str], whiteouts: list[str] = ()) -> tuple[bytes, int]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for rel in paths:
            info = tf.gettarinfo(str(root / rel), arcname=rel)
            if info is None:  # a socket
                continue
            info.uname = info.gname = ""
            info.mtime = int(info.mtime)
            if info.isreg():
                with open(root / rel, "rb") as f:
                    tf.addfile(info, f)
            else:
                tf.addfile(info)
        for rel in whiteouts:
            parent, _, name = rel.rpartition("/")
            info = tarfile.TarInfo(f"{parent}/.wh.{name}" if parent else f".wh.{name}")
            info.mtime = 1700000000
            tf.addfile(info)
    return buf.getvalue(), len(paths) + len(whiteouts)


def _config_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name in ("etc", "etc/nginx", "etc/nginx/conf.d"):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            tf.addfile(info)
        data = DEFAULT_CONF.encode()
        info = tarfile.TarInfo("etc/nginx/conf.d/default.conf")
        info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue(), 4


def _blob(oci: Path, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (oci / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _layer(oci: Path, tar_and_count: tuple[bytes, int]) -> dict:
    tar, files = tar_and_count
    gz = gzip.compress(tar, compresslevel=6, mtime=0)
    desc = _blob(oci, gz)
    return dict(desc, mediaType="application/vnd.oci.image.layer.v1.tar+gzip",
                diff_id="sha256:" + hashlib.sha256(tar).hexdigest(), files=files, tar_size=len(tar))


def _write_image(oci: Path, layers: list[dict]) -> None:
    config = {
        "created": CREATED, "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["nginx", "-g", "daemon off;"], "ExposedPorts": {"80/tcp": {}},
                   "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "StopSignal": "SIGQUIT"},
        "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"] for layer in layers]},
        "history": [{"created": CREATED, "created_by": f"debootstrap --variant=minbase {SUITE}"},
                    {"created": CREATED, "created_by": f"apt-get install --no-install-recommends {' '.join(PACKAGES)}"},
                    {"created": CREATED, "created_by": "COPY default.conf /etc/nginx/conf.d/"}],
    }
    cdesc = _blob(oci, json.dumps(config, sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": dict(cdesc, mediaType="application/vnd.oci.image.config.v1+json"),
                "layers": [{k: v for k, v in layer.items() if k in ("digest", "size", "mediaType")}
                           for layer in layers]}
    mdesc = _blob(oci, json.dumps(manifest, sort_keys=True).encode())
    index = {"schemaVersion": 2, "manifests": [dict(mdesc, mediaType=manifest["mediaType"],
                                                     annotations={"org.opencontainers.image.ref.name": TAG})]}
    (oci / "index.json").write_text(json.dumps(index))
    (oci / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    stats = {"compressed": sum(layer["size"] for layer in layers), "files": sum(layer["files"] for layer in layers),
             "layers": len(layers), "uncompressed": sum(layer["tar_size"] for layer in layers)}
    (oci.parent / "stats.json").write_text(json.dumps(stats))


def stats(layout: Path) -> dict:
    """{"compressed": bytes, "files": entries, "layers": n} of a built layout."""
    return json.loads((layout.parent / "stats.json").read_text())


def label(layout: Path) -> str:
    s = stats(layout)
    return f"{s['compressed'] / 1e6:.0f} MB compressed, {s['files'] / 1000:.1f}k files, {s['layers']} layers"


def push(layout: Path, registry) -> str:
    """Copy nginx-full to the bench registry; its ref."""
    ref = f"{registry.host}/{TAG}:latest"
    _sh("skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:{TAG}",
        f"docker://{ref}", capture_output=True, timeout=300)
    return ref


if __name__ == "__main__":
    print(ensure_built())
