"""Pull benchmark: rl pull vs podman pull vs skopeo copy (download only), side by side, one run.

    .venv/bin/python bench/pull_bench.py [--runs N] [--big]

Starts a docker-registry on 127.0.0.1 (the test rig's), pushes the nginx fixture image and, with
--big, a synthetic "big" image (one gzip layer made of /usr/lib and /usr/share files, about the
size of Docker Hub's nginx: ~60 MB compressed, thousands of files), then times, into an empty
store each run:
  rl       rl pull (download, verify, decompress, unpack: layers in parallel)
  podman   podman pull (overlay driver, its own temp storage; skipped if podman is missing)
  skopeo   skopeo copy docker://... dir:  (download only: the floor)
Prints the median of each. Not a test: figures for the report.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fixtures import images as fixture_images  # noqa: E402
from fixtures.registry import start_registry  # noqa: E402

RL = [str(Path(sys.executable).with_name("rl"))]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_big_layout(layout: Path, limit: int = 140 << 20) -> None:
    """An OCI layout with one big layer of real files (no umoci needed)."""
    raw = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for top in ("/usr/lib/python3", "/usr/share/locale", "/usr/lib/x86_64-linux-gnu", "/usr/share"):
            for path in sorted(Path(top).rglob("*")):
                if total > limit:
                    break
                try:
                    if path.is_symlink() or path.is_dir() or path.is_file():
                        info = tar.gettarinfo(str(path), arcname=str(path).lstrip("/"))
                        if info.isreg():
                            with open(path, "rb") as f:
                                tar.addfile(info, f)
                            total += info.size
                        elif info.isdir() or info.issym():
                            tar.addfile(info)
                except (OSError, ValueError):
                    continue
    tar_bytes = raw.getvalue()
    layer = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [_digest(tar_bytes)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _digest(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": _digest(layer), "size": len(layer)}]}).encode()
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for blob in (layer, config, manifest):
        (blobs / _digest(blob)[7:]).write_bytes(blob)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(manifest),
         "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "big"}}]}))
    print(f"big image: layer {len(layer) / 1e6:.1f} MB compressed, {len(tar_bytes) / 1e6:.1f} MB tar")


def timed(argv: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return time.perf_counter() - start


def rm_tree(path: Path, env: dict) -> None:
    if path.exists():
        # rl's store may hold files owned by subordinate ids: let rl remove what it can, then rm
        subprocess.run(["rm", "-rf", str(path)], check=False)


def bench(ref: str, runs: int, work: Path) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"rl": [], "podman": [], "skopeo": []}
    env = dict(os.environ, HOME=str(work / "home"))
    for i in range(runs):
        store = work / f"rl-{i}"
        results["rl"].append(timed([*RL, "--root", str(store), "pull", "-q", ref], env))
        rm_tree(store, env)
        target = work / f"skopeo-{i}"
        results["skopeo"].append(timed(["skopeo", "copy", "--src-tls-verify=false", f"docker://{ref}", f"dir:{target}"]))
        shutil.rmtree(target, ignore_errors=True)
        if shutil.which("podman"):
            proot = work / f"podman-{i}"
            argv = ["podman", "--root", str(proot / "storage"), "--runroot", str(proot / "run"),
                    "--storage-driver", "overlay", "pull", "-q", "--tls-verify=false", ref]
            results["podman"].append(timed(argv))
            subprocess.run(["podman", "--root", str(proot / "storage"), "--runroot", str(proot / "run"),
                            "--storage-driver", "overlay", "system", "reset", "-f"], capture_output=True)
            shutil.rmtree(proot, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="also a ~60 MB synthetic image")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rl-pull-bench-", dir="/var/tmp"))
    registry = start_registry(work / "registry")
    try:
        layout = fixture_images.fixture_layout()
        refs = {"nginx fixture": fixture_images.push_fixture(layout, "nginx", registry)}
        if args.big:
            big = work / "big-layout"
            build_big_layout(big)
            fixture_images.skopeo_copy(f"oci:{big}:big", f"docker://{registry.host}/big:latest",
                                       dest_registry=registry)
            refs["big (synthetic)"] = f"{registry.host}/big:latest"
        print(f"{'image':<18}{'rl pull':>10}{'podman pull':>14}{'skopeo copy':>14}   (median of {args.runs}, seconds)")
        for name, ref in refs.items():
            r = bench(ref, args.runs, work)
            med = {k: (f"{statistics.median(v):.2f}" if v else "n/a") for k, v in r.items()}
            print(f"{name:<18}{med['rl']:>10}{med['podman']:>14}{med['skopeo']:>14}")
    finally:
        registry.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
