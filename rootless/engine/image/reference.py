"""Image references: docker's grammar (distribution/reference) and its normalisation.

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path-component ( "/" path-component )*
    domain     := host [ ":" port ]          (a first component with ".", ":", "localhost" or
                                              upper case is a domain; else the domain is docker.io)
    path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag        := [\\w][\\w.-]{0,127}
    digest     := algorithm ":" hex          (sha256: exactly 64 lower-case hex digits)

`parse("nginx")` is docker.io/library/nginx:latest, as `docker pull nginx` understands it;
`Reference.familiar()` is the short form docker displays ("nginx:latest"). Errors use docker's
wording ("invalid reference format...").
"""

from __future__ import annotations

from rootless.plainclass import dataclass

from rootless.errors import InvalidReference

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

_HEX = frozenset("0123456789abcdef")
_PATTERNS: dict = {}


def _pattern(name: str):
    """The compiled grammar, on first use: `re` (and `enum` with it) costs ~20 M instructions of
    start-up, and `rl run` of an image already in the store finds it by `tag_key` without it."""
    if not _PATTERNS:
        import re

        _PATTERNS.update(reference=re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII),
                         tag=re.compile(_TAG, re.ASCII), digest=re.compile(_DIGEST, re.ASCII))
    return _PATTERNS[name]


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and _HEX.issuperset(text)


@dataclass(frozen=True)
class Reference:
    """A normalised reference: domain "docker.io", path "library/nginx", tag, digest."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository's full name, e.g. "docker.io/library/nginx"."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def familiar_name(self) -> str:
        """The repository as docker displays it: "nginx", "user/app", "host:5000/app"."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_PREFIX) and "/" not in self.path[len(OFFICIAL_PREFIX):]:
            return self.path[len(OFFICIAL_PREFIX):]
        return self.path

    def familiar(self) -> str:
        """The whole reference as docker displays it: "nginx:latest", "host:5000/app@sha256:..."."""
        text = self.familiar_name()
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_tag(self, tag: str | None) -> "Reference":
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> "Reference":
        return Reference(self.domain, self.path, None, digest)

    @property
    def is_docker_hub(self) -> bool:
        return self.domain == DEFAULT_DOMAIN


def _split_domain(name: str) -> tuple[str, str]:
    """docker's splitDockerDomain: the first component is a domain only if it looks like one."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def _check_digest(digest: str) -> None:
    algo, _, hexpart = digest.partition(":")
    if algo not in ("sha256", "sha384", "sha512"):
        raise InvalidReference("invalid reference format: unsupported digest algorithm")
    if algo == "sha256" and not _is_hex64(hexpart):
        raise InvalidReference("invalid reference format: invalid checksum digest format")


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise like docker's ParseNormalizedNamed (+ TagNameOnly when `default_tag`).

    Raises InvalidReference (and nothing else) for any text that is not a reference.
    """
    if not isinstance(text, str) or not text:
        raise InvalidReference("invalid reference format")
    if _is_hex64(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidReference(f"invalid reference format: repository name ({remote}) must be lowercase")
    full = f"{domain}/{remainder}"
    match = _pattern("reference").fullmatch(full)
    if match is None:
        raise InvalidReference("invalid reference format")
    name, tag, digest = match.groups()
    if len(name) > NAME_TOTAL_MAX:
        raise InvalidReference(f"invalid reference format: repository name must not be more than "
                               f"{NAME_TOTAL_MAX} characters")
    if digest:
        _check_digest(digest)
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, name[len(domain) + 1:], tag, digest)


def parse_tag(tag: str) -> str:
    """Validate a bare tag (as `rl tag` / `rl import REPO:TAG` need it)."""
    if not _pattern("tag").fullmatch(tag or ""):
        raise InvalidReference("invalid tag format")
    return tag


def is_digest(text: str) -> bool:
    return bool(_pattern("digest").fullmatch(text))


def try_parse(text: str) -> Reference | None:
    try:
        return parse(text)
    except InvalidReference:
        return None


def tag_key(text: str) -> str | None:
    """The key `str(parse(text))` would give for a name or name:tag (no digest), by docker's
    normalisation alone, without checking the grammar: how the image store finds an image it
    holds without compiling the grammar (the key is only ever compared with keys `parse` made,
    so a text outside the grammar finds nothing). None for a digest reference."""
    if not isinstance(text, str) or not text or "@" in text:
        return None
    domain, remainder = _split_domain(text)
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon <= slash:
        remainder += ":" + DEFAULT_TAG
    return f"{domain}/{remainder}"
