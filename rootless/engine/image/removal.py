"""docker's rmi and image prune semantics over the ImageStore.

- `rmi name:tag` of an image with other tags (or repo digests) only untags it.
- `rmi name:tag` of its last name, or `rmi <id>`: untags everything and deletes the image, then
  the layers and blobs no other image uses.
- `rmi <id>` of an image with several tags needs -f ("image is referenced in multiple
  repositories"); an image a container uses needs -f, and even then is only untagged (the
  container keeps its layers, the image stays as <none>), like docker.
"""

from __future__ import annotations

from rootless.engine.image import layerstore
from rootless.engine.image.reference import parse, try_parse
from rootless.errors import Conflict, ImageNotFound


def _familiar(key: str) -> str:
    return parse(key).familiar()


def _familiar_digest(text: str) -> str:
    name, _, digest = text.partition("@")
    return f"{parse(name).familiar_name()}@{digest}"


def remove(store, text: str, *, force: bool, in_use: dict[str, str]) -> list:
    from rootless.engine.image.store import Removal, _by_reference, _lookup

    data = store._read()
    image_id = _lookup(data, text)
    ref = try_parse(text)
    by_name = ref is not None and _by_reference(data, ref) == image_id
    with store._update() as data:
        if image_id not in data["images"]:
            raise ImageNotFound(f"No such image: {text}")
        record = data["images"][image_id]
        tags = [t for t, i in data["tags"].items() if i == image_id]
        short = image_id[7:19]
        digests = record.get("repo_digests", [])
        if by_name and ref is not None and not ref.digest and len(tags) > 1:
            del data["tags"][str(ref)]
            if not any(parse(t).name == ref.name for t in tags if t != str(ref)):
                record["repo_digests"] = [d for d in digests if not d.startswith(ref.name + "@")]
            return [Removal("Untagged", _familiar(str(ref)))]
        if by_name and ref is not None and ref.digest and (tags or len(digests) > 1):
            named = f"{ref.name}@{ref.digest}"
            record["repo_digests"] = [d for d in digests if d != named]
            return [Removal("Untagged", _familiar_digest(named))]
        if image_id in in_use and not force:
            if by_name:
                raise Conflict(f'conflict: unable to remove repository reference "{text}" (must force) '
                               f"- container {in_use[image_id][:12]} is using its referenced image {short}")
            raise Conflict(f"conflict: unable to delete {short} (must be forced) - image is being used "
                           f"by container {in_use[image_id][:12]}")
        if not by_name and len(tags) > 1 and not force:
            raise Conflict(f"conflict: unable to delete {short} (must be forced) - image is referenced "
                           "in multiple repositories")
        out = _untag_all(data, image_id)
        if image_id in in_use:
            return out  # forced, but a container needs it: it stays as <none>
        chains = data["images"].pop(image_id).get("chain_ids", [])
        out.append(Removal("Deleted", image_id))
        remaining = data
    out += _collect(store, remaining, chains)
    return out


def _untag_all(data: dict, image_id: str) -> list:
    from rootless.engine.image.store import Removal

    out = []
    for key in [t for t, i in data["tags"].items() if i == image_id]:
        del data["tags"][key]
        out.append(Removal("Untagged", _familiar(key)))
    record = data["images"][image_id]
    for text in record.get("repo_digests", []):
        out.append(Removal("Untagged", _familiar_digest(text)))
    record["repo_digests"] = []
    return out


def _collect(store, data: dict, chains: list[str]) -> list:
    """Delete the layers (top first) and blobs no remaining image refers to."""
    from rootless.engine.image.store import Removal

    used_chains = {c for r in data["images"].values() for c in r.get("chain_ids", [])}
    out = []
    for chain in reversed(chains):
        if chain not in used_chains and layerstore.remove_layer(store.paths, store.mapping, chain):
            out.append(Removal("Deleted", chain))
    used_blobs = set(data["images"])
    for record in data["images"].values():
        used_blobs.add(record.get("manifest_digest"))
        used_blobs.update(d.get("digest") for d in record.get("layers", []))
    if store.paths.blobs.is_dir():
        for path in store.paths.blobs.iterdir():
            if not path.name.startswith(".") and f"sha256:{path.name}" not in used_blobs:
                path.unlink(missing_ok=True)
    return out


def prune(store, *, all: bool, in_use: dict[str, str]) -> tuple[list, int]:
    """Delete dangling images (with `all`: every image no container uses), then orphan layers."""
    out: list = []
    freed = 0
    for image in store.list():
        if image.id in in_use or (image.repo_tags and not all):
            continue
        sizes = {c: store.layer_size(c) for c in image.chain_ids}
        removed = remove(store, image.id, force=True, in_use=in_use)
        freed += sum(sizes.get(r.target, 0) for r in removed if r.action == "Deleted")
        out += removed
    layerstore.remove_stale_tmp(store.paths, store.mapping)
    refs = store.layer_refs()
    for chain in store.unpacked_layers():
        if chain not in refs:
            size = store.layer_size(chain)
            if layerstore.remove_layer(store.paths, store.mapping, chain):
                freed += size
    return out, freed
