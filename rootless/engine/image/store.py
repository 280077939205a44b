"""The local image store: blobs, unpacked layers and the images.json index.

- blobs: Paths.blob(digest), content-addressed, verified on write (temp name + rename).
- layers: Paths.layer(chain_id), unpacked once (rootless.engine.image.layerstore), shared by
  every image with that chain; reference counts are computed from the images, never stored.
- images.json: {"images": {id: record}, "tags": {"docker.io/library/nginx:latest": id}}, read
  without a lock (it is always replaced atomically) and changed only under Paths.locks/images.lock.
  An image id is the digest of its config blob (docker's image id).

Name resolution follows docker: a reference first (name, name:tag, name@digest), then a full id
("sha256:<hex>" or "<hex>"), then a unique id prefix. `remove` has docker's rmi semantics.
"""

from __future__ import annotations

import fcntl
from rootless import fastjson as json  # start-up: no re/enum (rootless/fastjson.py)
import os
import time
from rootless.plainclass import dataclass, field

from rootless.engine.image import digest as digests
from rootless.engine.image.digest import is_sha256

TYPE_CHECKING = False
if TYPE_CHECKING:  # layerstore (tempfile, shutil, subprocess) loads only when layers are written
    from typing import BinaryIO, Iterator

    from rootless.engine.image import layerstore
from rootless.engine.image.reference import Reference, tag_key, try_parse
from rootless.errors import ImageNotFound, StorageError
from rootless.paths import Path  # pathlib.Path, loaded on first use (start-up)

MANIFEST_OCI = "application/vnd.oci.image.manifest.v1+json"
CONFIG_OCI = "application/vnd.oci.image.config.v1+json"
_HEX = set("0123456789abcdef")


@dataclass
class Image:
    id: str                                  # "sha256:<hex>" of the config blob
    config: dict                             # the OCI image config
    manifest_digest: str
    repo_tags: list[str]                     # full references, "docker.io/library/nginx:latest"
    repo_digests: list[str]                  # "docker.io/library/nginx@sha256:..."
    chain_ids: list[str]                     # bottom-most first
    layers: list[dict] = field(default_factory=list)  # the manifest's layer descriptors
    created: float = 0.0                     # when it entered this store (docker's LastTagTime-ish)
    size: int = 0                            # bytes of file content in its layers (docker's Size)

    @property
    def short_id(self) -> str:
        return self.id.partition(":")[2][:12]

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def dangling(self) -> bool:
        return not self.repo_tags


@dataclass
class Removal:
    """One line of `rmi` output: ("Untagged", "nginx:latest") or ("Deleted", "sha256:...")."""

    action: str
    target: str

    def __str__(self) -> str:
        return f"{self.action}: {self.target}"


class ImageStore:
    def __init__(self, paths, mapping=None) -> None:
        self.paths = paths
        self._mapping = mapping

    @property
    def mapping(self):
        if self._mapping is None:
            from rootless.runtime import idmap

            self._mapping = idmap.choose()
        return self._mapping

    # --- the index ----------------------------------------------------------------------------
    def _read(self) -> dict:
        try:
            with open(self.paths.images_json_file(), "rb") as f:
                data = json.loads(f.read())
        except FileNotFoundError:
            data = {}
        except ValueError as e:
            raise StorageError(f"{self.paths.images_json} is corrupt: {e}",
                               "remove it (images will have to be pulled again)") from e
        data.setdefault("images", {})
        data.setdefault("tags", {})
        return data

    def _update(self) -> Iterator[dict]:
        from contextlib import contextmanager  # here: only writers pay for contextlib

        return contextmanager(self._update_steps)()

    def _update_steps(self) -> Iterator[dict]:
        """Read-modify-write images.json under its lock; replaced atomically at the end."""
        self.paths.locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.paths.locks / "images.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self._read()
            yield data
            tmp = self.paths.images_json.with_name(f".images.json.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, self.paths.images_json)
        finally:
            os.close(fd)

    def _image(self, data: dict, image_id: str) -> Image:
        record = data["images"][image_id]
        tags = [t for t, i in data["tags"].items() if i == image_id]
        chains = list(record.get("chain_ids", []))
        return Image(id=image_id, config=self._config(image_id), manifest_digest=record["manifest_digest"],
                     repo_tags=tags, repo_digests=list(record.get("repo_digests", [])),
                     chain_ids=chains, layers=list(record.get("layers", [])),
                     created=record.get("created", 0.0), size=sum(self.layer_size(c) for c in chains))

    def _config(self, image_id: str) -> dict:
        try:
            with open(self.paths.blob_file(image_id), "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            raise StorageError(f"config blob of image {image_id} is missing",
                               "remove the image and pull it again") from None

    # --- reading ------------------------------------------------------------------------------
    def list(self) -> list[Image]:
        """Every image, newest first."""
        data = self._read()
        images = [self._image(data, i) for i in data["images"]]
        return sorted(images, key=lambda im: im.created, reverse=True)

    def get(self, image_id: str) -> Image:
        data = self._read()
        if image_id not in data["images"]:
            raise ImageNotFound(f"No such image: {image_id}")
        return self._image(data, image_id)

    def resolve(self, name_or_id: str) -> Image:
        """An image by reference, full id, or unique id prefix; ImageNotFound otherwise."""
        data = self._read()
        image_id = _lookup(data, name_or_id)
        return self._image(data, image_id)

    def exists(self, name_or_id: str) -> bool:
        try:
            _lookup(self._read(), name_or_id)
        except ImageNotFound:
            return False
        return True

    # --- blobs --------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        return self.paths.blob(digest)

    def has_blob(self, digest: str) -> bool:
        return self.paths.blob(digest).is_file()

    def put_blob(self, data: bytes | BinaryIO, digest: str | None = None, size: int | None = None) -> str:
        """Store bytes (or a stream) verified against `digest` if given; returns the digest."""
        if isinstance(data, (bytes, bytearray)):
            actual = digests.sha256_bytes(bytes(data))
            if digest is not None and actual != digest:
                from rootless.engine.image.digest import DigestMismatch

                raise DigestMismatch(f"digest mismatch: expected {digest}, got {actual}")
            if not self.has_blob(actual):
                with digests.VerifyingWriter(self.paths.blob(actual), actual) as w:
                    w.write(bytes(data))
                    w.commit()
            return actual
        return digests.copy_verified(data, self.paths.blob(digest), digest, size) if digest else self._put_stream(data)

    def _put_stream(self, stream: BinaryIO) -> str:
        with digests.VerifyingWriter(self.paths.blobs / "unknown") as w:
            while chunk := stream.read(1 << 20):
                w.write(chunk)
            w.dest = self.paths.blob(w.digest)
            return w.commit()

    def read_blob(self, digest: str) -> bytes:
        try:
            return self.paths.blob(digest).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"blob {digest} is missing from the store") from None

    # --- layers -------------------------------------------------------------------------------
    def has_layer(self, chain_id: str) -> bool:
        return self.paths.layer(chain_id).is_dir()

    def layer_lock(self, chain_id: str):
        """The per-chain_id lock (a context manager); writers and removers hold it."""
        return _layerstore().layer_lock(self.paths, chain_id)

    def unpack_layer(self, chain_id: str, stream: BinaryIO, diff_id: str | None = None, *,
                     locked: bool = True, size_hint: int | None = None) -> dict:
        """Unpack a layer tar stream (compressed or not) as `chain_id`.

        The registry path: the caller holds `layer_lock(chain_id)` (locked=True) and hands a
        stream that verifies its own digests (then `diff_id` None skips hashing here). Returns
        {"diff_id", "notes", "size", "unpacked"}. `size_hint`: the compressed size, if known.
        """
        with _layerstore().LayerWriter(self.paths, self.mapping, chain_id, diff_id, locked=locked,
                                    hashing=diff_id is not None, size_hint=size_hint) as writer:
            if writer.needed:
                writer.copy_from(stream)
        return dict(writer.result, unpacked=writer.needed)

    def add_layer(self, stream: BinaryIO, parent_chain_id: str | None = None) -> dict:
        """A new layer from a tar stream (plain, gzip or zstd; e.g. a build step's diff).

        The bytes go at once into the blob store (as given) and into the unpacker; the result is
        {"diff_id", "chain_id", "descriptor": {mediaType, digest, size}, "notes"}. Use the
        descriptors with add_image() to record an image (build, commit, import).
        """
        from rootless.engine.image.archive import LAYER_TAR

        self.paths.blobs.mkdir(parents=True, exist_ok=True)
        with digests.VerifyingWriter(self.paths.blobs / "layer") as blob:
            head = b""
            with _layerstore().LayerWriter(self.paths, self.mapping, None) as writer:
                while chunk := stream.read(1 << 20):
                    head = head or chunk[:4]
                    blob.write(chunk)
                    writer.write(chunk)
            chain_id = writer.adopt(parent_chain_id)
            blob.dest = self.paths.blob(blob.digest)
            digest = blob.commit()
        suffix = "+gzip" if head.startswith(b"\x1f\x8b") else "+zstd" if head == b"\x28\xb5\x2f\xfd" else ""
        return {"diff_id": writer.result["diff_id"], "chain_id": chain_id, "notes": writer.result["notes"],
                "descriptor": {"mediaType": LAYER_TAR + suffix, "digest": digest, "size": blob.size}}

    def ensure_layer(self, chain_id: str, diff_id: str | None, source) -> dict:
        """Take the lock, and unpack `source` (path or stream) unless the layer exists."""
        return _layerstore().ensure_layer(self.paths, self.mapping, chain_id, diff_id, source)

    def layer_dirs(self, image: Image) -> list[Path]:
        """The unpacked layer dirs of `image`, bottom-most first."""
        return [Path(d) for d in self.layer_dir_names(image)]

    def layer_dir_names(self, image: Image) -> list[str]:
        """layer_dirs as strings (the run path: no pathlib)."""
        dirs = [self.paths.layer_dir(c) for c in image.chain_ids]
        missing = [d for d in dirs if not os.path.isdir(d)]
        if missing:
            raise StorageError(f"image {image.short_id}: layer {missing[0]} is missing",
                               "remove the image and pull it again")
        return dirs

    def layer_size(self, chain_id: str) -> int:
        try:  # the layer's meta file (layerstore.write_meta), read here without loading layerstore
            with open(self.paths.layer_meta_file(chain_id), "rb") as f:
                return int(json.loads(f.read()).get("size") or 0)
        except (OSError, ValueError, AttributeError):
            return 0

    def image_size(self, image: Image) -> int:
        return sum(self.layer_size(c) for c in image.chain_ids)

    def layer_refs(self) -> dict[str, int]:
        """chain_id -> number of images using it (computed, never stored)."""
        refs: dict[str, int] = {}
        for record in self._read()["images"].values():
            for chain in record.get("chain_ids", []):
                refs[chain] = refs.get(chain, 0) + 1
        return refs

    def unpacked_layers(self) -> list[str]:
        if not self.paths.layers.is_dir():
            return []
        return [f"sha256:{p.name}" for p in self.paths.layers.iterdir() if p.is_dir()]

    # --- adding -------------------------------------------------------------------------------
    def add_image(self, config_raw: bytes, manifest_raw: bytes | None = None, *,
                  ref: Reference | None = None, repo_digest: Reference | None = None,
                  layers: list[dict] | None = None) -> Image:
        """Record an image whose layers are unpacked already; returns it.

        `manifest_raw` None: an OCI manifest is made from `layers` (descriptors of blobs in the
        store). The tag `ref` moves to this image (an older holder becomes dangling, as in docker).
        """
        config = json.loads(config_raw)
        image_id = self.put_blob(config_raw)
        if manifest_raw is None:
            manifest_raw = make_manifest(image_id, len(config_raw), layers or [])
        manifest_digest = self.put_blob(manifest_raw)
        manifest = json.loads(manifest_raw)
        chains = digests.chain_ids((config.get("rootfs") or {}).get("diff_ids") or [])
        missing = [c for c in chains if not self.has_layer(c)]
        if missing:
            raise StorageError(f"image {image_id[7:19]}: layer {missing[0]} is not unpacked")
        with self._update() as data:
            record = data["images"].setdefault(image_id, {"created": time.time(), "repo_digests": []})
            record.update(manifest_digest=manifest_digest, chain_ids=chains,
                          layers=list(manifest.get("layers") or []))
            if repo_digest is not None:
                text = f"{repo_digest.name}@{repo_digest.digest}"
                if text not in record["repo_digests"]:
                    record["repo_digests"].append(text)
            if ref is not None:
                data["tags"][str(ref.with_tag(ref.tag or "latest"))] = image_id
                record["created"] = time.time()
            return_data = data
        return self._image(return_data, image_id)

    def add_pulled(self, ref: Reference | None, manifest_raw: bytes, config_raw: bytes, *,
                   repo_digest: str | None = None) -> Image:
        """Record a pulled image (its layers unpacked by LayerWriter); tags `ref` if it has a tag."""
        from rootless.engine.image.reference import parse

        digest_ref = parse(repo_digest) if repo_digest else None
        tag_ref = ref if ref is not None and ref.tag else None
        return self.add_image(config_raw, manifest_raw, ref=tag_ref, repo_digest=digest_ref)

    def import_rootfs(self, stream: BinaryIO, ref: Reference | None, changes: list[str], *,
                      message: str | None = None) -> Image:
        """`rl import`: a rootfs tarball (plain, gzip or zstd) as a one-layer image."""
        from rootless.engine.image import archive

        return archive.import_rootfs(self, stream, ref, changes, message=message)

    def inspect(self, image: Image) -> dict:
        """docker image inspect's JSON for `image`."""
        from rootless.engine.image import views

        return views.inspect(self, image)

    def compressed_layer(self, diff_id: str, chain_id: str) -> tuple[str, int]:
        """(digest, size) of a stored compressed blob whose content is layer `diff_id`."""
        for image in self.list():
            for d, desc in zip(image.diff_ids, image.layers):
                if d == diff_id and self.has_blob(desc.get("digest", "")):
                    return desc["digest"], int(desc.get("size") or self.blob_path(desc["digest"]).stat().st_size)
        raise StorageError(f"no stored blob for layer {diff_id}",
                           "only layers that were pulled, loaded or imported can be pushed or saved")

    # --- tags and removal ---------------------------------------------------------------------
    def tag(self, image: Image, ref: Reference) -> None:
        if ref.digest:
            from rootless.errors import InvalidReference

            raise InvalidReference("refusing to create a tag with a digest reference")
        with self._update() as data:
            if image.id not in data["images"]:
                raise ImageNotFound(f"No such image: {image.id}")
            data["tags"][str(ref.with_tag(ref.tag or "latest"))] = image.id

    def untag(self, ref: Reference) -> str:
        """Remove one tag; returns the image id it pointed to."""
        key = str(ref.with_tag(ref.tag or "latest"))
        with self._update() as data:
            if key not in data["tags"]:
                raise ImageNotFound(f"No such image: {ref.familiar()}")
            return data["tags"].pop(key)

    def remove(self, name_or_id: str, *, force: bool = False,
               in_use: dict[str, str] | None = None) -> list[Removal]:
        """docker rmi: untag when the name is one of several tags, else delete the image.

        `in_use` maps image ids to a container id using them: such an image is not deleted
        unless `force` (its tags are still removed when named by tag).
        """
        from rootless.engine.image import removal

        return removal.remove(self, name_or_id, force=force, in_use=in_use or {})

    def prune(self, *, all: bool = False, in_use: dict[str, str] | None = None) -> tuple[list[Removal], int]:
        """Delete dangling images (every unused one with `all`); returns removals and bytes freed."""
        from rootless.engine.image import removal

        return removal.prune(self, all=all, in_use=in_use or {})


def open_store(ctx) -> ImageStore:
    """The store of a command's Context (id mapping chosen lazily, on first layer operation)."""
    return ImageStore(ctx.paths)


def make_manifest(config_digest: str, config_size: int, layers: list[dict]) -> bytes:
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_OCI,
                "config": {"mediaType": CONFIG_OCI, "digest": config_digest, "size": config_size},
                "layers": layers}
    return json.dumps(manifest, separators=(",", ":")).encode()


def _lookup(data: dict, text: str) -> str:
    """docker's order: reference, then full id, then unique id prefix."""
    fast = tag_key(text)  # an image the store holds under this name: found without the grammar
    if fast is not None and fast in data["tags"]:
        return data["tags"][fast]
    ref = try_parse(text)
    if ref is not None:
        found = _by_reference(data, ref)
        if found:
            return found
    candidate = text[7:] if text.startswith("sha256:") else text
    if candidate and set(candidate) <= _HEX and len(candidate) <= 64:
        matches = [i for i in data["images"] if i[7:].startswith(candidate)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ImageNotFound(f"{text}: image id prefix is ambiguous ({len(matches)} images match)",
                                "give more characters of the id")
    shown = ref.familiar() if ref is not None else text
    raise ImageNotFound(f"No such image: {shown}")


def _by_reference(data: dict, ref: Reference) -> str | None:
    if ref.digest:
        wanted = f"{ref.name}@{ref.digest}"
        for image_id, record in data["images"].items():
            if wanted in record.get("repo_digests", []) or (
                    record.get("manifest_digest") == ref.digest
                    and any(r.startswith(ref.name + "@") for r in record.get("repo_digests", []))):
                return image_id
        return None
    return data["tags"].get(str(ref))


def is_full_id(text: str) -> bool:
    return is_sha256(text if text.startswith("sha256:") else f"sha256:{text}")


def _layerstore():
    from rootless.engine.image import layerstore

    return layerstore
