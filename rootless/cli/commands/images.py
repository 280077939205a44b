"""`rl images`, `rl rmi`, `rl tag`, `rl history`, `rl image inspect|prune`, `rl save|load|import`.

Thin handlers over the image store (rootless.engine.image.store / archive); the output is docker's
(columns, 12-character ids, human sizes and ages), formatted by `imagefmt`.
"""

from __future__ import annotations

import json
import re
import sys

from rootless.cli.commands import imagefmt as fmt
from rootless.context import Context
from rootless.engine.units import human_size
from rootless.errors import UsageError

LS_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
              "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE"}


def _store(ctx: Context):
    from rootless.engine.image.store import ImageStore   # not via pull.py: no HTTP client import here

    return ImageStore(ctx.paths)


# --- rl images -----------------------------------------------------------------------------------
def _parse_filters(filters: list[str]) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or key not in ("dangling", "reference", "before", "since", "label"):
            raise UsageError(f"invalid filter '{item}'", "use dangling=true|false or reference=PATTERN")
        if key == "dangling" and value.lower() not in ("true", "false", "1", "0"):
            raise UsageError(f"invalid filter 'dangling={value}'", "dangling takes true or false")
        parsed.setdefault(key, []).append(value)
    return parsed


def _split_tag(repo_tag: str) -> tuple[str, str]:
    name, _, tag = repo_tag.rpartition(":")
    if not name or "/" in tag:
        return repo_tag, "<none>"
    return name, tag


def _familiar(text: str) -> str:
    from rootless.engine.image.reference import try_parse

    ref = try_parse(text)
    return ref.familiar() if ref else text


def image_rows(images, sizes: dict[str, int], *, no_trunc: bool = False, now=None) -> list[dict]:
    """One row per repository:tag of each image (one `<none>` row for an untagged one)."""
    rows = []
    for image in images:
        created = image.config.get("created")
        base = {"ID": fmt.short_id(image.id, no_trunc), "CreatedSince": fmt.since(created, now),
                "CreatedAt": created or "", "Size": human_size(sizes.get(image.id, 0))}
        tags = [_familiar(t) for t in image.repo_tags] or []
        repo_digests = {_familiar(d).split("@")[0]: d.split("@")[1] for d in image.repo_digests if "@" in d}
        if not tags:
            names = list(repo_digests) or ["<none>"]
            for name in names:
                rows.append(dict(base, Repository=name, Tag="<none>", Digest=repo_digests.get(name, "<none>")))
            continue
        for tag in tags:
            repo, t = _split_tag(tag)
            rows.append(dict(base, Repository=repo, Tag=t, Digest=repo_digests.get(repo, "<none>")))
    return rows


def _path_match(pattern: str, text: str) -> bool:
    """Go's path.Match: `*` and `?` do not cross "/"."""
    regex = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text) is not None


def _matches(row: dict, image, filters: dict[str, list[str]], repository: str | None) -> bool:
    for value in filters.get("dangling", []):
        if (not image.repo_tags) != (value.lower() in ("true", "1")):
            return False
    name = row["Repository"] + (":" + row["Tag"] if row["Tag"] != "<none>" else "")
    for pattern in filters.get("reference", []):   # docker's FamiliarMatch: name:tag, then name
        if not (_path_match(pattern, name) or _path_match(pattern, row["Repository"])):
            return False
    if repository:
        wanted = _familiar(repository) if ":" in repository.rsplit("/", 1)[-1] else None
        if wanted is not None and name != wanted:
            return False
        if wanted is None and row["Repository"] != _familiar(repository).rsplit(":", 1)[0]:
            return False
    return True


def ls(ctx: Context, all: bool = False, quiet: bool = False, digests: bool = False, no_trunc: bool = False,
       format: str | None = None, filter: list[str] | None = None, repository: str | None = None) -> None:
    filters = _parse_filters(filter or [])
    store = _store(ctx)
    images = sorted(store.list(), key=lambda i: i.config.get("created") or "", reverse=True)
    rows = []
    for image in images:
        rows += [r for r in image_rows([image], {image.id: store.image_size(image)}, no_trunc=no_trunc)
                 if _matches(r, image, filters, repository)]
    if quiet:
        seen = []
        for r in rows:
            if r["ID"] not in seen:
                seen.append(r["ID"])
        print("".join(i + "\n" for i in seen), end="")
        return
    if format is None:
        cols = ["Repository", "Tag"] + (["Digest"] if digests else []) + ["ID", "CreatedSince", "Size"]
        format = "table " + "\t".join("{{." + c + "}}" for c in cols)
    print(fmt.render(format, rows, LS_HEADERS), end="")


# --- rl rmi / tag / prune ---------------------------------------------------------------------------
def _images_in_use(ctx: Context) -> dict[str, str]:
    """Image id -> a container using it: docker refuses to delete those (and only untags with -f)."""
    from rootless.engine.container_store import ContainerStore

    return ContainerStore(ctx.paths).images_in_use()


def rm(ctx: Context, images: list[str], force: bool = False, no_prune: bool = False) -> int:
    store = _store(ctx)
    in_use = _images_in_use(ctx)
    status = 0
    for name in images:
        try:
            for removal in store.remove(name, force=force, in_use=in_use):
                print(f"{removal.action}: {removal.target}")
        except Exception as e:  # report each, keep going like docker, exit 1 at the end
            from rootless.errors import RlError

            if not isinstance(e, RlError):
                raise
            print(f"Error: {e.message}", file=sys.stderr)
            status = 1
    return status


def tag(ctx: Context, source: str, target: str) -> None:
    from rootless.engine.image.reference import parse

    store = _store(ctx)
    store.tag(store.resolve(source), parse(target))


def prune(ctx: Context, all: bool = False, force: bool = False, filter: list[str] | None = None) -> None:
    store = _store(ctx)
    if not force and sys.stdin.isatty():
        what = "all images without at least one container associated to them" if all else "all dangling images"
        answer = input(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return
    deleted, reclaimed = store.prune(all=all, in_use=_images_in_use(ctx))
    if deleted:
        print("Deleted Images:")
        for removal in deleted:
            print(f"{removal.action}: {removal.target}")
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")


# --- rl history / inspect ---------------------------------------------------------------------------
def history_rows(image, diff_sizes: list[int], *, human: bool = True, no_trunc: bool = False,
                 now=None) -> list[dict]:
    """Docker's history: newest first; the image id on the newest entry, <missing> below."""
    entries = list(image.config.get("history") or [])
    rows, layer = [], 0
    for entry in entries:
        size = 0
        if not entry.get("empty_layer"):
            size = diff_sizes[layer] if layer < len(diff_sizes) else 0
            layer += 1
        created_by = entry.get("created_by", "")
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        created = entry.get("created")
        rows.append({"ID": "<missing>", "CreatedSince": fmt.since(created, now) if human else (created or ""),
                     "CreatedAt": created or "", "CreatedBy": created_by,
                     "Size": human_size(size) if human else str(size), "Comment": entry.get("comment", "")})
    rows.reverse()
    if rows:
        rows[0]["ID"] = fmt.short_id(image.id, no_trunc)
    else:
        created = image.config.get("created")
        rows.append({"ID": fmt.short_id(image.id, no_trunc), "CreatedSince": fmt.since(created, now),
                     "CreatedAt": "", "CreatedBy": "", "Size": human_size(sum(diff_sizes)), "Comment": ""})
    return rows


def history(ctx: Context, name: str, human: bool = True, no_trunc: bool = False, quiet: bool = False,
            format: str | None = None) -> None:
    store = _store(ctx)
    image = store.resolve(name)
    rows = history_rows(image, [store.layer_size(c) for c in image.chain_ids], human=human, no_trunc=no_trunc)
    if quiet:
        print("".join(r["ID"] + "\n" for r in rows), end="")
        return
    format = format or "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    print(fmt.render(format, rows, {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                                    "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}), end="")


def inspect(ctx: Context, images: list[str], format: str | None = None) -> int:
    from rootless.engine.image import views

    store = _store(ctx)
    found, status = [], 0
    for name in images:
        try:
            found.append(views.inspect(store, store.resolve(name)))
        except Exception as e:
            from rootless.errors import ImageNotFound

            if not isinstance(e, ImageNotFound):
                raise
            print(f"Error: No such image: {name}", file=sys.stderr)
            status = 1
    if format:
        print(fmt.render(format, found, {}), end="")
    else:
        print(json.dumps(found, indent=4))
    return status


# --- rl save / load / import ------------------------------------------------------------------------
def save(ctx: Context, images: list[str], output: str | None = None) -> None:
    from rootless.engine.image import archive

    store = _store(ctx)
    if output is None and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    archive.save_to(store, images, output)


def load(ctx: Context, input: str | None = None, quiet: bool = False) -> None:
    from rootless.engine.image import archive

    store = _store(ctx)
    if input is None and sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is empty", "use -i FILE or redirect a file")
    for line in archive.load_from(store, input):
        if not quiet:
            print(line)


def import_(ctx: Context, file: str, repository: str | None = None, change: list[str] | None = None,
            message: str | None = None, platform: str | None = None) -> None:
    from rootless.engine.image.archive import import_rootfs
    from rootless.engine.image.reference import parse

    store = _store(ctx)
    ref = parse(repository) if repository else None
    if file == "-":
        image = import_rootfs(store, sys.stdin.buffer, ref, list(change or []), message=message)
    elif "://" in file:
        raise UsageError("importing from a URL is not supported", "download the file, then `rl import FILE`")
    else:
        try:
            stream = open(file, "rb")
        except OSError as e:
            raise UsageError(f"open {file}: {e.strerror.lower() if e.strerror else e}") from None
        with stream:
            image = import_rootfs(store, stream, ref, list(change or []), message=message)
    print(image.id)
