"""Image archives: `rl save` (docker-archive), `rl load` (docker-archive or oci-archive), `rl import`.

save writes what `docker save` (25+) writes and docker, podman and skopeo load: an OCI image
layout (oci-layout, index.json, blobs/sha256/...) plus docker's manifest.json and repositories.
Layers are stored uncompressed, named by their diff_id, as docker does.

load accepts that, the older docker layout (<id>/layer.tar, <id>.json) and oci-archive, gzip or
not. The archive is first extracted into Paths.tmp with every name checked (no absolute names, no
`..`, links resolved within the archive only); a malicious or corrupt archive raises before the
store is touched, and layers this load unpacked are removed again if a later step fails.

import turns a rootfs tarball into a one-layer image: the bytes stream at once into the blob
store (compressed as given) and into the unpacker, which reports the diff_id.
"""

from __future__ import annotations

import json
import os
import platform
import posixpath
import shutil
import sys
import tarfile
import time
from pathlib import Path
from typing import BinaryIO

from rootless.engine.image import layer as layerfmt
from rootless.engine.image import layerstore
from rootless.engine.image.changes import apply_changes
from rootless.engine.image.digest import VerifyingWriter, chain_ids, sha256_file
from rootless.engine.image.reference import Reference, parse, try_parse
from rootless.errors import RlError, StorageError

LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MANIFEST_OCI = "application/vnd.oci.image.manifest.v1+json"
INDEX_OCI = "application/vnd.oci.image.index.v1+json"
CONFIG_OCI = "application/vnd.oci.image.config.v1+json"
CHUNK = 1 << 20


class BadArchive(StorageError):
    """A corrupt, unsupported or malicious image archive."""


# ------------------------------------------------------------------------------------------------
# save
def save_to(store, names: list[str], output: str | None) -> None:
    """Write the images `names` as one docker-archive to the file `output` (stdout if None)."""
    if output is None:
        _save(store, names, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    target = Path(output)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            _save(store, names, f)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise RlError(f"write {output}: {e.strerror or e}") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _save(store, names: list[str], out: BinaryIO) -> None:
    images: dict[str, tuple] = {}
    for name in names:
        image = store.resolve(name)
        ref = try_parse(name)
        tags = images.setdefault(image.id, (image, []))[1]
        if ref is not None and not ref.digest and str(ref) in image.repo_tags:
            tags.append(ref.familiar())
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        _add_bytes(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        written: set[str] = set()
        manifest_json, index, repositories = [], [], {}
        for image, tags in images.values():
            entry, descriptor = _save_image(store, tf, image, written)
            manifest_json.append(dict(entry, RepoTags=tags or None))
            for tag in tags or [None]:
                desc = dict(descriptor)
                if tag:
                    ref = parse(tag)
                    desc["annotations"] = {"io.containerd.image.name": str(ref),
                                           "org.opencontainers.image.ref.name": ref.tag}
                    repositories.setdefault(ref.familiar_name(), {})[ref.tag] = entry["Layers"][-1][13:] \
                        if entry["Layers"] else ""
                index.append(desc)
        _add_bytes(tf, "index.json", _dumps({"schemaVersion": 2, "mediaType": INDEX_OCI, "manifests": index}))
        _add_bytes(tf, "manifest.json", _dumps(manifest_json))
        _add_bytes(tf, "repositories", _dumps(repositories))


def _save_image(store, tf: tarfile.TarFile, image, written: set[str]) -> tuple[dict, dict]:
    config_raw = store.read_blob(image.id)
    _add_blob(tf, image.id, config_raw, written)
    layers = []
    for diff_id, desc in zip(image.diff_ids, image.layers):
        size = _add_layer(store, tf, diff_id, desc, written)
        layers.append({"mediaType": LAYER_TAR, "digest": diff_id, "size": size})
    if len(layers) != len(image.diff_ids):
        raise StorageError(f"image {image.short_id}: its layer blobs are not in the store",
                           "pull the image again")
    manifest = _dumps({"schemaVersion": 2, "mediaType": MANIFEST_OCI,
                       "config": {"mediaType": CONFIG_OCI, "digest": image.id, "size": len(config_raw)},
                       "layers": layers})
    from rootless.engine.image.digest import sha256_bytes

    manifest_digest = sha256_bytes(manifest)
    _add_blob(tf, manifest_digest, manifest, written)
    entry = {"Config": _blob_name(image.id), "Layers": [_blob_name(layer["digest"]) for layer in layers]}
    return entry, {"mediaType": MANIFEST_OCI, "digest": manifest_digest, "size": len(manifest)}


def _add_layer(store, tf: tarfile.TarFile, diff_id: str, desc: dict, written: set[str]) -> int:
    """Add the uncompressed layer `diff_id` (decompressed from its stored blob) once."""
    blob = store.blob_path(desc.get("digest", ""))
    if not blob.is_file():
        raise StorageError(f"layer blob {desc.get('digest')} is missing from the store",
                           "pull the image again")
    store.paths.tmp.mkdir(parents=True, exist_ok=True)
    tmp = store.paths.tmp / f"save-{diff_id[7:19]}-{os.getpid()}"
    try:
        with open(blob, "rb") as src, VerifyingWriter(tmp.with_suffix(".tar"), diff_id) as w:
            stream = layerfmt.open_decompressed(src)
            while chunk := stream.read(CHUNK):
                w.write(chunk)
            w.commit()
        size = tmp.with_suffix(".tar").stat().st_size
        if _blob_name(diff_id) not in written:
            written.add(_blob_name(diff_id))
            tf.add(str(tmp.with_suffix(".tar")), arcname=_blob_name(diff_id), recursive=False,
                   filter=_plain_member)
        return size
    finally:
        tmp.with_suffix(".tar").unlink(missing_ok=True)


def _plain_member(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    return info


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.partition(":")[2]


def _add_blob(tf: tarfile.TarFile, digest: str, data: bytes, written: set[str]) -> None:
    if _blob_name(digest) not in written:
        written.add(_blob_name(digest))
        _add_bytes(tf, _blob_name(digest), data)


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    tf.addfile(info, io.BytesIO(data))


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# ------------------------------------------------------------------------------------------------
# load
def load_from(store, source: str | None) -> list[str]:
    """Load every image of the archive `source` (stdin if None); returns docker's output lines."""
    store.paths.tmp.mkdir(parents=True, exist_ok=True)
    workdir = store.paths.tmp / f"load-{os.getpid()}-{os.urandom(3).hex()}"
    try:
        if source is None:
            files = extract_archive(sys.stdin.buffer, workdir)
        else:
            try:
                f = open(source, "rb")
            except OSError as e:
                raise RlError(f"open {source}: {e.strerror.lower() if e.strerror else e}") from None
            with f:
                files = extract_archive(f, workdir)
        plans = _plan(files)
        lines = _apply(store, plans, files)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return lines


def extract_archive(stream: BinaryIO, workdir: Path) -> dict[str, Path]:
    """Extract an image archive's regular files into `workdir`; returns name -> path.

    Links become aliases of their (in-archive) targets; any entry whose name or link target
    would leave the archive raises BadArchive.
    """
    os.mkdir(workdir, 0o700)
    files: dict[str, Path] = {}
    aliases: dict[str, str] = {}
    count = 0
    try:
        with tarfile.open(fileobj=layerfmt.open_decompressed(stream), mode="r|") as tf:
            for member in tf:
                name = _safe_name(member.name)
                if member.isdir():
                    continue
                if member.issym() or member.islnk():
                    base = posixpath.dirname(name) if member.issym() else ""
                    target = member.linkname if member.islnk() else posixpath.join(base, member.linkname)
                    if member.linkname.startswith("/"):
                        raise BadArchive(f"invalid archive: link {member.name!r} points outside the archive")
                    aliases[name] = _inside(target, member.name)
                    continue
                if not member.isreg():
                    raise BadArchive(f"invalid archive: unexpected entry {member.name!r} (type {member.type!r})")
                count += 1
                path = workdir / f"f{count}"
                with open(path, "wb") as out:
                    shutil.copyfileobj(tf.extractfile(member), out, CHUNK)  # type: ignore[misc]
                files[name] = path
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise BadArchive(f"invalid archive: {e}", "the file is not an image archive or it is damaged") from None
    for name, target in aliases.items():
        for _ in range(16):
            target = aliases.get(target, target)
        if target not in files:
            raise BadArchive(f"invalid archive: link {name!r} points to {target!r}, which is not in the archive")
        files[name] = files[target]
    return files


def _safe_name(name: str) -> str:
    if name.startswith("/"):
        raise BadArchive(f"invalid archive: entry {name!r} is an absolute path (tar-slip)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BadArchive(f"invalid archive: entry {name!r} leaves the archive (tar-slip)")
    return "/".join(parts)


def _inside(target: str, name: str) -> str:
    """A link target normalised lexically; BadArchive if it climbs out of the archive."""
    normal = posixpath.normpath(target)
    if normal == ".." or normal.startswith("../"):
        raise BadArchive(f"invalid archive: link {name!r} points outside the archive (tar-slip)")
    return _safe_name(normal)


def _read_json(files: dict[str, Path], name: str):
    if name not in files:
        raise BadArchive(f"invalid archive: {name} is missing")
    try:
        return json.loads(files[name].read_bytes())
    except ValueError as e:
        raise BadArchive(f"invalid archive: {name}: {e}") from None


def _plan(files: dict[str, Path]) -> list[dict]:
    """[{"config": name, "layers": [name...], "tags": [...]}] from manifest.json or index.json."""
    if "manifest.json" in files:
        plans = []
        for entry in _read_json(files, "manifest.json"):
            if not isinstance(entry, dict) or "Config" not in entry:
                raise BadArchive("invalid archive: manifest.json entry without Config")
            plans.append({"config": _safe_name(entry["Config"]),
                          "layers": [_safe_name(p) for p in entry.get("Layers") or []],
                          "tags": list(entry.get("RepoTags") or [])})
        return plans
    if "index.json" in files:
        return _plan_oci(files, _read_json(files, "index.json"), None)
    raise BadArchive("invalid archive: neither manifest.json nor index.json found",
                     "rl load reads docker-archive and oci-archive files")


def _plan_oci(files: dict[str, Path], index: dict, inherited: str | None) -> list[dict]:
    plans = []
    for desc in index.get("manifests") or []:
        annotations = desc.get("annotations") or {}
        tag = annotations.get("io.containerd.image.name") or inherited
        ref_name = annotations.get("org.opencontainers.image.ref.name")
        if not tag and ref_name and try_parse(ref_name) and (":" in ref_name or "/" in ref_name):
            tag = ref_name
        name = _blob_name(desc.get("digest", ""))
        data = _read_json(files, name)
        if desc.get("mediaType") == INDEX_OCI or "manifests" in data:
            plans += _plan_oci(files, data, tag)
            continue
        plans.append({"config": _blob_name(data["config"]["digest"]), "tags": [tag] if tag else [],
                      "layers": [_blob_name(layer["digest"]) for layer in data.get("layers") or []],
                      "digests": [layer["digest"] for layer in data.get("layers") or []]})
    return plans


def _apply(store, plans: list[dict], files: dict[str, Path]) -> list[str]:
    created: list[str] = []
    lines: list[str] = []
    try:
        staged = [_unpack_plan(store, plan, files, created) for plan in plans]
        for plan, (config_raw, descriptors, blobs) in zip(plans, staged):
            for digest, path in blobs:
                if not store.has_blob(digest):
                    with open(path, "rb") as f:
                        store.put_blob(f, digest)
            refs = [parse(t) for t in plan["tags"]]
            image = store.add_image(config_raw, layers=descriptors, ref=refs[0] if refs else None)
            for ref in refs[1:]:
                store.tag(image, ref)
            lines += [f"Loaded image: {r.familiar()}" for r in refs] or [f"Loaded image ID: {image.id}"]
    except BaseException:
        for chain in created:
            layerstore.remove_layer(store.paths, store.mapping, chain)
        raise
    return lines


def _unpack_plan(store, plan: dict, files: dict[str, Path], created: list[str]):
    if plan["config"] not in files:
        raise BadArchive(f"invalid archive: {plan['config']} is missing")
    config_raw = files[plan["config"]].read_bytes()
    try:
        diff_ids = json.loads(config_raw)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        raise BadArchive(f"invalid archive: {plan['config']} is not an image config") from None
    if len(diff_ids) != len(plan["layers"]):
        raise BadArchive(f"invalid archive: config lists {len(diff_ids)} layers, manifest {len(plan['layers'])}")
    descriptors, blobs = [], []
    for i, (name, diff_id, chain) in enumerate(zip(plan["layers"], diff_ids, chain_ids(diff_ids))):
        if name not in files:
            raise BadArchive(f"invalid archive: layer {name} is missing")
        path = files[name]
        digest = sha256_file(path)
        expected = (plan.get("digests") or [None] * len(diff_ids))[i]
        if expected and digest != expected:
            raise BadArchive(f"invalid archive: layer {name} does not match its digest {expected}")
        result = store.ensure_layer(chain, diff_id, path)
        if result.get("unpacked"):
            created.append(chain)
        descriptors.append({"mediaType": _media_type(path), "digest": digest, "size": path.stat().st_size})
        blobs.append((digest, path))
    return config_raw, descriptors, blobs


def _media_type(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"\x1f\x8b"):
        return LAYER_TAR + "+gzip"
    if head == b"\x28\xb5\x2f\xfd":
        return LAYER_TAR + "+zstd"
    return LAYER_TAR


# ------------------------------------------------------------------------------------------------
# import
def host_architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def import_rootfs(store, stream: BinaryIO, ref: Reference | None, changes: list[str], *,
                  message: str | None = None) -> object:
    """A one-layer image from a rootfs tarball (plain, gzip or zstd); returns the Image."""
    container_config = apply_changes({}, changes)  # bad --change fails before any work
    added = store.add_layer(stream)
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"
    config = {"architecture": host_architecture(), "os": "linux", "created": now,
              "config": container_config, "rootfs": {"type": "layers", "diff_ids": [added["diff_id"]]},
              "history": [{"created": now, "created_by": "", "comment": message or "Imported from -"}]}
    return store.add_image(_dumps(config), ref=ref, layers=[added["descriptor"]])
