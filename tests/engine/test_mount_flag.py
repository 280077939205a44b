"""mount_flag.py: `--mount` against the docker CLI's and daemon's rules and messages (table-driven,
cases from cli/opts/mount_test.go and moby's volume/mounts tests), plus property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from rootless.engine import mount_flag, volumes
from rootless.engine.mount_flag import parse_mount
from rootless.engine.volumes import VolumeSpec
from rootless.errors import UsageError


def bind(src, dst, ro=False, **kw):
    return VolumeSpec("bind", src, dst, ro, mount_flag=True, **kw)


def vol(src, dst, ro=False, **kw):
    return VolumeSpec("volume", src, dst, ro, mount_flag=True, **kw)


@pytest.mark.parametrize("text,expected", [
    ("type=bind,source=/srv,target=/data", bind("/srv", "/data")),
    ("type=bind,src=/srv,dst=/data,ro", bind("/srv", "/data", True)),
    ("type=bind,src=/srv,destination=/data,readonly", bind("/srv", "/data", True)),
    ("type=bind,src=/srv,dst=/data,readonly=true", bind("/srv", "/data", True)),
    ("type=bind,src=/srv,dst=/data,ro=0", bind("/srv", "/data")),
    ("TYPE=BIND,SRC=/srv,Target=/data", bind("/srv", "/data")),            # keys and type: any case
    ("type=bind,src=/srv//x/../y/,dst=//data/", bind("/srv/y", "/data")),  # cleaned as Go's Clean
    ("type=bind,src=/a,dst=/b,bind-propagation=rshared", bind("/a", "/b", propagation="rshared")),
    ("type=bind,src=/a,dst=/b,bind-propagation=SLAVE", bind("/a", "/b", propagation="slave")),
    ("type=bind,src=/a,dst=/b,bind-nonrecursive", bind("/a", "/b", recursive=False)),
    ("type=bind,src=/a,dst=/b,bind-nonrecursive=true", bind("/a", "/b", recursive=False)),
    ("type=bind,src=/a,dst=/b,bind-recursive=disabled", bind("/a", "/b", recursive=False)),
    ("type=bind,src=/a,dst=/b,bind-recursive=enabled", bind("/a", "/b")),
    ("type=bind,src=/a,dst=/b,consistency=cached", bind("/a", "/b")),
    ('"type=bind","src=/a,b",dst=/c', bind("/a,b", "/c")),                 # a CSV record: quotes hold commas
    ("type=volume,source=cache,target=/c", vol("cache", "/c")),
    ("source=cache,target=/c", vol("cache", "/c")),                        # type defaults to volume
    ("target=/c", vol("", "/c")),                                          # anonymous
    ("type=volume,src=data,dst=/d,ro", vol("data", "/d", True)),
    ("type=volume,src=data,dst=/d,volume-nocopy", vol("data", "/d", copy=False)),
    ("type=volume,src=data,dst=/d,volume-nocopy=false", vol("data", "/d")),
    ("type=volume,src=data,dst=/d,volume-label=a=b,volume-label=c", vol("data", "/d", labels={"a": "b", "c": ""})),
    ("type=volume,src=data,dst=/d,volume-driver=local", vol("data", "/d")),
    ("type=tmpfs,dst=/t", "/t"),
    ("type=tmpfs,target=/t,tmpfs-size=64m", "/t:size=64m"),
    ("type=tmpfs,target=/t,tmpfs-size=1g,tmpfs-mode=1770", "/t:mode=1770,size=1g"),
    ("type=tmpfs,target=/t,tmpfs-size=1536k", "/t:size=1536k"),
    ("type=tmpfs,target=/t,tmpfs-size=1.5g", "/t:size=1536m"),
    ("type=tmpfs,target=/t,tmpfs-size=1000", "/t:size=1000"),
    ("type=tmpfs,target=/t,tmpfs-size=10 MiB", "/t:size=10m"),
    ("type=tmpfs,target=/t,ro,tmpfs-mode=700", "/t:ro,mode=700"),
])
def test_parse(text, expected):
    assert parse_mount(text) == expected


CLI = 'invalid argument "{}" for "--mount" flag: '


@pytest.mark.parametrize("text,message", [
    ("", CLI + "EOF"),
    ("type=,source=/foo,target=/bar", CLI + "type is required"),
    ("type=volume,source=data-volume", CLI + "target is required"),
    ("source=/foo", CLI + "target is required"),
    ("foo=baz", CLI + "unexpected key 'foo' in 'foo=baz'"),
    ("type=bind,target=/x,Junk=1", CLI + "unexpected key 'junk' in 'Junk=1'"),
    ("type=bind,bogus", CLI + "invalid field 'bogus' must be a key=value pair"),
    ("type=bind,src=/a,dst=/b,", CLI + "invalid field '' must be a key=value pair"),
    ("type=bind,src=/a,dst=/b,ro=maybe", CLI + "invalid value for ro: maybe"),
    ("type=volume,src=a,dst=/b,volume-nocopy=2", CLI + "invalid value for volume-nocopy: 2"),
    ("type=tmpfs,target=/bar,tmpfs-size=foo", CLI + "invalid value for tmpfs-size: foo"),
    ("type=tmpfs,target=/bar,tmpfs-size=-1", CLI + "invalid value for tmpfs-size: -1"),
    ("type=tmpfs,target=/bar,tmpfs-mode=baz", CLI + "invalid value for tmpfs-mode: baz"),
    ("type=tmpfs,target=/bar,tmpfs-mode=0899", CLI + "invalid value for tmpfs-mode: 0899"),
    ("type=bind,source=/foo,destination=/bar,volume-nocopy", CLI + "cannot mix 'volume-*' options with mount type 'bind'"),
    ("type=volume,source=foo,destination=/bar,bind-nonrecursive", CLI + "cannot mix 'bind-*' options with mount type 'volume'"),
    ("type=volume,source=foo,destination=/bar,bind-propagation=rprivate", CLI + "cannot mix 'bind-*' options with mount type 'volume'"),
    ("type=volume,source=/foo,destination=/bar,tmpfs-size=42", CLI + "cannot mix 'tmpfs-*' options with mount type 'volume'"),
    ("type=bind,src=/a,dst=/b,bind-recursive=writable", CLI + "option 'bind-recursive=writable' requires 'readonly'"),
    ("type=bind,src=/a,dst=/b,bind-recursive=sometimes", CLI + "invalid value for bind-recursive: sometimes"),
    ('type=bind,sr"c=/a,dst=/b', CLI + 'parse error on line 1, column 13: bare " in non-quoted field'),
    ('"type=bind,src=/a,dst=/b', CLI + 'parse error on line 1, column 25: extraneous or missing " in quoted-field'),
    ("type=foo,target=/x", 'invalid mount config for type "foo": mount type unknown'),
    ("type=bind,target=/x", 'invalid mount config for type "bind": field Source must not be empty'),
    ("type=bind,src=rel,target=/x", "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"),
    ("type=bind,src=/a,target=rel", "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"),
    ("type=volume,target=rel", "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"),
    ("type=bind,src=/a,target=/", "invalid mount config for type \"bind\": invalid specification: destination can't be '/'"),
    ("type=tmpfs,target=//x/..", "invalid specification: destination can't be '/'"),
    ("type=bind,src=/a,dst=/b,bind-propagation=up", 'invalid mount config for type "bind": invalid propagation mode: up'),
    ("type=tmpfs,src=/a,target=/x", 'invalid mount config for type "tmpfs": field Source must not be specified'),
    ("type=volume,target=/x,ro", 'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes'),
    ("type=volume,src=/abs,target=/x", 'create /abs: "/abs" includes invalid characters for a local volume name'),
    ("type=volume,src=a:b,target=/x", 'create a:b: "a:b" includes invalid characters'),
    ("type=volume,src=v,target=/x", 'create v: "v" includes invalid characters'),  # docker: 2 characters at least
    ("type=volume,src=vv,target=/x,volume-driver=nfs", "volume driver 'nfs' is not available"),
    ("type=volume,src=vv,target=/x,volume-opt=o=addr", "--mount option volume-opt is not supported by rl"),
    ("type=volume,src=vv,target=/x,volume-subpath=a", "--mount option volume-subpath is not supported by rl"),
    ("type=bind,src=/a,dst=/b,ro,bind-recursive=readonly", "bind-recursive=readonly is not supported by rl"),
])
def test_parse_errors(text, message):
    with pytest.raises(UsageError) as e:
        parse_mount(text)
    assert message.format(text) in e.value.message, e.value.message
    assert e.value.exit_code == 125


@pytest.mark.parametrize("text,fields", [
    ("a,b", ["a", "b"]), ('"a,b",c', ["a,b", "c"]), ('"a""b"', ['a"b']), (",", ["", ""]),
    ('""', [""]), (" a , b", [" a ", " b"]), ("a\nb,c", ["a"]),
])
def test_fields_as_go_csv(text, fields):
    assert mount_flag.fields(text) == fields


@pytest.mark.parametrize("value,size", [
    ("0", 0), ("1", 1), ("1k", 1024), ("1K", 1024), ("1kb", 1024), ("1KiB", 1024), ("2 m", 2 << 20),
    ("1.5g", 3 << 29), ("1t", 1 << 40), ("1p", 1 << 50),
])
def test_ram_in_bytes(value, size):
    assert mount_flag.ram_in_bytes(value) == size


@pytest.mark.parametrize("value", ["", "k", "1x", "-1", "1.2.3", " 1", "1kk"])
def test_ram_in_bytes_bad(value):
    with pytest.raises(ValueError):
        mount_flag.ram_in_bytes(value)


def test_from_flags_merges_and_checks_destinations():
    specs, tmpfs = volumes.from_flags(["/a:/x"], ["type=volume,src=vv,dst=/y", "type=tmpfs,dst=/t,tmpfs-size=1m"], ["/u:size=2m"])
    assert specs == (VolumeSpec("bind", "/a", "/x"), vol("vv", "/y"))
    assert tmpfs == ("/u:size=2m", "/t:size=1m")
    for flags in ((["/a:/x"], ["type=bind,src=/b,dst=/x/"], []),
                  ([], ["type=tmpfs,dst=/x"], ["/x:size=1m"]),
                  ([], ["type=volume,dst=/x", "type=tmpfs,dst=//x"], [])):
        with pytest.raises(UsageError, match="Duplicate mount point: /x"):
            volumes.from_flags(*flags)


def test_mount_specs_become_oci_mounts_not_binds():
    spec = parse_mount("type=bind,src=/srv,dst=/data,ro,bind-propagation=rslave,bind-nonrecursive")
    assert spec.oci_mount() == {"destination": "/data", "type": "bind", "source": "/srv",
                                "options": ["bind", "rslave", "ro"]}
    assert not spec.is_bind_entry()  # docker lists --mount in HostConfig.Mounts, not Binds
    assert volumes.parse("/srv:/data").is_bind_entry()
    moved = spec.resolved("/other")
    assert moved.host_path == "/other" and moved.oci_mount()["source"] == "/other"
    assert (moved.propagation, moved.recursive, moved.mount_flag) == ("rslave", False, True)


KEYS = ["type", "src", "source", "dst", "target", "destination", "ro", "readonly", "bind-propagation",
        "bind-nonrecursive", "bind-recursive", "volume-nocopy", "volume-label", "volume-driver", "tmpfs-size",
        "tmpfs-mode", "consistency", "junk"]
VALUES = ["bind", "volume", "tmpfs", "/a", "/", "rel", "x/../..", "1", "true", "64m", "1777", "rshared",
          "enabled", "", "a=b", '"q"']


@given(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES), st.booleans()), max_size=6))
def test_structured_values_parse_or_give_usage_errors(items):
    text = ",".join(k if bare else f"{k}={v}" for k, v, bare in items)
    try:
        out = parse_mount(text)
    except UsageError as e:
        assert e.exit_code == 125 and e.message
        return
    if isinstance(out, str):
        assert out.startswith("/") and out.partition(":")[0] != "/"
    else:
        assert out.kind in ("bind", "volume") and out.destination.startswith("/") and out.destination != "/"
        assert out.kind == "volume" or out.source.startswith("/")


@given(st.text(max_size=40))
def test_arbitrary_text_never_raises_anything_else(text):
    try:
        parse_mount(text)
    except UsageError:
        pass
