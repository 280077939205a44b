"""The C layer tar reader and tree writer (native/rl_tar.c, rl_untar.c, through
rootless/engine/image/untar.py).

The parser, through its recording sink (`list_members`, no filesystem), against Python's tarfile:
every format tarfile writes (ustar, GNU, PAX) parses to the same members and data, whatever the
chunk boundaries; cut or corrupt streams raise. The writer, in-process in a temp dir, for what the
helper-level tests in test_layer.py cannot see: chunk boundaries inside headers and data, and
directory times that must not follow a link."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rootless.engine.image import untar


def build(entries: list[tuple], fmt=tarfile.PAX_FORMAT) -> bytes:
    """entries: (name, type, data, fields) -> an uncompressed tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, type_, data, fields in entries:
            info = tarfile.TarInfo(name)
            info.type = type_
            info.size = len(data) if type_ in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
            info.mode = fields.get("mode", 0o644)
            info.mtime = fields.get("mtime", 1_600_000_000)
            for key in ("uid", "gid", "linkname", "devmajor", "devminor", "pax_headers"):
                if key in fields:
                    setattr(info, key, fields[key])
            tf.addfile(info, io.BytesIO(data) if info.size else None)
    return buf.getvalue()


def as_tuple(m: dict) -> tuple:
    return (m["name"], m["type"], m["size"], m["mode"], m["uid"], m["gid"], m["mtime_sec"],
            m["linkname"], m["data"], m["xattrs"])


def read_all(raw: bytes) -> list[tuple]:
    """[(name, type, size, mode, uid, gid, mtime, linkname, data, xattrs)] as the writer sees them."""
    return [as_tuple(m) for m in untar.list_members(raw)]


def expected(raw: bytes) -> list[tuple]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        for m in tf:
            data = tf.extractfile(m).read() if m.isreg() else b""
            xattrs = {k[13:]: v.encode("utf-8", "surrogateescape") for k, v in m.pax_headers.items()
                      if k.startswith("SCHILY.xattr.")} or None
            out.append((m.name.rstrip("/") if m.isdir() else m.name, m.type, m.size if m.isreg() else 0,
                        m.mode, m.uid, m.gid, int(m.mtime), m.linkname, data, xattrs))
    return out


def normalise(members: list[tuple]) -> list[tuple]:
    return [(m[0].rstrip("/"),) + m[1:] for m in members]


def records_fed_in(raw: bytes, cuts: list[int]) -> bytes:
    """The recording sink's output when `raw` arrives cut at `cuts`."""
    writer = untar.TreeWriter("", list_only=True)
    try:
        pos = 0
        for cut in sorted(set(cuts)) + [len(raw)]:
            writer.feed(raw[pos:cut])
            pos = cut
        writer.finish()
        return writer.records()
    finally:
        writer.close()


# --- table: formats and header features ------------------------------------------------------------
LONG = "d/" + "x" * 150 + "/" + "y" * 120
CASES = {
    "plain file and dir": [("etc", tarfile.DIRTYPE, b"", {"mode": 0o755}), ("etc/hosts", tarfile.REGTYPE, b"127.0.0.1 x\n", {})],
    "long name": [(LONG, tarfile.REGTYPE, b"long", {})],
    "long link": [("l", tarfile.SYMTYPE, b"", {"linkname": "t/" * 80})],
    "hardlink": [("a", tarfile.REGTYPE, b"A", {}), ("b", tarfile.LNKTYPE, b"", {"linkname": "a"})],
    "big ids": [("u", tarfile.REGTYPE, b"", {"uid": 3_000_000, "gid": 2_500_000})],
    "set-id modes": [("s", tarfile.REGTYPE, b"#!", {"mode": 0o4755}), ("t", tarfile.DIRTYPE, b"", {"mode": 0o1777})],
    "devices and fifo": [("null", tarfile.CHRTYPE, b"", {"devmajor": 1, "devminor": 3}),
                         ("sda", tarfile.BLKTYPE, b"", {"devmajor": 8, "devminor": 0}),
                         ("p", tarfile.FIFOTYPE, b"", {})],
    "exact block": [("f512", tarfile.REGTYPE, b"z" * 512, {}), ("g", tarfile.REGTYPE, b"", {})],
    "utf-8 name": [("caf\u00e9/\u00fc.txt", tarfile.REGTYPE, b"u", {})],
}


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT],
                         ids=["pax", "gnu", "ustar"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_members_match_tarfile(case: str, fmt) -> None:
    entries = CASES[case]
    try:
        raw = build(entries, fmt)
    except ValueError:   # ustar cannot hold this case (long names, big ids): nothing to compare
        assert fmt == tarfile.USTAR_FORMAT
        return
    assert normalise(read_all(raw)) == normalise(expected(raw))
    m = untar.list_members(raw)
    assert all(x["devmajor"] == e[1].get("devmajor", 0) and x["devminor"] == e[1].get("devminor", 0)
               for x, e in zip(m, [(n, f) for n, _, _, f in entries]) if x["type"] in (b"3", b"4"))


def test_pax_xattrs_mtime_and_global_headers() -> None:
    raw = build([("f", tarfile.REGTYPE, b"x", {"pax_headers": {"SCHILY.xattr.user.k": "v", "mtime": "1600000000.5"}})])
    (m,) = untar.list_members(raw)
    assert m["xattrs"] == {"user.k": b"v"} and (m["mtime_sec"], m["mtime_nsec"]) == (1_600_000_000, 500_000_000)
    g = tarfile.TarInfo("g")   # a global header applies to the members after it
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"uid": "4242"}) as tf:
        g.size = 1
        tf.addfile(g, io.BytesIO(b"1"))
    got = read_all(buf.getvalue())
    assert got[0][0] == "g" and got[0][4] == 4242


def test_binary_xattr_values_and_negative_pax_mtime() -> None:
    """security.capability values hold NUL bytes; a PAX time before 1970 keeps its fraction."""
    cap = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    raw = build([("ping", tarfile.REGTYPE, b"x", {"pax_headers": {"mtime": "-1.25"}})])
    (m,) = untar.list_members(raw)
    assert (m["mtime_sec"], m["mtime_nsec"]) == (-2, 750_000_000)
    info = tarfile.TarInfo("ping")
    info.pax_headers = {"SCHILY.xattr.security.capability": cap.decode("utf-8", "surrogateescape")}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tf:
        tf.addfile(info)
    (m,) = untar.list_members(buf.getvalue())
    assert m["xattrs"] == {"security.capability": cap}


def test_base256_size_and_prefix_field() -> None:
    head = bytearray(build([("p" * 80 + "/" + "n" * 90, tarfile.REGTYPE, b"hello", {})], tarfile.USTAR_FORMAT))
    got = read_all(bytes(head))
    assert got[0][0] == "p" * 80 + "/" + "n" * 90 and got[0][8] == b"hello"
    # the same size written in base-256 (GNU) reads the same
    head[124:136] = b"\x80" + (5).to_bytes(11, "big")
    head[148:156] = b"        "
    head[148:156] = b"%06o\0 " % sum(head[:512])
    got = read_all(bytes(head))
    assert got[0][2] == 5 and got[0][8] == b"hello"


# --- bad input -----------------------------------------------------------------------------------
def corrupt(raw: bytes, match: str | None = None) -> untar.UntarError:
    with pytest.raises(untar.UntarError, match=match) as info:
        untar.list_members(raw)
    assert info.value.kind == "corrupt"
    return info.value


def test_truncated_everywhere_raises() -> None:
    raw = build([("a", tarfile.REGTYPE, b"A" * 700, {}), ("b", tarfile.REGTYPE, b"B", {})])
    end = len(raw) - raw[::-1].find(b"B") + 511  # still inside the data of b / its block
    for cut in sorted({0, 1, 100, 511, 512, 513, 1000, 1536, 2048, end - 1}):
        corrupt(raw[:cut], "unexpected end of data")


def test_end_marker_required() -> None:
    raw = build([("a", tarfile.REGTYPE, b"A", {})])
    corrupt(raw[:1024], "end-of-archive")          # header + data block, no zero block
    assert [g[0] for g in read_all(raw[:1536])] == ["a"]   # one zero block is enough (tarfile agrees)


def test_bad_checksum_raises() -> None:
    raw = bytearray(build([("a", tarfile.REGTYPE, b"A", {})]))
    raw[0] ^= 1
    corrupt(bytes(raw), "checksum")


def test_sparse_is_refused() -> None:
    raw = build([("s", tarfile.REGTYPE, b"x", {"pax_headers": {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}})])
    corrupt(raw, "sparse")


@pytest.mark.parametrize("record", [b"5 a=b", b"x a=b\n", b"99 a=b\n", b"5 ab\n", b"0 a=b\n"])
def test_bad_pax_records_are_refused(record: bytes) -> None:
    raw = bytearray(build([("f", tarfile.REGTYPE, b"x", {"pax_headers": {"comment": "c"}})]))
    start = raw.index(b"comment=c\n") - 3          # "13 comment=c\n"
    end = start + 13
    new = record.ljust(13, b"\0") if len(record) <= 13 else record
    raw[start:end] = new[:13]
    raw[148:156] = b"        "                     # the extension header's checksum is unchanged
    raw[148:156] = b"%06o\0 " % sum(raw[:512])
    corrupt(bytes(raw))


def test_nul_in_a_pax_path_is_refused() -> None:
    raw = build([("f", tarfile.REGTYPE, b"x", {"pax_headers": {"path": "a\0/../../x"}})])
    corrupt(raw, "null byte")


def test_oversized_extension_header_is_refused() -> None:
    head = bytearray(512)
    head[0:5] = b"x" * 5
    head[100:108] = b"0000644\0"
    head[124:136] = b"%011o\0" % (17 << 20)
    head[156:157] = b"x"
    head[148:156] = b"        "
    head[148:156] = b"%06o\0 " % sum(head)
    corrupt(bytes(head) + bytes(1024), "oversized")


# --- chunk boundaries ------------------------------------------------------------------------------
def test_every_split_point_gives_the_same_members() -> None:
    raw = build([("d", tarfile.DIRTYPE, b"", {}), (LONG, tarfile.REGTYPE, b"L" * 1000, {}),
                 ("d/f", tarfile.REGTYPE, b"x" * 513, {"pax_headers": {"SCHILY.xattr.user.a": "b"}})])
    whole = records_fed_in(raw, [])
    for cut in range(0, len(raw), 7):
        assert records_fed_in(raw, [cut]) == whole, cut


names = st.lists(st.text(st.characters(min_codepoint=48, max_codepoint=0x24F, blacklist_characters="/\\"),
                         min_size=1, max_size=40), min_size=1, max_size=3).map("/".join)
entry = st.tuples(names, st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE]),
                  st.binary(max_size=3000), st.integers(0, 70000), st.integers(0, 0o7777))


@settings(max_examples=60, deadline=None)
@given(st.lists(entry, max_size=8), st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]),
       st.lists(st.integers(0, 40000), max_size=6))
def test_property_matches_tarfile_in_any_chunks(entries, fmt, cuts) -> None:
    spec = [(n, t, d if t == tarfile.REGTYPE else b"", {"uid": u, "mode": m, "linkname": "x" if t == tarfile.SYMTYPE else ""})
            for n, t, d, u, m in entries]
    raw = build(spec, fmt)
    assert normalise(read_all(raw)) == normalise(expected(raw))
    assert records_fed_in(raw, [c for c in cuts if c < len(raw)]) == records_fed_in(raw, [])


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=512, max_size=4096))
def test_property_garbage_never_crashes(data) -> None:
    """Random bytes, alone or after a valid header: a member list or UntarError, nothing else."""
    for raw in (data, build([("a", tarfile.REGTYPE, b"A", {})])[:512] + data):
        try:
            untar.list_members(raw)
        except untar.UntarError as e:
            assert e.kind == "corrupt"


# --- the writer, in this process ------------------------------------------------------------------
def write_tree(raw: bytes, root: Path, piece: int = 0) -> untar.TreeWriter:
    root.mkdir()
    writer = untar.TreeWriter(str(root), owners="zero")
    try:
        step = piece or len(raw)
        for pos in range(0, len(raw), step):
            if writer.feed(raw[pos:pos + step]):
                break
        writer.finish()
    finally:
        writer.close()
    return writer


def test_writer_fed_byte_by_byte(tmp_path: Path) -> None:
    raw = build([("etc", tarfile.DIRTYPE, b"", {"mode": 0o750, "mtime": 1_500_000_000}),
                 ("etc/motd", tarfile.REGTYPE, b"hello\n" * 200, {"mode": 0o640}),
                 ("etc/link", tarfile.SYMTYPE, b"", {"linkname": "motd"}),
                 (LONG, tarfile.REGTYPE, b"deep", {})])
    write_tree(raw, tmp_path / "t", piece=1)
    root = tmp_path / "t"
    assert (root / "etc/motd").read_bytes() == b"hello\n" * 200
    assert os.readlink(root / "etc/link") == "motd"
    assert (root / LONG).read_bytes() == b"deep"
    st_ = (root / "etc").stat()
    assert (st_.st_mode & 0o777, st_.st_mtime) == (0o750, 1_500_000_000)
    assert (root / "etc/motd").stat().st_mode & 0o777 == 0o640


def test_directory_times_never_follow_a_link(tmp_path: Path) -> None:
    """A directory later replaced by a symlink to somewhere outside: finish() must not touch the
    link's target (it sets times only on what is still a directory of this layer)."""
    victim = tmp_path / "victim"
    victim.mkdir()
    os.utime(victim, (1_000_000_000, 1_000_000_000))
    raw = build([("d", tarfile.DIRTYPE, b"", {"mtime": 1_700_000_000}),
                 ("d", tarfile.SYMTYPE, b"", {"linkname": str(victim)})])
    write_tree(raw, tmp_path / "t")
    assert victim.stat().st_mtime == 1_000_000_000
    assert os.readlink(tmp_path / "t" / "d") == str(victim)


def test_a_later_entry_for_a_directory_sets_its_time(tmp_path: Path) -> None:
    raw = build([("d", tarfile.DIRTYPE, b"", {"mode": 0o755, "mtime": 1_500_000_000}), ("d/f", tarfile.REGTYPE, b"", {}),
                 ("d", tarfile.DIRTYPE, b"", {"mode": 0o755, "mtime": 1_600_000_000})])
    write_tree(raw, tmp_path / "t")
    assert (tmp_path / "t" / "d").stat().st_mtime == 1_600_000_000


def test_unsupported_entry_types_are_noted_and_their_data_skipped(tmp_path: Path) -> None:
    raw = bytearray(build([("dump", tarfile.REGTYPE, b"x" * 600, {}), ("after", tarfile.REGTYPE, b"ok", {})],
                          tarfile.USTAR_FORMAT))
    raw[156:157] = b"D"                                   # GNU dumpdir: a type rl does not apply
    raw[148:156] = b"        "
    raw[148:156] = b"%06o\0 " % sum(raw[:512])
    writer = write_tree(bytes(raw), tmp_path / "t")
    assert not (tmp_path / "t" / "dump").exists()
    assert (tmp_path / "t" / "after").read_bytes() == b"ok"
    assert writer.notes == ["skipped dump: unsupported tar entry type 'D'"]
    assert writer.size == 2


def test_a_missing_root_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(untar.UntarError) as info:
        untar.TreeWriter(str(tmp_path / "missing"))
    assert info.value.kind == "os" and info.value.errno == 2


# --- large files: the data writer thread (native/rl_untar_io.c) ---------------------------------------
def _thread_names() -> list[str]:
    names = []
    for tid in os.listdir("/proc/self/task"):
        try:
            names.append(Path(f"/proc/self/task/{tid}/comm").read_text().strip())
        except OSError:       # a thread that just ended
            pass
    return names


@pytest.fixture
def umask0():
    """The layer helper runs with umask 0: then files are created with their final mode, and the
    large ones are written by the data writer thread."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_large_files_through_the_writer_thread(tmp_path: Path, umask0) -> None:
    big = [os.urandom(n) for n in (16 << 10, 70_000, 5 << 20)]
    raw = build([("d", tarfile.DIRTYPE, b"", {"mode": 0o755}),
                 ("d/a", tarfile.REGTYPE, big[0], {"mode": 0o600, "mtime": 1_400_000_000}),
                 ("d/b", tarfile.REGTYPE, big[1], {"mode": 0o640}),
                 ("d/a2", tarfile.LNKTYPE, b"", {"linkname": "d/a"}),
                 ("d/b", tarfile.REGTYPE, big[2], {"mode": 0o755}),        # replaces the first d/b
                 ("d/small", tarfile.REGTYPE, b"s", {})])
    root = tmp_path / "t"
    root.mkdir()
    writer = untar.TreeWriter(str(root), owners="zero")
    for pos in range(0, len(raw), 100_000):
        writer.feed(raw[pos:pos + 100_000])
    assert "rl-untar-io" in _thread_names()                         # the data writer thread
    writer.finish()
    writer.close()
    assert "rl-untar-io" not in _thread_names()
    assert (root / "d/a").read_bytes() == big[0] and (root / "d/a2").read_bytes() == big[0]
    assert (root / "d/a").stat().st_ino == (root / "d/a2").stat().st_ino
    assert (root / "d/b").read_bytes() == big[2]
    assert (root / "d/a").stat().st_mtime == 1_400_000_000
    assert [(root / n).stat().st_mode & 0o777 for n in ("d/a", "d/b")] == [0o600, 0o755]
    assert writer.size == sum(map(len, big)) + 1     # every regular entry counts, the replaced one too


def test_a_failed_write_in_the_writer_thread_names_the_file(tmp_path: Path, umask0) -> None:
    import resource
    import signal

    raw = build([("big", tarfile.REGTYPE, os.urandom(1 << 20), {})])
    (tmp_path / "t").mkdir()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # then write(2) fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        writer = untar.TreeWriter(str(tmp_path / "t"), owners="zero")
        with pytest.raises(untar.UntarError) as info:
            writer.feed(raw)
            writer.finish()
        writer.close()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    assert info.value.kind == "os" and info.value.errno == 27          # EFBIG
    assert info.value.path == str(tmp_path / "t" / "big")
