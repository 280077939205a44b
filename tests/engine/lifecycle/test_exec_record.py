"""lifecycle/exec.py's start-up path: the record found without the store (`quick_record`), trusted
only when its container process is named (`trusted_process`), parsed without importing json
(`loads`). Records are written as ContainerStore writes them (compact JSON) under tmp_path."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, strategies as st

from rootless.engine.lifecycle import exec as ex

ID_A = "a" * 63 + "1"
ID_B = "a" * 63 + "2"
ID_C = "c0ffee" + "0" * 58


def record(cid: str, name: str, **state) -> dict:
    st_ = {"Status": "running", "Pid": 42, "Paused": False,
           "Process": {"Pid": 42, "Start": 1234, "Boot": "boot-1"}}
    st_.update(state)
    return {"Id": cid, "Name": "/" + name, "State": st_, "Config": {"Labels": {}}}


def write(root, rec: dict, compact: bool = True) -> None:
    d = root / rec["Id"]
    d.mkdir(parents=True)
    text = json.dumps(rec, separators=(",", ":")) if compact else json.dumps(rec, indent=2)
    (d / "state.json").write_text(text)


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "containers"
    write(root, record(ID_A, "web"))
    write(root, record(ID_B, "db"))
    write(root, record(ID_C, "aaaa"))  # a name that is also a prefix of two other ids
    (root / (".new-" + "f" * 64)).mkdir()  # an unfinished create: never listed
    return root


@pytest.mark.parametrize("ref, want", [
    (ID_A, ID_A),          # full id
    ("web", ID_A),         # name
    ("/db", ID_B),         # name with docker's slash
    ("c0f", ID_C),         # unique prefix
    ("C0FFEE", ID_C),      # prefixes are case-insensitive, as the store's
    ("aaaa", ID_C),        # a name wins over an id prefix (docker's order)
])
def test_quick_record_finds(store, ref, want):
    assert ex.quick_record(str(store), ref)["Id"] == want


@pytest.mark.parametrize("ref", [
    "aaa",           # several ids with that prefix: the store says so
    "nosuch",        # not found: the store's message
    "",              # docker's "No such container: "
    'we"b',          # not a name: no byte search
    "f" * 64,        # the unfinished create is no container
])
def test_quick_record_leaves_it_to_the_store(store, ref):
    assert ex.quick_record(str(store), ref) is None


def test_a_name_inside_another_field_is_not_the_name(tmp_path):
    root = tmp_path / "containers"
    decoy = record(ID_A, "other")
    decoy["Config"]["Labels"] = {"Name": "/web"}  # the same bytes, one level down
    write(root, decoy)
    assert ex.quick_record(str(root), "web") is None
    write(root, record(ID_B, "web"))
    assert ex.quick_record(str(root), "web")["Id"] == ID_B


def test_a_record_not_written_compactly_is_left_to_the_store(tmp_path):
    root = tmp_path / "containers"
    write(root, record(ID_A, "web"), compact=False)
    assert ex.quick_record(str(root), "web") is None
    assert ex.quick_record(str(root), ID_A)["Id"] == ID_A  # by id it is read all the same


def test_no_store_yet(tmp_path):
    assert ex.quick_record(str(tmp_path / "missing"), "web") is None


@pytest.mark.parametrize("state, trusted", [
    ({}, True),
    ({"Status": "unknown"}, True),                          # alive without its monitor
    ({"Status": "exited"}, False),
    ({"Status": "created"}, False),
    ({"Paused": True}, False),                              # the store's way says "paused"
    ({"Pid": 0}, False),
    ({"Process": None}, False),                             # an older record
    ({"Process": {"Pid": 43, "Start": 1234, "Boot": "boot-1"}}, False),  # not State.Pid
    ({"Process": {"Pid": 42, "Start": 0, "Boot": "boot-1"}}, False),
    ({"Process": {"Pid": 42, "Start": 1234, "Boot": "other-boot"}}, False),  # before a reboot
])
def test_trusted_process(monkeypatch, state, trusted):
    monkeypatch.setattr(ex, "boot_id", lambda: "boot-1")
    assert ex.trusted_process(record(ID_A, "web", **state)) == ((42, 1234) if trusted else None)


def test_trusted_process_of_nothing():
    assert ex.trusted_process(None) is None and ex.trusted_process([]) is None


def test_boot_id_is_the_kernels():
    with open("/proc/sys/kernel/random/boot_id") as f:
        assert ex.boot_id() == f.read().strip()


@pytest.mark.parametrize("text", [
    '{"a": [1, 2.5, -3e2, true, false, null, "x\\u00e9\\n"]}', '  [] ', '"s"', "0", "-1.5E+3",
    '{"Name":"/web","State":{"Pid":42}}\n', b'{"bytes": "\xc3\xa9"}', "NaN", "[Infinity, -Infinity]",
    '{"a": 1, "a": 2}',
])
def test_loads_reads_what_json_reads(text):
    want = json.loads(text)
    got = ex.loads(text)
    if isinstance(want, float) and math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want and type(got) is type(want)


@pytest.mark.parametrize("text", ["", "  ", "{", '{"a": 1} x', "[1,]", "{'a': 1}", '"\x01"', "01"])
def test_loads_refuses_what_json_refuses(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        ex.loads(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@given(JSON, st.booleans())
def test_loads_round_trips(value, compact):
    text = json.dumps(value, separators=(",", ":") if compact else None, indent=None if compact else 1)
    assert ex.loads(text) == json.loads(text)


@given(st.text(max_size=40))
def test_loads_on_arbitrary_text_is_json_loads(text):
    try:
        want = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            ex.loads(text)
        return
    got = ex.loads(text)
    assert got == want or (got != got and want != want)  # NaN


ENVIRON = {"HOME": "/h", "EMPTY": "", "A B": "x"}


@pytest.mark.parametrize("values, want", [
    (["A=1", "B=", "C=x=y"], ["A=1", "B=", "C=x=y"]),
    (["HOME", "NOPE", "EMPTY"], ["HOME=/h", "EMPTY="]),   # -e KEY: from rl's environment, or dropped
    ([], []),
])
def test_exec_env(values, want):
    assert ex.exec_env(values, ENVIRON) == want


@given(st.lists(st.text(max_size=6)), st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=4))
def test_exec_env_is_run_options_parse_env(values, environ):
    from rootless.engine import run_options
    from rootless.errors import UsageError

    try:
        want = run_options.parse_env(values, environ)
    except UsageError as e:
        with pytest.raises(UsageError) as info:
            ex.exec_env(values, environ)
        assert (info.value.message, info.value.hint) == (e.message, e.hint)
        return
    assert ex.exec_env(values, environ) == want
