"""runtime/plan.py: the wire format (encode) and process_pairs, the OCI `process` object as the
plan keys native/rl_process.h reads (table-driven, and a hypothesis property: every pair encodes
and the masks/limits are what the kernel interface expects)."""

from __future__ import annotations

import resource

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rootless.runtime import caps, plan


def test_encode():
    assert plan.encode([("arg", "sh"), ("uid", 0), ("env", b"A=1")]) == b"arg\0sh\0uid\x000\0env\0A=1\0"
    with pytest.raises(ValueError):
        plan.encode([("arg", "a\0b")])


def test_memfd_reads_back():
    import os

    fd = plan.memfd(b"x" * 200_000)
    try:
        assert os.read(fd, 300_000) == b"x" * 200_000
    finally:
        os.close(fd)


CHOWN, KILL, NET_ADMIN = caps.number("CAP_CHOWN"), caps.number("CAP_KILL"), caps.number("CAP_NET_ADMIN")


@pytest.mark.parametrize("process, pdeathsig, expected", [
    ({"args": ["true"]}, 0, [("arg", "true"), ("cwd", "/"), ("uid", 0), ("gid", 0)]),
    ({"args": ["sh", "-c", "x"], "env": ["A=1", "B=2"], "cwd": "/tmp"}, 9,
     [("arg", "sh"), ("arg", "-c"), ("arg", "x"), ("env", "A=1"), ("env", "B=2"), ("cwd", "/tmp"),
      ("uid", 0), ("gid", 0), ("pdeathsig", 9)]),
    ({"args": ["id"], "user": {"uid": 1000, "gid": 100, "additionalGids": [10, 20], "umask": 0o077}}, 0,
     [("arg", "id"), ("cwd", "/"), ("uid", 1000), ("gid", 100), ("group", 10), ("group", 20), ("umask", 0o077)]),
    ({"args": ["x"], "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NOPE"], "effective": ["CAP_KILL"],
                                      "permitted": ["CAP_KILL"], "ambient": ["CAP_NET_ADMIN"]}}, 0,
     [("arg", "x"), ("cwd", "/"), ("uid", 0), ("gid", 0), ("cap.bounding", 1 << CHOWN | 1 << KILL),
      ("cap.effective", 1 << KILL), ("cap.permitted", 1 << KILL), ("cap.inheritable", 0),
      ("cap.ambient", 1 << NET_ADMIN)]),
    ({"args": ["x"], "capabilities": {}}, 0,
     [("arg", "x"), ("cwd", "/"), ("uid", 0), ("gid", 0)] + [(f"cap.{s}", 0) for s in plan._CAP_SETS]),
    ({"args": ["x"], "noNewPrivileges": True, "oomScoreAdj": -500,
      "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
                  {"type": "RLIMIT_CORE", "soft": 2**64 - 1, "hard": "RLIM_INFINITY"}]}, 0,
     [("arg", "x"), ("cwd", "/"), ("uid", 0), ("gid", 0), ("nnp", 1), ("oom", -500),
      ("rlimit", f"{resource.RLIMIT_NOFILE}:1024:4096"), ("rlimit", f"{resource.RLIMIT_CORE}:-1:-1")]),
    ({"args": ["x"], "noNewPrivileges": False, "oomScoreAdj": 0, "cwd": ""}, 0,
     [("arg", "x"), ("cwd", "/"), ("uid", 0), ("gid", 0), ("oom", 0)]),
])
def test_process_pairs(process, pdeathsig, expected):
    assert plan.process_pairs(process, pdeathsig) == expected


@pytest.mark.parametrize("name", ["RLIMIT_NOPE", "getrlimit", "NOFILE", ""])
def test_unknown_rlimit_is_process_py_s_error(name):
    with pytest.raises(ValueError, match=f"unknown rlimit {name}"):
        plan.process_pairs({"args": ["x"], "rlimits": [{"type": name, "soft": 1, "hard": 1}]})


_names = st.sampled_from(caps.NAMES + ("CAP_NOPE", "net_admin", "SYS_ADMIN"))
_text = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=20)
_limit = st.one_of(st.integers(0, 2**64 - 1), st.just("RLIM_INFINITY"))


@given(args=st.lists(_text, min_size=1, max_size=4), env=st.lists(_text, max_size=4),
       sets=st.dictionaries(st.sampled_from(plan._CAP_SETS), st.lists(_names, max_size=6)),
       limits=st.lists(st.tuples(st.sampled_from(["RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_NPROC"]), _limit, _limit),
                       max_size=3),
       uid=st.integers(0, 2**32 - 2), pdeathsig=st.integers(0, 64))
def test_process_pairs_property(args, env, sets, limits, uid, pdeathsig):
    process = {"args": args, "env": env, "user": {"uid": uid, "gid": uid}, "capabilities": sets,
               "rlimits": [{"type": t, "soft": s, "hard": h} for t, s, h in limits]}
    pairs = plan.process_pairs(process, pdeathsig)
    plan.encode(pairs)  # every value is wire-safe
    values = dict(pairs)
    assert [v for k, v in pairs if k == "arg"] == args and [v for k, v in pairs if k == "env"] == env
    for name in plan._CAP_SETS:
        assert values[f"cap.{name}"] == caps.mask(sets.get(name, ()))
        assert 0 <= values[f"cap.{name}"] < 2**64
    for (kind, soft, hard), (key, value) in zip(limits, [p for p in pairs if p[0] == "rlimit"]):
        which, s, h = (int(x) for x in value.split(":"))
        assert which == getattr(resource, kind)
        for given_, out in ((soft, s), (hard, h)):
            assert out == (-1 if given_ == "RLIM_INFINITY" or given_ >= 2**63 else given_)
    assert values.get("pdeathsig", 0) == pdeathsig and values["uid"] == uid
