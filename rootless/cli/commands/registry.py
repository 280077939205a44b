"""`rl pull`, `rl push`, `rl search`, `rl login`, `rl logout`: the commands that talk to registries.

Thin handlers: parse the reference, build the progress renderer, call the engine, print docker's
lines. Engine modules are imported inside the functions (start-up budget).
"""

from __future__ import annotations

import sys

from rootless.context import Context
from rootless.errors import UsageError


def pull(ctx: Context, name: str, quiet: bool = False, platform: str | None = None, all_tags: bool = False) -> None:
    from rootless.engine.image import progress, reference
    from rootless.engine.image.pull import pull as do_pull

    if all_tags:
        raise UsageError("--all-tags is not supported", "pull the tags one at a time")
    given = reference.parse(name, default_tag=False)
    ref = given if (given.tag or given.digest) else given.with_tag(reference.DEFAULT_TAG)
    with progress.make(quiet) as events:
        if not (given.tag or given.digest):
            events.message(f"Using default tag: {reference.DEFAULT_TAG}")
        do_pull(ctx, ref, platform=platform, progress=events)
    print(str(ref))


def push(ctx: Context, name: str, quiet: bool = False, chunk_size: int | None = None) -> None:
    from rootless.engine.image import progress, reference
    from rootless.engine.image.push import push as do_push
    from rootless.engine.image.pull import open_store

    given = reference.parse(name, default_tag=False)
    ref = given if (given.tag or given.digest) else given.with_tag(reference.DEFAULT_TAG)
    store = open_store(ctx)
    image = store.resolve(name)
    with progress.make(quiet) as events:
        do_push(ctx, image, ref, progress=events, store=store, chunk_size=chunk_size)
    if quiet:
        print(str(ref))


def _server_host(server: str | None) -> str:
    """`rl login [SERVER]`: docker.io by default; a URL is reduced to host[:port]."""
    if not server:
        return "docker.io"
    host = server.split("://", 1)[-1].split("/", 1)[0]
    if host in ("index.docker.io", "registry-1.docker.io", "docker.io"):
        return "docker.io"
    return host


def login(ctx: Context, server: str | None = None, username: str | None = None, password: str | None = None,
          password_stdin: bool = False) -> None:
    from rootless.engine.image.auth import Authenticator, Credentials, get_credentials, store_credentials
    from rootless.engine.image.config import load
    from rootless.engine.image.registry import Registry, check_login

    host = _server_host(server)
    auth_file = ctx.paths.docker_auth_file
    if password and password_stdin:
        raise UsageError("--password and --password-stdin are mutually exclusive")
    if password_stdin:
        if not username:
            raise UsageError("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", file=sys.stderr)
    creds = None
    if username is None and password is None:
        creds = get_credentials(auth_file, host)
    if creds is None:
        user = username or _prompt("Username: ")
        creds = Credentials(user, password if password is not None else _prompt("Password: ", secret=True))
    if not creds.username:
        raise UsageError("Username is required", "use --username")
    with Registry(host, load(ctx.paths, ctx.env), Authenticator(host, creds)) as registry:
        check_login(registry)
    store_credentials(auth_file, host, creds)
    print("Login Succeeded")


def _prompt(text: str, secret: bool = False) -> str:
    if not sys.stdin.isatty():
        raise UsageError("Cannot perform an interactive login from a non TTY device",
                         "use --username with --password-stdin")
    if secret:
        import getpass

        return getpass.getpass(text)
    return input(text).strip()


def logout(ctx: Context, server: str | None = None) -> None:
    from rootless.engine.image.auth import auth_key, remove_credentials

    host = _server_host(server)
    if remove_credentials(ctx.paths.docker_auth_file, host):
        print(f"Removing login credentials for {auth_key(host)}")
    else:
        print(f"Not logged in to {auth_key(host)}")


def search(ctx: Context, term: str, limit: int = 25, no_trunc: bool = False, format: str | None = None) -> None:
    from rootless.cli.commands.imagefmt import render
    from rootless.engine.image.pull import registry_for
    from rootless.engine.image.registry import hub_search

    if limit < 1 or limit > 100:
        raise UsageError("limit must be between 1 and 100")
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        with registry_for(ctx, first) as registry:
            names = registry.catalog()
        rows = [{"Name": f"{first}/{n}", "Description": "", "StarCount": "0", "IsOfficial": ""}
                for n in names if rest.lower() in n.lower()][:limit]
    else:
        rows = []
        for hit in hub_search(term, limit):
            description = (hit.get("description") or "").replace("\n", " ")
            if not no_trunc and len(description) > 45:
                description = description[:44] + "…"
            rows.append({"Name": hit.get("name", ""), "Description": description,
                         "StarCount": str(hit.get("star_count", 0)),
                         "IsOfficial": "[OK]" if hit.get("is_official") else ""})
    default = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
    print(render(format or default, rows, {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
                                           "IsOfficial": "OFFICIAL"}), end="")
