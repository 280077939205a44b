"""Push: a stored image -> a registry repository (blobs, config, manifest); returns the digest.

The manifest pushed is the one the image was pulled with when the store still holds it and every
blob it names (so the digest is preserved, as docker does); otherwise a new OCI manifest is made,
with each layer gzip-compressed from the store (the uncompressed layer blob, or a tar of the
unpacked layer the store produces) into a new blob first. Each blob is checked with HEAD first,
then a cross-repository mount is tried from the repository the image came from on the same
registry, then it is uploaded (monolithic PUT, or PATCH chunks with `chunk_size`).
"""

from __future__ import annotations

import json
from pathlib import Path

from rootless.context import Context
from rootless.engine.image.progress import Quiet
from rootless.engine.image.reference import Reference
from rootless.engine.image.registry import INDEX_TYPES, MEDIA_OCI_MANIFEST, Registry
from rootless.errors import RegistryError, StorageError

CHUNK = 1 << 20
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def _read_chunks(path: Path):
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def stored_manifest(ctx: Context, image) -> tuple[bytes, dict] | None:
    """The manifest the image came with, if it and every blob it names are in the store."""
    try:
        raw = ctx.paths.blob(image.manifest_digest).read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError, StorageError):
        return None
    if data.get("mediaType") in INDEX_TYPES or "manifests" in data:
        return None
    blobs = [layer.get("digest") for layer in data.get("layers") or []]
    if (data.get("config") or {}).get("digest") != image.id:
        return None
    if not all(b and ctx.paths.blob(b).is_file() for b in blobs):
        return None
    return raw, data


def _layer_blob(ctx: Context, store, diff_id: str) -> dict:
    """A compressed blob in the store for `diff_id`: one another image names, else the gzip of
    the uncompressed layer blob (made now). Raises when the store holds neither."""
    for other in store.list():
        for other_diff, desc in zip(other.diff_ids, other.layers):
            if other_diff == diff_id and ctx.paths.blob(desc["digest"]).is_file():
                return {"mediaType": desc.get("mediaType", MEDIA_LAYER_GZIP), "digest": desc["digest"],
                        "size": desc.get("size") or ctx.paths.blob(desc["digest"]).stat().st_size}
    plain = ctx.paths.blob(diff_id)
    if plain.is_file():
        return _gzip_blob(ctx, plain)
    raise StorageError(f"layer {diff_id} has no blob in the store to push", "pull the image again, then push")


def _gzip_blob(ctx: Context, plain: Path) -> dict:
    from isal import igzip

    from rootless.engine.image.digest import VerifyingWriter

    with VerifyingWriter(ctx.paths.blobs / "gzip") as writer:
        with open(plain, "rb") as src, igzip.IGzipFile(fileobj=writer, mode="wb", mtime=0) as gz:
            while chunk := src.read(CHUNK):
                gz.write(chunk)
        writer.dest = ctx.paths.blob(writer.digest)
        digest = writer.commit()
    return {"mediaType": MEDIA_LAYER_GZIP, "digest": digest, "size": writer.size}


def build_manifest(ctx: Context, store, image) -> tuple[bytes, dict]:
    """A new OCI manifest for `image` from the blobs the store holds (gzip-compressing if needed)."""
    config_raw = ctx.paths.blob(image.id).read_bytes()
    layers = [_layer_blob(ctx, store, diff_id) for diff_id in image.diff_ids]
    manifest = {"schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
                "config": {"mediaType": MEDIA_CONFIG, "digest": image.id, "size": len(config_raw)},
                "layers": layers}
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    return raw, manifest


def _mount_sources(image, ref: Reference) -> list[str]:
    """Repositories on the same registry that hold the image already (for cross-repo mounts)."""
    from rootless.engine.image.reference import try_parse

    sources: list[str] = []
    for text in list(getattr(image, "repo_digests", []) or []) + list(getattr(image, "repo_tags", []) or []):
        other = try_parse(text)
        if other and other.domain == ref.domain and other.path != ref.path and other.path not in sources:
            sources.append(other.path)
    return sources


def push_blob(ctx: Context, registry: Registry, repo: str, desc: dict, sources: list[str], progress, *,
              chunk_size: int | None = None) -> str:
    digest, size = desc["digest"], desc.get("size")
    bar = progress.layer(digest.split(":")[1][:12], size)
    if registry.blob_exists(repo, digest):
        bar.done("Layer already exists")
        return "exists"
    for source in sources:
        if registry.mount_blob(repo, digest, source):
            bar.done(f"Mounted from {source}")
            return "mounted"
    path = ctx.paths.blob(digest)
    if not path.is_file():
        raise StorageError(f"blob {digest} is missing from the store", "pull the image again")
    bar.start("Pushing")

    def chunks():
        for chunk in _read_chunks(path):
            bar.advance(len(chunk))
            yield chunk
    registry.upload_blob(repo, digest, path.stat().st_size, chunks(), chunk_size=chunk_size)
    bar.done("Pushed")
    return "pushed"


def push(ctx: Context, image, ref: Reference, *, progress=None, store=None, chunk_size: int | None = None) -> str:
    """Push `image` as `ref`; returns the manifest digest."""
    from rootless.engine.image.pull import registry_for

    progress = progress or Quiet()
    if ref.digest and not ref.tag:
        raise RegistryError("cannot push to a digest reference", "push to a tag: NAME[:TAG]")
    progress.message(f"The push refers to repository [{ref.name}]")
    found = stored_manifest(ctx, image)
    raw, manifest = found if found else build_manifest(ctx, store, image)
    media_type = manifest.get("mediaType") or MEDIA_OCI_MANIFEST
    sources = _mount_sources(image, ref)
    with registry_for(ctx, ref.domain) as registry:
        for layer in manifest.get("layers") or []:
            push_blob(ctx, registry, ref.path, layer, sources, progress, chunk_size=chunk_size)
        config_desc = manifest["config"]
        if not registry.blob_exists(ref.path, config_desc["digest"]):
            path = ctx.paths.blob(config_desc["digest"])
            registry.upload_blob(ref.path, config_desc["digest"], path.stat().st_size, _read_chunks(path))
        digest = registry.put_manifest(ref.path, ref.tag or "latest", raw, media_type)
    progress.message(f"{ref.tag or 'latest'}: digest: {digest} size: {len(raw)}")
    return digest
