"""Reference grammar and normalisation against docker's documented behaviour (distribution/reference)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rootless.engine.image.reference import Reference, parse, parse_tag
from rootless.errors import InvalidReference

D = "sha256:" + "a" * 64

NORMALISED = [
    # input, full form, familiar form
    ("nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
    ("library/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("docker.io/library/nginx:latest", "docker.io/library/nginx:latest", "nginx:latest"),
    ("index.docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("user/app", "docker.io/user/app:latest", "user/app:latest"),
    ("user/app:v1.0-rc_1", "docker.io/user/app:v1.0-rc_1", "user/app:v1.0-rc_1"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/app:1", "localhost:5000/app:1", "localhost:5000/app:1"),
    ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"),
    ("quay.io/org/img", "quay.io/org/img:latest", "quay.io/org/img:latest"),
    ("[::1]:5000/img", "[::1]:5000/img:latest", "[::1]:5000/img:latest"),
    ("Registry.Example.com/img", "Registry.Example.com/img:latest", "Registry.Example.com/img:latest"),
    (f"nginx@{D}", f"docker.io/library/nginx@{D}", f"nginx@{D}"),
    (f"nginx:1@{D}", f"docker.io/library/nginx:1@{D}", f"nginx:1@{D}"),
    ("a__b-c---d/e_f.g", "docker.io/a__b-c---d/e_f.g:latest", "a__b-c---d/e_f.g:latest"),
    ("foo:5000", "docker.io/library/foo:5000", "foo:5000"),  # no slash: 5000 is a tag
]


@pytest.mark.parametrize("text,full,familiar", NORMALISED)
def test_normalisation(text: str, full: str, familiar: str) -> None:
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert parse(str(ref)) == ref


def test_parts() -> None:
    ref = parse("localhost:5000/team/app:v2")
    assert ref == Reference("localhost:5000", "team/app", "v2", None)
    assert ref.name == "localhost:5000/team/app"
    assert parse("nginx").familiar_name() == "nginx"
    assert parse("nginx", default_tag=False).tag is None


INVALID = [
    ("", "invalid reference format"),
    ("Nginx", "invalid reference format: repository name (library/Nginx) must be lowercase"),
    ("user/App", "invalid reference format: repository name (user/App) must be lowercase"),
    ("nginx:", "invalid reference format"),
    (":tag", "invalid reference format"),
    ("nginx:bad tag", "invalid reference format"),
    ("nginx:" + "t" * 129, "invalid reference format"),
    ("nginx@sha256:abc", "invalid reference format"),
    (f"nginx@sha256:{'A' * 64}", "invalid reference format: invalid checksum digest format"),
    ("a/../b", "invalid reference format"),
    ("-nginx", "invalid reference format"),
    ("nginx-", "invalid reference format"),
    ("host:port/x", "invalid reference format"),
    ("a" * 64, "invalid repository name (" + "a" * 64 + "), cannot specify 64-byte hexadecimal strings"),
    ("x/" + "a" * 260, "invalid reference format: repository name must not be more than 255 characters"),
    ("nginx a", "invalid reference format"),
]


@pytest.mark.parametrize("text,message", INVALID)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as err:
        parse(text)
    assert err.value.message == message


def test_parse_tag() -> None:
    assert parse_tag("v1.0_x-y") == "v1.0_x-y"
    for bad in ("", ".v1", "-x", "a b", "t" * 129):
        with pytest.raises(InvalidReference):
            parse_tag(bad)


REFERENCE_ALPHABET = "abcxyz019ABZ.-_:/@[]" + "sha256"


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=REFERENCE_ALPHABET, max_size=40)))
def test_parse_only_raises_invalid_reference_and_is_stable(text: str) -> None:
    try:
        ref = parse(text)
    except InvalidReference:
        return
    again = parse(str(ref))
    assert again == ref
    assert str(parse(str(again))) == str(ref)
    assert parse(ref.familiar()) == ref


@pytest.mark.parametrize("text,full,familiar", [n for n in NORMALISED if "@" not in n[0]])
def test_tag_key_is_the_normalised_reference(text: str, full: str, familiar: str) -> None:
    from rootless.engine.image.reference import tag_key

    assert tag_key(text) == full


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=REFERENCE_ALPHABET, max_size=40)))
def test_tag_key_agrees_with_parse_and_never_names_what_parse_refuses(text: str) -> None:
    """The image store finds an image by tag_key without the grammar: for a reference parse
    accepts it is parse's key, and for a text parse refuses it is no key parse would ever make
    (so such a text finds nothing in the store)."""
    from rootless.engine.image.reference import tag_key

    key = tag_key(text)
    try:
        ref = parse(text)
    except InvalidReference:
        if key is not None:
            try:
                canonical = str(parse(key))
            except InvalidReference:
                return
            assert canonical != key, text
        return
    if ref.digest:
        assert key is None
    else:
        assert key == str(ref)
