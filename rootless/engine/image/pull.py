"""Pull: reference -> registry (mirrors first for docker.io) -> manifest -> config -> layers -> store.

`pull(ctx, ref, platform=, progress=)` returns the stored `Image`. Steps (OCI distribution spec):
1. endpoints: for docker.io the configured `registry-mirrors` in order, then Docker Hub; else the
   reference's registry. A mirror that fails (unreachable, error, unknown manifest) passes to the next.
2. the manifest by tag or digest; an index (OCI index / docker manifest list) is resolved to the
   manifest of the wanted platform (`--platform`, default the host's).
3. the config blob, verified, kept in the store.
4. the layers whose chain_id is not yet unpacked, in parallel threads: each streams from the
   registry through `_BlobSource` (layer digest and size checked on the fly, compressed blob teed
   into the store) into the store's unpacker (decompression, diff_id check, atomic rename), under
   a per-chain_id lock so that concurrent pulls do the work once and an interrupted pull leaves
   only temporary files that the next pull removes; finished layers are reused. The first
   unpack helpers are started while steps 1-3 run (`layerstore.prestart`).
5. the image recorded in the store (tag, repo digest).
"""

from __future__ import annotations

import json
import threading
from rootless.plainclass import dataclass

from rootless.context import Context
from rootless.engine.image import platform as plat
from rootless.engine.image.auth import Authenticator, get_credentials
from rootless.engine.image.config import DOCKER_HUB, RegistryConfig, load
from rootless.engine.image.digest import DigestMismatch, VerifyingWriter, chain_ids
from rootless.engine.image.progress import Quiet
from rootless.engine.image.reference import Reference
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from rootless.engine.image.registry import Manifest, Registry
from rootless.errors import ImageNotFound, RegistryError, RlError

#: layers downloaded at once (docker's max-concurrent-downloads default is 3)
PARALLEL = 4
LAYER_TYPES_OK = ("tar", "tar+gzip", "tar.gzip", "tar+zstd", "tar.zstd")
CHUNK = 1 << 20
#: unpack helpers started before the manifest is known, for a reference the store does not hold
#: (such a pull most likely unpacks a layer; the biggest take them). Their start-up (~45 ms of
#: CPU each) then runs on the core the CLI's own start-up leaves idle, not beside the unpacking
SPARE_HELPERS = 2


@dataclass
class Resolved:
    """What step 1-3 found: the registry that answered, the manifests and the config."""

    registry: Registry
    repo: str
    top_digest: str            # what the tag points to (index or manifest): docker's "Digest:"
    manifest: Manifest         # the platform's image manifest
    config_raw: bytes


def registry_for(ctx: Context, host: str, config: RegistryConfig | None = None, *,
                 endpoint: str | None = None) -> Registry:
    """A Registry client for `host` with the stored credentials. (The client and http.client are
    imported here, not with this module: `pull` starts its unpack helpers first, whose start-up
    then overlaps that import.)"""
    from rootless.engine.image.registry import Registry

    config = config or load(ctx.paths, ctx.env)
    creds = get_credentials(ctx.paths.docker_auth_file, host)
    return Registry(host, config, Authenticator(host, creds), endpoint=endpoint)


def endpoints(ctx: Context, ref: Reference, config: RegistryConfig) -> list[Registry]:
    """The registries to try for `ref`: mirrors first for docker.io, then the registry itself."""
    found = []
    if ref.domain == DOCKER_HUB:
        for mirror in config.mirrors:
            if "://" in mirror:
                found.append(registry_for(ctx, mirror.split("://", 1)[1], config, endpoint=mirror))
            else:
                found.append(registry_for(ctx, mirror, config))
    found.append(registry_for(ctx, ref.domain, config))
    return found


def resolve(ctx: Context, ref: Reference, wanted: plat.Platform, config: RegistryConfig, *,
            explicit: bool = False) -> Resolved:
    """Find the image manifest and config of `ref`, trying the mirrors first. `explicit`: the
    platform was asked for, so a single-platform image of another platform is an error."""
    candidates = endpoints(ctx, ref, config)
    errors: list[RlError] = []
    for registry in candidates:
        try:
            return _resolve_at(registry, ref, wanted, explicit)
        except (RegistryError, ImageNotFound) as e:   # a mirror's failure passes to the next
            registry.close()
            errors.append(e)
    raise _first_meaningful(errors)


def _first_meaningful(errors: list[RlError]) -> RlError:
    """Prefer a not-found or platform error (it says more) over the upstream's connection error."""
    for e in errors:
        if isinstance(e, ImageNotFound) or "no matching manifest" in e.message:
            return e
    return errors[-1]


def _display(ref: Reference) -> str:
    return ref.familiar_name() + (f"@{ref.digest}" if ref.digest else f":{ref.tag}")


def _resolve_at(registry: Registry, ref: Reference, wanted: plat.Platform, explicit: bool) -> Resolved:
    top = registry.get_manifest(ref.path, ref.digest or ref.tag, display=_display(ref))
    manifest = top
    if top.is_index:
        desc = plat.select(top.data, wanted)
        manifest = registry.get_manifest(ref.path, desc["digest"], display=_display(ref))
        if manifest.is_index:
            raise RegistryError(f"{_display(ref)}: nested index is not supported")
    data = manifest.data
    config_desc = data.get("config") or {}
    if not config_desc.get("digest"):
        raise RegistryError(f"manifest for {_display(ref)} has no config")
    config_raw = registry.get_blob(ref.path, config_desc["digest"])
    if not top.is_index and explicit:
        _check_platform(json.loads(config_raw), wanted, ref)
    return Resolved(registry, ref.path, top.digest, manifest, config_raw)


def _check_platform(config: dict, wanted: plat.Platform, ref: Reference) -> None:
    actual = plat.Platform(config.get("os", ""), config.get("architecture", ""), config.get("variant", "") or "")
    if actual.os and actual.architecture and not wanted.matches(actual):
        raise RegistryError(f"image with reference {ref.familiar()} was found but does not match the "
                            f"specified platform: wanted {wanted}, actual: {actual}")


# --- layers ------------------------------------------------------------------------------------
def _check_layer_types(layers: list[dict], name: str) -> None:
    for layer in layers:
        media = layer.get("mediaType", "")
        if not any(media.endswith(suffix) for suffix in LAYER_TYPES_OK):
            raise RegistryError(f"{name}: unsupported layer media type {media!r}",
                                "rl reads tar layers, plain, gzip or zstd compressed")


class PullCancelled(RlError):
    """Another layer of the same pull failed, or the user interrupted it."""


class _BlobSource:
    """The registry's byte stream as a file object for the unpacker, verified as it flows.

    Each chunk is hashed and teed into the store's blob writer. The last `HOLD_BACK` bytes are held
    until the source is exhausted and the digest and size checked: without them no decompressor
    or tar reader can finish, so the unpacker never renames a layer from unverified bytes. A
    mismatch raises DigestMismatch from read(). Chunks are handed on as received (no joining or
    re-slicing: a 60 MB layer is copied once less per pass), `n` bounding each read.
    """

    HOLD_BACK = 64 << 10

    def __init__(self, chunks, desc: dict, writer: VerifyingWriter, advance,
                 cancel: threading.Event | None = None) -> None:
        from collections import deque

        self._chunks, self._writer, self._advance, self._cancel = chunks, writer, advance, cancel
        self.digest, self.size = desc["digest"], desc.get("size")
        self._pending: deque = deque()   # received and checked so far, not yet handed on
        self._pending_size = 0
        self._done = False

    def _mismatch(self, what: str) -> DigestMismatch:
        return DigestMismatch(f"layer {self.digest}: {what}", "the registry served corrupt or tampered content")

    def read(self, n: int = -1) -> bytes:
        n = n if n and n > 0 else CHUNK
        pending = self._pending
        # hand on the oldest chunk only while HOLD_BACK bytes stay behind it (or all is verified)
        while not self._done and (not pending or self._pending_size - len(pending[0]) < self.HOLD_BACK):
            if self._cancel is not None and self._cancel.is_set():
                raise PullCancelled("pull cancelled")
            chunk = next(self._chunks, None)
            if chunk is None:
                self._finish()
                break
            if not chunk:
                continue
            self._writer.write(chunk)
            self._advance(len(chunk))
            pending.append(chunk)
            self._pending_size += len(chunk)
            if self.size is not None and self._writer.size > self.size:
                raise self._mismatch(f"size mismatch: more than the announced {self.size} bytes")
        if not pending:
            return b""
        first = pending[0]
        if len(first) > n:
            pending[0] = first[n:]
            first = first[:n]
        else:
            pending.popleft()
        self._pending_size -= len(first)
        return bytes(first)

    def _finish(self) -> None:
        if self.size is not None and self._writer.size != self.size:
            raise self._mismatch(f"size mismatch: expected {self.size} bytes, got {self._writer.size}")
        if self._writer.digest != self.digest:
            raise self._mismatch(f"digest mismatch: got {self._writer.digest}")
        self._done = True


def fetch_layer(ctx: Context, store, resolved: Resolved, desc: dict, diff_id: str, chain_id: str,
                progress, cancel: threading.Event | None = None, *, spare: bool = True) -> str:
    """Download one layer unless its chain_id is unpacked already; returns docker's status word.

    The compressed bytes go, in one pass, through the layer digest check into the store's blob
    file and the store's unpacker (a helper process that decompresses, checks the diff_id and
    renames into place only when complete). The per-chain_id lock is held throughout, so a
    concurrent pull of the same layer waits here and then finds it done. `spare`: this layer may
    take a helper started ahead (`_prestart`); the pull gives them to its biggest layers.
    """
    digest, size = desc["digest"], desc.get("size")
    bar = progress.layer(digest.split(":")[1][:12], size)
    with store.layer_lock(chain_id):
        if store.has_layer(chain_id):
            bar.done("Already exists")
            return "Already exists"
        bar.start("Downloading")
        with resolved.registry.open_blob(resolved.repo, digest) as resp, \
                VerifyingWriter(ctx.paths.blob(digest), digest, size, direct=True) as blob:
            source = _BlobSource(resp.iter_bytes(), desc, blob, bar.advance, cancel)
            store.unpack_layer(chain_id, source, diff_id, locked=True, size_hint=size if spare else 0)
            blob.commit()
    bar.done("Pull complete")
    return "Pull complete"


def fetch_layers(ctx: Context, store, resolved: Resolved, config: dict, progress) -> None:
    """Fetch every layer in parallel threads; on the first failure (or Ctrl-C) the others stop."""
    layers = resolved.manifest.data.get("layers") or []
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        raise RegistryError(f"image config lists {len(diff_ids)} diff_ids for {len(layers)} layers",
                            "the image is malformed")
    _check_layer_types(layers, resolved.repo)
    cancel = threading.Event()
    biggest = sorted(range(len(layers)), key=lambda k: -(layers[k].get("size") or 0))[:SPARE_HELPERS]
    jobs = [lambda d=d, i=i, c=c, k=k: fetch_layer(ctx, store, resolved, d, i, c, progress, cancel, spare=k in biggest)
            for k, (d, i, c) in enumerate(zip(layers, diff_ids, chain_ids(diff_ids)))]
    run_parallel(jobs, cancel)


def run_parallel(jobs: list, cancel: threading.Event, width: int = PARALLEL) -> None:
    """Run `jobs` (callables) in order on `width` threads. The first failure, or Ctrl-C in this
    thread, sets `cancel` (the running downloads raise at their next chunk) and starts no more;
    once every thread has stopped, that first failure is raised. (Plain threads, not
    concurrent.futures: its import, with logging and typing, is ~15 ms of a pull's start-up.)"""
    pending = list(reversed(jobs))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if not pending or cancel.is_set():
                    return
                job = pending.pop()
            try:
                job()
            except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                with lock:
                    failures.append(e)
                cancel.set()

    threads = [threading.Thread(target=worker, name=f"rl-layer-{n}", daemon=True)
               for n in range(min(width, len(jobs)))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except BaseException:
        cancel.set()
        for t in threads:
            t.join()
        raise
    if failures:
        raise failures[0]


# --- the whole pull ----------------------------------------------------------------------------
def pull(ctx: Context, ref: Reference, *, platform: str | None = None, progress=None, store=None):
    """Pull `ref` into the store; returns the Image. Progress events go to `progress`."""
    progress = progress or Quiet()
    wanted = plat.parse(platform) if platform else plat.host()
    config = load(ctx.paths, ctx.env)
    store = store or open_store(ctx)
    spares = [] if _known(store, ref) else _prestart(store)
    try:
        resolved = resolve(ctx, ref, wanted, config, explicit=platform is not None)
    except BaseException:
        _discard(spares)
        raise
    try:
        progress.message(f"{ref.digest or ref.tag}: Pulling from {ref.path}")
        before = _find(store, resolved.manifest.data["config"]["digest"])
        fetch_layers(ctx, store, resolved, json.loads(resolved.config_raw), progress)
        image = store.add_image(resolved.config_raw, resolved.manifest.raw, ref=ref if ref.tag else None,
                                repo_digest=ref.with_digest(resolved.top_digest))
    finally:
        _discard(spares)
        resolved.registry.close()
    progress.message(f"Digest: {resolved.top_digest}")
    fresh = before is None or bool(ref.tag) and not _has_tag(before, ref)
    progress.message(f"Status: {'Downloaded newer image' if fresh else 'Image is up to date'} for {ref.familiar()}")
    return image


def _known(store, ref: Reference) -> bool:
    """Whether `ref` names an image of the store already (then the pull most likely finds it up
    to date and needs no unpack helper)."""
    try:
        return store.exists(str(ref))
    except Exception:  # noqa: BLE001 - only a guess: a store that cannot say is treated as new
        return False


def _prestart(store) -> list:
    """Start `SPARE_HELPERS` unpack helpers while the manifest is resolved (layerstore.prestart);
    nothing for a store without an id mapping (a test double)."""
    mapping = getattr(store, "mapping", None)
    if mapping is None or not SPARE_HELPERS:
        return []
    from rootless.engine.image import layerstore

    return layerstore.prestart(mapping, SPARE_HELPERS)


def _discard(spares: list) -> None:
    if spares:
        from rootless.engine.image import layerstore

        layerstore.discard_spares(spares)


def open_store(ctx: Context):
    """The image store of this context (the id mapping is chosen when a layer needs it)."""
    from rootless.engine.image.store import ImageStore

    return ImageStore(ctx.paths)


def _find(store, image_id: str):
    try:
        return store.resolve(image_id)
    except ImageNotFound:
        return None


def _has_tag(image, ref: Reference) -> bool:
    return any(t in (image.repo_tags or []) for t in (str(ref), ref.familiar()))
