"""rootless.runtime.idmap: subuid parsing, the choice of mapping and the layouts (pure,
table-driven, plus hypothesis property tests), and apply() on real children (integration)."""

from __future__ import annotations

import os
import pwd

import pytest
from hypothesis import given, settings, strategies as st

from rootless.errors import IdMappingError
from rootless.runtime import idmap, syscalls
from rootless.runtime.idmap import IdMap, IdMapping, SubidFormatError, SubidRange

FULL = idmap.FULL_SIZE


# --- parse_subids ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("", []),
    ("rltest:100000:65536\n", [SubidRange("rltest", 100000, 65536)]),
    ("# comment\n\n  \nalice:1:2\n", [SubidRange("alice", 1, 2)]),
    ("alice:100000:65536\nbob:165536:65536\nalice:300000:10",
     [SubidRange("alice", 100000, 65536), SubidRange("bob", 165536, 65536),
      SubidRange("alice", 300000, 10)]),
    ("1001:5:6\n", [SubidRange("1001", 5, 6)]),
    ("  carol : 7 : 8  \r\n", [SubidRange("carol", 7, 8)]),
    ("max:4294967295:1\n", [SubidRange("max", 4294967295, 1)]),
])
def test_parse_subids(text, expected):
    assert idmap.parse_subids(text) == expected


@pytest.mark.parametrize("line, why", [
    ("alice:1", "3 fields"),
    ("alice:1:2:3", "3 fields"),
    (":1:2", "bad owner"),
    ("al ice:1:2", "bad owner"),
    ("alice:x:2", "decimal"),
    ("alice:-1:2", "decimal"),
    ("alice:1:+2", "decimal"),
    ("alice:1:0", "empty"),
    ("alice:4294967295:2", "beyond"),
    ("alice:１:2", "decimal"),  # a fullwidth digit: str.isdigit() says yes, int() would take it
])
def test_parse_subids_rejects(line, why):
    with pytest.raises(SubidFormatError) as err:
        idmap.parse_subids(f"ok:1:1\n{line}\n", "/etc/subgid")
    assert "/etc/subgid line 2" in err.value.message and why in err.value.message
    assert err.value.hint


def test_parse_subids_lenient_skips_bad_lines():
    text = "garbage\nalice:1:2\nbob:x:1\n"
    assert idmap.parse_subids(text, strict=False) == [SubidRange("alice", 1, 2)]


@pytest.mark.parametrize("user, uid, expected", [
    ("alice", 1000, [SubidRange("alice", 100000, 65536), SubidRange("1000", 500000, 10)]),
    (None, 1000, [SubidRange("1000", 500000, 10)]),
    ("bob", 1001, [SubidRange("bob", 165536, 65536)]),
    ("carol", 1002, []),
])
def test_ranges_for(user, uid, expected):
    ranges = [SubidRange("alice", 100000, 65536), SubidRange("bob", 165536, 65536),
              SubidRange("1000", 500000, 10)]
    assert idmap.ranges_for(ranges, user, uid) == expected


# the property tests: whatever the text, only SubidFormatError; and format/parse round-trips
owners = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_-.$"),
                 min_size=1, max_size=12)


@st.composite
def subid_ranges(draw):
    start = draw(st.integers(0, idmap.ID_LIMIT - 1))
    count = draw(st.integers(1, idmap.ID_LIMIT - start))
    return SubidRange(draw(owners), start, count)


@settings(database=None, max_examples=300)
@given(st.text())
def test_parse_subids_only_raises_its_own_error(text):
    try:
        ranges = idmap.parse_subids(text)
    except SubidFormatError:
        return
    assert all(r.count > 0 and r.start + r.count <= idmap.ID_LIMIT for r in ranges)
    assert idmap.parse_subids(text, strict=False) == ranges


@settings(database=None, max_examples=300)
@given(st.text())
def test_parse_subids_lenient_never_raises(text):
    idmap.parse_subids(text, strict=False)


@settings(database=None)
@given(st.lists(subid_ranges(), max_size=8))
def test_subids_round_trip(ranges):
    assert idmap.parse_subids(idmap.format_subids(ranges)) == ranges


# --- layouts -----------------------------------------------------------------------------------

R = SubidRange


@pytest.mark.parametrize("own, ranges, expected", [
    (1000, [], (IdMap(0, 1000, 1),)),
    (1001, [R("u", 100000, 65536)], (IdMap(0, 1001, 1), IdMap(1, 100000, 65536))),
    (1001, [R("u", 100000, 10), R("u", 300000, 5)],
     (IdMap(0, 1001, 1), IdMap(1, 100000, 10), IdMap(11, 300000, 5))),
    (5, [R("u", 0, FULL)], (IdMap(0, 5, 1), IdMap(1, 0, FULL - 1))),  # capped at 4294967294
])
def test_layout_default(own, ranges, expected):
    assert idmap.layout_default(own, ranges) == expected


@pytest.mark.parametrize("own, ranges, expected", [
    # podman keep-id: 0..own-1 from the range, own -> own, the rest after it
    (1001, [R("u", 100000, 65536)],
     (IdMap(0, 100000, 1001), IdMap(1001, 1001, 1), IdMap(1002, 101001, 64535))),
    # the range ends below own: a gap up to own
    (70000, [R("u", 100000, 65536)], (IdMap(0, 100000, 65536), IdMap(70000, 70000, 1))),
    # own falls inside the second range's span of container ids
    (12, [R("u", 100000, 10), R("u", 300000, 5)],
     (IdMap(0, 100000, 10), IdMap(10, 300000, 2), IdMap(12, 12, 1), IdMap(13, 300002, 3))),
    (0, [R("u", 100000, 3)], (IdMap(0, 0, 1), IdMap(1, 100000, 3))),
])
def test_layout_keep_id(own, ranges, expected):
    assert idmap.layout_keep_id(own, ranges) == expected


def test_mapping_to_oci_and_translation():
    m = IdMapping("subuid", idmap.layout_default(1001, [R("u", 100000, 65536)]),
                  idmap.layout_default(1001, [R("u", 200000, 10)]))
    assert m.to_oci() == {
        "uidMappings": [{"containerID": 0, "hostID": 1001, "size": 1},
                        {"containerID": 1, "hostID": 100000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 1001, "size": 1},
                        {"containerID": 1, "hostID": 200000, "size": 10}]}
    assert [m.host_uid(c) for c in (0, 1, 1000, 65536, 65537)] == [
        1001, 100000, 100999, 165535, None]
    assert [m.host_gid(c) for c in (0, 10, 11)] == [1001, 200009, None]
    assert m.size == 65537


@pytest.mark.parametrize("euid, mode", [(0, "root"), (1000, "single"), (1001, "subuid")])
def test_from_oci_round_trip(euid, mode):
    single = IdMapping("x", (IdMap(0, 1000, 1),), (IdMap(0, 1000, 1),))
    m = IdMapping.from_oci(single.to_oci(), euid=euid, egid=1000)
    assert (m.mode, m.uid_maps, m.gid_maps) == (mode, single.uid_maps, single.gid_maps)
    with pytest.raises(IdMappingError):
        IdMapping.from_oci({"uidMappings": []}, euid=1000, egid=1000)
    keep = {"uidMappings": [{"containerID": 1000, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 1000, "hostID": 1000, "size": 1}]}
    assert IdMapping.from_oci(keep, euid=1000, egid=1000).mode == "single"


# --- choose (the helpers' presence is the one host fact stubbed here; see the integration tests) -

@pytest.fixture
def subid_files(tmp_path):
    def make(subuid: str, subgid: str | None = None):
        u, g = tmp_path / "subuid", tmp_path / "subgid"
        u.write_text(subuid)
        g.write_text(subuid if subgid is None else subgid)
        return {"subuid": str(u), "subgid": str(g)}
    return make


@pytest.fixture
def helpers(monkeypatch):
    def set_present(present: bool):
        monkeypatch.setattr(idmap, "find_helper",
                            lambda name: f"/usr/bin/{name}" if present else None)
    set_present(True)
    return set_present


RANGES = "# test\nalice:100000:65536\nbob:200000:1000\n"


@pytest.mark.parametrize("userns, uid, user, helpers_present, mode, uid_maps", [
    ("", 0, "root", True, "root", (IdMap(0, 0, FULL),)),
    ("host", 0, "root", True, "root", (IdMap(0, 0, FULL),)),
    ("auto", 0, "root", False, "root", (IdMap(0, 0, FULL),)),
    ("", 1000, "alice", True, "subuid", (IdMap(0, 1000, 1), IdMap(1, 100000, 65536))),
    ("auto", 1000, "alice", True, "subuid", (IdMap(0, 1000, 1), IdMap(1, 100000, 65536))),
    ("", 1000, "alice", False, "single", (IdMap(0, 1000, 1),)),
    ("", 1002, "carol", True, "single", (IdMap(0, 1002, 1),)),
    ("keep-id", 1000, "alice", True, "subuid",
     (IdMap(0, 100000, 1000), IdMap(1000, 1000, 1), IdMap(1001, 101000, 64536))),
])
def test_choose(subid_files, helpers, userns, uid, user, helpers_present, mode, uid_maps):
    helpers(helpers_present)
    m = idmap.choose(userns, uid=uid, gid=uid, user=user, **subid_files(RANGES))
    assert (m.mode, m.uid_maps, m.gid_maps, m.userns) == (mode, uid_maps, uid_maps, userns)
    assert m.note


def test_choose_by_numeric_uid_and_separate_gid_ranges(subid_files, helpers):
    files = subid_files("1000:100000:65536\n", "1000:300000:100\n")
    m = idmap.choose(uid=1000, gid=1000, user="dave", **files)
    assert m.gid_maps == (IdMap(0, 1000, 1), IdMap(1, 300000, 100))
    assert m.host_uid(1) == 100000


def test_choose_needs_ranges_in_both_files(subid_files, helpers):
    m = idmap.choose(uid=1000, gid=1000, user="alice", **subid_files(RANGES, ""))
    assert m.mode == "single" and "subgid" in m.note


def test_choose_missing_files_mean_single(tmp_path, helpers):
    m = idmap.choose(uid=1000, gid=1000, user="alice", subuid=str(tmp_path / "no"),
                     subgid=str(tmp_path / "no"))
    assert m.mode == "single"


@pytest.mark.parametrize("userns, uid, user, words", [
    ("bogus", 1000, "alice", "unknown --userns"),
    ("host", 1000, "alice", "needs real root"),
    ("keep-id", 0, "root", "only for rootless"),
    ("keep-id", 1002, "carol", "no range for carol"),
])
def test_choose_errors(subid_files, helpers, userns, uid, user, words):
    with pytest.raises(IdMappingError) as err:
        idmap.choose(userns, uid=uid, gid=uid, user=user, **subid_files(RANGES))
    assert words in err.value.message and err.value.hint


def test_keep_id_without_range_hints_at_subuid(subid_files, helpers):
    with pytest.raises(IdMappingError) as err:
        idmap.choose("keep-id", uid=1002, gid=1002, user="carol", **subid_files(RANGES))
    assert "carol:100000:65536" in err.value.hint and "/etc/subuid" in err.value.hint
    assert "usermod --add-subuids" in err.value.hint


def test_find_helper_ignores_files_that_cannot_map(tmp_path, monkeypatch):
    fake = tmp_path / "rl-fake-newuidmap"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)  # executable, but neither setuid root nor with file capabilities
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(idmap, "_HELPER_DIRS", ())
    assert idmap.find_helper("rl-fake-newuidmap") is None


# --- integration: the host's helpers, apply() on real children ---------------------------------

@pytest.mark.integration
def test_find_helper_finds_the_setuid_helpers():
    for name in ("newuidmap", "newgidmap"):
        path = idmap.find_helper(name)
        assert path and os.stat(path).st_mode & 0o4000, name


@pytest.mark.integration
def test_choose_matches_etc_subuid_for_this_user():
    uid = os.geteuid()
    m = idmap.choose()
    if uid == 0:
        assert m.mode == "root"
        return
    name = pwd.getpwuid(uid).pw_name
    with open("/etc/subuid") as f:
        has_range = idmap.ranges_for(idmap.parse_subids(f.read(), strict=False), name, uid)
    assert m.mode == ("subuid" if has_range else "single")
    assert m.uid_maps[0] == IdMap(0, uid, 1)
    if name == "rltest":
        assert m.uid_maps[1:] == (IdMap(1, 100000, 65536),)
    if name == "rltest1":
        assert m.mode == "single"


def _mapped_child(mapping):
    """A child in a new user namespace: apply() from here, then it reports its view."""
    gate_r, gate_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = syscalls.clone_fork(syscalls.CLONE_NEWUSER)
    if pid == 0:
        try:
            os.close(gate_w)
            os.read(gate_r, 1)
            texts = [open(f"/proc/self/{n}").read() for n in ("uid_map", "gid_map", "setgroups")]
            os.write(out_w, "\0".join(texts).encode())
        finally:
            os._exit(0)
    os.close(out_w)
    os.close(gate_r)
    try:
        idmap.apply(pid, mapping)
    finally:
        os.close(gate_w)
        view = os.read(out_r, 65536).decode().split("\0")
        os.close(out_r)
        os.waitpid(pid, 0)
    return view


def _parse_map(text: str) -> tuple[IdMap, ...]:
    return tuple(IdMap(*map(int, line.split())) for line in text.splitlines())


@pytest.mark.integration
def test_apply_the_chosen_mapping():
    m = idmap.choose()
    uid_map, gid_map, setgroups = _mapped_child(m)
    assert _parse_map(uid_map) == m.uid_maps and _parse_map(gid_map) == m.gid_maps
    assert setgroups.strip() == ("deny" if m.mode == "single" else "allow")


@pytest.mark.integration
def test_apply_single_map_directly():
    uid, gid = os.geteuid(), os.getegid()
    m = IdMapping("single", (IdMap(0, uid, 1),), (IdMap(0, gid, 1),))
    uid_map, gid_map, setgroups = _mapped_child(m)
    assert _parse_map(uid_map) == m.uid_maps and setgroups.strip() == "deny"


@pytest.mark.integration
def test_apply_refused_map_raises_with_path():
    # overlapping container ranges: the kernel refuses them, even from root
    bad = (IdMap(0, os.geteuid(), 1), IdMap(0, os.geteuid(), 1))
    m = IdMapping("single", bad, bad)
    with pytest.raises(IdMappingError) as err:
        _mapped_child(m)
    assert "/uid_map" in err.value.message and err.value.hint


@pytest.mark.integration
def test_apply_helpers_refuse_a_foreign_range():
    uid, gid = os.geteuid(), os.getegid()
    m = IdMapping("subuid", (IdMap(0, uid, 1), IdMap(1, 4000000000, 10)),
                  (IdMap(0, gid, 1), IdMap(1, 4000000000, 10)))
    with pytest.raises(IdMappingError) as err:
        _mapped_child(m)
    assert "newuidmap" in err.value.message and "/etc/subuid" in err.value.hint
